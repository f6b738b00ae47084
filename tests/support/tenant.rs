//! Expected answers computed straight from the sample tenant's Graph JSON, without the
//! gateway: the default mapping of CONTRACT §5, the matching rules the client replays need
//! (§6 names, §7 phone numbers) and the result order of §8. It must never call gateway code.
#![allow(dead_code)]

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use graph_emulator::Tenant;
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

pub const BASE: &str = "dc=example,dc=com";
pub const USERS_OU: &str = "ou=users,dc=example,dc=com";
pub const CONTACTS_OU: &str = "ou=contacts,dc=example,dc=com";
/// The `[phone] default_region` of the demo configuration.
pub const REGION: &str = "US";

/// The raw Graph objects of a tenant: (users, contacts).
pub fn raw_objects(t: &Tenant) -> (Vec<Value>, Vec<Value>) {
    (t.users.clone(), t.contacts.clone())
}

/// An entry's attributes as an LDAP server loads them: (name, values).
pub type Attributes = Vec<(String, Vec<String>)>;

/// One mapped LDAP entry, as an OpenLDAP server holding the same data would hold it.
#[derive(Debug, Clone)]
pub struct Person {
    pub dn: String,
    pub is_user: bool,
    /// Lowercased attribute name → values in Graph's spelling.
    pub attrs: BTreeMap<String, Vec<String>>,
}

impl Person {
    pub fn values(&self, attr: &str) -> &[String] {
        self.attrs
            .get(&canonical(attr))
            .map(|v| v.as_slice())
            .unwrap_or(&[])
    }
    pub fn has(&self, attr: &str) -> bool {
        !self.values(attr).is_empty()
    }
    pub fn first(&self, attr: &str) -> Option<&str> {
        self.values(attr).first().map(|s| s.as_str())
    }
    pub fn cn(&self) -> &str {
        self.first("cn").unwrap_or("")
    }
    /// The attributes as an LDAP server would load them: (name, values).
    pub fn attributes(&self) -> Attributes {
        self.attrs
            .iter()
            .map(|(a, vs)| (a.clone(), vs.clone()))
            .collect()
    }
    /// Empty values produce no attribute (CONTRACT §5); a value of spaces is not empty.
    fn put(&mut self, names: &[&str], values: Vec<String>) {
        let values: Vec<String> = values.into_iter().filter(|v| !v.is_empty()).collect();
        if values.is_empty() {
            return;
        }
        for n in names {
            self.attrs.insert(n.to_lowercase(), values.clone());
        }
    }
}

/// Standard aliases (RFC 4519, 4524) folded to the name this module stores.
pub fn canonical(attr: &str) -> String {
    let a = attr.to_lowercase();
    match a.as_str() {
        "commonname" => "cn",
        "surname" => "sn",
        "gn" => "givenname",
        "mobiletelephonenumber" => "mobile",
        "2.5.4.20" => "telephonenumber",
        "hometelephonenumber" => "homephone",
        "fax" => "facsimiletelephonenumber",
        "rfc822mailbox" => "mail",
        "userid" => "uid",
        "organizationname" => "o",
        "localityname" => "l",
        "stateorprovincename" => "st",
        "streetaddress" => "street",
        "friendlycountryname" => "co",
        _ => return a,
    }
    .to_string()
}

fn string(v: &Value, key: &str) -> Vec<String> {
    match v.get(key) {
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    match v.get(key) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// A user object mapped as CONTRACT §5 says.
pub fn map_user(u: &Value) -> Person {
    let upn = string(u, "userPrincipalName").pop().unwrap_or_default();
    let mut p = Person {
        dn: format!("uid={},{USERS_OU}", escape_rdn_value(&upn)),
        is_user: true,
        attrs: BTreeMap::new(),
    };
    p.put(
        &["objectClass"],
        [
            "top",
            "person",
            "organizationalPerson",
            "inetOrgPerson",
            "user",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    );
    p.put(&["uid", "userPrincipalName"], vec![upn]);
    p.put(&["cn", "displayName"], string(u, "displayName"));
    p.put(&["givenName"], string(u, "givenName"));
    p.put(&["sn"], string(u, "surname"));
    p.put(&["mail"], string(u, "mail"));
    p.put(&["telephoneNumber"], strings(u, "businessPhones"));
    p.put(&["mobile"], string(u, "mobilePhone"));
    p.put(&["facsimileTelephoneNumber"], string(u, "faxNumber"));
    p.put(&["title"], string(u, "jobTitle"));
    p.put(&["department"], string(u, "department"));
    p.put(&["company", "o"], string(u, "companyName"));
    p.put(&["physicalDeliveryOfficeName"], string(u, "officeLocation"));
    p.put(&["street"], string(u, "streetAddress"));
    p.put(&["l"], string(u, "city"));
    p.put(&["st"], string(u, "state"));
    p.put(&["postalCode"], string(u, "postalCode"));
    p.put(&["co"], string(u, "country"));
    p.put(&["employeeNumber"], string(u, "employeeId"));
    p.put(&["preferredLanguage"], string(u, "preferredLanguage"));
    let mut sam = string(u, "onPremisesSamAccountName");
    if sam.is_empty() {
        sam = string(u, "mailNickname");
    }
    p.put(&["sAMAccountName"], sam);
    p
}

/// An organizational contact mapped as CONTRACT §5 says.
pub fn map_contact(c: &Value) -> Person {
    let id = string(c, "id").pop().unwrap_or_default();
    let mut p = Person {
        dn: format!("uid={},{CONTACTS_OU}", escape_rdn_value(&id)),
        is_user: false,
        attrs: BTreeMap::new(),
    };
    p.put(
        &["objectClass"],
        [
            "top",
            "person",
            "organizationalPerson",
            "inetOrgPerson",
            "contact",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    );
    p.put(&["uid"], vec![id]);
    p.put(&["cn", "displayName"], string(c, "displayName"));
    p.put(&["givenName"], string(c, "givenName"));
    p.put(&["sn"], string(c, "surname"));
    p.put(&["mail"], string(c, "mail"));
    p.put(&["title"], string(c, "jobTitle"));
    p.put(&["department"], string(c, "department"));
    p.put(&["company", "o"], string(c, "companyName"));
    let phones = |kind: &str| -> Vec<String> {
        c.get("phones")
            .and_then(|p| p.as_array())
            .map(|a| {
                a.iter()
                    .filter(|ph| ph.get("type").and_then(|t| t.as_str()) == Some(kind))
                    .filter_map(|ph| ph.get("number").and_then(|n| n.as_str()))
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    p.put(&["telephoneNumber"], phones("business"));
    p.put(&["mobile"], phones("mobile"));
    p.put(&["facsimileTelephoneNumber"], phones("businessFax"));
    p.put(&["homePhone"], phones("home"));
    if let Some(addr) = c
        .get("addresses")
        .and_then(|a| a.as_array())
        .and_then(|a| a.first())
    {
        p.put(&["street"], string(addr, "street"));
        p.put(&["l"], string(addr, "city"));
        p.put(&["st"], string(addr, "state"));
        p.put(&["postalCode"], string(addr, "postalCode"));
        p.put(&["co"], string(addr, "countryOrRegion"));
    }
    p
}

/// Users the default `user_filter` (`accountEnabled eq true`) lets through.
pub fn users(t: &Tenant) -> Vec<Person> {
    raw_objects(t)
        .0
        .iter()
        .filter(|u| u.get("accountEnabled").and_then(|e| e.as_bool()) == Some(true))
        .map(map_user)
        .collect()
}

/// Users `user_filter` excludes (disabled accounts).
pub fn disabled_users(t: &Tenant) -> Vec<Person> {
    raw_objects(t)
        .0
        .iter()
        .filter(|u| u.get("accountEnabled").and_then(|e| e.as_bool()) != Some(true))
        .map(map_user)
        .collect()
}

pub fn contacts(t: &Tenant) -> Vec<Person> {
    raw_objects(t).1.iter().map(map_contact).collect()
}

/// The base and ou entries (CONTRACT §4): objectClass and the RDN attribute only.
pub fn containers() -> Vec<(String, Attributes)> {
    let attrs = |classes: &[&str], rdn: (&str, &str)| {
        vec![
            (
                "objectClass".to_string(),
                classes.iter().map(|c| c.to_string()).collect(),
            ),
            (rdn.0.to_string(), vec![rdn.1.to_string()]),
        ]
    };
    let dc = BASE
        .split(',')
        .next()
        .and_then(|r| r.strip_prefix("dc="))
        .unwrap_or_default();
    vec![
        (BASE.to_string(), attrs(&["top", "domain"], ("dc", dc))),
        (
            USERS_OU.to_string(),
            attrs(&["top", "organizationalUnit"], ("ou", "users")),
        ),
        (
            CONTACTS_OU.to_string(),
            attrs(&["top", "organizationalUnit"], ("ou", "contacts")),
        ),
    ]
}

/// Every person entry under the base DN: enabled users, then contacts.
pub fn people(t: &Tenant) -> Vec<Person> {
    let mut all = users(t);
    all.extend(contacts(t));
    all
}

// ---------------------------------------------------------------------------------------
// Matching rules (CONTRACT §6, §7), written independently of the gateway's evaluator.

/// caseIgnore preparation (RFC 4518 in OpenLDAP's reading): NFC, lowercase, surrounding
/// spaces dropped, inner runs of spaces collapsed.
pub fn prep(s: &str) -> String {
    let folded: String = s.nfc().collect::<String>().to_lowercase();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub const PHONE_ATTRS: &[&str] = &[
    "telephonenumber",
    "mobile",
    "homephone",
    "pager",
    "facsimiletelephonenumber",
];

pub fn is_phone(attr: &str) -> bool {
    PHONE_ATTRS.contains(&canonical(attr).as_str())
}

/// E.164 form of a number under the default region (US), when it has one. Written out
/// here rather than taken from a phone library so that the expectations do not share the
/// gateway's parser: an international form (`+`, `00` or the US exit code `011`) keeps its
/// digits minus a `(0)` trunk marker or a trunk `0` right after the country code; a
/// national US form has 10 digits, or 11 with the leading 1; an extension (`x123`, `ext. 123`, `;ext=123`) is ignored.
pub fn e164(number: &str) -> Option<String> {
    let cut = number
        .find(|c: char| c.is_ascii_alphabetic() || c == ';')
        .unwrap_or(number.len());
    let t = number[..cut].trim();
    let digits_of = |s: &str| s.chars().filter(|c| c.is_ascii_digit()).collect::<String>();
    let international = |d: String| {
        let d = without_trunk_zero(d);
        (8..=15).contains(&d.len()).then(|| format!("+{d}"))
    };
    if let Some(rest) = t.strip_prefix('+') {
        return international(digits_of(&rest.replace("(0)", "")));
    }
    let d = digits_of(t);
    if let Some(rest) = d.strip_prefix("011") {
        return international(rest.to_string());
    }
    if d.starts_with("00") {
        return international(digits_of(&t.replace("(0)", ""))[2..].to_string());
    }
    match d.len() {
        10 if !d.starts_with('0') && !d.starts_with('1') => Some(format!("+1{d}")),
        11 if d.starts_with('1') => Some(format!("+{d}")),
        _ => None,
    }
}

/// Calling codes of countries whose national trunk prefix `0` is no part of the
/// international number (ITU-T E.164: the country code is followed by the national
/// significant number, which excludes the trunk prefix): `+81 0 6…` is `+81 6…`, as
/// `+44 (0)20…` is `+44 20…`. Italy (39) keeps its 0 and is not listed.
const TRUNK_ZERO_CODES: &[&str] = &["31", "32", "33", "41", "43", "44", "46", "49", "61", "81"];

/// International digits (without `+`) with a trunk `0` after the country code removed.
fn without_trunk_zero(d: String) -> String {
    for cc in TRUNK_ZERO_CODES {
        if let Some(nsn) = d.strip_prefix(cc).and_then(|rest| rest.strip_prefix('0')) {
            return format!("{cc}{nsn}");
        }
    }
    d
}

/// telephoneNumberMatch as OpenLDAP 2.5 applies it (the reference, CONTRACT §6): spaces
/// and hyphens are insignificant and letters keep their case (`X1234` is not `x1234`),
/// where RFC 4517 would ignore case.
pub fn phone_plain(s: &str) -> String {
    s.chars().filter(|c| *c != ' ' && *c != '-').collect()
}

/// Equality on a phone attribute in `e164` mode (§7).
pub fn phone_equal(stored: &str, asserted: &str) -> bool {
    match (e164(stored), e164(asserted)) {
        (Some(a), Some(b)) => a == b,
        _ => phone_plain(stored) == phone_plain(asserted),
    }
}

/// Substring form of a phone value in `e164` mode: digits and a leading `+`.
pub fn phone_digits(s: &str) -> String {
    let t = s.trim();
    let mut out = String::new();
    if t.starts_with('+') {
        out.push('+');
    }
    out.extend(t.chars().filter(|c| c.is_ascii_digit()));
    out
}

/// `(attr=value)`.
pub fn eq(p: &Person, attr: &str, value: &str) -> bool {
    if canonical(attr) == "objectclass" {
        return p.values(attr).iter().any(|v| v.eq_ignore_ascii_case(value));
    }
    if is_phone(attr) {
        return p.values(attr).iter().any(|v| phone_equal(v, value));
    }
    let want = prep(value);
    p.values(attr).iter().any(|v| prep(v) == want)
}

/// `(attr=initial*any*...*final)` with `None` for an absent initial or final part.
pub fn substr(
    p: &Person,
    attr: &str,
    initial: Option<&str>,
    any: &[&str],
    fin: Option<&str>,
) -> bool {
    let norm = |s: &str| {
        if is_phone(attr) {
            phone_digits(s).replace('+', "")
        } else {
            prep(s)
        }
    };
    p.values(attr).iter().any(|v| {
        let v = if is_phone(attr) {
            phone_digits(v)
        } else {
            prep(v)
        };
        let mut rest: &str = &v;
        if let Some(i) = initial {
            let i = if is_phone(attr) {
                phone_digits(i)
            } else {
                prep(i)
            };
            match rest.strip_prefix(i.as_str()) {
                Some(r) => rest = r,
                None => return false,
            }
        }
        for a in any {
            let a = norm(a);
            match rest.find(a.as_str()) {
                Some(pos) => rest = &rest[pos + a.len()..],
                None => return false,
            }
        }
        match fin {
            Some(f) => rest.ends_with(norm(f).as_str()),
            None => true,
        }
    })
}

/// `(attr=prefix*)`.
pub fn prefix(p: &Person, attr: &str, s: &str) -> bool {
    substr(p, attr, Some(s), &[], None)
}

/// `(attr=*s*)`.
pub fn contains(p: &Person, attr: &str, s: &str) -> bool {
    substr(p, attr, None, &[s], None)
}

/// `(attr=*)`.
pub fn present(p: &Person, attr: &str) -> bool {
    p.has(attr)
}

/// `(attr>=value)` with caseIgnoreOrderingMatch.
pub fn ge(p: &Person, attr: &str, value: &str) -> bool {
    let want = prep(value);
    p.values(attr).iter().any(|v| prep(v) >= want)
}

/// `(attr<=value)` with caseIgnoreOrderingMatch.
pub fn le(p: &Person, attr: &str, value: &str) -> bool {
    let want = prep(value);
    p.values(attr).iter().any(|v| prep(v) <= want)
}

/// Graph's word-prefix `$search`: some word of the value starts with `s` (a lower bound
/// for what the default, non-strict contains search must return).
pub fn word_prefix(p: &Person, attr: &str, s: &str) -> bool {
    let want = prep(s);
    p.values(attr).iter().any(|v| {
        prep(v)
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| w.starts_with(&want))
    })
}

// ---------------------------------------------------------------------------------------
// Order (CONTRACT §8) and DN handling.

/// The sort key of an entry for `attr`: its smallest prepared value.
pub fn sort_key(p: &Person, attr: &str) -> Option<String> {
    p.values(attr).iter().map(|v| prep(v)).min()
}

/// Entries in the order of CONTRACT §8 for `attr`: ascending caseIgnoreOrderingMatch of the
/// smallest value, entries without the attribute last, ties by the DN case-insensitively.
pub fn in_contract_order(mut entries: Vec<Person>, attr: &str) -> Vec<Person> {
    entries.sort_by(|a, b| compare_for(a, b, attr));
    entries
}

fn compare_for(a: &Person, b: &Person, attr: &str) -> Ordering {
    match (sort_key(a, attr), sort_key(b, attr)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
    .then_with(|| norm_dn(&a.dn).cmp(&norm_dn(&b.dn)))
}

/// Escapes an RDN value as RFC 4514 requires (minimal form).
pub fn escape_rdn_value(v: &str) -> String {
    let mut out = String::new();
    let n = v.chars().count();
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=')
            || (i == 0 && (c == '#' || c == ' '))
            || (i + 1 == n && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A DN compared loosely: escapes removed (`\,` and `\2C` alike), lowercase, no spaces
/// around separators.
pub fn norm_dn(dn: &str) -> String {
    let bytes = dn.as_bytes();
    let mut out: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 1 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if i + 2 < bytes.len()
                && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
            {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
            out.push(bytes[i + 1]);
            i += 2;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    let s = String::from_utf8_lossy(&out).to_lowercase();
    s.split(',')
        .map(|rdn| {
            rdn.split('=')
                .map(|x| x.trim())
                .collect::<Vec<_>>()
                .join("=")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The DNs of entries, normalised, as a set.
pub fn dn_set<'a>(dns: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    dns.into_iter().map(norm_dn).collect()
}

/// The DNs of people, normalised, in order.
pub fn dn_list(people: &[Person]) -> Vec<String> {
    people.iter().map(|p| norm_dn(&p.dn)).collect()
}

/// `Err` with a readable diff unless `got` (DNs as returned) is exactly the set `want`.
pub fn same_entries(what: &str, got: &[String], want: &[Person]) -> Result<(), String> {
    let got_set = dn_set(got.iter().map(|s| s.as_str()));
    let want_set = dn_set(want.iter().map(|p| p.dn.as_str()));
    let missing: Vec<_> = want_set.difference(&got_set).collect();
    let extra: Vec<_> = got_set.difference(&want_set).collect();
    if missing.is_empty() && extra.is_empty() && got.len() == got_set.len() {
        return Ok(());
    }
    Err(format!(
        "{what}: expected {} entries, got {} ({} distinct)\n missing: {missing:?}\n unexpected: {extra:?}",
        want_set.len(),
        got.len(),
        got_set.len()
    ))
}

/// Asserts that `got` (DNs as returned) is exactly the set `want`, with a readable diff.
#[track_caller]
pub fn assert_same_entries(what: &str, got: &[String], want: &[Person]) {
    if let Err(e) = same_entries(what, got, want) {
        panic!("{e}");
    }
}

/// Panics with every collected failure, one per line, if there is any.
#[track_caller]
pub fn assert_no_failures(what: &str, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{what}: {} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Asserts that `got` is exactly `want`, in order.
#[track_caller]
pub fn assert_same_order(what: &str, got: &[String], want: &[Person]) {
    let got: Vec<String> = got.iter().map(|d| norm_dn(d)).collect();
    let want = dn_list(want);
    assert_eq!(got, want, "{what}: entries or their order differ");
}

/// Asserts that `lower ⊆ got ⊆ upper` (for answers the contract lets approximate).
#[track_caller]
pub fn assert_between(what: &str, got: &[String], lower: &[Person], upper: &[Person]) {
    let got_set = dn_set(got.iter().map(|s| s.as_str()));
    let lo = dn_set(lower.iter().map(|p| p.dn.as_str()));
    let hi = dn_set(upper.iter().map(|p| p.dn.as_str()));
    let missing: Vec<_> = lo.difference(&got_set).collect();
    let extra: Vec<_> = got_set.difference(&hi).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: must return at least the {} word-prefix matches and at most the {} exact matches\n missing: {missing:?}\n not matching at all: {extra:?}",
        lo.len(),
        hi.len()
    );
}

/// Escapes an assertion value for a filter string (RFC 4515 §3): `*`, `(`, `)`, `\\`, NUL.
pub fn filter_value(v: &str) -> String {
    let mut out = String::new();
    for c in v.chars() {
        match c {
            '*' => out.push_str("\\2a"),
            '(' => out.push_str("\\28"),
            ')' => out.push_str("\\29"),
            '\\' => out.push_str("\\5c"),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

/// People matching a predicate.
pub fn matching(all: &[Person], pred: impl Fn(&Person) -> bool) -> Vec<Person> {
    all.iter().filter(|p| pred(p)).cloned().collect()
}

/// Finds a person by displayName (exact).
pub fn by_cn<'a>(all: &'a [Person], cn: &str) -> &'a Person {
    all.iter()
        .find(|p| p.cn() == cn)
        .unwrap_or_else(|| panic!("the sample tenant has no {cn}"))
}

/// Looks up an attribute of a returned LDIF entry case-insensitively.
pub fn ldif_values(attrs: &[(String, String)], name: &str) -> Vec<String> {
    attrs
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
        .collect()
}
