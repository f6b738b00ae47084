//! Phone-number matching across formats (CONTRACT §7): E.164 parsing with a default
//! region, digits-only forms for substrings, and the spelling variants the translator
//! pushes to Graph. Pure; no I/O, and no knowledge of entries or filters.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use phonenumber::{Mode, PhoneNumber, country};

/// How phone attributes match (`[phone] match`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneMatch {
    /// Equality compares E.164 forms when both values parse; substrings compare digits
    /// (CONTRACT §7). The default.
    E164,
    /// RFC 4517 telephoneNumber(Substrings)Match only.
    Rfc4517,
}

impl std::str::FromStr for PhoneMatch {
    type Err = String;

    /// `"e164"` or `"rfc4517"` (`[phone] match`).
    fn from_str(text: &str) -> Result<PhoneMatch, String> {
        match text {
            "e164" => Ok(PhoneMatch::E164),
            "rfc4517" => Ok(PhoneMatch::Rfc4517),
            _ => Err("must be \"e164\" or \"rfc4517\"".to_string()),
        }
    }
}

/// A region libphonenumber knows (ISO 3166-1 alpha-2), the default for numbers written
/// without a country code (`[phone] default_region`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region(country::Id);

impl std::str::FromStr for Region {
    type Err = String;

    /// Two capital letters of a region libphonenumber knows, e.g. `"US"`, `"DE"`;
    /// surrounding spaces are ignored.
    fn from_str(text: &str) -> Result<Region, String> {
        let text = text.trim();
        match text.parse::<country::Id>() {
            Ok(id) if text.len() == 2 && text.bytes().all(|b| b.is_ascii_uppercase()) => {
                Ok(Region(id))
            }
            _ => Err(format!(
                "`{text}` is not a known region code (two capital letters, e.g. \"US\", \"DE\")"
            )),
        }
    }
}

impl Region {
    /// The United States, the default region.
    pub const US: Region = Region(country::Id::US);

    /// The region's code, e.g. "US".
    pub fn code(&self) -> &str {
        self.0.as_ref()
    }
}

/// The configured phone matching: mode and default region.
#[derive(Debug, Clone)]
pub struct PhoneRules {
    pub mode: PhoneMatch,
    region: country::Id,
    /// E.164 forms already computed: parsing costs about 0.1 ms, and a caller-ID search
    /// compares every fetched phone value with the dialled number.
    parsed: Arc<Mutex<HashMap<String, Option<String>>>>,
    /// Spelling variants already computed, by E.164 form.
    variants: Arc<Mutex<HashMap<String, Vec<String>>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Distinct phone values whose E.164 form is remembered (the memo is emptied when full).
const PARSED_MEMO_LIMIT: usize = 50_000;

impl PartialEq for PhoneRules {
    fn eq(&self, other: &Self) -> bool {
        self.mode == other.mode && self.region == other.region
    }
}

impl Eq for PhoneRules {}

/// Most spellings `spelling_variants` returns (each becomes one Graph `startsWith`).
pub const MAX_SPELLING_VARIANTS: usize = 40;

impl PhoneRules {
    /// Rules for `mode` with `default_region`, an ISO 3166 alpha-2 code such as "US"
    /// (any case).
    pub fn new(mode: PhoneMatch, default_region: &str) -> Result<Self, String> {
        let region: Region = default_region.trim().to_ascii_uppercase().parse()?;
        Ok(PhoneRules::for_region(mode, region))
    }

    /// Rules for `mode` with an already parsed default region.
    pub fn for_region(mode: PhoneMatch, region: Region) -> Self {
        PhoneRules {
            mode,
            region: region.0,
            parsed: Arc::default(),
            variants: Arc::default(),
        }
    }

    /// `phone::digits` as an associated function, for callers holding the rules.
    pub fn digits(v: &str) -> String {
        digits(v)
    }

    /// The default region's code, e.g. "US".
    pub fn region(&self) -> &str {
        self.region.as_ref()
    }

    /// Parses a number as libphonenumber does, with the default region for numbers
    /// written without a country code; `None` unless it is a plausible number.
    ///
    /// A number written internationally (`+`, `00`, or `011` in NANP regions, with an
    /// optional Italian-style `(0)` trunk marker) is reduced to `+` and its digits and
    /// parsed without a region: the `phonenumber` crate applies the default region's
    /// national-prefix rule to such numbers too (with region US it reads `+49 151 ...`
    /// as `+49 51 ...` and `+33 1 ...` as `+33 ...`) and does not read `00`/`(0)`.
    fn parse(&self, v: &str) -> Option<PhoneNumber> {
        let main = without_extension(v);
        let digit_count = main.chars().filter(char::is_ascii_digit).count();
        // Short codes and extensions alone are not numbers we can place in E.164.
        if digit_count < 5 {
            return None;
        }
        let number = match self.international_digits(main) {
            Some(plus_digits) => phonenumber::parse(None, &plus_digits).ok()?,
            None => phonenumber::parse(Some(self.region), main).ok()?,
        };
        number.is_valid().then_some(number)
    }

    /// `+` and the digits of a number written with an international prefix, `None` for
    /// a national spelling.
    fn international_digits(&self, main: &str) -> Option<String> {
        let t = main.trim_start().replace("(0)", "");
        let all: String = t.chars().filter(char::is_ascii_digit).collect();
        let rest = if t.starts_with('+') {
            all.as_str()
        } else if let Some(r) = all.strip_prefix("00") {
            r
        } else if self.is_nanp() && all.starts_with("011") {
            &all[3..]
        } else {
            return None;
        };
        Some(format!("+{rest}"))
    }

    fn is_nanp(&self) -> bool {
        phonenumber::metadata::DATABASE
            .by_id(self.region.as_ref())
            .is_some_and(|m| m.country_code() == 1)
    }

    /// The E.164 form of a number (`+14255550100`), the extension ignored; `None` when
    /// it does not parse as a valid number.
    pub fn e164(&self, v: &str) -> Option<String> {
        if let Some(known) = lock(&self.parsed).get(v) {
            return known.clone();
        }
        let e164 = self
            .parse(v)
            .map(|n| n.format().mode(Mode::E164).to_string());
        let mut m = lock(&self.parsed);
        if m.len() >= PARSED_MEMO_LIMIT {
            m.clear();
        }
        m.insert(v.to_string(), e164.clone());
        e164
    }

    /// The spellings under which the number in `assertion` is most likely stored in
    /// Graph, most likely first, deduplicated, at most `MAX_SPELLING_VARIANTS`. The
    /// translator ORs them as `startsWith` clauses, so stored extensions still match.
    /// Empty when the assertion does not parse.
    pub fn spelling_variants(&self, assertion: &str) -> Vec<String> {
        let Some(e164) = self.e164(assertion) else {
            return Vec::new();
        };
        if let Some(known) = lock(&self.variants).get(&e164) {
            return known.clone();
        }
        let variants = self.compute_variants(&e164);
        let mut m = lock(&self.variants);
        if m.len() >= PARSED_MEMO_LIMIT {
            m.clear();
        }
        m.insert(e164, variants.clone());
        variants
    }

    fn compute_variants(&self, e164: &str) -> Vec<String> {
        let e164 = e164.to_string();
        // Re-parse the bare E.164 string so no extension leaks into the formats.
        let Ok(number) = phonenumber::parse(None, &e164) else {
            return Vec::new();
        };
        let cc = number.code().value().to_string();
        let international = number.format().mode(Mode::International).to_string();
        let national = number.format().mode(Mode::National).to_string();
        let mut out: Vec<String> = vec![e164.clone(), international.clone(), national.clone()];
        let nsn = e164
            .trim_start_matches('+')
            .strip_prefix(cc.as_str())
            .unwrap_or("")
            .to_string();
        if cc == "1" && nsn.len() == 10 {
            let (area, rest) = nsn.split_at(3);
            let (exchange, line) = rest.split_at(3);
            out.extend([
                format!("{area}-{exchange}-{line}"),
                format!("{area}.{exchange}.{line}"),
                format!("{area} {exchange} {line}"),
                nsn.clone(),
                format!("+1 {area} {exchange} {line}"),
                format!("+1 ({area}) {exchange}-{line}"),
                format!("+1-{area}-{exchange}-{line}"),
                format!("+1.{area}.{exchange}.{line}"),
                format!("001 {area} {exchange} {line}"),
                format!("1-{area}-{exchange}-{line}"),
                format!("1 ({area}) {exchange}-{line}"),
                format!("1 {area} {exchange} {line}"),
                format!("1{nsn}"),
                format!("({area}){exchange}-{line}"),
                format!("({area}) {exchange} {line}"),
                format!("+1({area}){exchange}-{line}"),
                format!("+1 {area}-{exchange}-{line}"),
                format!("+1 {area}.{exchange}.{line}"),
                format!("+1 {area} {exchange}{line}"),
                format!("+1 {area}{exchange}{line}"),
                format!("1.{area}.{exchange}.{line}"),
                format!("001{nsn}"),
                format!("011 1 {area} {exchange} {line}"),
            ]);
        } else {
            let groups: Vec<&str> = international
                .strip_prefix(&format!("+{cc}"))
                .unwrap_or("")
                .split([' ', '-'])
                .filter(|g| !g.is_empty())
                .collect();
            let national_groups: Vec<&str> = national
                .split([' ', '-'])
                .filter(|g| !g.is_empty())
                .collect();
            let joined = |sep: &str| groups.join(sep);
            let rest_intl = groups.get(1..).unwrap_or(&[]).join(" ");
            // "+44 (0)161 ..." where the national form adds a trunk prefix 0: common in
            // Europe, so it comes right after the library's own formats.
            if let (Some(area), Some(first)) = (national_groups.first(), groups.first())
                && area.strip_prefix('0') == Some(*first)
            {
                out.push(format!("+{cc} (0){first} {rest_intl}"));
            }
            out.extend([
                format!("00{cc} {}", joined(" ")),
                format!("+{cc} {}", joined("-")),
                format!("+{cc}-{}", joined("-")),
                format!("+{cc} {}", joined("")),
                national_groups.join("-"),
                national_groups.join(""),
                format!("00{cc}{}", joined("")),
                format!("00{cc} {}", joined("")),
            ]);
            if let Some((first, rest)) = groups.split_first() {
                let rest = rest.join(" ");
                out.push(format!("+{cc} ({first}) {rest}"));
                out.push(format!("+{cc} {first} {}", rest.replace(' ', "")));
                out.push(format!("+{cc}-{first}-{}", rest.replace(' ', "")));
            }
            if let Some((area, rest)) = national_groups.split_first() {
                let rest_spaced = rest.join(" ");
                let rest_joined = rest.join("");
                out.push(format!("{area} {rest_joined}"));
                out.push(format!("{area}/{rest_joined}"));
                out.push(format!("{area}-{rest_joined}"));
                out.push(format!("{area}/{rest_spaced}"));
                if !area.starts_with('(') {
                    out.push(format!("({area}) {rest_spaced}"));
                }
                if let Some(trunkless) = area.strip_prefix('0')
                    && groups.first() == Some(&trunkless)
                {
                    let rest_compact = groups.get(1..).unwrap_or(&[]).join("");
                    out.push(format!("+{cc} (0) {trunkless} {rest_intl}"));
                    out.push(format!("+{cc}(0){trunkless} {rest_intl}"));
                    out.push(format!("+{cc} (0){trunkless}-{rest_compact}"));
                    out.push(format!("+{cc} (0){trunkless}{rest_compact}"));
                }
            }
            // The library's grouping is not always the one people write (it gives
            // "+49 1511 2345678" for a number usually written "+49 151 12345678"), so
            // the area code is also tried at other lengths, least likely last.
            for area_len in [3, 2, 4] {
                if nsn.len() >= area_len + 5 {
                    let (area, rest) = nsn.split_at(area_len);
                    out.push(format!("+{cc} {area} {rest}"));
                    out.push(format!("0{area} {rest}"));
                    out.push(format!("+{cc} (0){area} {rest}"));
                }
            }
        }
        let mut unique: Vec<String> = Vec::new();
        for v in out {
            let v = widen(v.trim());
            // A spelling that starts with a kept one adds nothing to a `startsWith` OR.
            if !v.is_empty() && !unique.iter().any(|u| v.starts_with(u.as_str())) {
                unique.retain(|u| !u.starts_with(v.as_str()));
                unique.push(v);
            }
            if unique.len() == MAX_SPELLING_VARIANTS {
                break;
            }
        }
        unique
    }

    /// Whether a stored phone value equals an assertion: in E164 mode the E.164 forms
    /// when both parse, else telephoneNumberMatch (CONTRACT §7). `None`: the assertion
    /// is not a valid Telephone Number for the RFC 4517 fallback (Undefined).
    pub fn equality(&self, value: &str, assertion: &str) -> Option<bool> {
        if self.mode == PhoneMatch::E164
            && let Some(asserted) = self.e164(assertion)
            && let Some(stored) = self.e164(value)
        {
            return Some(stored == asserted);
        }
        super::matching::equality_match(super::schema::Equality::TelephoneNumber, value, assertion)
    }
}

/// A spelling whose last digit run is long enough loses its last two digits: as a
/// `startsWith` prefix it then also finds the number written with a separator there
/// (`+49 30 123456-78`, `+49 30 123456 78`), at the cost of a few neighbours that the
/// local check drops.
/// Compact spellings (no separator) are kept whole: there is nothing to vary.
fn widen(v: &str) -> String {
    let has_separator = v.chars().skip(1).any(|c| !c.is_ascii_digit());
    let trailing = v.chars().rev().take_while(char::is_ascii_digit).count();
    if has_separator && trailing >= 6 {
        v[..v.len() - 2].to_string()
    } else {
        v.to_string()
    }
}

/// The part of a stored number before an extension (`x123`, `ext. 5`, `;ext=5`, `#5`).
fn without_extension(v: &str) -> &str {
    let end = v
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || " +-./()\u{a0}".contains(*c)))
        .map(|(i, _)| i)
        .unwrap_or(v.len());
    &v[..end]
}

/// Every character but digits and a leading `+` removed (CONTRACT §7):
/// `+1 (425) 555-0100` becomes `+14255550100`.
pub fn digits(v: &str) -> String {
    let trimmed = v.trim_start();
    let mut out = String::with_capacity(trimmed.len());
    if trimmed.starts_with('+') {
        out.push('+');
    }
    out.extend(trimmed.chars().filter(char::is_ascii_digit));
    out
}

/// True when a substring piece holds only digits and phone punctuation, so comparing
/// its `digits` form loses nothing the user typed.
pub fn is_phone_spelling(piece: &str) -> bool {
    piece
        .chars()
        .all(|c| c.is_ascii_digit() || " -.()/+".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us() -> PhoneRules {
        PhoneRules::new(PhoneMatch::E164, "us").unwrap()
    }

    #[test]
    fn match_mode_and_region_parse_as_configured() {
        assert_eq!("e164".parse(), Ok(PhoneMatch::E164));
        assert_eq!("rfc4517".parse(), Ok(PhoneMatch::Rfc4517));
        for bad in ["fuzzy", "E164", "", " e164"] {
            assert!(bad.parse::<PhoneMatch>().is_err(), "{bad}");
        }
        assert_eq!(
            " DE ".parse::<Region>().map(|r| r.code().to_string()),
            Ok("DE".into())
        );
        for bad in ["us", "XX", "", "USA", "U"] {
            let e = bad.parse::<Region>().unwrap_err();
            assert!(e.contains("region code"), "{bad}: {e}");
        }
        let rules = PhoneRules::for_region(PhoneMatch::Rfc4517, "GB".parse().unwrap());
        assert_eq!((rules.mode, rules.region()), (PhoneMatch::Rfc4517, "GB"));
    }

    #[test]
    fn rejects_unknown_region() {
        assert!(PhoneRules::new(PhoneMatch::E164, "XX").is_err());
        assert!(PhoneRules::new(PhoneMatch::E164, "").is_err());
        assert_eq!(
            PhoneRules::new(PhoneMatch::Rfc4517, "de").unwrap().region(),
            "DE"
        );
    }

    #[test]
    fn e164_across_spellings() {
        let r = us();
        for s in [
            "+14255550100",
            "4255550100",
            "+1 (425) 555-0100",
            "(425) 555.0100",
            "425-555-0100",
            "1-425-555-0100",
            "+1 425 555 0100 ext. 12",
            "425-555-0100 x12",
        ] {
            assert_eq!(r.e164(s).as_deref(), Some("+14255550100"), "{s}");
        }
        assert_eq!(r.e164("+49 30 1234567").as_deref(), Some("+49301234567"));
        let de = PhoneRules::new(PhoneMatch::E164, "DE").unwrap();
        assert_eq!(de.e164("030 1234567").as_deref(), Some("+49301234567"));
        assert_eq!(de.e164("0049 30 1234567").as_deref(), Some("+49301234567"));
        assert_eq!(r.e164("1234"), None);
        assert_eq!(r.e164("hello"), None);
        assert_eq!(r.e164(""), None);
    }

    #[test]
    fn digits_keeps_leading_plus_only() {
        assert_eq!(digits("+1 (425) 555-0100"), "+14255550100");
        assert_eq!(digits("(425) 555.0100"), "4255550100");
        assert_eq!(digits(" +49 30 1234-56"), "+4930123456");
        assert_eq!(digits("12+34"), "1234");
        assert_eq!(digits("abc"), "");
    }

    #[test]
    fn equality_modes() {
        let r = us();
        assert_eq!(r.equality("+1 (425) 555-0100", "4255550100"), Some(true));
        assert_eq!(r.equality("+1 (425) 555-0100", "4255550101"), Some(false));
        // fallback: short internal extensions compare with telephoneNumberMatch
        assert_eq!(r.equality("12-34", "1234"), Some(true));
        assert_eq!(r.equality("12 34", "1235"), Some(false));
        // invalid Telephone Number syntax in the fallback is Undefined
        assert_eq!(r.equality("1234", "12#4"), None);
        let strict = PhoneRules::new(PhoneMatch::Rfc4517, "US").unwrap();
        assert_eq!(
            strict.equality("+1 (425) 555-0100", "4255550100"),
            Some(false)
        );
        assert_eq!(
            strict.equality("+1 425 555-0100", "+14255550100"),
            Some(true)
        );
    }

    /// True when some variant, as a `startsWith` prefix, finds `stored`.
    pub(super) fn covers(v: &[String], stored: &str) -> bool {
        v.iter().any(|p| stored.starts_with(p.as_str()))
    }

    /// True when the digits of spelling `s` are a prefix of the number written
    /// internationally (`+cc...`, `00cc...`, `011cc...`, `cc...`) or nationally
    /// (`trunk` + national number).
    pub(super) fn same_number_prefix(s: &str, e164: &str, trunk: &str) -> bool {
        let d = digits(&s.replace("(0)", ""));
        let intl = e164.trim_start_matches('+');
        let forms = [
            e164.to_string(),
            format!("00{intl}"),
            format!("011{intl}"),
            intl.to_string(),
        ];
        let cc_len = (1..=3)
            .find(|l| {
                phonenumber::parse(None, e164)
                    .map(|n| n.code().value().to_string().len() == *l)
                    .unwrap_or(false)
            })
            .unwrap_or(1);
        let national = format!("{trunk}{}", &intl[cc_len..]);
        d.len() >= 6
            && (forms.iter().any(|f| f.starts_with(&d))
                || national.starts_with(&d)
                || intl[cc_len..].starts_with(&d))
    }

    #[test]
    fn nanp_variants() {
        let v = us().spelling_variants("+1 (425) 555-0100");
        assert_eq!(v[0], "+14255550100");
        for expected in [
            "+1 425-555-0100",
            "(425) 555-0100",
            "425-555-0100",
            "425.555.0100",
            "425 555 0100",
            "4255550100",
            "+1 425 555 0100",
            "+1 (425) 555-0100",
            "+1-425-555-0100",
            "+1.425.555.0100",
            "001 425 555 0100",
            "1-425-555-0100",
        ] {
            assert!(covers(&v, expected), "missing {expected}: {v:?}");
        }
        assert!(v.len() <= MAX_SPELLING_VARIANTS);
        let mut dedup = v.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), v.len());
        // every variant is the same number (international prefixes other than the
        // default region's 011 are spellings only)
        for s in v.iter().filter(|s| !s.starts_with("00")) {
            assert!(same_number_prefix(s, "+14255550100", "1"), "{s}");
        }
    }

    #[test]
    fn german_variants() {
        let v = us().spelling_variants("+49 30 1234567");
        assert_eq!(v[0], "+49301234567");
        for expected in [
            "+49 30 1234567",
            "030 1234567",
            "0301234567",
            "030-1234567",
            "030/1234567",
            "+49 (0)30 1234567",
            "0049 30 1234567",
            "+49-30-1234567",
        ] {
            assert!(covers(&v, expected), "missing {expected}: {v:?}");
        }
        let de = PhoneRules::new(PhoneMatch::E164, "DE").unwrap();
        let _ = de;
        for s in &v {
            assert!(same_number_prefix(s, "+49301234567", "0"), "{s}");
        }
        // A number written with a separator inside its last group is still found.
        assert!(covers(&v, "+49 30 12345-67"), "{v:?}");
        assert!(covers(&v, "+49 (0)30 123 45 67") || covers(&v, "+49 (0)30 1234567"));
    }

    #[test]
    fn international_spellings_parse_whatever_the_default_region() {
        // The phonenumber crate alone misreads all of these with region US.
        let us = us();
        for (spelling, e164) in [
            ("+49 151 12345678", "+4915112345678"),
            ("+4915112345678", "+4915112345678"),
            ("+33 1 23 45 67 89", "+33123456789"),
            ("+44 (0)161 496 0000", "+441614960000"),
            ("+49 (0)30 123456-78", "+493012345678"),
            ("+4930123456-78", "+493012345678"),
            ("001 425 555 0100", "+14255550100"),
            ("00 1 4255550100", "+14255550100"),
            ("0049 30 12345678", "+493012345678"),
            ("011 49 30 12345678", "+493012345678"),
            ("+1 425 555 0106 x123", "+14255550106"),
        ] {
            assert_eq!(us.e164(spelling).as_deref(), Some(e164), "{spelling}");
        }
        let de = PhoneRules::new(PhoneMatch::E164, "DE").unwrap();
        assert_eq!(de.e164("0151 12345678").as_deref(), Some("+4915112345678"));
        assert_eq!(de.e164("030 1234567").as_deref(), Some("+49301234567"));
        // "011" is an international prefix only in NANP regions.
        assert_ne!(
            de.e164("011 49 30 12345678").as_deref(),
            Some("+493012345678")
        );
    }

    #[test]
    fn variants_find_the_common_spellings_of_a_german_mobile() {
        let v = us().spelling_variants("+4915112345678");
        for stored in [
            "+49 151 12345678",
            "0151 12345678",
            "+49 (0)151 12345678",
            "+4915112345678",
        ] {
            assert!(covers(&v, stored), "missing {stored}: {v:?}");
        }
    }

    #[test]
    fn unparsable_gives_no_variants() {
        assert!(us().spelling_variants("hello").is_empty());
        assert!(us().spelling_variants("12").is_empty());
    }
}

#[cfg(test)]
mod variant_shapes {
    use super::tests::covers;
    use super::*;

    #[test]
    fn extension_never_leaks_and_other_regions_work() {
        let us = PhoneRules::new(PhoneMatch::E164, "US").unwrap();
        let v = us.spelling_variants("+1 425 555 0100 ext. 12");
        assert!(!v.is_empty());
        assert!(
            v.iter().all(|s| !s.contains("12 ") && !s.ends_with("12")),
            "{v:?}"
        );
        let gb = PhoneRules::new(PhoneMatch::E164, "GB").unwrap();
        let v = gb.spelling_variants("020 7946 0018");
        assert_eq!(v[0], "+442079460018");
        assert!(covers(&v, "+44 20 7946 0018"), "{v:?}");
        assert!(covers(&v, "020 7946 0018"), "{v:?}");
        assert!(covers(&v, "+44 (0)20 7946 0018"), "{v:?}");
        let fr = PhoneRules::new(PhoneMatch::E164, "FR").unwrap();
        let v = fr.spelling_variants("01 23 45 67 89");
        assert!(covers(&v, "+33 1 23 45 67 89"), "{v:?}");
        assert!(v.len() <= MAX_SPELLING_VARIANTS);
    }
}
