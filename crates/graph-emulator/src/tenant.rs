//! The emulated tenant: app credentials plus users and organizational contacts as Graph JSON.
//! `Tenant::sample()` builds a deterministic company (fixed-seed PRNG) with the awkward data real
//! directories hold; `Tenant::from_json` loads a tenant file. No I/O and no HTTP here.

use serde_json::{Map, Value, json};
use std::collections::HashSet;
use std::fmt;

pub const SAMPLE_TENANT_ID: &str = "3b1f5e1c-9a5e-4c6b-8d2f-6f0d2a4c7e91";
pub const SAMPLE_CLIENT_ID: &str = "6731de76-14a6-49ae-97bc-6eba6914391e";
/// A well-known, non-secret test credential of the emulator (never valid against Entra).
pub const SAMPLE_CLIENT_SECRET: &str = "emulator-secret-not-for-production";

/// The directory and credentials an emulator serves.
#[derive(Clone)]
pub struct Tenant {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub users: Vec<Value>,
    pub contacts: Vec<Value>,
}

impl fmt::Debug for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tenant")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("users", &self.users.len())
            .field("contacts", &self.contacts.len())
            .finish()
    }
}

impl Tenant {
    /// Loads `{"users":[…],"contacts":[…]}` with optional `tenant_id`, `client_id`,
    /// `client_secret`. Every object needs a string `id`, users also a `userPrincipalName`;
    /// both must be unique.
    pub fn from_json(text: &str) -> Result<Tenant, String> {
        let root: Value =
            serde_json::from_str(text).map_err(|e| format!("tenant file is not JSON: {e}"))?;
        let root = root
            .as_object()
            .ok_or("tenant file must be a JSON object")?;
        let text_field = |key: &str, default: &str| -> Result<String, String> {
            match root.get(key) {
                None | Some(Value::Null) => Ok(default.to_string()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(_) => Err(format!("'{key}' must be a string")),
            }
        };
        let list = |key: &str| -> Result<Vec<Value>, String> {
            match root.get(key) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => Ok(items.clone()),
                Some(_) => Err(format!("'{key}' must be an array")),
            }
        };
        let tenant = Tenant {
            tenant_id: text_field("tenant_id", SAMPLE_TENANT_ID)?,
            client_id: text_field("client_id", SAMPLE_CLIENT_ID)?,
            client_secret: text_field("client_secret", SAMPLE_CLIENT_SECRET)?,
            users: list("users")?,
            contacts: list("contacts")?,
        };
        tenant.validate()?;
        Ok(tenant)
    }

    fn validate(&self) -> Result<(), String> {
        let mut ids = HashSet::new();
        let mut upns = HashSet::new();
        for (kind, objects) in [("user", &self.users), ("contact", &self.contacts)] {
            for (n, object) in objects.iter().enumerate() {
                if !object.is_object() {
                    return Err(format!("{kind} #{n} is not an object"));
                }
                let id = object["id"]
                    .as_str()
                    .ok_or_else(|| format!("{kind} #{n} has no string 'id'"))?;
                if !ids.insert(id.to_lowercase()) {
                    return Err(format!("duplicate id '{id}'"));
                }
                if kind == "user" {
                    let upn = object["userPrincipalName"]
                        .as_str()
                        .ok_or_else(|| format!("user '{id}' has no 'userPrincipalName'"))?;
                    if !upns.insert(upn.to_lowercase()) {
                        return Err(format!("duplicate userPrincipalName '{upn}'"));
                    }
                }
            }
        }
        Ok(())
    }

    /// A deterministic sample company: 330+ users in 6+ countries and 35+ contacts, with
    /// phone numbers in many spellings and names that stress escaping (see the task brief),
    /// and people stored as real directories hold them (stray spaces, NFD, odd groupings).
    pub fn sample() -> Tenant {
        let mut builder = SampleBuilder::new();
        builder.add_special_users();
        builder.add_generated_users(300);
        builder.add_contacts(38);
        builder.add_messy_spellings();
        Tenant {
            tenant_id: SAMPLE_TENANT_ID.to_string(),
            client_id: SAMPLE_CLIENT_ID.to_string(),
            client_secret: SAMPLE_CLIENT_SECRET.to_string(),
            users: builder.users,
            contacts: builder.contacts,
        }
    }

    /// A benchmark tenant of `users` numbered people, `user00000`… (see `generated_with`).
    pub fn generated(users: usize) -> Tenant {
        Tenant::generated_with(users, 0)
    }

    /// A deterministic benchmark tenant: `users` people named `user00000`…`user{N-1}`
    /// (displayName and UPN/mail local part; givenName `User`, surname the number), each with
    /// one business phone and a mobile phone, unique, in varied spellings; then `contacts`
    /// organizational contacts like the sample's. The sample credentials.
    pub fn generated_with(users: usize, contacts: usize) -> Tenant {
        let mut builder = SampleBuilder::new();
        builder.add_numbered_users(users);
        builder.add_contacts(contacts);
        Tenant {
            tenant_id: SAMPLE_TENANT_ID.to_string(),
            client_id: SAMPLE_CLIENT_ID.to_string(),
            client_secret: SAMPLE_CLIENT_SECRET.to_string(),
            users: builder.users,
            contacts: builder.contacts,
        }
    }

    /// The tenant file `from_json` reads: credentials, then `users` and `contacts`.
    pub fn to_json(&self) -> Value {
        json!({
            "tenant_id": self.tenant_id,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "users": self.users,
            "contacts": self.contacts,
        })
    }
}

/// SplitMix64: tiny, deterministic, good enough for sample data.
struct Prng(u64);

impl Prng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }

    /// A version-4-shaped GUID.
    fn guid(&mut self) -> String {
        let a = self.next();
        let b = self.next();
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
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Country {
    Us,
    De,
    Gb,
    Fr,
    Jp,
    Br,
    Dk,
}

struct Office {
    country: Country,
    city: &'static str,
    state: Option<&'static str>,
    postal_code: &'static str,
    street: &'static str,
    building: &'static str,
    /// Area code as dialled internationally (no trunk prefix).
    area: &'static str,
}

const OFFICES: &[Office] = &[
    office(
        Country::Us,
        "Seattle",
        Some("WA"),
        "98101",
        "1200 Fifth Avenue",
        "SEA",
        "206",
    ),
    office(
        Country::Us,
        "Chicago",
        Some("IL"),
        "60601",
        "150 North Michigan Avenue",
        "CHI",
        "312",
    ),
    office(
        Country::Us,
        "New York",
        Some("NY"),
        "10001",
        "11 Times Square",
        "NYC",
        "212",
    ),
    office(
        Country::Us,
        "San Francisco",
        Some("CA"),
        "94105",
        "555 Mission Street",
        "SFO",
        "415",
    ),
    office(
        Country::Us,
        "Boston",
        Some("MA"),
        "02110",
        "1 Federal Street",
        "BOS",
        "617",
    ),
    office(
        Country::Us,
        "Denver",
        Some("CO"),
        "80202",
        "1700 Lincoln Street",
        "DEN",
        "303",
    ),
    office(
        Country::De,
        "Berlin",
        Some("Berlin"),
        "10117",
        "Unter den Linden 21",
        "BER",
        "30",
    ),
    office(
        Country::De,
        "München",
        Some("Bayern"),
        "80331",
        "Marienplatz 8",
        "MUC",
        "89",
    ),
    office(
        Country::Gb,
        "London",
        None,
        "EC2V 7HH",
        "1 Poultry",
        "LON",
        "20",
    ),
    office(
        Country::Gb,
        "Manchester",
        None,
        "M1 4BT",
        "1 Piccadilly Gardens",
        "MAN",
        "161",
    ),
    office(
        Country::Fr,
        "Paris",
        None,
        "75008",
        "35 Rue de la Boétie",
        "PAR",
        "1",
    ),
    office(
        Country::Jp,
        "Tokyo",
        Some("Tokyo"),
        "100-0005",
        "2-7-2 Marunouchi, Chiyoda-ku",
        "TYO",
        "3",
    ),
    office(
        Country::Jp,
        "Osaka",
        Some("Osaka"),
        "530-0001",
        "3-1-3 Umeda, Kita-ku",
        "OSA",
        "6",
    ),
    office(
        Country::Br,
        "São Paulo",
        Some("SP"),
        "01310-100",
        "Avenida Paulista, 1000",
        "SAO",
        "11",
    ),
    office(
        Country::Dk,
        "København",
        None,
        "1050",
        "Kongens Nytorv 28",
        "CPH",
        "32",
    ),
];

#[allow(clippy::too_many_arguments)]
const fn office(
    country: Country,
    city: &'static str,
    state: Option<&'static str>,
    postal_code: &'static str,
    street: &'static str,
    building: &'static str,
    area: &'static str,
) -> Office {
    Office {
        country,
        city,
        state,
        postal_code,
        street,
        building,
        area,
    }
}

fn country_name(c: Country) -> &'static str {
    match c {
        Country::Us => "United States",
        Country::De => "Germany",
        Country::Gb => "United Kingdom",
        Country::Fr => "France",
        Country::Jp => "Japan",
        Country::Br => "Brazil",
        Country::Dk => "Denmark",
    }
}

fn country_code(c: Country) -> &'static str {
    match c {
        Country::Us => "US",
        Country::De => "DE",
        Country::Gb => "GB",
        Country::Fr => "FR",
        Country::Jp => "JP",
        Country::Br => "BR",
        Country::Dk => "DK",
    }
}

fn language(c: Country) -> &'static str {
    match c {
        Country::Us => "en-US",
        Country::De => "de-DE",
        Country::Gb => "en-GB",
        Country::Fr => "fr-FR",
        Country::Jp => "ja-JP",
        Country::Br => "pt-BR",
        Country::Dk => "da-DK",
    }
}

fn names(c: Country) -> (&'static [&'static str], &'static [&'static str]) {
    match c {
        Country::Us => (
            &[
                "James",
                "Mary",
                "Robert",
                "Patricia",
                "Michael",
                "Jennifer",
                "William",
                "Linda",
                "David",
                "Elizabeth",
                "Richard",
                "Barbara",
                "Joseph",
                "Susan",
                "Thomas",
                "Jessica",
                "Christopher",
                "Sarah",
                "Daniel",
                "Karen",
                "Matthew",
                "Nancy",
                "Anthony",
                "Lisa",
                "Mark",
                "Emily",
                "Olivia",
                "Ethan",
                "Ava",
                "Noah",
                "Sophia",
                "Liam",
                "Mia",
                "Aaron",
                "Abigail",
                "Alice",
                "Andrew",
                "Grace",
                "Henry",
                "Chloe",
            ],
            &[
                "Smith",
                "Johnson",
                "Williams",
                "Brown",
                "Jones",
                "Garcia",
                "Miller",
                "Davis",
                "Rodriguez",
                "Martinez",
                "Hernandez",
                "Lopez",
                "Wilson",
                "Anderson",
                "Thomas",
                "Taylor",
                "Moore",
                "Jackson",
                "Martin",
                "Lee",
                "Thompson",
                "White",
                "Harris",
                "Clark",
                "Lewis",
                "Robinson",
                "Walker",
                "Young",
                "Allen",
                "King",
                "Wright",
                "Scott",
                "Green",
                "Baker",
                "Adams",
                "Nelson",
                "Hill",
                "Campbell",
                "Mitchell",
                "Smyth",
                "McDonald",
                "DeLuca",
            ],
        ),
        Country::De | Country::Dk => (
            &[
                "Lukas",
                "Leon",
                "Finn",
                "Jonas",
                "Paul",
                "Felix",
                "Maximilian",
                "Anna",
                "Lena",
                "Leonie",
                "Hannah",
                "Lea",
                "Marie",
                "Sophie",
                "Katharina",
                "Jürgen",
                "Jörg",
                "Björn",
                "Günther",
                "Uwe",
                "Sabine",
                "Ute",
                "Heike",
                "Annika",
            ],
            &[
                "Müller",
                "Schmidt",
                "Schneider",
                "Fischer",
                "Weber",
                "Meyer",
                "Wagner",
                "Becker",
                "Schulz",
                "Hoffmann",
                "Schäfer",
                "Koch",
                "Bauer",
                "Richter",
                "Klein",
                "Wolf",
                "Schröder",
                "Neumann",
                "Schwarz",
                "Zimmermann",
                "Braun",
                "Krüger",
                "Hartmann",
                "Lange",
                "Schmitt",
                "Werner",
                "Krause",
                "Meier",
                "Lehmann",
                "Weiß",
                "Groß",
            ],
        ),
        Country::Gb => (
            &[
                "Oliver", "George", "Harry", "Jack", "Jacob", "Charlie", "Amelia", "Isla", "Emily",
                "Poppy", "Ella", "Freya", "Siobhan", "Niamh", "Callum", "Rhys", "Imogen", "Alfie",
            ],
            &[
                "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
                "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green",
                "Hall", "Wood", "Jackson", "Clarke", "O'Neill", "O'Connor", "Smyth", "Ashworth",
            ],
        ),
        Country::Fr => (
            &[
                "Léa",
                "Chloé",
                "Manon",
                "Camille",
                "Inès",
                "Zoé",
                "Hugo",
                "Lucas",
                "Théo",
                "Gabriel",
                "Raphaël",
                "Arthur",
                "Jules",
                "Élodie",
                "Frédéric",
                "Hélène",
                "Benoît",
                "François",
                "Aurélie",
                "Céline",
            ],
            &[
                "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
                "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David",
                "Bertrand", "Roux", "Vincent", "Fournier", "Girard", "Bonnet", "Dupont", "Lambert",
                "d'Arcy",
            ],
        ),
        Country::Jp => (
            &[
                "Haruto", "Yuto", "Sota", "Yui", "Hina", "Aoi", "Ren", "Sakura", "Takumi", "Yuki",
                "Kenji", "Akiko",
            ],
            &[
                "Sato",
                "Suzuki",
                "Takahashi",
                "Tanaka",
                "Watanabe",
                "Ito",
                "Yamamoto",
                "Nakamura",
                "Kobayashi",
                "Kato",
                "Yoshida",
                "Yamada",
            ],
        ),
        Country::Br => (
            &[
                "João", "Maria", "Ana", "Pedro", "Lucas", "Gabriel", "Mariana", "Beatriz",
                "Rafael", "Juliana", "Fernanda", "Thiago", "Larissa", "Gustavo", "Camila", "Luíza",
            ],
            &[
                "Silva",
                "Santos",
                "Oliveira",
                "Souza",
                "Rodrigues",
                "Ferreira",
                "Alves",
                "Pereira",
                "Lima",
                "Gomes",
                "Costa",
                "Ribeiro",
                "Martins",
                "Carvalho",
                "Araújo",
                "Conceição",
            ],
        ),
    }
}

const DEPARTMENTS: &[(&str, &[&str])] = &[
    (
        "Sales",
        &[
            "Account Executive",
            "Sales Manager",
            "Inside Sales Representative",
            "Regional Sales Director",
        ],
    ),
    (
        "Marketing",
        &[
            "Marketing Manager",
            "Product Marketing Manager",
            "Content Strategist",
            "Marketing Coordinator",
        ],
    ),
    (
        "Engineering",
        &[
            "Software Engineer",
            "Senior Software Engineer",
            "Engineering Manager",
            "Site Reliability Engineer",
            "QA Engineer",
        ],
    ),
    (
        "Finance",
        &[
            "Accountant",
            "Financial Analyst",
            "Controller",
            "Payroll Specialist",
        ],
    ),
    (
        "Human Resources",
        &["HR Generalist", "Recruiter", "HR Business Partner"],
    ),
    (
        "Legal",
        &["Corporate Counsel", "Paralegal", "Compliance Officer"],
    ),
    (
        "IT",
        &[
            "Systems Administrator",
            "IT Support Specialist",
            "Network Engineer",
            "IT Manager",
        ],
    ),
    (
        "Operations",
        &[
            "Operations Manager",
            "Logistics Coordinator",
            "Facilities Manager",
        ],
    ),
    (
        "Customer Support",
        &[
            "Support Engineer",
            "Customer Success Manager",
            "Support Team Lead",
        ],
    ),
    (
        "Research & Development",
        &["Research Scientist", "Lab Technician", "Product Designer"],
    ),
];

/// Folds a name to the ASCII used in mail addresses (`Müller` → `mueller`, `José` → `jose`).
fn ascii_fold(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        let folded = match c {
            'ä' | 'æ' => "ae",
            'ö' | 'ø' => "oe",
            'ü' => "ue",
            'ß' => "ss",
            'à' | 'á' | 'â' | 'ã' | 'å' => "a",
            'ç' => "c",
            'è' | 'é' | 'ê' | 'ë' => "e",
            'ì' | 'í' | 'î' | 'ï' => "i",
            'ñ' | 'ń' => "n",
            'ò' | 'ó' | 'ô' | 'õ' => "o",
            'ù' | 'ú' | 'û' => "u",
            'ł' => "l",
            'ý' | 'ÿ' => "y",
            c if c.is_ascii_alphanumeric() => {
                out.push(c);
                continue;
            }
            _ => "",
        };
        out.push_str(folded);
    }
    out
}

/// Subscriber-number counters, one per pool, so no two objects share a number.
#[derive(Default)]
struct NumberPools {
    counters: std::collections::HashMap<String, u32>,
}

impl NumberPools {
    fn take(&mut self, pool: &str) -> u32 {
        let counter = self.counters.entry(pool.to_string()).or_insert(0);
        *counter += 1;
        *counter - 1
    }
}

/// A landline in one of the spellings people type for that country.
fn landline(office: &Office, n: u32, style: usize) -> String {
    let a = office.area;
    match office.country {
        Country::Us => {
            // 555-0100…0199 is reserved for fiction; one block of 100 per area code.
            let line = 100 + n % 100;
            match style % 8 {
                0 => format!("+1 {a} 555 {line:04}"),
                1 => format!("+1{a}555{line:04}"),
                2 => format!("({a}) 555-{line:04}"),
                3 => format!("{a}-555-{line:04}"),
                4 => format!("{a}.555.{line:04}"),
                5 => format!("+1-{a}-555-{line:04}"),
                6 => format!("+1 {a} 555 {line:04} x{}", 100 + n * 7 % 900),
                _ => format!("+1 ({a}) 555-{line:04}"),
            }
        }
        Country::De => {
            let sub = 2_000_000 + n * 1_373;
            let s = sub.to_string();
            let (head, tail) = s.split_at(s.len() - 2);
            match style % 6 {
                0 => format!("+49 {a} {sub}"),
                1 => format!("0{a} {sub}"),
                2 => format!("+49 (0){a} {head}-{tail}"),
                3 => format!("+49{a}{sub}"),
                4 => format!("0049 {a} {sub}"),
                _ => format!("+49-{a}-{sub}"),
            }
        }
        Country::Gb => {
            // Ofcom's drama ranges: 020 7946 0000-0999, 0161 496 0000-0999.
            let (mid, rest) = if a == "20" { ("7946", 0) } else { ("496", 0) };
            let line = rest + n % 1000;
            match style % 4 {
                0 => format!("+44 {a} {mid} 0{line:03}"),
                1 => format!("0{a} {mid} 0{line:03}"),
                2 => format!("+44{a}{mid}0{line:03}"),
                _ => format!("+44 (0){a} {mid} 0{line:03}"),
            }
        }
        Country::Fr => {
            let d = 23_45_00_00 + n * 101;
            let s = format!("{d:08}");
            let pairs: Vec<&str> = (0..4).map(|i| &s[i * 2..i * 2 + 2]).collect();
            match style % 4 {
                0 => format!("+33 {a} {}", pairs.join(" ")),
                1 => format!("0{a} {}", pairs.join(" ")),
                2 => format!("+33{a}{s}"),
                _ => format!("0{a}.{}", pairs.join(".")),
            }
        }
        Country::Jp => {
            let first = 2000 + n;
            let second = 5678 + n * 3 % 4000;
            match style % 4 {
                0 => format!("+81 {a}-{first:04}-{second:04}"),
                1 => format!("0{a}-{first:04}-{second:04}"),
                2 => format!("+81-{a}-{first:04}-{second:04}"),
                _ => format!("+81{a}{first:04}{second:04}"),
            }
        }
        Country::Br => {
            let first = 3000 + n;
            let second = 1000 + n * 7 % 9000;
            match style % 3 {
                0 => format!("+55 {a} {first}-{second:04}"),
                1 => format!("({a}) {first}-{second:04}"),
                _ => format!("+55{a}{first}{second:04}"),
            }
        }
        Country::Dk => {
            let d = 12_34_00 + n * 11;
            let s = format!("{d:06}");
            format!("+45 {a} {} {} {}", &s[0..2], &s[2..4], &s[4..6])
        }
    }
}

fn mobile(country: Country, n: u32, style: usize) -> String {
    match country {
        Country::Us => {
            let areas = ["646", "510", "347", "628"];
            let area = areas[(n / 100) as usize % areas.len()];
            let line = 100 + n % 100;
            match style % 3 {
                0 => format!("+1 {area} 555 {line:04}"),
                1 => format!("({area}) 555-{line:04}"),
                _ => format!("+1{area}555{line:04}"),
            }
        }
        Country::De | Country::Dk => {
            let sub = 23_456_000 + n * 17;
            match style % 3 {
                0 => format!("+49 151 {sub}"),
                1 => format!("0151 {sub}"),
                _ => format!("+49151{sub}"),
            }
        }
        Country::Gb => {
            // 07700 900000-900999 is Ofcom's drama mobile range.
            let line = n % 1000;
            match style % 2 {
                0 => format!("+44 7700 900{line:03}"),
                _ => format!("07700 900{line:03}"),
            }
        }
        Country::Fr => {
            let d = 12_34_50_00 + n * 13;
            let s = format!("{d:08}");
            format!("+33 6 {} {} {} {}", &s[0..2], &s[2..4], &s[4..6], &s[6..8])
        }
        Country::Jp => format!("+81 90-{:04}-{:04}", 1000 + n, 2000 + n * 3 % 7000),
        Country::Br => format!("+55 11 9{:04}-{:04}", 1000 + n, 5000 + n * 7 % 4000),
    }
}

/// One sample person before it is rendered as Graph JSON.
struct Person {
    display_name: String,
    given_name: Option<String>,
    surname: Option<String>,
    upn: String,
    mail: Option<String>,
    office: &'static Office,
    department: &'static str,
    job_title: &'static str,
    business_phones: Vec<String>,
    mobile_phone: Option<String>,
    fax: Option<String>,
    account_enabled: bool,
    guest: bool,
    sam_account: bool,
    other_mails: Vec<String>,
}

struct SampleBuilder {
    rng: Prng,
    pools: NumberPools,
    users: Vec<Value>,
    contacts: Vec<Value>,
    upns: HashSet<String>,
    sam_names: HashSet<String>,
    employee_counter: u32,
}

fn office_in(city: &str) -> &'static Office {
    OFFICES
        .iter()
        .find(|o| o.city == city)
        .unwrap_or(&OFFICES[0])
}

impl SampleBuilder {
    fn new() -> Self {
        SampleBuilder {
            rng: Prng(0x4C44_4150_4752_4150),
            pools: NumberPools::default(),
            users: Vec::new(),
            contacts: Vec::new(),
            upns: HashSet::new(),
            sam_names: HashSet::new(),
            employee_counter: 10_000,
        }
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

    fn next_landline(&mut self, office: &Office) -> String {
        let n = self.pools.take(office.building);
        let style = self.rng.below(8);
        landline(office, n, style)
    }

    fn next_mobile(&mut self, country: Country) -> String {
        let n = self
            .pools
            .take(&format!("mobile-{}", country_code(country)));
        let style = self.rng.below(3);
        mobile(country, n, style)
    }

    fn render(&mut self, p: Person) -> Value {
        let id = self.rng.guid();
        let local = p.upn.split('@').next().unwrap_or_default().to_string();
        let nickname: String = local
            .chars()
            .map(|c| if c == '#' { '_' } else { c })
            .collect();
        let sam = if p.sam_account && !p.guest {
            let base: String = match (&p.given_name, &p.surname) {
                (Some(g), Some(s)) => format!(
                    "{}{}",
                    ascii_fold(g).chars().next().unwrap_or('x'),
                    ascii_fold(s)
                ),
                _ => ascii_fold(&p.display_name),
            };
            let base: String = base.chars().take(18).collect();
            let mut candidate = base.clone();
            let mut n = 2;
            while !self.sam_names.insert(candidate.clone()) {
                candidate = format!("{base}{n}");
                n += 1;
            }
            Value::String(candidate)
        } else {
            Value::Null
        };
        let employee_id = if p.guest || self.rng.percent(12) {
            Value::Null
        } else {
            self.employee_counter += 7;
            Value::String(format!("E{}", self.employee_counter))
        };
        let mut proxies = Vec::new();
        if let Some(mail) = &p.mail {
            proxies.push(Value::String(format!("SMTP:{mail}")));
            if !p.guest {
                proxies.push(Value::String(format!(
                    "smtp:{nickname}@example.onmicrosoft.com"
                )));
            }
        }
        let office = p.office;
        let opt = |v: Option<String>| v.map_or(Value::Null, Value::String);
        let mut user = Map::new();
        let mut put = |k: &str, v: Value| {
            user.insert(k.to_string(), v);
        };
        put("id", Value::String(id));
        put("displayName", Value::String(p.display_name.clone()));
        put("givenName", opt(p.given_name.clone()));
        put("surname", opt(p.surname.clone()));
        put("mail", opt(p.mail.clone()));
        put("userPrincipalName", Value::String(p.upn.clone()));
        put("mailNickname", Value::String(nickname));
        put("businessPhones", json!(p.business_phones));
        put("mobilePhone", opt(p.mobile_phone));
        put("faxNumber", opt(p.fax));
        put("jobTitle", Value::String(p.job_title.to_string()));
        put("department", Value::String(p.department.to_string()));
        put(
            "companyName",
            if p.guest {
                Value::Null
            } else {
                Value::String("Contoso Ltd.".into())
            },
        );
        put("officeLocation", {
            let seed = user_id_seed(&p.upn);
            Value::String(format!(
                "{} {}/{}",
                office.building,
                1 + (seed >> 8) % 30,
                100 + seed % 900
            ))
        });
        put("streetAddress", Value::String(office.street.to_string()));
        put("city", Value::String(office.city.to_string()));
        put(
            "state",
            office
                .state
                .map_or(Value::Null, |s| Value::String(s.into())),
        );
        put("postalCode", Value::String(office.postal_code.to_string()));
        put(
            "country",
            Value::String(country_name(office.country).to_string()),
        );
        put("employeeId", employee_id);
        put(
            "preferredLanguage",
            Value::String(language(office.country).to_string()),
        );
        put("onPremisesSamAccountName", sam);
        put("accountEnabled", Value::Bool(p.account_enabled));
        put(
            "userType",
            Value::String(if p.guest { "Guest" } else { "Member" }.into()),
        );
        put("otherMails", json!(p.other_mails));
        put("proxyAddresses", Value::Array(proxies));
        put(
            "usageLocation",
            Value::String(country_code(office.country).to_string()),
        );
        put("imAddresses", Value::Array(Vec::new()));
        Value::Object(user)
    }

    #[allow(clippy::too_many_arguments)]
    fn person(
        &mut self,
        display_name: &str,
        given: Option<&str>,
        surname: Option<&str>,
        local: &str,
        city: &str,
        department: &'static str,
        job_title: &'static str,
        phones: &[&str],
        mobile_phone: Option<&str>,
    ) -> Person {
        let upn = self.unique_upn(local, "example.com");
        Person {
            display_name: display_name.to_string(),
            given_name: given.map(str::to_string),
            surname: surname.map(str::to_string),
            mail: Some(upn.clone()),
            upn,
            office: office_in(city),
            department,
            job_title,
            business_phones: phones.iter().map(|s| s.to_string()).collect(),
            mobile_phone: mobile_phone.map(str::to_string),
            fax: None,
            account_enabled: true,
            guest: false,
            sam_account: true,
            other_mails: Vec::new(),
        }
    }

    /// Hand-written people that tests, the demo and the docs rely on.
    fn add_special_users(&mut self) {
        let specials: Vec<Person> = vec![
            self.person(
                "Megan Bowen",
                Some("Megan"),
                Some("Bowen"),
                "megan.bowen",
                "Seattle",
                "Marketing",
                "Marketing Manager",
                &["+1 425 555 0100"],
                Some("+1 425 555 0150"),
            ),
            self.person(
                "Alex Wilber",
                Some("Alex"),
                Some("Wilber"),
                "alex.wilber",
                "Seattle",
                "Sales",
                "Account Executive",
                &["+14255550101"],
                None,
            ),
            self.person(
                "Lynne Robbins",
                Some("Lynne"),
                Some("Robbins"),
                "lynne.robbins",
                "Seattle",
                "Finance",
                "Controller",
                &["(425) 555-0102"],
                None,
            ),
            self.person(
                "Adele Vance",
                Some("Adele"),
                Some("Vance"),
                "adele.vance",
                "Seattle",
                "Sales",
                "Sales Manager",
                &["425-555-0103"],
                Some("425-555-0153"),
            ),
            self.person(
                "Diego Siciliani",
                Some("Diego"),
                Some("Siciliani"),
                "diego.siciliani",
                "Seattle",
                "Human Resources",
                "HR Business Partner",
                &["425.555.0104"],
                None,
            ),
            self.person(
                "Patti Fernandez",
                Some("Patti"),
                Some("Fernandez"),
                "patti.fernandez",
                "Seattle",
                "Executive",
                "President",
                &["+1-425-555-0105", "+1 425 555 0155"],
                None,
            ),
            self.person(
                "Isaiah Langer",
                Some("Isaiah"),
                Some("Langer"),
                "isaiah.langer",
                "Seattle",
                "Sales",
                "Inside Sales Representative",
                &["+1 425 555 0106 x123"],
                None,
            ),
            self.person(
                "Jürgen Müller",
                Some("Jürgen"),
                Some("Müller"),
                "juergen.mueller",
                "Berlin",
                "Engineering",
                "Engineering Manager",
                &["+49 30 12345678"],
                Some("+49 151 12345678"),
            ),
            self.person(
                "Zoë Schmidt",
                Some("Zoë"),
                Some("Schmidt"),
                "zoe.schmidt",
                "Berlin",
                "Finance",
                "Accountant",
                &["030 1234567"],
                None,
            ),
            self.person(
                "Łukasz Nowak",
                Some("Łukasz"),
                Some("Nowak"),
                "lukasz.nowak",
                "Berlin",
                "IT",
                "Network Engineer",
                &["+49 (0)30 123456-78"],
                None,
            ),
            self.person(
                "Søren Kjær",
                Some("Søren"),
                Some("Kjær"),
                "soeren.kjaer",
                "København",
                "Sales",
                "Account Executive",
                &["+45 32 12 34 56"],
                None,
            ),
            self.person(
                "Conor O'Brien",
                Some("Conor"),
                Some("O'Brien"),
                "conor.obrien",
                "London",
                "Legal",
                "Corporate Counsel",
                &["+44 20 7946 0958"],
                Some("+44 7700 900958"),
            ),
            self.person(
                "Françoise Dupont",
                Some("Françoise"),
                Some("Dupont"),
                "francoise.dupont",
                "Paris",
                "Marketing",
                "Content Strategist",
                &["+33 1 23 45 67 89"],
                None,
            ),
            self.person(
                "山田 太郎",
                Some("太郎"),
                Some("山田"),
                "taro.yamada",
                "Tokyo",
                "Engineering",
                "Software Engineer",
                &["+81 3-1234-5678"],
                None,
            ),
            self.person(
                "José Ñúñez",
                Some("José"),
                Some("Ñúñez"),
                "jose.nunez",
                "São Paulo",
                "Customer Support",
                "Support Team Lead",
                &["+55 11 3456-7890"],
                Some("+55 11 91234-5678"),
            ),
            self.person(
                "Smith, John",
                Some("John"),
                Some("Smith"),
                "john.smith",
                "Chicago",
                "Operations",
                "Operations Manager",
                &["+1 312 555 0199"],
                None,
            ),
            self.person(
                "John Smith",
                Some("John"),
                Some("Smith"),
                "john.smith",
                "New York",
                "Sales",
                "Account Executive",
                &[],
                Some("+1 917 555 0199"),
            ),
            self.person(
                "Jane Smyth",
                Some("Jane"),
                Some("Smyth"),
                "jane.smyth",
                "London",
                "Finance",
                "Financial Analyst",
                &["020 7946 0999"],
                None,
            ),
            self.person(
                "Karl Schmidt",
                Some("Karl"),
                Some("Schmidt"),
                "karl.schmidt",
                "München",
                "Engineering",
                "QA Engineer",
                &["+49 89 7654321"],
                None,
            ),
            self.person(
                "Anna Larsen",
                Some("Anna"),
                Some("Larsen"),
                "anna.larsen",
                "København",
                "Legal",
                "Paralegal",
                &["+45 32 12 34 99"],
                None,
            ),
            self.person(
                "Ann Taylor",
                Some("Ann"),
                Some("Taylor"),
                "ann.taylor",
                "Boston",
                "IT",
                "IT Manager",
                &["(617) 555-0198"],
                None,
            ),
            self.person(
                "Annabel Lee",
                Some("Annabel"),
                Some("Lee"),
                "annabel.lee",
                "Boston",
                "Marketing",
                "Marketing Coordinator",
                &[],
                None,
            ),
            self.person(
                "aaron lowercase",
                Some("aaron"),
                Some("lowercase"),
                "aaron.lowercase",
                "Denver",
                "IT",
                "IT Support Specialist",
                &["303-555-0197"],
                None,
            ),
            self.person(
                "Sam Taylor (Contractor)",
                Some("Sam"),
                Some("Taylor"),
                "sam.taylor",
                "Denver",
                "Engineering",
                "Software Engineer",
                &["+1 303 555 0196"],
                None,
            ),
            self.person(
                "Build * Agent",
                None,
                None,
                "build.agent",
                "Seattle",
                "IT",
                "Systems Administrator",
                &[],
                None,
            ),
            self.person(
                "Backup \\ Legacy Service",
                None,
                None,
                "backup.legacy",
                "Seattle",
                "IT",
                "Systems Administrator",
                &[],
                None,
            ),
            self.person(
                "Cher",
                Some("Cher"),
                None,
                "cher",
                "San Francisco",
                "Marketing",
                "Product Marketing Manager",
                &["+1 415 555 0195"],
                None,
            ),
            self.person(
                "Tom Nomail",
                Some("Tom"),
                Some("Nomail"),
                "tom.nomail",
                "Chicago",
                "Operations",
                "Logistics Coordinator",
                &["+1 312 555 0194"],
                None,
            ),
            self.person(
                "Former Employee",
                Some("Former"),
                Some("Employee"),
                "former.employee",
                "New York",
                "Sales",
                "Account Executive",
                &["+1 212 555 0193"],
                None,
            ),
            self.person(
                "Brian Johnson",
                Some("Brian"),
                Some("Johnson"),
                "brian.johnson",
                "Seattle",
                "Research & Development",
                "Research Scientist",
                &["+1 206 555 0192"],
                None,
            ),
            self.person(
                "Jane Doe",
                Some("Jane"),
                Some("Doe"),
                "jane_contoso.com#EXT#",
                "Seattle",
                "Sales",
                "Partner",
                &[],
                None,
            ),
            self.person(
                "Rahul Gupta",
                Some("Rahul"),
                Some("Gupta"),
                "rahul_fabrikam.com#EXT#",
                "London",
                "Engineering",
                "Consultant",
                &[],
                Some("+44 7700 900998"),
            ),
            self.person(
                "Åsa Lindqvist",
                Some("Åsa"),
                Some("Lindqvist"),
                "asa.lindqvist",
                "København",
                "Human Resources",
                "Recruiter",
                &["+45 32 12 34 98"],
                None,
            ),
        ];
        for mut p in specials {
            match p.display_name.as_str() {
                "Patti Fernandez" => p.fax = Some("+1 425 555 0160".into()),
                "Tom Nomail" => p.mail = None,
                "Former Employee" | "Brian Johnson" => p.account_enabled = false,
                "Build * Agent" | "Backup \\ Legacy Service" => p.sam_account = false,
                "Jane Doe" | "Rahul Gupta" => {
                    // B2B guests: `#EXT#` UPNs in the tenant's initial domain (GRAPH.md §5, §8).
                    let local = p.upn.split('@').next().unwrap_or_default().to_string();
                    self.upns.remove(&p.upn.to_lowercase());
                    p.upn = self.unique_upn(&local, "example.onmicrosoft.com");
                    p.mail = Some(local.replace("#EXT#", "").replacen('_', "@", 1));
                    p.guest = true;
                    p.sam_account = false;
                }
                "Megan Bowen" => p.other_mails = vec!["megan.bowen@outlook.com".into()],
                _ => {}
            }
            let user = self.render(p);
            self.users.push(user);
        }
    }

    fn add_generated_users(&mut self, count: usize) {
        // Weighted by headcount: the US office block is largest.
        let weights: [(Country, usize); 6] = [
            (Country::Us, 40),
            (Country::De, 18),
            (Country::Gb, 14),
            (Country::Fr, 10),
            (Country::Jp, 9),
            (Country::Br, 9),
        ];
        for _ in 0..count {
            let mut roll = self.rng.below(100);
            let mut country = Country::Us;
            for (c, w) in weights {
                if roll < w {
                    country = c;
                    break;
                }
                roll -= w;
            }
            let offices: Vec<&'static Office> =
                OFFICES.iter().filter(|o| o.country == country).collect();
            let office = *self.rng.pick(&offices);
            let (firsts, lasts) = names(country);
            let given = *self.rng.pick(firsts);
            let surname = *self.rng.pick(lasts);
            let display_name = if self.rng.percent(4) {
                let initial = (b'A' + self.rng.below(26) as u8) as char;
                format!("{given} {initial}. {surname}")
            } else {
                format!("{given} {surname}")
            };
            let local = format!("{}.{}", ascii_fold(given), ascii_fold(surname));
            let upn = self.unique_upn(&local, "example.com");
            let (department, titles) = *self.rng.pick(DEPARTMENTS);
            let job_title = *self.rng.pick(titles);
            let phone_count = match self.rng.below(100) {
                0..=14 => 0,
                15..=84 => 1,
                _ => 2,
            };
            let business_phones: Vec<String> = (0..phone_count)
                .map(|_| self.next_landline(office))
                .collect();
            let mobile_phone = self.rng.percent(45).then(|| self.next_mobile(country));
            let fax = self.rng.percent(5).then(|| self.next_landline(office));
            let other_mails = if self.rng.percent(10) {
                vec![format!("{local}@outlook.com")]
            } else {
                Vec::new()
            };
            let person = Person {
                display_name,
                given_name: Some(given.to_string()),
                surname: Some(surname.to_string()),
                mail: Some(upn.clone()),
                upn,
                office,
                department,
                job_title,
                business_phones,
                mobile_phone,
                fax,
                account_enabled: !self.rng.percent(3),
                guest: false,
                sam_account: self.rng.percent(60),
                other_mails,
            };
            let user = self.render(person);
            self.users.push(user);
        }
    }

    fn add_contacts(&mut self, count: usize) {
        const COMPANIES: &[(&str, &str, Country)] = &[
            ("Fabrikam, Inc.", "fabrikam.com", Country::Us),
            ("Northwind Traders", "northwindtraders.com", Country::Us),
            ("Tailspin Toys", "tailspintoys.com", Country::Us),
            ("Woodgrove Bank", "woodgrovebank.com", Country::Us),
            ("Margie's Travel", "margiestravel.com", Country::Us),
            ("Wingtip Toys Ltd", "wingtiptoys.co.uk", Country::Gb),
            ("Litware GmbH", "litware.de", Country::De),
            ("Proseware SARL", "proseware.fr", Country::Fr),
            ("Trey Research K.K.", "treyresearch.jp", Country::Jp),
            ("Lamna Saúde", "lamna.com.br", Country::Br),
        ];
        const CONTACT_OFFICES: &[(&str, Option<&str>, &str, &str)] = &[
            ("Portland", Some("OR"), "97204", "503"),
            ("Austin", Some("TX"), "78701", "512"),
            ("Charlotte", Some("NC"), "28202", "704"),
        ];
        const FIXED: &[(&str, &str, &str)] = &[
            ("Nicole Wagner", "Nicole", "Wagner"),
            ("Ryan O'Connell", "Ryan", "O'Connell"),
            ("Renée Lefèvre", "Renée", "Lefèvre"),
            ("Mark Smith", "Mark", "Smith"),
            ("Hans Schmidt", "Hans", "Schmidt"),
        ];
        for i in 0..count {
            let (company, domain, country) = *self.rng.pick(COMPANIES);
            let (display, given, surname) = match FIXED.get(i) {
                Some((d, g, s)) => (d.to_string(), g.to_string(), s.to_string()),
                None => {
                    let (firsts, lasts) = names(country);
                    let g = *self.rng.pick(firsts);
                    let s = *self.rng.pick(lasts);
                    (format!("{g} {s}"), g.to_string(), s.to_string())
                }
            };
            let local = format!("{}.{}", ascii_fold(&given), ascii_fold(&surname));
            let mail = self.unique_upn(&local, domain);
            let has_mail = i % 11 != 7;
            let (city, state, postal, area, street) = match country {
                Country::Us => {
                    let (c, s, p, a) = CONTACT_OFFICES[i % CONTACT_OFFICES.len()];
                    (c, s, p, a, "100 Main Street")
                }
                Country::Gb => ("Manchester", None, "M2 5DB", "161", "12 King Street"),
                Country::De => ("Hamburg", None, "20095", "40", "Jungfernstieg 7"),
                Country::Fr => ("Lyon", None, "69002", "4", "10 Rue de la République"),
                Country::Jp => (
                    "Yokohama",
                    Some("Kanagawa"),
                    "220-0012",
                    "45",
                    "2-2-1 Minatomirai",
                ),
                _ => (
                    "Rio de Janeiro",
                    Some("RJ"),
                    "20040-020",
                    "21",
                    "Avenida Rio Branco, 1",
                ),
            };
            let pseudo_office = Office {
                country,
                city,
                state,
                postal_code: postal,
                street,
                building: "",
                area,
            };
            let mut phones = Vec::new();
            if i % 9 != 4 {
                let n = self.pools.take(&format!("contact-{area}"));
                let style = self.rng.below(8);
                phones.push(
                    json!({"number": landline(&pseudo_office, n, style), "type": "business"}),
                );
            }
            if self.rng.percent(50) {
                let n = self
                    .pools
                    .take(&format!("contact-mobile-{}", country_code(country)));
                let style = self.rng.below(3);
                phones.push(json!({"number": mobile(country, 500 + n, style), "type": "mobile"}));
            }
            if self.rng.percent(20) {
                let n = self.pools.take(&format!("contact-{area}"));
                phones
                    .push(json!({"number": landline(&pseudo_office, n, 0), "type": "businessFax"}));
            }
            if self.rng.percent(10) {
                let n = self.pools.take(&format!("contact-home-{area}"));
                phones.push(json!({"number": landline(&pseudo_office, 50 + n, 3), "type": "home"}));
            }
            let (department, titles) = *self.rng.pick(DEPARTMENTS);
            let title = *self.rng.pick(titles);
            let id = self.rng.guid();
            self.contacts.push(json!({
                "id": id,
                "displayName": display,
                "givenName": given,
                "surname": surname,
                "mail": if has_mail { Value::String(mail.clone()) } else { Value::Null },
                "mailNickname": local,
                "jobTitle": title,
                "companyName": company,
                "department": department,
                "phones": phones,
                "addresses": [{
                    "street": street,
                    "city": city,
                    "state": state,
                    "postalCode": postal,
                    "countryOrRegion": country_name(country),
                }],
                "proxyAddresses": if has_mail { json!([format!("SMTP:{mail}")]) } else { json!([]) },
                "onPremisesSyncEnabled": if i % 3 == 0 { Value::Bool(true) } else { Value::Null },
            }));
        }
    }
}

impl SampleBuilder {
    /// People stored the way real directories hold them: names with leading,
    /// trailing and repeated spaces, decomposed (NFD) beside precomposed spellings, phone
    /// numbers grouped unlike their national format or with mixed separators, letters,
    /// extensions and a number that does not parse. Added last, so the people before them
    /// (and the tests that name them) stay as they were.
    fn add_messy_spellings(&mut self) {
        let messy: Vec<Person> = vec![
            self.person(
                " Maria Meyer ",
                Some("Maria"),
                Some(" Meyer "),
                "maria.meyer",
                "Seattle",
                "Sales",
                "Account Executive",
                &["(425) 555.0107"],
                None,
            ),
            self.person(
                "  John  Anderson ",
                Some("John"),
                Some("Anderson"),
                "john.anderson",
                "Chicago",
                "Finance",
                "Financial Analyst",
                &["+48 22 585 7650"],
                Some("+1 (425) 555-0109 ext. 12"),
            ),
            self.person(
                "Zoe\u{308} Mu\u{308}ller",
                Some("Zoe\u{308}"),
                Some("Mu\u{308}ller"),
                "zoe.mueller",
                "Berlin",
                "Engineering",
                "Software Engineer",
                &["+43 22 685 4471"],
                None,
            ),
            self.person(
                "Jose\u{301} Rami\u{301}rez",
                Some("Jose\u{301}"),
                Some("Rami\u{301}rez"),
                "jose.ramirez",
                "São Paulo",
                "Customer Support",
                "Support Engineer",
                &["+46 1 503 4546"],
                None,
            ),
            self.person(
                "Lee  Chen",
                Some("Lee "),
                Some("Chen"),
                "lee.chen",
                "Seattle",
                "IT",
                "Network Engineer",
                &["425/555-0108", "+1.425.555.0110"],
                None,
            ),
            self.person(
                "Reception Seattle",
                None,
                None,
                "reception.seattle",
                "Seattle",
                "Operations",
                "Receptionist",
                &["X1234"],
                Some("n/a"),
            ),
        ];
        for p in messy {
            let user = self.render(p);
            self.users.push(user);
        }
        let contacts = [
            (
                " Meyer, Paul",
                "Paul",
                " Meyer",
                json!([
                    {"number": "x1234", "type": "business"},
                    {"number": "+41 44 668 18 00", "type": "mobile"},
                ]),
            ),
            (
                "Ju\u{308}rgen  Ko\u{308}hler",
                "Ju\u{308}rgen",
                "Ko\u{308}hler",
                json!([
                    {"number": "+49 (0)30 1234-56", "type": "business"},
                    {"number": " 0049 151 2345 6789 ", "type": "home"},
                ]),
            ),
        ];
        for (display, given, surname, phones) in contacts {
            let id = self.rng.guid();
            self.contacts.push(json!({
                "id": id,
                "displayName": display,
                "givenName": given,
                "surname": surname,
                "mail": Value::Null,
                "jobTitle": "Consultant",
                "companyName": "Litware  GmbH",
                "department": Value::Null,
                "phones": phones,
                "addresses": [],
                "proxyAddresses": [],
            }));
        }
    }
}

/// The spellings of one number a generated tenant uses, by `style`: digits
/// `+1 AAA EEE LLLL` written as people type them, one with an extension.
fn nanp_spelling(area: &str, exchange: usize, line: usize, style: usize) -> String {
    match style % 6 {
        0 => format!("+1 {area} {exchange} {line:04}"),
        1 => format!("({area}) {exchange}-{line:04}"),
        2 => format!("+1{area}{exchange}{line:04}"),
        3 => format!("{area}-{exchange}-{line:04}"),
        4 => format!("+1.{area}.{exchange}.{line:04}"),
        _ => format!("+1 ({area}) {exchange}-{line:04} x{}", 100 + line % 900),
    }
}

impl SampleBuilder {
    /// `count` people named `user00000`…: the benchmark tenant (issue 10). Number `i` has the
    /// business phone `+1 425 (200 + i / 10000) (i % 10000)` and the mobile
    /// `+1 206 (300 + i / 10000) (i % 10000)`, unique up to 700,000 people.
    fn add_numbered_users(&mut self, count: usize) {
        let width = count.saturating_sub(1).to_string().len().max(5);
        for i in 0..count {
            let number = format!("{i:0width$}");
            let name = format!("user{number}");
            let (department, titles) = DEPARTMENTS[i % DEPARTMENTS.len()];
            let exchange = i / 10_000;
            let line = i % 10_000;
            let business = nanp_spelling("425", 200 + exchange, line, i);
            let mobile = nanp_spelling("206", 300 + exchange, line, i / 6 + 1);
            let mut person = self.person(
                &name,
                Some("User"),
                Some(&number),
                &name,
                "Seattle",
                department,
                titles[i % titles.len()],
                &[business.as_str()],
                Some(mobile.as_str()),
            );
            person.sam_account = false;
            let user = self.render(person);
            self.users.push(user);
        }
    }
}

fn user_id_seed(upn: &str) -> u32 {
    upn.bytes().fold(2_166_136_261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16_777_619)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_is_deterministic_and_large_enough() {
        let a = Tenant::sample();
        let b = Tenant::sample();
        assert_eq!(a.users, b.users);
        assert_eq!(a.contacts, b.contacts);
        assert!(a.users.len() >= 320, "{}", a.users.len());
        assert!(a.contacts.len() >= 35);
    }

    #[test]
    fn sample_ids_and_upns_are_unique() {
        let t = Tenant::sample();
        assert!(t.validate().is_ok());
        let mails: HashSet<String> = t
            .users
            .iter()
            .filter_map(|u| u["mail"].as_str().map(str::to_lowercase))
            .collect();
        let with_mail = t.users.iter().filter(|u| u["mail"].is_string()).count();
        assert_eq!(mails.len(), with_mail);
    }

    #[test]
    fn sample_phone_numbers_are_unique() {
        let t = Tenant::sample();
        let mut seen = HashSet::new();
        for u in &t.users {
            let mut numbers: Vec<&str> = u["businessPhones"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            numbers.extend(u["mobilePhone"].as_str());
            numbers.extend(u["faxNumber"].as_str());
            for n in numbers {
                let digits: String = n
                    .split(" x")
                    .next()
                    .unwrap_or(n)
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect();
                assert!(seen.insert(digits.clone()), "{n} repeats");
            }
        }
    }

    #[test]
    fn sample_has_the_awkward_cases() {
        let t = Tenant::sample();
        let by_name = |name: &str| t.users.iter().find(|u| u["displayName"] == name);
        let megan = by_name("Megan Bowen").unwrap();
        assert_eq!(megan["userPrincipalName"], "megan.bowen@example.com");
        assert_eq!(megan["businessPhones"][0], "+1 425 555 0100");
        for name in [
            "Smith, John",
            "John Smith",
            "Jane Smyth",
            "Karl Schmidt",
            "Anna Larsen",
            "Ann Taylor",
            "Annabel Lee",
            "Conor O'Brien",
            "山田 太郎",
            "José Ñúñez",
            "Zoë Schmidt",
            "Łukasz Nowak",
            "Søren Kjær",
            "Jürgen Müller",
            "Sam Taylor (Contractor)",
            "Build * Agent",
            "Backup \\ Legacy Service",
        ] {
            assert!(by_name(name).is_some(), "{name}");
        }
        let guest = by_name("Jane Doe").unwrap();
        assert_eq!(guest["userType"], "Guest");
        assert_eq!(
            guest["userPrincipalName"],
            "jane_contoso.com#EXT#@example.onmicrosoft.com"
        );
        assert!(t.users.iter().any(|u| u["accountEnabled"] == false));
        assert!(t.users.iter().any(|u| u["surname"].is_null()));
        assert!(t.users.iter().any(|u| u["mail"].is_null()));
        assert!(
            t.users
                .iter()
                .any(|u| u["businessPhones"].as_array().is_some_and(Vec::is_empty))
        );
        assert!(
            t.users
                .iter()
                .any(|u| u["businessPhones"].as_array().is_some_and(|a| a.len() == 2))
        );
        let countries: HashSet<&str> = t
            .users
            .iter()
            .filter_map(|u| u["country"].as_str())
            .collect();
        assert!(countries.len() >= 6);
        let departments: HashSet<&str> = t
            .users
            .iter()
            .filter_map(|u| u["department"].as_str())
            .collect();
        assert!(departments.len() >= 8);
        let types: HashSet<&str> = t
            .contacts
            .iter()
            .flat_map(|c| c["phones"].as_array().into_iter().flatten())
            .filter_map(|p| p["type"].as_str())
            .collect();
        assert_eq!(types.len(), 4, "{types:?}");
    }

    #[test]
    fn sample_has_the_messy_spellings() {
        let t = Tenant::sample();
        let all = || t.users.iter().chain(&t.contacts);
        let names = || {
            all().flat_map(|o| {
                ["displayName", "givenName", "surname"]
                    .into_iter()
                    .filter_map(move |k| o[k].as_str())
            })
        };
        assert!(names().any(|n| n.starts_with(' ')), "leading space");
        assert!(names().any(|n| n.ends_with(' ')), "trailing space");
        assert!(names().any(|n| n.contains("  ")), "repeated space");
        assert!(names().any(|n| n.contains("e\u{308}")), "NFD");
        assert!(names().any(|n| n.contains('ë')), "NFC beside NFD");
        let phones: Vec<&str> = t
            .users
            .iter()
            .flat_map(|u| {
                u["businessPhones"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .chain(std::iter::once(&u["mobilePhone"]))
                    .filter_map(Value::as_str)
            })
            .chain(
                t.contacts
                    .iter()
                    .flat_map(|c| c["phones"].as_array().into_iter().flatten())
                    .filter_map(|p| p["number"].as_str()),
            )
            .collect();
        for spelling in [
            "(425) 555.0107",
            "+48 22 585 7650",
            "+43 22 685 4471",
            "+46 1 503 4546",
            "X1234",
            "x1234",
            "n/a",
        ] {
            assert!(phones.contains(&spelling), "{spelling}");
        }
    }

    #[test]
    fn from_json_defaults_and_validation() {
        let t = Tenant::from_json(r#"{"users":[{"id":"1","userPrincipalName":"a@b"}]}"#).unwrap();
        assert_eq!(t.client_id, SAMPLE_CLIENT_ID);
        assert_eq!(t.users.len(), 1);
        assert!(t.contacts.is_empty());
        assert!(Tenant::from_json("[]").is_err());
        assert!(Tenant::from_json(r#"{"users":[{"id":"1"}]}"#).is_err());
        let dup = r#"{"users":[{"id":"1","userPrincipalName":"a@b"},{"id":"2","userPrincipalName":"A@B"}]}"#;
        assert!(Tenant::from_json(dup).unwrap_err().contains("duplicate"));
        assert!(!format!("{t:?}").contains(SAMPLE_CLIENT_SECRET));
    }

    #[test]
    fn generated_tenant_is_numbered_with_unique_phones() {
        let t = Tenant::generated_with(12_345, 3);
        assert!(t.validate().is_ok());
        assert_eq!(t.users.len(), 12_345);
        assert_eq!(t.contacts.len(), 3);
        assert_eq!(t.users[0]["displayName"], "user00000");
        assert_eq!(
            t.users[12_344]["userPrincipalName"],
            "user12344@example.com"
        );
        assert_eq!(t.users[42]["mail"], "user00042@example.com");
        assert_eq!(t.users[42]["surname"], "00042");
        let digits = |v: &Value| -> String {
            let text = v.as_str().unwrap();
            let text = text.split(" x").next().unwrap();
            text.chars().filter(char::is_ascii_digit).collect()
        };
        let mut seen = HashSet::new();
        let mut spellings = HashSet::new();
        for (i, u) in t.users.iter().enumerate() {
            let business = &u["businessPhones"][0];
            let number = digits(business);
            assert_eq!(
                number.len(),
                if number.starts_with('1') { 11 } else { 10 },
                "{u}"
            );
            assert!(
                seen.insert(number.trim_start_matches('1').to_string()),
                "{u}"
            );
            assert!(
                seen.insert(
                    digits(&u["mobilePhone"])
                        .trim_start_matches('1')
                        .to_string()
                )
            );
            if i < 6 {
                spellings.insert(business.as_str().unwrap().replace(char::is_numeric, "9"));
            }
        }
        assert_eq!(spellings.len(), 6, "{spellings:?}");
        assert_eq!(Tenant::generated(10).users, Tenant::generated(10).users);
    }
}
