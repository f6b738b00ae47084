//! A second tenant for the differential test, generated here from a fixed seed and unlike the
//! demo's: names stored as people type them (leading, trailing and repeated spaces, NFC and
//! NFD side by side, odd case, characters that need escaping), phone numbers in odd
//! groupings and separators in nine countries (extensions, letters, unparseable numbers),
//! and empty, null or missing properties. Graph JSON only; it knows nothing of the gateway.
#![allow(dead_code)]

use graph_emulator::Tenant;
use graph_emulator::{SAMPLE_CLIENT_ID, SAMPLE_CLIENT_SECRET, SAMPLE_TENANT_ID};
use serde_json::{Map, Value, json};
use unicode_normalization::UnicodeNormalization;

use crate::filtergen::Rng;

/// Seed of the messy tenant: the same objects on every run.
pub const MESSY_SEED: u64 = 0x4D45_5353_5920_0007;
/// Generated users (plus the hand-written ones): several Graph pages of 100.
pub const GENERATED_USERS: usize = 290;
/// Generated contacts (plus the hand-written ones).
pub const GENERATED_CONTACTS: usize = 36;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Country {
    Us,
    Pl,
    At,
    Se,
    De,
    Gb,
    Fr,
    Ch,
    Jp,
}

const COUNTRIES: [Country; 9] = [
    Country::Us,
    Country::Pl,
    Country::At,
    Country::Se,
    Country::De,
    Country::Gb,
    Country::Fr,
    Country::Ch,
    Country::Jp,
];

struct Place {
    country: &'static str,
    city: &'static str,
    postal: &'static str,
    street: &'static str,
    language: &'static str,
    /// Country calling code and trunk prefix.
    cc: &'static str,
    trunk: &'static str,
    /// Area codes (national significant number prefixes) used for landlines and mobiles.
    areas: &'static [&'static str],
    mobile: &'static str,
    /// Subscriber digits after the area code.
    subscriber_len: usize,
}

fn place(c: Country) -> Place {
    match c {
        Country::Us => Place {
            country: "United States",
            city: "Seattle",
            postal: "98052",
            street: "1 Microsoft Way",
            language: "en-US",
            cc: "1",
            trunk: "",
            areas: &["425", "206", "212", "312", "617", "303", "415"],
            mobile: "646",
            subscriber_len: 7,
        },
        Country::Pl => Place {
            country: "Poland",
            city: "Kraków",
            postal: "31-042",
            street: "Rynek Główny 1",
            language: "pl-PL",
            cc: "48",
            trunk: "",
            areas: &["22", "12"],
            mobile: "501",
            subscriber_len: 7,
        },
        Country::At => Place {
            country: "Austria",
            city: "Wien",
            postal: "1010",
            street: "Stephansplatz 1",
            language: "de-AT",
            cc: "43",
            trunk: "0",
            areas: &["1", "2268"],
            mobile: "664",
            subscriber_len: 6,
        },
        Country::Se => Place {
            country: "Sweden",
            city: "Göteborg",
            postal: "411 05",
            street: "Kungsportsavenyen 1",
            language: "sv-SE",
            cc: "46",
            trunk: "0",
            areas: &["8", "150", "31"],
            mobile: "70",
            subscriber_len: 6,
        },
        Country::De => Place {
            country: "Germany",
            city: "München",
            postal: "80331",
            street: "Marienplatz 8",
            language: "de-DE",
            cc: "49",
            trunk: "0",
            areas: &["30", "89", "221"],
            mobile: "151",
            subscriber_len: 7,
        },
        Country::Gb => Place {
            country: "United Kingdom",
            city: "London",
            postal: "SW1A 1AA",
            street: "10 Downing Street",
            language: "en-GB",
            cc: "44",
            trunk: "0",
            areas: &["20", "161"],
            mobile: "7700",
            subscriber_len: 7,
        },
        Country::Fr => Place {
            country: "France",
            city: "Paris",
            postal: "75001",
            street: "1 Rue de Rivoli",
            language: "fr-FR",
            cc: "33",
            trunk: "0",
            areas: &["1", "4"],
            mobile: "6",
            subscriber_len: 8,
        },
        Country::Ch => Place {
            country: "Switzerland",
            city: "Zürich",
            postal: "8001",
            street: "Bahnhofstrasse 1",
            language: "de-CH",
            cc: "41",
            trunk: "0",
            areas: &["44", "31"],
            mobile: "79",
            subscriber_len: 7,
        },
        Country::Jp => Place {
            country: "Japan",
            city: "東京",
            postal: "100-0005",
            street: "丸の内1-1",
            language: "ja-JP",
            cc: "81",
            trunk: "0",
            areas: &["3", "6"],
            mobile: "90",
            subscriber_len: 8,
        },
    }
}

/// (given names, surnames) as people spell them, some with diacritics, some with
/// characters a filter or DN must escape.
fn names(c: Country) -> (&'static [&'static str], &'static [&'static str]) {
    match c {
        Country::Us => (
            &[
                "John", "Mary", "James", "Ann", "Anna", "Robert", "Linda", "D'Andre",
            ],
            &[
                "Anderson",
                "Smith",
                "Meyer",
                "McDonald",
                "O'Neil",
                "van der Berg",
                "DeLuca",
                "Smith-Jones",
            ],
        ),
        Country::Pl => (
            &["Łukasz", "Zofia", "Michał", "Agnieszka"],
            &["Nowak", "Wójcik", "Kowalczyk", "Zieliński"],
        ),
        Country::At | Country::Ch => (
            &["Zoë", "Jürg", "Andrä", "Leonie"],
            &["Müller", "Brändli", "Gößweiner", "Meyer"],
        ),
        Country::Se => (
            &["Åsa", "Björn", "Märta", "Nils"],
            &["Lindqvist", "Öberg", "Ångström", "Berg"],
        ),
        Country::De => (
            &["Jürgen", "Zoë", "Jörg", "Renate"],
            &["Müller", "Schäfer", "Weiß", "Köhler", "Meyer"],
        ),
        Country::Gb => (
            &["Siobhán", "Conor", "Emma", "Oliver"],
            &["O'Brien", "Smyth", "Taylor", "Anderson"],
        ),
        Country::Fr => (
            &["José", "Renée", "Chloé", "Hélène"],
            &["Lefèvre", "Dupré", "Bézier", "Núñez"],
        ),
        Country::Jp => (&["太郎", "花子", "Ken"], &["山田", "佐藤", "Tanaka"]),
    }
}

const DEPARTMENTS: &[&str] = &[
    "Sales",
    "Engineering",
    "Finance",
    "Research & Development",
    "IT",
    "Customer Support",
    "Human Resources",
];

const TITLES: &[&str] = &[
    "Account Executive",
    "Software Engineer",
    "Controller",
    "Research Scientist",
    "Systems Administrator",
    "Support Team Lead",
    "Recruiter",
];

/// ASCII for mail addresses and UPNs (`Müller` → `muller`): diacritics dropped, letters
/// outside ASCII and spaces removed.
fn ascii_local(s: &str) -> String {
    s.nfd()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '\'' || *c == '-')
        .collect::<String>()
        .to_lowercase()
}

struct Builder {
    rng: Rng,
    /// Subscriber counter, so that no two generated numbers share their digits.
    next_number: u64,
    upns: std::collections::BTreeSet<String>,
    users: Vec<Value>,
    contacts: Vec<Value>,
}

impl Builder {
    fn guid(&mut self) -> String {
        let a = self.rng.next_u64();
        let b = self.rng.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            8 + (b >> 62),
            (b >> 48) & 0xfff,
            b & 0xffff_ffff_ffff
        )
    }

    fn unique_upn(&mut self, local: &str, domain: &str) -> String {
        let mut candidate = format!("{local}@{domain}");
        let mut n = 2;
        while !self.upns.insert(candidate.to_lowercase()) {
            candidate = format!("{local}{n}@{domain}");
            n += 1;
        }
        candidate
    }

    /// A name as stored: NFD now and then, stray spaces, odd case.
    fn messy_name(&mut self, clean: &str) -> String {
        let mut v = clean.to_string();
        if !v.is_ascii() && self.rng.chance(35) {
            v = v.nfd().collect();
        }
        match self.rng.below(100) {
            0..=5 => v = format!(" {v}"),
            6..=11 => v = format!("{v} "),
            12..=15 => v = format!("  {v}  "),
            16..=18 => v = v.to_uppercase(),
            19..=21 => v = v.to_lowercase(),
            _ => {}
        }
        if self.rng.chance(8) {
            v = v.replacen(' ', "  ", 1);
        }
        v
    }

    /// One phone number of `c`, spelled in one of the ways people store them.
    fn number(&mut self, c: Country, mobile: bool) -> String {
        let p = place(c);
        self.next_number += 1;
        let area = if mobile {
            p.mobile.to_string()
        } else {
            self.rng.pick(p.areas).to_string()
        };
        let sub_len = p.subscriber_len;
        let sub = if c == Country::Us {
            // 555-0100 to 555-0199 is reserved for fiction; a block per area code
            format!("555{:04}", 100 + self.next_number % 100)
        } else {
            let m = 10u64.pow(sub_len as u32 - 1);
            format!("{}", m + (self.next_number * 7_919) % (9 * m))
        };
        let (cc, trunk) = (p.cc, p.trunk);
        let nsn = format!("{area}{sub}");
        let (s1, s2) = sub.split_at(sub.len() / 2);
        let pairs = |s: &str| -> String {
            s.as_bytes()
                .chunks(2)
                .map(|ch| String::from_utf8_lossy(ch).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        };
        // regrouped across the area code boundary, as in `+48 22 585 7650`
        let odd = format!("{} {} {}", &nsn[..2], &nsn[2..5], &nsn[5..]);
        let ext = 10 + self.rng.below(9_000);
        let spelled = match self.rng.below(16) {
            0 => format!("+{cc} {area} {sub}"),
            1 => format!("+{cc}{nsn}"),
            2 => format!("00{cc} {area} {}", pairs(&sub)),
            3 => format!("+{cc} ({trunk}){area} {s1}-{s2}"),
            4 => format!("{trunk}{area}/{sub}"),
            5 => format!("+{cc} {odd}"),
            6 => format!("+{cc}.{area}.{s1}.{s2}"),
            7 => format!(" +{cc} {area}  {sub} "),
            8 => format!("+{cc} {area} {sub} x{ext}"),
            9 => format!("+{cc}-{area}-{s1}-{s2}"),
            10 => format!("+{cc} {area} {sub} ext. {ext}"),
            11 => format!("({trunk}{area}) {s1}.{s2}"),
            12 => format!("+{cc} ({area}) {s1} {s2}"),
            13 => format!("{trunk}{area} {}", pairs(&sub)),
            14 => format!("+{cc} {area} {sub} X{ext}"),
            _ => format!("+{cc}  {area}-{sub}"),
        };
        if c == Country::Us && self.rng.chance(40) {
            // North American spellings: `(425) 555.0100`, `425.555.0100`, `1-425-555-0100`
            let (ex, line) = sub.split_at(3);
            return match self.rng.below(5) {
                0 => format!("({area}) {ex}.{line}"),
                1 => format!("{area}.{ex}.{line}"),
                2 => format!("1-{area}-{ex}-{line}"),
                3 => format!("({area})  {ex} - {line}"),
                _ => format!("{area} {ex} {line} x{ext}"),
            };
        }
        spelled
    }

    #[allow(clippy::too_many_arguments)]
    fn user(
        &mut self,
        c: Country,
        display: Value,
        given: Value,
        surname: Value,
        local: &str,
        phones: Vec<String>,
        mobile: Value,
    ) -> Map<String, Value> {
        let p = place(c);
        let upn = self.unique_upn(local, "example.com");
        let id = self.guid();
        let mut u = Map::new();
        u.insert("id".into(), json!(id));
        u.insert("displayName".into(), display);
        u.insert("givenName".into(), given);
        u.insert("surname".into(), surname);
        u.insert("userPrincipalName".into(), json!(upn));
        u.insert("mail".into(), json!(upn));
        u.insert(
            "mailNickname".into(),
            json!(upn.split('@').next().unwrap_or_default()),
        );
        u.insert("businessPhones".into(), json!(phones));
        u.insert("mobilePhone".into(), mobile);
        u.insert("faxNumber".into(), Value::Null);
        u.insert("jobTitle".into(), json!(*self.rng.pick(TITLES)));
        u.insert("department".into(), json!(*self.rng.pick(DEPARTMENTS)));
        u.insert("companyName".into(), json!("Contoso Ltd."));
        u.insert(
            "officeLocation".into(),
            json!(format!("{} {}", p.city, 100 + self.rng.below(800))),
        );
        u.insert("streetAddress".into(), json!(p.street));
        u.insert("city".into(), json!(p.city));
        u.insert("state".into(), Value::Null);
        u.insert("postalCode".into(), json!(p.postal));
        u.insert("country".into(), json!(p.country));
        u.insert("preferredLanguage".into(), json!(p.language));
        u.insert(
            "employeeId".into(),
            json!(format!("M{:05}", self.users.len())),
        );
        u.insert("onPremisesSamAccountName".into(), Value::Null);
        u.insert("accountEnabled".into(), json!(true));
        u.insert("userType".into(), json!("Member"));
        u
    }

    /// Hand-written users: one or more of every messy category, including the spellings
    /// the issue reports (`(425) 555.0100`, `+48 22 585 7650`, `+43 22 685 4471`,
    /// `+46 1 503 4546`, `X1234` beside `x1234`, ` Meyer `, `  John  Anderson `).
    fn add_special_users(&mut self) {
        use Country::*;
        let s = |v: &str| json!(v);
        // (country, displayName, givenName, surname, UPN local part, businessPhones, mobile)
        type Special<'a> = (Country, Value, Value, Value, &'a str, Vec<&'a str>, Value);
        let specials: Vec<Special> = vec![
            (
                Us,
                s("Maria Meyer"),
                s("Maria"),
                s(" Meyer "),
                "maria.meyer",
                vec!["(425) 555.0100"],
                Value::Null,
            ),
            (
                Us,
                s("  John  Anderson "),
                s("John"),
                s("Anderson"),
                "john.anderson",
                vec!["(212) 555.1679"],
                s("+1 646 555 0142"),
            ),
            (
                Us,
                s("John  Smith"),
                s("John "),
                s("Smith"),
                "john.smith",
                vec!["425 555 0101 x1234"],
                Value::Null,
            ),
            (
                Pl,
                s("Łukasz Nowak"),
                s("Łukasz"),
                s("Nowak"),
                "lukasz.nowak",
                vec!["+48 22 585 7650"],
                s("+48 501 234 567"),
            ),
            (
                At,
                s("Andrä Gößweiner"),
                s("Andrä"),
                s("Gößweiner"),
                "andrae.goessweiner",
                vec!["+43 22 685 4471"],
                Value::Null,
            ),
            (
                Se,
                s("Åsa Öberg"),
                s("Åsa"),
                s("Öberg"),
                "asa.oberg",
                vec!["+46 1 503 4546"],
                Value::Null,
            ),
            (
                Us,
                s("Reception Desk"),
                Value::Null,
                Value::Null,
                "reception",
                vec!["X1234"],
                Value::Null,
            ),
            (
                Us,
                s("Night Desk"),
                Value::Null,
                Value::Null,
                "night.desk",
                vec!["x1234", "X1235"],
                Value::Null,
            ),
            (
                De,
                s("Zoë Müller"),
                s("Zoë"),
                s("Müller"),
                "zoe.mueller",
                vec!["+49 (0)30 1234-56"],
                Value::Null,
            ),
            (
                De,
                s("Zoe\u{308} Mu\u{308}ller"),
                s("Zoe\u{308}"),
                s("Mu\u{308}ller"),
                "zoe.mueller.nfd",
                vec!["030/1234-57"],
                Value::Null,
            ),
            (
                Fr,
                s("José Núñez"),
                s("José"),
                s("Núñez"),
                "jose.nunez",
                vec!["+33 (0)1 23 45 67 89"],
                Value::Null,
            ),
            (
                Fr,
                s("Jose\u{301} Nu\u{301}n\u{303}ez"),
                s("Jose\u{301}"),
                s("Nu\u{301}n\u{303}ez"),
                "jose.nunez.nfd",
                vec!["01.23.45.67.88"],
                Value::Null,
            ),
            (
                Gb,
                s("Smith, John"),
                s("John"),
                s("Smith"),
                "smith.john",
                vec!["+44 (0) 20 7946 0123"],
                Value::Null,
            ),
            (
                Gb,
                s("Conor O'Brien (Contractor)"),
                s("Conor"),
                s("O'Brien"),
                "conor.o'brien",
                vec!["+44 207 946 0124 ext. 12"],
                Value::Null,
            ),
            (
                Us,
                s("Build * Agent"),
                Value::Null,
                Value::Null,
                "build.agent",
                vec![],
                Value::Null,
            ),
            (
                Us,
                s("Back\\slash #1 + \"Quote\"; <Eq=Sign>"),
                s("#1"),
                s("Back\\slash"),
                "back~slash",
                vec!["n/a"],
                s("TBD"),
            ),
            (
                Ch,
                s("MEYER, LEONIE"),
                s("LEONIE"),
                s("MEYER"),
                "leonie.meyer",
                vec!["+41 44 668 18 00"],
                s("079 123 45 67"),
            ),
            (
                Jp,
                s("山田　太郎"),
                s("太郎"),
                s("山田"),
                "taro.yamada",
                vec!["+81-3-1234-5678"],
                Value::Null,
            ),
            (
                Us,
                s("meyer lowercase"),
                s("meyer"),
                s("lowercase"),
                "meyer.lowercase",
                vec!["+1.303.555.0177", "+1 (303) 555-0178;ext=5"],
                Value::Null,
            ),
            (Us, s(""), s(""), s(""), "empty.strings", vec![""], s("")),
            (
                Us,
                s("Tab\tand  Spaces"),
                s("   "),
                s("Spaces"),
                "whitespace.only",
                vec!["12"],
                s("+"),
            ),
        ];
        for (c, display, given, surname, local, phones, mobile) in specials {
            let phones: Vec<String> = phones.into_iter().map(str::to_string).collect();
            let mut u = self.user(c, display, given, surname, local, phones, mobile);
            match local {
                // absent (not null) properties, and an empty companyName
                "empty.strings" => {
                    u.remove("givenName");
                    u.remove("jobTitle");
                    u.insert("companyName".into(), json!(""));
                    u.insert("department".into(), json!(""));
                }
                "reception" => {
                    u.insert("onPremisesSamAccountName".into(), json!("RECEPTION"));
                }
                "night.desk" => {
                    u.insert("accountEnabled".into(), json!(false));
                }
                "back~slash" => {
                    u.insert("department".into(), json!("R&D (East) *temp*"));
                }
                _ => {}
            }
            self.users.push(Value::Object(u));
        }
        // a B2B guest: `#EXT#` UPN in the initial domain, no company
        let mut guest = self.user(
            Country::Gb,
            json!(" Siobhán Smyth"),
            json!("Siobhán"),
            json!("Smyth"),
            "siobhan_fabrikam.com#EXT#",
            vec![],
            json!("+44 7700 900 123"),
        );
        let upn = "siobhan_fabrikam.com#EXT#@example.onmicrosoft.com";
        guest.insert("userPrincipalName".into(), json!(upn));
        guest.insert("mail".into(), json!("siobhan@fabrikam.com"));
        guest.insert("companyName".into(), Value::Null);
        guest.insert("userType".into(), json!("Guest"));
        self.users.push(Value::Object(guest));
    }

    fn add_generated_users(&mut self, count: usize) {
        for _ in 0..count {
            let c = *self.rng.pick(&COUNTRIES);
            let (firsts, lasts) = names(c);
            let given = *self.rng.pick(firsts);
            let surname = *self.rng.pick(lasts);
            let display = if self.rng.chance(6) {
                format!("{surname}, {given}")
            } else {
                format!("{given} {surname}")
            };
            let display = self.messy_name(&display);
            let given_v = match self.rng.below(100) {
                0..=3 => Value::Null,
                4..=5 => json!(""),
                _ => json!(self.messy_name(given)),
            };
            let surname_v = match self.rng.below(100) {
                0..=3 => Value::Null,
                _ => json!(self.messy_name(surname)),
            };
            let (g, sn) = (ascii_local(given), ascii_local(surname));
            let local = match (g.is_empty(), sn.is_empty()) {
                (false, false) => format!("{g}.{sn}"),
                (false, true) => g,
                (true, false) => sn,
                // names with no Latin letters get a made-up account name, as in Entra
                (true, true) => format!("user{}", self.users.len()),
            };
            let phones: Vec<String> = match self.rng.below(100) {
                0..=11 => vec![],
                12..=14 => vec![String::new()],
                15..=84 => vec![self.number(c, false)],
                _ => vec![self.number(c, false), self.number(c, false)],
            };
            let mobile = match self.rng.below(100) {
                0..=44 => json!(self.number(c, true)),
                45..=49 => json!(""),
                _ => Value::Null,
            };
            let mut u = self.user(
                c,
                json!(display),
                given_v,
                surname_v,
                &local,
                phones,
                mobile,
            );
            if self.rng.chance(3) {
                u.insert("accountEnabled".into(), json!(false));
            }
            if self.rng.chance(5) {
                u.insert("faxNumber".into(), json!(self.number(c, false)));
            }
            if self.rng.chance(4) {
                u.remove("department");
            }
            if self.rng.chance(4) {
                let city = place(c).city.nfd().collect::<String>();
                u.insert("city".into(), json!(city));
            }
            if self.rng.chance(5) {
                u.insert("companyName".into(), json!(" Contoso  Ltd. "));
            }
            if self.rng.chance(30) {
                u.insert(
                    "onPremisesSamAccountName".into(),
                    json!(local.to_uppercase()),
                );
            }
            self.users.push(Value::Object(u));
        }
    }

    fn contact(&mut self, c: Country, display: &str, given: Value, surname: Value) -> Value {
        let p = place(c);
        let id = self.guid();
        let mut phones = Vec::new();
        if self.rng.chance(85) {
            phones.push(json!({"type": "business", "number": self.number(c, false)}));
        }
        if self.rng.chance(45) {
            phones.push(json!({"type": "mobile", "number": self.number(c, true)}));
        }
        if self.rng.chance(15) {
            phones.push(json!({"type": "businessFax", "number": self.number(c, false)}));
        }
        if self.rng.chance(12) {
            phones.push(json!({"type": "home", "number": self.number(c, false)}));
        }
        if self.rng.chance(6) {
            phones.push(json!({"type": "business", "number": ""}));
        }
        let addresses = match self.rng.below(10) {
            0 => json!([]),
            1 => {
                json!([{"street": "", "city": null, "state": null, "postalCode": "", "countryOrRegion": ""}])
            }
            _ => json!([{
                "street": p.street,
                "city": if self.rng.chance(20) { p.city.nfd().collect::<String>() } else { p.city.to_string() },
                "state": null,
                "postalCode": p.postal,
                "countryOrRegion": p.country,
            }, {"street": "Second Street 2", "city": "Elsewhere", "postalCode": "00000", "countryOrRegion": "Nowhere"}]),
        };
        let local = ascii_local(display.trim()).replace(' ', ".");
        let mail = if self.rng.chance(85) {
            json!(format!(
                "{}@partner{}.example",
                local.trim_matches('.'),
                self.rng.below(5)
            ))
        } else {
            Value::Null
        };
        json!({
            "id": id,
            "displayName": display,
            "givenName": given,
            "surname": surname,
            "mail": mail,
            "mailNickname": local,
            "jobTitle": *self.rng.pick(TITLES),
            "companyName": *self.rng.pick(&["Fabrikam, Inc.", "Litware  GmbH", " Proseware SARL", "Trey Research K.K.", "Wingtip (UK) Ltd"]),
            "department": *self.rng.pick(DEPARTMENTS),
            "phones": phones,
            "addresses": addresses,
        })
    }

    fn add_contacts(&mut self, count: usize) {
        let fixed = [
            (Country::Us, " Meyer, Paul", json!("Paul"), json!(" Meyer")),
            (
                Country::De,
                "Jürgen  Köhler",
                json!("Jürgen"),
                json!("Köhler"),
            ),
            (
                Country::De,
                "Ju\u{308}rgen Ko\u{308}hler",
                json!("Ju\u{308}rgen"),
                json!("Ko\u{308}hler"),
            ),
            (
                Country::Pl,
                "Zofia Wójcik ",
                json!("Zofia"),
                json!("Wójcik "),
            ),
            (Country::Se, "Björn  Berg", json!(null), json!("Berg")),
        ];
        for (c, display, given, surname) in fixed {
            let contact = self.contact(c, display, given, surname);
            self.contacts.push(contact);
        }
        for _ in 0..count {
            let c = *self.rng.pick(&COUNTRIES);
            let (firsts, lasts) = names(c);
            let given = *self.rng.pick(firsts);
            let surname = *self.rng.pick(lasts);
            let display = self.messy_name(&format!("{given} {surname}"));
            let surname_v = if self.rng.chance(8) {
                Value::Null
            } else {
                json!(self.messy_name(surname))
            };
            let contact = self.contact(c, &display, json!(given), surname_v);
            self.contacts.push(contact);
        }
        // Graph's contact phones of types the contract does not map (`other`, `pager`
        // in Graph's phoneType) carry no LDAP attribute
        if let Some(Value::Array(phones)) = self.contacts[0].get_mut("phones") {
            phones.push(json!({"type": "other", "number": "+1 425 555 0199"}));
        }
    }
}

/// The messy tenant, the same on every run.
pub fn messy_tenant() -> Tenant {
    let mut b = Builder {
        rng: Rng::new(MESSY_SEED),
        next_number: 0,
        upns: Default::default(),
        users: Vec::new(),
        contacts: Vec::new(),
    };
    b.add_special_users();
    b.add_generated_users(GENERATED_USERS);
    b.add_contacts(GENERATED_CONTACTS);
    Tenant {
        tenant_id: SAMPLE_TENANT_ID.to_string(),
        client_id: SAMPLE_CLIENT_ID.to_string(),
        client_secret: SAMPLE_CLIENT_SECRET.to_string(),
        users: b.users,
        contacts: b.contacts,
    }
}
