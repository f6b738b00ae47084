//! The differential test's search corpus: a small filter syntax tree with an RFC 4515
//! renderer and parser, a seeded generator of random filters drawn from an entry set's
//! real values, and the phone/client patterns of CLIENTS.md. Knows nothing of the gateway.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A deterministic PRNG (SplitMix64): the corpus must be the same on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// How a value's bytes are written in the filter string (RFC 4515 §3 allows any byte
/// to be written as `\XX`; `*`, `(`, `)`, `\` and NUL must be).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escaping {
    /// Only what must be escaped; UTF-8 as is.
    Minimal,
    /// Also every non-ASCII byte, lower-case hex.
    NonAsciiHex,
    /// Every byte, upper-case hex.
    AllHexUpper,
}

/// An assertion value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    pub bytes: Vec<u8>,
    pub escaping: Escaping,
}

impl Value {
    pub fn new(s: &str) -> Value {
        Value {
            bytes: s.as_bytes().to_vec(),
            escaping: Escaping::Minimal,
        }
    }

    fn render(&self, out: &mut String) {
        let all_hex = self.escaping == Escaping::AllHexUpper;
        let non_ascii_hex =
            self.escaping != Escaping::Minimal || std::str::from_utf8(&self.bytes).is_err();
        let mut i = 0;
        while i < self.bytes.len() {
            let b = self.bytes[i];
            let must = matches!(b, b'*' | b'(' | b')' | b'\\' | 0);
            if all_hex {
                let _ = write!(out, "\\{b:02X}");
            } else if must || (b >= 0x80 && non_ascii_hex) || b < 0x20 || b == 0x7f {
                let _ = write!(out, "\\{b:02x}");
            } else if b >= 0x80 {
                // a whole UTF-8 sequence as is
                let len = utf8_len(b);
                let end = (i + len).min(self.bytes.len());
                out.push_str(&String::from_utf8_lossy(&self.bytes[i..end]));
                i = end;
                continue;
            } else {
                out.push(b as char);
            }
            i += 1;
        }
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    }
}

/// An LDAP search filter (RFC 4511 §4.5.1.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Equality(String, Value),
    Substrings {
        attr: String,
        initial: Option<Value>,
        any: Vec<Value>,
        last: Option<Value>,
    },
    Present(String),
    GreaterOrEqual(String, Value),
    LessOrEqual(String, Value),
    Approx(String, Value),
}

impl Filter {
    /// The RFC 4515 string form, attribute names as written.
    pub fn render(&self) -> String {
        self.render_with(&|_: &str| None)
    }

    /// The string form with the attribute of every `>=`/`<=` item replaced where
    /// `ordering_attr` says so (the oracle's shadow attributes).
    pub fn render_with(&self, ordering_attr: &dyn Fn(&str) -> Option<String>) -> String {
        let mut out = String::new();
        self.write(&mut out, ordering_attr);
        out
    }

    fn write(&self, out: &mut String, ordering_attr: &dyn Fn(&str) -> Option<String>) {
        out.push('(');
        match self {
            Filter::And(items) | Filter::Or(items) => {
                out.push(if matches!(self, Filter::And(_)) {
                    '&'
                } else {
                    '|'
                });
                for f in items {
                    f.write(out, ordering_attr);
                }
            }
            Filter::Not(f) => {
                out.push('!');
                f.write(out, ordering_attr);
            }
            Filter::Equality(a, v) => {
                out.push_str(a);
                out.push('=');
                v.render(out);
            }
            Filter::Approx(a, v) => {
                out.push_str(a);
                out.push_str("~=");
                v.render(out);
            }
            Filter::GreaterOrEqual(a, v) | Filter::LessOrEqual(a, v) => {
                out.push_str(&ordering_attr(a).unwrap_or_else(|| a.clone()));
                out.push_str(if matches!(self, Filter::GreaterOrEqual(..)) {
                    ">="
                } else {
                    "<="
                });
                v.render(out);
            }
            Filter::Present(a) => {
                out.push_str(a);
                out.push_str("=*");
            }
            Filter::Substrings {
                attr,
                initial,
                any,
                last,
            } => {
                out.push_str(attr);
                out.push('=');
                if let Some(v) = initial {
                    v.render(out);
                }
                out.push('*');
                for v in any {
                    v.render(out);
                    out.push('*');
                }
                if let Some(v) = last {
                    v.render(out);
                }
            }
        }
        out.push(')');
    }

    /// The kind of the filter's root, for the corpus categories.
    pub fn kind(&self) -> &'static str {
        match self {
            Filter::And(_) | Filter::Or(_) | Filter::Not(_) => "boolean",
            Filter::Equality(..) => "equality",
            Filter::Substrings { .. } => "substrings",
            Filter::Present(_) => "presence",
            Filter::GreaterOrEqual(..) | Filter::LessOrEqual(..) => "ordering",
            Filter::Approx(..) => "approx",
        }
    }

    /// Every attribute name the filter mentions, as written.
    pub fn attributes(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_attributes(&mut out);
        out
    }

    fn collect_attributes<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Filter::And(items) | Filter::Or(items) => {
                items.iter().for_each(|f| f.collect_attributes(out))
            }
            Filter::Not(f) => f.collect_attributes(out),
            Filter::Equality(a, _)
            | Filter::Approx(a, _)
            | Filter::GreaterOrEqual(a, _)
            | Filter::LessOrEqual(a, _)
            | Filter::Present(a)
            | Filter::Substrings { attr: a, .. } => out.push(a),
        }
    }
}

/// Parses an RFC 4515 filter string (for the hand-written client patterns).
pub fn parse(text: &str) -> Result<Filter, String> {
    let bytes = text.as_bytes();
    let (f, end) = parse_at(bytes, 0)?;
    if end != bytes.len() {
        return Err(format!("trailing text after position {end} in {text}"));
    }
    Ok(f)
}

fn parse_at(b: &[u8], pos: usize) -> Result<(Filter, usize), String> {
    if b.get(pos) != Some(&b'(') {
        return Err(format!("expected '(' at {pos}"));
    }
    let mut i = pos + 1;
    match b.get(i) {
        Some(&c @ (b'&' | b'|')) => {
            i += 1;
            let mut items = Vec::new();
            while b.get(i) == Some(&b'(') {
                let (f, next) = parse_at(b, i)?;
                items.push(f);
                i = next;
            }
            if b.get(i) != Some(&b')') {
                return Err(format!("expected ')' at {i}"));
            }
            Ok((
                if c == b'&' {
                    Filter::And(items)
                } else {
                    Filter::Or(items)
                },
                i + 1,
            ))
        }
        Some(b'!') => {
            let (f, next) = parse_at(b, i + 1)?;
            if b.get(next) != Some(&b')') {
                return Err(format!("expected ')' at {next}"));
            }
            Ok((Filter::Not(Box::new(f)), next + 1))
        }
        _ => {
            let close = b[i..]
                .iter()
                .position(|&c| c == b')')
                .ok_or("unterminated item")?
                + i;
            let item = &b[i..close];
            let eq = item.iter().position(|&c| c == b'=').ok_or("no '='")?;
            let (attr_end, op) = match item.get(eq.wrapping_sub(1)) {
                Some(b'>') => (eq - 1, ">="),
                Some(b'<') => (eq - 1, "<="),
                Some(b'~') => (eq - 1, "~="),
                _ => (eq, "="),
            };
            let attr = String::from_utf8_lossy(&item[..attr_end]).into_owned();
            let raw = &item[eq + 1..];
            let f = match op {
                ">=" => Filter::GreaterOrEqual(attr, unescape(raw)?),
                "<=" => Filter::LessOrEqual(attr, unescape(raw)?),
                "~=" => Filter::Approx(attr, unescape(raw)?),
                _ if raw == b"*" => Filter::Present(attr),
                _ if raw.contains(&b'*') => {
                    let parts: Vec<&[u8]> = raw.split(|&c| c == b'*').collect();
                    let piece = |p: &[u8]| -> Result<Option<Value>, String> {
                        if p.is_empty() {
                            Ok(None)
                        } else {
                            unescape(p).map(Some)
                        }
                    };
                    let mut any = Vec::new();
                    for p in &parts[1..parts.len() - 1] {
                        if let Some(v) = piece(p)? {
                            any.push(v);
                        }
                    }
                    Filter::Substrings {
                        attr,
                        initial: piece(parts[0])?,
                        any,
                        last: piece(parts[parts.len() - 1])?,
                    }
                }
                _ => Filter::Equality(attr, unescape(raw)?),
            };
            Ok((f, close + 1))
        }
    }
}

fn unescape(raw: &[u8]) -> Result<Value, String> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' {
            let hex = raw.get(i + 1..i + 3).ok_or("short escape")?;
            let hex = std::str::from_utf8(hex).map_err(|e| e.to_string())?;
            bytes.push(u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?);
            i += 3;
        } else {
            bytes.push(raw[i]);
            i += 1;
        }
    }
    Ok(Value {
        bytes,
        escaping: Escaping::Minimal,
    })
}

/// Search scope (`ldapsearch -s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Base,
    One,
    Sub,
}

impl Scope {
    pub fn arg(self) -> &'static str {
        match self {
            Scope::Base => "base",
            Scope::One => "one",
            Scope::Sub => "sub",
        }
    }
}

/// One search of the corpus.
#[derive(Debug, Clone)]
pub struct Query {
    /// Corpus category (cost table row).
    pub category: String,
    pub base: String,
    pub scope: Scope,
    pub filter: Filter,
}

/// An entry as the corpus sees it: DN and (attribute name, values).
#[derive(Debug, Clone)]
pub struct SampleEntry {
    pub dn: String,
    pub attrs: Vec<(String, Vec<String>)>,
}

impl SampleEntry {
    pub fn values(&self, attr: &str) -> &[String] {
        self.attrs
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(attr))
            .map(|(_, v)| v.as_slice())
            .unwrap_or(&[])
    }

    pub fn is_object(&self) -> bool {
        self.dn.to_ascii_lowercase().starts_with("uid=")
    }
}

/// Attribute names the generator uses, with the canonical name whose values feed them.
/// Aliases and OIDs are spelled the way clients send them.
const TEXT_ATTRS: &[(&str, &str)] = &[
    ("cn", "cn"),
    ("sn", "sn"),
    ("givenName", "givenName"),
    ("displayName", "displayName"),
    ("mail", "mail"),
    ("title", "title"),
    ("department", "department"),
    ("company", "company"),
    ("o", "o"),
    ("physicalDeliveryOfficeName", "physicalDeliveryOfficeName"),
    ("street", "street"),
    ("l", "l"),
    ("st", "st"),
    ("postalCode", "postalCode"),
    ("co", "co"),
    ("employeeNumber", "employeeNumber"),
    ("preferredLanguage", "preferredLanguage"),
    ("sAMAccountName", "sAMAccountName"),
    ("userPrincipalName", "userPrincipalName"),
    ("uid", "uid"),
    ("ou", "ou"),
    ("dc", "dc"),
    ("name", "cn"),
    ("description", "cn"),
    ("gn", "givenName"),
    ("surname", "sn"),
    ("commonName", "cn"),
    ("userid", "uid"),
    ("rfc822Mailbox", "mail"),
    ("organizationName", "o"),
    ("localityName", "l"),
    ("streetAddress", "street"),
    ("friendlyCountryName", "co"),
    ("2.5.4.3", "cn"),
    ("2.5.4.4", "sn"),
];

const PHONE_ATTRS: &[(&str, &str)] = &[
    ("telephoneNumber", "telephoneNumber"),
    ("mobile", "mobile"),
    ("homePhone", "homePhone"),
    ("facsimileTelephoneNumber", "facsimileTelephoneNumber"),
    ("mobileTelephoneNumber", "mobile"),
    ("homeTelephoneNumber", "homePhone"),
    ("fax", "facsimileTelephoneNumber"),
    ("ipPhone", "telephoneNumber"),
    ("2.5.4.20", "telephoneNumber"),
];

/// Names no schema the gateway or slapd knows: their items are Undefined.
const UNKNOWN_ATTRS: &[&str] = &[
    "fooBar",
    "extension",
    "number",
    "x-custom-attr",
    "mozillaNickname",
    "1.2.3.4.5.6.7",
];

const OBJECT_CLASSES: &[&str] = &[
    "top",
    "person",
    "organizationalPerson",
    "inetOrgPerson",
    "user",
    "contact",
    "organizationalUnit",
    "domain",
    "dcObject",
    "groupOfNames",
    "INETORGPERSON",
    "Person",
    "2.5.6.6",
    "2.16.840.1.113730.3.2.2",
];

/// Synthetic values: non-ASCII (precomposed and decomposed), ß, scripts, specials.
const ODD_VALUES: &[&str] = &[
    "Müller",
    "Mu\u{308}ller",
    "MÜLLER",
    "José",
    "Jose\u{301}",
    "Straße",
    "STRASSE",
    "Ærøskøbing",
    "Łódź",
    "Δημήτρης",
    "Иван",
    "山田",
    "O'Brien",
    "a*b",
    "(paren)",
    "back\\slash",
    "nul\0byte",
    "tab\tchar",
    "  leading and trailing  ",
    "many    inner     spaces",
    "+",
    "-",
    "#",
    "&",
    "%20",
    "a/b",
    "quote\"d",
    "comma, inside",
    "zz",
    "a",
    "M",
];

/// Values grouped by canonical attribute name (lower case), from the entry set.
pub struct Pools {
    by_attr: BTreeMap<String, Vec<String>>,
    all: Vec<String>,
    entries: Vec<SampleEntry>,
}

impl Pools {
    pub fn new(entries: &[SampleEntry]) -> Pools {
        let mut by_attr: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut all = Vec::new();
        for e in entries {
            for (a, vs) in &e.attrs {
                let pool = by_attr.entry(a.to_ascii_lowercase()).or_default();
                for v in vs {
                    if !pool.contains(v) {
                        pool.push(v.clone());
                    }
                    if !all.contains(v) {
                        all.push(v.clone());
                    }
                }
            }
        }
        Pools {
            by_attr,
            all,
            entries: entries.to_vec(),
        }
    }

    fn of(&self, canonical: &str) -> &[String] {
        self.by_attr
            .get(&canonical.to_ascii_lowercase())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// Random filters from a grammar over the pools' values.
pub struct Generator<'a> {
    pub rng: Rng,
    pools: &'a Pools,
}

impl<'a> Generator<'a> {
    pub fn new(seed: u64, pools: &'a Pools) -> Generator<'a> {
        Generator {
            rng: Rng::new(seed),
            pools,
        }
    }

    /// One filter, nested at most `depth` levels.
    pub fn filter(&mut self, depth: u32) -> Filter {
        if depth > 0 && self.rng.chance(35) {
            return match self.rng.below(10) {
                0..=3 => Filter::And(self.children(depth)),
                4..=7 => Filter::Or(self.children(depth)),
                _ => Filter::Not(Box::new(self.filter(depth - 1))),
            };
        }
        self.item()
    }

    fn children(&mut self, depth: u32) -> Vec<Filter> {
        // RFC 4526 absolute true (&) / false (|) now and then
        let n = if self.rng.chance(3) {
            0
        } else {
            1 + self.rng.below(3)
        };
        (0..n).map(|_| self.filter(depth - 1)).collect()
    }

    /// One item: equality, substrings, presence, ordering or approx on some attribute.
    pub fn item(&mut self) -> Filter {
        let roll = self.rng.below(100);
        if roll < 6 {
            let unknown = *self.rng.pick(UNKNOWN_ATTRS);
            let attr = self.spelled(unknown);
            let value = self.text_value("cn");
            return self.item_on(attr, "cn", value, false);
        }
        if roll < 14 {
            let attr = self.spelled("objectClass");
            let oc = self.rng.pick(OBJECT_CLASSES).to_string();
            return match self.rng.below(10) {
                0 => Filter::Present(attr),
                1 => Filter::Substrings {
                    attr,
                    initial: Some(Value::new(&oc[..oc.len().min(3)])),
                    any: vec![],
                    last: None,
                },
                2 => Filter::GreaterOrEqual(attr, Value::new(&oc)),
                3 => Filter::Approx(attr, Value::new(&oc)),
                _ => Filter::Equality(attr, Value::new(&oc)),
            };
        }
        if roll < 34 {
            let (name, canonical) = *self.rng.pick(PHONE_ATTRS);
            let attr = self.spelled(name);
            let value = self.phone_value(canonical);
            return self.item_on(attr, canonical, value, true);
        }
        // mostly attributes that hold values, so that searches match something
        let mut choice = *self.rng.pick(TEXT_ATTRS);
        if self.rng.chance(75) {
            for _ in 0..8 {
                if !self.pools.of(choice.1).is_empty() {
                    break;
                }
                choice = *self.rng.pick(TEXT_ATTRS);
            }
        }
        let (name, canonical) = choice;
        let attr = self.spelled(name);
        let value = self.text_value(canonical);
        self.item_on(attr, canonical, value, false)
    }

    fn item_on(&mut self, attr: String, canonical: &str, value: String, phone: bool) -> Filter {
        match self.rng.below(100) {
            0..=29 => Filter::Equality(attr, self.value(&value)),
            30..=59 => self.substrings(attr, &value, phone),
            60..=69 => Filter::Present(attr),
            70..=79 => Filter::GreaterOrEqual(attr, self.ordering_value(canonical, &value)),
            80..=89 => Filter::LessOrEqual(attr, self.ordering_value(canonical, &value)),
            _ => {
                let variant = self.approx_variant(&value);
                Filter::Approx(attr, self.value(&variant))
            }
        }
    }

    /// The attribute name in odd case now and then.
    fn spelled(&mut self, name: &str) -> String {
        match self.rng.below(10) {
            0 => name.to_ascii_lowercase(),
            1 => name.to_ascii_uppercase(),
            2 => name
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if i % 2 == 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect(),
            _ => name.to_string(),
        }
    }

    /// A value for a text attribute: mostly real, sometimes from another attribute,
    /// synthetic, empty or very long; then case and spacing changes.
    fn text_value(&mut self, canonical: &str) -> String {
        let roll = self.rng.below(100);
        let base = if roll < 72 && !self.pools.of(canonical).is_empty() {
            self.rng.pick(self.pools.of(canonical)).clone()
        } else if roll < 82 && !self.pools.all.is_empty() {
            self.rng.pick(&self.pools.all).clone()
        } else if roll < 92 {
            self.rng.pick(ODD_VALUES).to_string()
        } else if roll < 96 {
            String::new()
        } else {
            let seed = self
                .pools
                .of(canonical)
                .first()
                .cloned()
                .unwrap_or_else(|| "long".into());
            let mut long = String::new();
            while long.chars().count() < 260 {
                long.push_str(&seed);
                long.push(' ');
            }
            long
        };
        self.mutate_text(base)
    }

    fn mutate_text(&mut self, v: String) -> String {
        match self.rng.below(16) {
            0 => v.to_uppercase(),
            1 => v.to_lowercase(),
            2 => v.replace(' ', "   "),
            3 => format!(" {v} "),
            4 if !v.is_empty() => {
                let mut chars: Vec<char> = v.chars().collect();
                let i = self.rng.below(chars.len());
                chars.insert(i, *self.rng.pick(&['*', '(', ')', '\\', '\0', 'é', '#']));
                chars.into_iter().collect()
            }
            _ => v,
        }
    }

    /// A phone value in one of several spellings of a real number, or a stranger.
    fn phone_value(&mut self, canonical: &str) -> String {
        let pool = if self.pools.of(canonical).is_empty() || self.rng.chance(25) {
            let mut all = Vec::new();
            for a in [
                "telephonenumber",
                "mobile",
                "homephone",
                "facsimiletelephonenumber",
            ] {
                all.extend_from_slice(self.pools.of(a));
            }
            all
        } else {
            self.pools.of(canonical).to_vec()
        };
        if pool.is_empty() || self.rng.chance(8) {
            return self
                .rng
                .pick(&[
                    "+4930666",
                    "555",
                    "+1",
                    "0",
                    "",
                    "(",
                    "+49 (0)30 1234-56",
                    "x",
                ])
                .to_string();
        }
        let real = self.rng.pick(&pool).clone();
        let spellings = phone_spellings(&real);
        self.rng.pick(&spellings).clone()
    }

    /// The value as an assertion, with an escaping style.
    fn value(&mut self, s: &str) -> Value {
        let escaping = match self.rng.below(20) {
            0 => Escaping::AllHexUpper,
            1 | 2 => Escaping::NonAsciiHex,
            _ => Escaping::Minimal,
        };
        Value {
            bytes: s.as_bytes().to_vec(),
            escaping,
        }
    }

    fn substrings(&mut self, attr: String, v: &str, phone: bool) -> Filter {
        let chars: Vec<char> = v.chars().collect();
        let piece = |from: usize, to: usize| -> String { chars[from..to].iter().collect() };
        let n = chars.len();
        if n == 0 {
            return Filter::Substrings {
                attr,
                initial: Some(self.value("a")),
                any: vec![],
                last: None,
            };
        }
        let cut =
            |rng: &mut Rng, max: usize| 1 + rng.below(max.clamp(1, if phone { 8 } else { 5 }));
        match self.rng.below(6) {
            0 | 1 => {
                let k = cut(&mut self.rng, n);
                let p = piece(0, k.min(n));
                Filter::Substrings {
                    attr,
                    initial: Some(self.value(&p)),
                    any: vec![],
                    last: None,
                }
            }
            2 => {
                let k = cut(&mut self.rng, n).min(n);
                let p = piece(n - k, n);
                Filter::Substrings {
                    attr,
                    initial: None,
                    any: vec![],
                    last: Some(self.value(&p)),
                }
            }
            3 => {
                let start = self.rng.below(n);
                let k = cut(&mut self.rng, n - start);
                let p = piece(start, (start + k).min(n));
                Filter::Substrings {
                    attr,
                    initial: None,
                    any: vec![self.value(&p)],
                    last: None,
                }
            }
            _ => {
                // initial, several anys, final in order; pieces may be empty-cut.
                let mut bounds: Vec<usize> = (0..4).map(|_| self.rng.below(n + 1)).collect();
                bounds.sort_unstable();
                let initial = (bounds[0] > 0 && self.rng.chance(60)).then(|| piece(0, bounds[0]));
                let mut any = Vec::new();
                for w in bounds.windows(2) {
                    let mid = (w[0] + w[1]) / 2;
                    if mid > w[0] {
                        any.push(piece(w[0], mid));
                    }
                }
                let last = (bounds[3] < n && self.rng.chance(60)).then(|| piece(bounds[3], n));
                Filter::Substrings {
                    attr,
                    initial: initial.map(|p| self.value(&p)),
                    any: any.iter().map(|p| self.value(p)).collect(),
                    last: last.map(|p| self.value(&p)),
                }
            }
        }
    }

    fn ordering_value(&mut self, canonical: &str, v: &str) -> Value {
        let s = match self.rng.below(6) {
            0 => "zz".to_string(),
            1 => self
                .rng
                .pick(&["a", "M", "m", "Z", "0", "é", "~"])
                .to_string(),
            2 => v.chars().take(2).collect(),
            3 => {
                let pool = self.pools.of(canonical);
                if pool.is_empty() {
                    v.to_string()
                } else {
                    self.rng.pick(pool).to_lowercase()
                }
            }
            _ => v.to_string(),
        };
        self.value(&s)
    }

    fn approx_variant(&mut self, v: &str) -> String {
        match self.rng.below(5) {
            0 => v.to_lowercase(),
            1 => v.replace(['e', 'E'], "ä"),
            2 => v.split(' ').next().unwrap_or("").to_string(),
            3 => v.replace("ph", "f").replace('c', "k"),
            _ => v.to_string(),
        }
    }

    /// Search bases: "", the base DN, each ou, single entries (also in odd case), and
    /// DNs that do not exist.
    pub fn base_and_scope(&mut self, base_dn: &str) -> (String, Scope) {
        let objects: Vec<&SampleEntry> = self
            .pools
            .entries
            .iter()
            .filter(|e| e.is_object())
            .collect();
        let container_scope = |rng: &mut Rng| match rng.below(20) {
            0..=1 => Scope::Base,
            2..=6 => Scope::One,
            _ => Scope::Sub,
        };
        let (base, scope) = match self.rng.below(100) {
            0..=14 => (String::new(), container_scope(&mut self.rng)),
            15..=44 => (base_dn.to_string(), container_scope(&mut self.rng)),
            45..=59 => (
                format!("ou=users,{base_dn}"),
                container_scope(&mut self.rng),
            ),
            60..=69 => (
                format!("ou=contacts,{base_dn}"),
                container_scope(&mut self.rng),
            ),
            70..=73 => (
                format!("OU=Users,{}", base_dn.to_ascii_uppercase()),
                container_scope(&mut self.rng),
            ),
            74..=75 => (
                format!("uid=nobody@example.com,ou=users,{base_dn}"),
                container_scope(&mut self.rng),
            ),
            76 => (format!("ou=groups,{base_dn}"), Scope::Sub),
            _ if !objects.is_empty() => {
                let dn = self.rng.pick(&objects).dn.clone();
                let dn = if self.rng.chance(15) {
                    dn.to_ascii_uppercase()
                } else {
                    dn
                };
                let scope = match self.rng.below(10) {
                    0..=5 => Scope::Base,
                    6..=7 => Scope::Sub,
                    _ => Scope::One,
                };
                (dn, scope)
            }
            _ => (base_dn.to_string(), Scope::Sub),
        };
        // base "" with scope base is the root DSE: server-specific, not compared
        if base.is_empty() && scope == Scope::Base {
            return (base, Scope::Sub);
        }
        (base, scope)
    }
}

/// Spellings of one phone number: as stored, digits only, E.164 compact, grouped with
/// spaces, with hyphens, national with parentheses, and its last seven digits.
pub fn phone_spellings(stored: &str) -> Vec<String> {
    let plus = stored.trim_start().starts_with('+');
    let digits: String = stored.chars().filter(char::is_ascii_digit).collect();
    let mut out = vec![stored.to_string(), digits.clone()];
    if plus {
        out.push(format!("+{digits}"));
    }
    if digits.len() >= 10 {
        let national = &digits[digits.len() - 10..];
        let cc = &digits[..digits.len() - 10];
        let (a, b, c) = (&national[..3], &national[3..6], &national[6..]);
        out.push(format!("({a}) {b}-{c}"));
        out.push(format!("{a}-{b}-{c}"));
        out.push(national.to_string());
        if !cc.is_empty() {
            out.push(format!("+{cc} {a} {b} {c}"));
            out.push(format!("+{cc}-{a}-{b}-{c}"));
            out.push(format!("00{cc}{national}"));
        }
    }
    if digits.len() >= 7 {
        out.push(digits[digits.len() - 7..].to_string());
    }
    out.push(stored.replace(' ', ""));
    out.push(stored.replace(' ', "-"));
    out.dedup();
    out
}

/// The phone and client patterns of CLIENTS.md, `%` standing for typed text, with the
/// category each belongs to.
pub const NAME_PREFIX_PATTERNS: &[&str] = &[
    "(|(cn=%*)(sn=%*))",          // Yealink search_type 0, Grandstream, Unify
    "(|(sn=%*)(cn=%*))",          // Snom recommendation, Avaya B179
    "(|(gn=%*)(cn=%*))",          // Snom, gn alias
    "(|(cn=%*)(o=%*))",           // NethVoice Snom
    "(|(cn=%*)(mail=%*)(sn=%*))", // Thunderbird autocomplete
    "(sn=%*)",                    // Cisco MPP last name
    "(|(sn=%*))",                 // Mitel OpenCom
    "(mail=%*)",                  // Grandstream mail
    "(&(mail=*)(|(mail=%*)(|(cn=%*)(|(sn=%*)(givenName=%*)))))", // Outlook
    "(&(telephoneNumber=*)(sn=%*))", // Snom name filter, prefix typed
    "(&(sn=%*)(number=*))",       // Mitel 6800i (number: unknown attribute)
    "(&(objectClass=person)(|(givenName=%*)(sn=%*)))",
];

pub const NAME_EQUALITY_PATTERNS: &[&str] = &[
    "(|(cn=%)(sn=%))",                      // Grandstream/Yealink literal
    "(&(telephoneNumber=*)(sn=%))",         // Snom wiki
    "(|(givenname=%)(sn=%)(cn=%)(mail=%))", // macOS Contacts
    "(|(sn=%)(cn=%)(givenName=%)(o=%))",    // NethVoice phonebook
    "(|(cn=%)(o=%))",                       // NethVoice defaults
    "(|(Sn=%)(CN=%)(GIVENNAME=%))",
];

pub const NAME_CONTAINS_PATTERNS: &[&str] = &[
    "(|(cn=*%*)(sn=*%*))",                          // Yealink search_type 1
    "(sn=*%*)",                                     // Cisco contains
    "(cn=*%*)",                                     // Snom, Cisco first name
    "(|(mail=*%*)(cn=*%*)(givenName=*%*)(sn=*%*))", // Thunderbird quick search
];

pub const CALLER_ID_PATTERNS: &[&str] = &[
    "(|(telephoneNumber=%)(mobile=%)(ipPhone=%))", // Yealink
    "(|(telephoneNumber=%)(Mobile=%))",            // Grandstream
    "(|(telephoneNumber=%)(mobile=%)(homePhone=%))", // Unify, NethVoice
    "(|(mobile=%)(homephone=%)(telephonenumber=%))", // Mitel OpenCom
    "(telephoneNumber=%)",                         // Mitel 69xx
    "(&(telephoneNumber=%)(sn=*))",                // Snom number filter
    "(|(telephoneNumber=%*)(mobile=%*)(homePhone=%*))", // NethVoice Snom
    "(|(mobileTelephoneNumber=%)(homeTelephoneNumber=%)(telephoneNumber=%))",
];

pub const PHONE_SUFFIX_PATTERNS: &[&str] =
    &["(telephoneNumber=*%)", "(|(telephoneNumber=*%)(mobile=*%))"];

/// Fills `%` with typed text (escaped as a filter value).
pub fn fill(pattern: &str, typed: &str) -> Result<Filter, String> {
    let mut escaped = String::new();
    Value::new(typed).render(&mut escaped);
    parse(&pattern.replace('%', &escaped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_parse_round_trip() {
        for text in [
            "(&(cn=a\\2ab*c*d)(!(sn>=x))(|(mail=*)(gn~=J\\c3\\a9)))",
            "(&)",
            "(|)",
            "(cn=*a*b*)",
            "(telephoneNumber=+1 425)",
        ] {
            let f = parse(text).unwrap();
            assert_eq!(parse(&f.render()).unwrap(), f, "{text}");
        }
    }
}
