//! Translator tests across modules: a table of real client filters with the decoded
//! requests they become, and property tests checking every plan against an independent
//! LDAP evaluator, an independent OData evaluator and a restated capability table.

use crate::directory::needed::Needed;
use ldap3_proto::parse_ldap_filter_str;
use ldap3_proto::proto::{LdapFilter, LdapSubstringFilter};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::plan::{
    MAX_URL_CHARS, ORIGIN_RESERVE_CHARS, TranslateContext, explain_plan, plan_collection, url_fits,
};
use super::{GraphQuery, PushdownPlan};
use crate::directory::Collection;
use crate::directory::mapping::{AttributeMapping, Mapping, Source};
use crate::directory::schema::attribute;

// ---------------------------------------------------------------- fixtures

fn map(attr: &str, source: Source) -> AttributeMapping {
    AttributeMapping {
        attr: attribute(attr).unwrap_or_else(|| panic!("schema lacks {attr}")),
        source,
    }
}

fn prop(attr: &str, p: &str) -> AttributeMapping {
    map(attr, Source::Property(p.to_string()))
}

/// The default mapping of CONTRACT §5, written out for these tests.
pub(crate) fn contract_mapping() -> Mapping {
    let users = vec![
        prop("uid", "userPrincipalName"),
        prop("userPrincipalName", "userPrincipalName"),
        prop("cn", "displayName"),
        prop("displayName", "displayName"),
        prop("givenName", "givenName"),
        prop("sn", "surname"),
        prop("mail", "mail"),
        prop("telephoneNumber", "businessPhones"),
        prop("mobile", "mobilePhone"),
        prop("facsimileTelephoneNumber", "faxNumber"),
        prop("title", "jobTitle"),
        prop("department", "department"),
        prop("company", "companyName"),
        prop("o", "companyName"),
        prop("physicalDeliveryOfficeName", "officeLocation"),
        prop("street", "streetAddress"),
        prop("l", "city"),
        prop("st", "state"),
        prop("postalCode", "postalCode"),
        prop("co", "country"),
        prop("employeeNumber", "employeeId"),
        prop("preferredLanguage", "preferredLanguage"),
        map(
            "sAMAccountName",
            Source::FirstOf(vec![
                "onPremisesSamAccountName".to_string(),
                "mailNickname".to_string(),
            ]),
        ),
        prop("entryUUID", "id"),
    ];
    let contacts = vec![
        prop("uid", "id"),
        prop("entryUUID", "id"),
        prop("cn", "displayName"),
        prop("displayName", "displayName"),
        prop("givenName", "givenName"),
        prop("sn", "surname"),
        prop("mail", "mail"),
        prop("title", "jobTitle"),
        prop("department", "department"),
        prop("company", "companyName"),
        prop("o", "companyName"),
        map("telephoneNumber", Source::ContactPhone("business".into())),
        map("mobile", Source::ContactPhone("mobile".into())),
        map(
            "facsimileTelephoneNumber",
            Source::ContactPhone("businessFax".into()),
        ),
        map("homePhone", Source::ContactPhone("home".into())),
        map("street", Source::ContactAddress("street".into())),
        map("l", Source::ContactAddress("city".into())),
        map("st", Source::ContactAddress("state".into())),
        map("postalCode", Source::ContactAddress("postalCode".into())),
        map("co", Source::ContactAddress("countryOrRegion".into())),
    ];
    Mapping { users, contacts }
}

/// A stand-in for `PhoneRules::spelling_variants` on North American numbers.
fn nanp_variants(v: &str) -> Vec<String> {
    let digits: String = v.chars().filter(char::is_ascii_digit).collect();
    let national = digits.strip_prefix('1').unwrap_or(&digits).to_string();
    if national.len() != 10 {
        return Vec::new();
    }
    let (a, b, c) = (&national[..3], &national[3..6], &national[6..]);
    vec![
        format!("+1{a}{b}{c}"),
        format!("+1 {a} {b} {c}"),
        format!("+1 ({a}) {b}-{c}"),
        format!("({a}) {b}-{c}"),
        format!("{a}-{b}-{c}"),
        format!("+1 {a}-{b}-{c}"),
        format!("{a}{b}{c}"),
        format!("1{a}{b}{c}"),
        format!("{a} {b} {c}"),
        format!("+1-{a}-{b}-{c}"),
        format!("1 ({a}) {b}-{c}"),
        format!("{a}.{b}.{c}"),
    ]
}

fn no_variants(_: &str) -> Vec<String> {
    Vec::new()
}

struct Settings {
    user_filter: &'static str,
    strict: bool,
    e164: bool,
}

const DEFAULTS: Settings = Settings {
    user_filter: "accountEnabled eq true",
    strict: false,
    e164: true,
};

fn plan_with(filter: &str, c: Collection, key: Option<&str>, s: &Settings) -> PushdownPlan {
    // ldap3_proto's test parser rejects runs of spaces in values; build those directly.
    let f = match filter
        .strip_prefix("(cn=")
        .and_then(|v| v.strip_suffix(')'))
    {
        Some(v) if v.contains("  ") => LdapFilter::Equality("cn".into(), v.into()),
        _ => parse_ldap_filter_str(filter).unwrap_or_else(|e| panic!("{filter}: {e}")),
    };
    plan_filter(&f, c, key, s)
}

fn plan_filter(f: &LdapFilter, c: Collection, key: Option<&str>, s: &Settings) -> PushdownPlan {
    let mapping = contract_mapping();
    let ctx = TranslateContext {
        mapping: &mapping,
        user_filter: s.user_filter,
        strict_substrings: s.strict,
        phone_e164: s.e164,
        phone_variants: &nanp_variants,
        phone_index: &|_, _, _| None,
        page_size: 999,
    };
    plan_collection(f, c, key, &ctx)
}

fn filters(plan: &PushdownPlan) -> Vec<String> {
    plan.queries
        .iter()
        .map(|q| q.filter.clone().unwrap_or_default())
        .collect()
}

// ---------------------------------------------------------------- client table

/// (LDAP filter, collection, expected `$filter`s (one per request), expected `$search`es,
/// advanced?) — CLIENTS.md §1-§7 templates with typed text substituted.
#[test]
fn client_filters_become_expected_requests() {
    use Collection::{Contacts, Users};
    let uf = "(accountEnabled eq true) and ";
    // A stored value matching a text assertion starts with its first word (in both normal
    // forms) or with a space (docs/exactness.md "Stored-spelling variance").
    let sw = |p: &str, v: &str| format!("startsWith({p},'{v}') or startsWith({p},' ')");
    type Case = (
        &'static str,
        Collection,
        Vec<String>,
        Vec<&'static str>,
        bool,
    );
    let cases: Vec<Case> = vec![
        // Yealink/Grandstream name search, "starts with" (CLIENTS.md §1, §5).
        (
            "(|(cn=jo*)(sn=jo*))",
            Users,
            vec![format!(
                "{uf}({} or {})",
                sw("displayName", "jo"),
                sw("surname", "jo")
            )],
            vec![],
            false,
        ),
        // Snom name template (CLIENTS.md §4): presence is left to the local check.
        (
            "(&(telephoneNumber=*)(sn=Meyer))",
            Users,
            vec![format!("{uf}({})", sw("surname", "Meyer"))],
            vec![],
            false,
        ),
        // Snom with the `gn` alias.
        (
            "(|(gn=Ann*)(cn=Ann*))",
            Users,
            vec![format!(
                "{uf}({} or {})",
                sw("givenName", "Ann"),
                sw("displayName", "Ann")
            )],
            vec![],
            false,
        ),
        // Polycom VVX browse (CLIENTS.md §2): ordering stays local, the prefix is pushed.
        (
            "(&(objectClass=*)(givenName>=Ryan)(givenName<=zz)(givenName=Ryan*))",
            Users,
            vec![format!("{uf}({})", sw("givenName", "Ryan"))],
            vec![],
            false,
        ),
        // ... and with `extension`, a name outside every schema: Undefined, no request.
        (
            "(&(objectClass=*)(givenName>=Ryan)(givenName<=zz)(givenName=Ryan*)(extension=110))",
            Users,
            vec![],
            vec![],
            false,
        ),
        // Grandstream mail search.
        (
            "(mail=ann@example.com)",
            Users,
            vec![format!("{uf}({})", sw("mail", "ann@example.com"))],
            vec![],
            false,
        ),
        // Two mails share one leading-space clause.
        (
            "(|(mail=a@x.com)(mail=b@x.com))",
            Users,
            vec![format!(
                "{uf}({} or startsWith(mail,'b@x.com'))",
                sw("mail", "a@x.com")
            )],
            vec![],
            false,
        ),
        // Yealink "contains" (search_type 1): word-prefix $search, an approximation.
        (
            "(|(cn=*jo*)(sn=*jo*))",
            Users,
            vec!["accountEnabled eq true".to_string()],
            vec![r#""displayName:jo" OR "surname:jo""#],
            false,
        ),
        // Cisco contains on cn OR an exact mail: two requests whose union is the answer.
        (
            "(|(cn=*jo*)(mail=jo@x.com))",
            Users,
            vec![
                format!("{uf}({})", sw("mail", "jo@x.com")),
                "accountEnabled eq true".to_string(),
            ],
            vec![r#""displayName:jo""#],
            false,
        ),
        // Insignificant spaces: a stored value starts with the first word (RFC 4518
        // §2.6.1), or with a space.
        (
            "(cn=John  Smith)",
            Users,
            vec![format!("{uf}({})", sw("displayName", "John"))],
            vec![],
            false,
        ),
        (
            "(sn=O'Brien)",
            Users,
            vec![format!(
                "{uf}(startsWith(surname,'O''Brien') or startsWith(surname,'O''Br\u{130}en') or startsWith(surname,' '))"
            )],
            vec![],
            false,
        ),
        // sAMAccountName: the first of two properties, so either may hold the value.
        (
            "(sAMAccountName=jdoe)",
            Users,
            vec![format!(
                "{uf}({} or {})",
                sw("onPremisesSamAccountName", "jdoe"),
                sw("mailNickname", "jdoe")
            )],
            vec![],
            true,
        ),
        // objectClass the users never have: nothing to ask.
        ("(objectClass=groupOfNames)", Users, vec![], vec![], false),
        (
            "(&(objectClass=user)(cn=a*))",
            Contacts,
            vec![],
            vec![],
            false,
        ),
        (
            "(&(objectClass=contact)(cn=a*))",
            Contacts,
            vec![sw("displayName", "a")],
            vec![],
            false,
        ),
        // Unknown attribute in an OR branch is Undefined: the branch vanishes.
        (
            "(|(cn=ann)(fooBar=x))",
            Users,
            vec![format!("{uf}({})", sw("displayName", "ann"))],
            vec![],
            false,
        ),
        // NOT is checked locally.
        (
            "(!(cn=x))",
            Users,
            vec!["accountEnabled eq true".to_string()],
            vec![],
            false,
        ),
        // ... but a NOT over a constant is a constant.
        (
            "(&(!(objectClass=groupOfNames))(sn=a*))",
            Users,
            vec![format!("{uf}({})", sw("surname", "a"))],
            vec![],
            false,
        ),
        // Contacts' phones are not filterable (GRAPH.md §3): a scan.
        (
            "(telephoneNumber=+14255550100)",
            Contacts,
            vec![String::new()],
            vec![],
            false,
        ),
        // Fax has no equality rule (RFC 4519): never matches.
        (
            "(facsimileTelephoneNumber=123)",
            Users,
            vec![],
            vec![],
            false,
        ),
        // Both normal forms of a precomposed letter, in one request.
        (
            "(sn=M\u{fc}ller)",
            Users,
            vec![format!(
                "{uf}(startsWith(surname,'M\u{fc}ller') or startsWith(surname,'Mu\u{308}ller') or startsWith(surname,' '))"
            )],
            vec![],
            false,
        ),
        // A contains word in both normal forms (non-strict $search).
        (
            "(cn=*Zo\u{eb}*)",
            Users,
            vec!["accountEnabled eq true".to_string()],
            vec!["\"displayName:Zo\u{eb}\" OR \"displayName:Zoe\u{308}\""],
            false,
        ),
        // `eq` alone would miss " Sales": with no startsWith, department is checked locally.
        (
            "(department=Sales)",
            Users,
            vec!["accountEnabled eq true".to_string()],
            vec![],
            false,
        ),
        // ipPhone is AD's, not mapped: Undefined, and so is its negation (CONTRACT §6).
        ("(!(ipPhone=*))", Users, vec![], vec![], false),
        ("(!(otherTelephone=+1425))", Contacts, vec![], vec![], false),
        // caseIgnoreIA5Match: a non-ASCII assertion is invalid, so the item is Undefined
        // and costs no request (it read the whole collection before).
        ("(mail=j\u{f6}rg*)", Users, vec![], vec![], false),
        (
            "(!(mail=m\u{fc}ller@example.com))",
            Users,
            vec![],
            vec![],
            false,
        ),
        // A known type the collection lacks is absent: its negation is TRUE.
        (
            "(!(homePhone=*))",
            Users,
            vec!["accountEnabled eq true".to_string()],
            vec![],
            false,
        ),
        // Phone prefixes are not supersets in either mode.
        (
            "(telephoneNumber=+1425*)",
            Users,
            vec!["accountEnabled eq true".to_string()],
            vec![],
            false,
        ),
    ];
    for (filter, c, want_filters, want_search, want_advanced) in cases {
        let plan = plan_with(filter, c, None, &DEFAULTS);
        assert_eq!(
            filters(&plan),
            want_filters,
            "{filter}\n{}",
            explain_plan(&plan)
        );
        let searches: Vec<String> = plan
            .queries
            .iter()
            .filter_map(|q| q.search.clone())
            .collect();
        assert_eq!(searches, want_search, "{filter}");
        for q in &plan.queries {
            assert_eq!(q.count, want_advanced, "{filter}: {}", q.display_decoded());
            assert_eq!(
                q.consistency_eventual,
                want_advanced || q.search.is_some(),
                "{filter}"
            );
            assert_eq!(q.top, Some(999));
            assert!(url_fits(q));
        }
    }
}

#[test]
fn decoded_request_has_select_top_and_no_headers_by_default() {
    let plan = plan_with("(|(cn=jo*)(sn=jo*))", Collection::Users, None, &DEFAULTS);
    let q = &plan.queries[0];
    assert_eq!(
        q.display_decoded(),
        "GET /v1.0/users?$filter=(accountEnabled eq true) and (startsWith(displayName,'jo') or \
         startsWith(displayName,' ') or startsWith(surname,'jo') or startsWith(surname,' '))&$select=id,userPrincipalName,displayName,givenName,surname,mail,\
         businessPhones,mobilePhone,faxNumber,jobTitle,department,companyName,officeLocation,\
         streetAddress,city,state,postalCode,country,employeeId,preferredLanguage,\
         onPremisesSamAccountName,mailNickname&$top=999"
    );
    assert!(q.headers().is_empty());
}

#[test]
fn negated_approximation_is_neither_pushed_nor_reported() {
    let plan = plan_with("(&(sn=a*)(!(cn=*jo*)))", Collection::Users, None, &DEFAULTS);
    assert_eq!(
        filters(&plan),
        vec!["(accountEnabled eq true) and (startsWith(surname,'a') or startsWith(surname,' '))"]
    );
    assert!(plan.queries[0].search.is_none());
    assert!(plan.approximations.is_empty(), "{:?}", plan.approximations);
    assert_eq!(plan.dropped.len(), 1, "{:?}", plan.dropped);
}

#[test]
fn text_prefixes_cover_every_stored_spelling() {
    use super::pushdown::{TextRule::*, spelling_prefixes, stored_prefixes};
    let p = |v: &str, r, _initial: bool| stored_prefixes(v, r);
    let v = |xs: &[&str]| Some(xs.iter().map(|x| x.to_string()).collect::<Vec<_>>());
    // One word: its trimmed text (trailing spaces follow it) or a leading space.
    assert_eq!(p("Meyer", Unicode, false), v(&["Meyer", " "]));
    assert_eq!(p("  Meyer  ", Unicode, false), v(&["Meyer", " "]));
    // Several words: the first one; spaces, or an NBSP slapd's NFKC makes a space,
    // follow it.
    assert_eq!(p("John Smith", Unicode, false), v(&["John", " "]));
    assert_eq!(p(" John   Smith ", Unicode, false), v(&["John", " "]));
    assert_eq!(p("John\u{a0}Smith", Unicode, false), v(&["John", " "]));
    assert_eq!(p("john", Unicode, true), v(&["john", " "]));
    assert_eq!(p("john sm", Unicode, true), v(&["john", " "]));
    assert_eq!(p("john ", Unicode, true), v(&["john", " "]));
    assert_eq!(p("john ", Ia5, true), v(&["john", " "]));
    assert_eq!(p("a b@x", Ia5, false), v(&["a", " "]));
    assert_eq!(p("jos\u{e9}@x", Ia5, false), None);
    // Both normal forms of the first precomposed letter, whichever form was asserted.
    assert_eq!(
        p("Zo\u{eb}", Unicode, false),
        v(&["Zo\u{eb}", "Zoe\u{308}", " "])
    );
    assert_eq!(
        p("Zoe\u{308}", Unicode, false),
        v(&["Zo\u{eb}", "Zoe\u{308}", " "])
    );
    assert_eq!(
        p("M\u{fc}ller", Unicode, false),
        v(&["M\u{fc}ller", "Mu\u{308}ller", " "])
    );
    // Cut before the second such letter, so mixed spellings stay covered.
    assert_eq!(
        p("M\u{fc}ller-L\u{fc}denscheidt", Unicode, false),
        v(&["M\u{fc}ller-L", "Mu\u{308}ller-L", " "])
    );
    // A letter with two marks has more spellings (orders, partial composition): cut.
    assert_eq!(p("Nguy\u{1ec5}n", Unicode, false), v(&["Nguy", " "]));
    assert_eq!(p("\u{1ec5}", Unicode, false), None);
    // A mark that does not compose (q + U+0303) cuts before its base.
    assert_eq!(p("Aq\u{303}x", Unicode, false), v(&["A", " "]));
    // Compatibility characters fold under NFKC; format characters vanish.
    assert_eq!(p("Gra\u{fb01}n", Unicode, false), v(&["Gra", " "]));
    assert_eq!(p("Jo\u{AD}hn", Unicode, false), v(&["Jo", " "]));
    assert_eq!(p("\u{200b}x", Unicode, false), None);
    // slapd lowercases dotted capital I to `i`: both are asked for, and that is the one
    // letter with two spellings.
    assert_eq!(
        p("\u{130}rem", Unicode, false),
        v(&["Irem", "\u{130}rem", " "])
    );
    assert_eq!(
        p("Smith", Unicode, false),
        v(&["Smith", "Sm\u{130}th", " "])
    );
    assert_eq!(p("Philip", Unicode, false), v(&["Phil", "Ph\u{130}l", " "]));
    assert_eq!(
        p("Zo\u{eb}mi", Unicode, false),
        v(&["Zo\u{eb}m", "Zoe\u{308}m", " "])
    );
    assert_eq!(p("mi@x", Ia5, false), v(&["mi@x", " "]));
    assert_eq!(p("  ", Unicode, false), None);
    assert_eq!(p("", Unicode, true), None);
    // $search words: both forms, no space handling.
    assert_eq!(
        spelling_prefixes("Zo\u{eb} Ann", Unicode),
        v(&["Zo\u{eb} Ann", "Zoe\u{308} Ann"])
    );
}

#[test]
fn caller_id_uses_variants_within_two_requests() {
    // Yealink number filter on an incoming call (CLIENTS.md §1).
    let filter = "(|(telephoneNumber=+14255550100)(mobile=+14255550100)(ipPhone=+14255550100))";
    let plan = plan_with(filter, Collection::Users, None, &DEFAULTS);
    assert!(
        !plan.queries.is_empty() && plan.queries.len() <= 2,
        "{}",
        explain_plan(&plan)
    );
    let all = filters(&plan).join("\n");
    assert!(
        all.contains("businessPhones/any(p:startsWith(p,'+14255550100'))"),
        "{all}"
    );
    assert!(
        all.contains("startsWith(mobilePhone,'+1 (425) 555-0100')"),
        "{all}"
    );
    for q in &plan.queries {
        assert!(q.consistency_eventual && q.count);
        assert!(url_fits(q));
        assert!(
            q.filter
                .as_deref()
                .unwrap_or("")
                .starts_with("(accountEnabled eq true) and (")
        );
    }
    assert_eq!(plan.approximations.len(), 2, "{:?}", plan.approximations);
    assert!(plan.approximations[0].contains("spellings"));
    // The `+` must reach Graph as %2B, never as a space.
    assert!(plan.queries[0].path_and_query().contains("%2B1425"));
}

#[test]
fn too_many_spellings_are_trimmed_least_likely_first() {
    let mapping = contract_mapping();
    let many = |_: &str| {
        (0..100)
            .map(|i| format!("+1 425 555 {i:04}"))
            .collect::<Vec<_>>()
    };
    let ctx = TranslateContext {
        mapping: &mapping,
        user_filter: "accountEnabled eq true",
        strict_substrings: false,
        phone_e164: true,
        phone_variants: &many,
        phone_index: &|_, _, _| None,
        page_size: 999,
    };
    let f = parse_ldap_filter_str("(|(telephoneNumber=+14255550000)(mobile=+14255550000))")
        .unwrap_or_else(|e| panic!("{e}"));
    let plan = plan_collection(&f, Collection::Users, None, &ctx);
    assert_eq!(plan.queries.len(), 2, "{}", explain_plan(&plan));
    assert!(plan.queries.iter().all(url_fits));
    let all = filters(&plan).join(" ");
    assert!(all.contains("'+14255550000'") && all.contains("'+1 425 555 0000'"));
    assert!(
        !all.contains("'+1 425 555 0099'"),
        "least likely spelling sent"
    );
    assert!(
        plan.approximations
            .iter()
            .all(|a| a.contains(" of 101 spellings")),
        "{:?}",
        plan.approximations
    );
}

#[test]
fn rfc4517_phone_equality_is_left_local() {
    let s = Settings {
        e164: false,
        ..DEFAULTS
    };
    let plan = plan_with(
        "(telephoneNumber=+14255550100)",
        Collection::Users,
        None,
        &s,
    );
    assert_eq!(filters(&plan), vec!["accountEnabled eq true"]);
    assert!(plan.unbounded);
    assert!(plan.dropped[0].contains("telephoneNumberMatch"));
}

#[test]
fn strict_substrings_scan_instead_of_search() {
    let s = Settings {
        strict: true,
        ..DEFAULTS
    };
    let plan = plan_with("(cn=*jo*)", Collection::Users, None, &s);
    assert_eq!(plan.queries.len(), 1);
    assert!(plan.queries[0].search.is_none());
    assert!(plan.unbounded && plan.approximations.is_empty());
    let plan = plan_with("(cn=*jo*)", Collection::Users, None, &DEFAULTS);
    assert!(!plan.unbounded);
    assert_eq!(plan.approximations.len(), 1);
}

#[test]
fn base_scope_reads_one_object() {
    let plan = plan_with(
        "(objectClass=*)",
        Collection::Users,
        Some("Adele_x.com#EXT#@contoso.com"),
        &DEFAULTS,
    );
    assert_eq!(
        filters(&plan),
        vec!["(accountEnabled eq true) and (userPrincipalName eq 'Adele_x.com#EXT#@contoso.com')"]
    );
    assert!(plan.queries[0].path_and_query().contains("%23EXT%23"));
    let id = "0B9A1F8C-1234-4321-abcd-0123456789ab";
    let plan = plan_with("(cn=x)", Collection::Contacts, Some(id), &DEFAULTS);
    assert_eq!(
        filters(&plan),
        vec!["id eq '0b9a1f8c-1234-4321-abcd-0123456789ab'"]
    );
    let plan = plan_with("(cn=x)", Collection::Contacts, Some("nope"), &DEFAULTS);
    assert!(plan.queries.is_empty());
}

#[test]
fn select_lists_mapped_properties_once() {
    let plan = plan_with("(cn=a)", Collection::Users, None, &DEFAULTS);
    let select = &plan.queries[0].select;
    assert_eq!(&select[..3], ["id", "userPrincipalName", "displayName"]);
    assert!(select.contains(&"onPremisesSamAccountName".to_string()));
    assert_eq!(select.iter().filter(|p| *p == "companyName").count(), 1);
    let plan = plan_with("(cn=a)", Collection::Contacts, None, &DEFAULTS);
    let select = &plan.queries[0].select;
    assert!(select.contains(&"phones".to_string()) && select.contains(&"addresses".to_string()));
    assert!(!select.contains(&"userPrincipalName".to_string()));
}

#[test]
fn explain_shows_requests_drops_and_approximations() {
    let plan = plan_with(
        "(&(|(cn=*jo*)(sn=*jo*))(title>=a))",
        Collection::Users,
        None,
        &DEFAULTS,
    );
    let text = explain_plan(&plan);
    assert!(text.contains("request 1: GET /v1.0/users?$filter=accountEnabled eq true&$search=\"displayName:jo\" OR \"surname:jo\""), "{text}");
    assert!(text.contains("  ConsistencyLevel: eventual"), "{text}");
    assert!(text.contains("(title>=a)"), "{text}");
    assert!(text.contains("approximations:"), "{text}");
    let none = explain_plan(&plan_with(
        "(objectClass=groupOfNames)",
        Collection::Users,
        None,
        &DEFAULTS,
    ));
    assert!(none.starts_with("no Graph request"), "{none}");
}

#[test]
fn long_or_is_split_or_dropped_within_the_url_limit() {
    // 200 distinct mails: `in` with advanced params, split by URL length, or left local.
    let mails: String = (0..200)
        .map(|i| format!("(mail=person{i}@example.com)"))
        .collect();
    let plan = plan_with(&format!("(|{mails})"), Collection::Users, None, &DEFAULTS);
    assert!(plan.queries.len() <= 2);
    for q in &plan.queries {
        assert!(url_fits(q), "{}", q.path_and_query().len());
    }
    assert!(plan.unbounded, "{}", explain_plan(&plan));
    let mails: String = (0..40).map(|i| format!("(mail=p{i}@x.com)")).collect();
    let plan = plan_with(&format!("(|{mails})"), Collection::Users, None, &DEFAULTS);
    assert!(!plan.unbounded);
    assert!(plan.queries.len() <= 2);
    for q in &plan.queries {
        assert!(url_fits(q));
        // More than 15 OR children need the advanced parameters (GRAPH.md §4).
        let children = q.filter.as_deref().unwrap_or("").matches(" or ").count() + 1;
        assert_eq!(q.count, children > 15, "{}", q.display_decoded());
    }
    let sent: usize = plan
        .queries
        .iter()
        .map(|q| q.filter.as_deref().unwrap_or("").matches("@x.com'").count())
        .sum();
    assert_eq!(sent, 40, "{}", explain_plan(&plan));
}

// ---------------------------------------------------------------- OData test evaluator

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Lit(String),
    P(char),
}

fn tokenize(s: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let ch = chars[i];
        if ch == ' ' {
            i += 1;
        } else if ch == '\'' {
            let mut v = String::new();
            i += 1;
            loop {
                assert!(i < chars.len(), "unterminated literal in {s}");
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        v.push('\'');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                v.push(chars[i]);
                i += 1;
            }
            out.push(Tok::Lit(v));
        } else if "(),/:".contains(ch) {
            out.push(Tok::P(ch));
            i += 1;
        } else {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            assert!(i > start, "unexpected {ch:?} in {s}");
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        }
    }
    out
}

#[derive(Debug, Clone)]
enum OData {
    Or(Vec<OData>),
    And(Vec<OData>),
    Eq(String, Value),
    In(String, Vec<String>),
    StartsWith(String, String),
    AnyEq(String, String),
    AnyStartsWith(String, String),
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn next(&mut self) -> Tok {
        let t = self
            .toks
            .get(self.pos)
            .cloned()
            .expect("unexpected end of $filter");
        self.pos += 1;
        t
    }
    fn peek_ident(&self, word: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Ident(w)) if w == word)
    }
    fn expect(&mut self, t: Tok) {
        let got = self.next();
        assert_eq!(got, t);
    }
    fn ident(&mut self) -> String {
        match self.next() {
            Tok::Ident(w) => w,
            other => panic!("identifier expected, got {other:?}"),
        }
    }
    fn lit(&mut self) -> String {
        match self.next() {
            Tok::Lit(v) => v,
            other => panic!("literal expected, got {other:?}"),
        }
    }
    fn expr(&mut self) -> OData {
        let mut parts = vec![self.and()];
        while self.peek_ident("or") {
            self.pos += 1;
            parts.push(self.and());
        }
        if parts.len() == 1 {
            parts.remove(0)
        } else {
            OData::Or(parts)
        }
    }
    fn and(&mut self) -> OData {
        let mut parts = vec![self.atom()];
        while self.peek_ident("and") {
            self.pos += 1;
            parts.push(self.atom());
        }
        if parts.len() == 1 {
            parts.remove(0)
        } else {
            OData::And(parts)
        }
    }
    fn atom(&mut self) -> OData {
        if self.toks.get(self.pos) == Some(&Tok::P('(')) {
            self.pos += 1;
            let e = self.expr();
            self.expect(Tok::P(')'));
            return e;
        }
        let name = self.ident();
        if name == "startsWith" {
            self.expect(Tok::P('('));
            let p = self.ident();
            self.expect(Tok::P(','));
            let v = self.lit();
            self.expect(Tok::P(')'));
            return OData::StartsWith(p, v);
        }
        match self.next() {
            Tok::Ident(op) if op == "eq" => match self.next() {
                Tok::Lit(v) => OData::Eq(name, Value::String(v)),
                Tok::Ident(b) if b == "true" || b == "false" => {
                    OData::Eq(name, Value::Bool(b == "true"))
                }
                other => panic!("bad eq operand {other:?}"),
            },
            Tok::Ident(op) if op == "in" => {
                self.expect(Tok::P('('));
                let mut vals = vec![self.lit()];
                while self.toks.get(self.pos) == Some(&Tok::P(',')) {
                    self.pos += 1;
                    vals.push(self.lit());
                }
                self.expect(Tok::P(')'));
                OData::In(name, vals)
            }
            Tok::P('/') => {
                assert_eq!(self.ident(), "any");
                self.expect(Tok::P('('));
                let var = self.ident();
                self.expect(Tok::P(':'));
                let head = self.ident();
                let node = if head == "startsWith" {
                    self.expect(Tok::P('('));
                    assert_eq!(self.ident(), var);
                    self.expect(Tok::P(','));
                    let v = self.lit();
                    self.expect(Tok::P(')'));
                    OData::AnyStartsWith(name, v)
                } else {
                    assert_eq!(head, var);
                    assert_eq!(self.ident(), "eq");
                    OData::AnyEq(name, self.lit())
                };
                self.expect(Tok::P(')'));
                node
            }
            other => panic!("unsupported $filter syntax at {other:?}"),
        }
    }
}

fn parse_odata(s: &str) -> OData {
    let mut p = Parser {
        toks: tokenize(s),
        pos: 0,
    };
    let e = p.expr();
    assert_eq!(p.pos, p.toks.len(), "trailing tokens in {s}");
    e
}

/// GRAPH.md §5: directory string comparisons are case-insensitive.
fn ci(a: &str) -> String {
    a.to_lowercase()
}

fn odata_matches(e: &OData, obj: &Value) -> bool {
    let s = |p: &str| obj.get(p).and_then(Value::as_str).map(ci);
    let coll = |p: &str| -> Vec<String> {
        obj.get(p)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(ci).collect())
            .unwrap_or_default()
    };
    match e {
        OData::Or(v) => v.iter().any(|x| odata_matches(x, obj)),
        OData::And(v) => v.iter().all(|x| odata_matches(x, obj)),
        OData::Eq(p, Value::String(v)) => s(p) == Some(ci(v)),
        OData::Eq(p, other) => obj.get(p) == Some(other),
        OData::In(p, vals) => s(p).is_some_and(|x| vals.iter().any(|v| ci(v) == x)),
        OData::StartsWith(p, v) => s(p).is_some_and(|x| x.starts_with(&ci(v))),
        OData::AnyEq(p, v) => coll(p).contains(&ci(v)),
        OData::AnyStartsWith(p, v) => coll(p).iter().any(|x| x.starts_with(&ci(v))),
    }
}

/// (property, operator, lambda?) → 'D' or 'A'; a restatement of GRAPH.md §1/§3 for the
/// properties these tests can produce. Anything else is a failure.
fn restated_support(c: Collection, property: &str, op: &str) -> Option<char> {
    let users_default = [
        "displayName",
        "givenName",
        "surname",
        "mail",
        "userPrincipalName",
        "mailNickname",
        "jobTitle",
    ];
    let users_advanced = ["mobilePhone", "onPremisesSamAccountName", "companyName"];
    match (c, op) {
        (Collection::Users, "eq") if property == "accountEnabled" => Some('D'),
        (Collection::Users, "eq" | "in" | "startsWith") if users_default.contains(&property) => {
            Some('D')
        }
        (Collection::Users, "eq" | "in" | "startsWith") if users_advanced.contains(&property) => {
            Some('A')
        }
        (Collection::Users, "eq" | "in") if property == "id" => Some('D'),
        (Collection::Users, "any-eq" | "any-startsWith") if property == "businessPhones" => {
            Some('A')
        }
        (Collection::Contacts, "eq" | "in" | "startsWith")
            if ["displayName", "givenName", "surname", "mail", "jobTitle"].contains(&property) =>
        {
            Some('D')
        }
        (Collection::Contacts, "eq" | "in") if property == "id" => Some('D'),
        _ => None,
    }
}

/// Whether the parsed `$filter` needs the advanced parameters, checking every use
/// against the restated table (property test (b)).
fn needs_advanced(c: Collection, e: &OData) -> bool {
    let check = |p: &str, op: &str, v: &str| {
        let level = restated_support(c, p, op)
            .unwrap_or_else(|| panic!("unsupported pair {p} {op} on {c:?}"));
        level == 'A' || v.chars().count() > 120
    };
    match e {
        OData::Or(v) => (v.len() > 15) | v.iter().any(|x| needs_advanced(c, x)),
        OData::And(v) => v.iter().any(|x| needs_advanced(c, x)),
        OData::Eq(p, Value::String(v)) => check(p, "eq", v),
        OData::Eq(p, _) => check(p, "eq", ""),
        OData::In(p, vals) => (vals.len() > 15) | vals.iter().any(|v| check(p, "in", v)),
        OData::StartsWith(p, v) => check(p, "startsWith", v),
        OData::AnyEq(p, v) => check(p, "any-eq", v),
        OData::AnyStartsWith(p, v) => check(p, "any-startsWith", v),
    }
}

// ---------------------------------------------------------------- LDAP test evaluator

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tri {
    T,
    F,
    U,
}

fn norm(v: &str) -> String {
    v.to_lowercase()
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn phone_norm(v: &str) -> String {
    v.chars()
        .filter(|c| *c != ' ' && *c != '-')
        .collect::<String>()
        .to_lowercase()
}

/// The LDAP view of a Graph user under the CONTRACT §5 mapping, for the attributes the
/// generator uses: (kind, values); kind 'p' = phone, 'o' = objectClass, 't' = text.
fn user_attr(user: &Value, name: &str) -> Option<(char, Vec<String>)> {
    let one = |p: &str| {
        user.get(p)
            .and_then(Value::as_str)
            .map(|s| vec![s.to_string()])
            .unwrap_or_default()
    };
    Some(match name.to_ascii_lowercase().as_str() {
        "cn" | "displayname" => ('t', one("displayName")),
        "sn" => ('t', one("surname")),
        "givenname" => ('t', one("givenName")),
        "mail" => ('t', one("mail")),
        "title" => ('t', one("jobTitle")),
        "uid" => ('t', one("userPrincipalName")),
        "mobile" => ('p', one("mobilePhone")),
        "telephonenumber" => (
            'p',
            user["businessPhones"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
        ),
        "homephone" => ('p', Vec::new()),
        "objectclass" => (
            'o',
            // objectIdentifierMatch: names and OIDs (RFC 4519 §3, RFC 2798).
            [
                "top",
                "person",
                "organizationalPerson",
                "inetOrgPerson",
                "user",
                "2.5.6.0",
                "2.5.6.6",
                "2.5.6.7",
                "2.16.840.1.113730.3.2.2",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ),
        _ => return None,
    })
}

fn substring_match(value: &str, s: &LdapSubstringFilter, n: fn(&str) -> String) -> bool {
    let v = n(value);
    let mut rest: &str = &v;
    if let Some(i) = &s.initial {
        let i = n(i);
        match rest.strip_prefix(i.as_str()) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    for a in &s.any {
        let a = n(a);
        match rest.find(a.as_str()) {
            Some(pos) => rest = &rest[pos + a.len()..],
            None => return false,
        }
    }
    match &s.final_ {
        Some(f) => rest.ends_with(n(f).as_str()),
        None => true,
    }
}

fn ldap_eval(f: &LdapFilter, user: &Value) -> Tri {
    let tri = |b: bool| if b { Tri::T } else { Tri::F };
    match f {
        LdapFilter::And(v) => {
            let r: Vec<Tri> = v.iter().map(|x| ldap_eval(x, user)).collect();
            if r.contains(&Tri::F) {
                Tri::F
            } else if r.contains(&Tri::U) {
                Tri::U
            } else {
                Tri::T
            }
        }
        LdapFilter::Or(v) => {
            let r: Vec<Tri> = v.iter().map(|x| ldap_eval(x, user)).collect();
            if r.contains(&Tri::T) {
                Tri::T
            } else if r.contains(&Tri::U) {
                Tri::U
            } else {
                Tri::F
            }
        }
        LdapFilter::Not(x) => match ldap_eval(x, user) {
            Tri::T => Tri::F,
            Tri::F => Tri::T,
            Tri::U => Tri::U,
        },
        LdapFilter::Present(a) => match user_attr(user, a) {
            None => Tri::U,
            Some((_, vals)) => tri(!vals.is_empty()),
        },
        LdapFilter::Equality(a, x) => match user_attr(user, a) {
            None => Tri::U,
            Some(('p', vals)) => tri(vals.iter().any(|v| phone_norm(v) == phone_norm(x))),
            Some(('o', vals)) => tri(vals.iter().any(|v| v.eq_ignore_ascii_case(x.trim()))),
            Some((_, vals)) if norm(x).is_empty() => {
                let _ = vals;
                Tri::U
            }
            Some((_, vals)) => tri(vals.iter().any(|v| norm(v) == norm(x))),
        },
        LdapFilter::Substring(a, s) => match user_attr(user, a) {
            None | Some(('o', _)) => Tri::U,
            Some(('p', vals)) => tri(vals.iter().any(|v| substring_match(v, s, phone_norm))),
            Some((_, vals)) => tri(vals.iter().any(|v| substring_match(v, s, norm))),
        },
        LdapFilter::GreaterOrEqual(a, x) => match user_attr(user, a) {
            Some(('t', vals)) => tri(vals.iter().any(|v| norm(v) >= norm(x))),
            _ => Tri::U,
        },
        LdapFilter::LessOrEqual(a, x) => match user_attr(user, a) {
            Some(('t', vals)) => tri(vals.iter().any(|v| norm(v) <= norm(x))),
            _ => Tri::U,
        },
        _ => Tri::U,
    }
}

// ---------------------------------------------------------------- generators

const ATTRS: &[&str] = &[
    "cn",
    "sn",
    "givenName",
    "mail",
    "title",
    "uid",
    "mobile",
    "telephoneNumber",
    "objectClass",
    "homePhone",
    "fooBar",
];
const WORDS: &[&str] = &["al", "Al", "bo", "ab", "b", "o'k", "+1", "42-5"];

fn stored_value() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(WORDS), 1..3).prop_map(|w| w.join(" "))
}

fn assertion_value() -> impl Strategy<Value = String> {
    (
        prop::sample::select(&["", " "][..]),
        prop::collection::vec(prop::sample::select(WORDS), 1..3),
        prop::sample::select(&[" ", "  "][..]),
        prop::sample::select(&["", " "][..]),
    )
        .prop_map(|(lead, words, sep, trail)| format!("{lead}{}{trail}", words.join(sep)))
}

fn object_class_value() -> impl Strategy<Value = String> {
    prop::sample::select(
        &[
            "person",
            "User",
            "contact",
            "groupOfNames",
            "top",
            "2.5.6.6",
        ][..],
    )
    .prop_map(String::from)
}

fn leaf() -> impl Strategy<Value = LdapFilter> {
    let attr = prop::sample::select(ATTRS);
    let word = prop::sample::select(WORDS).prop_map(String::from);
    prop_oneof![
        (attr.clone(), assertion_value()).prop_map(|(a, v)| LdapFilter::Equality(a.into(), v)),
        object_class_value().prop_map(|v| LdapFilter::Equality("objectClass".into(), v)),
        (
            attr.clone(),
            prop::option::of(word.clone()),
            prop::collection::vec(word.clone(), 0..2),
            prop::option::of(word),
        )
            .prop_map(|(a, initial, any, final_)| {
                let any = if initial.is_none() && final_.is_none() && any.is_empty() {
                    vec!["a".to_string()]
                } else {
                    any
                };
                LdapFilter::Substring(
                    a.into(),
                    LdapSubstringFilter {
                        initial,
                        any,
                        final_,
                    },
                )
            }),
        attr.clone().prop_map(|a| LdapFilter::Present(a.into())),
        (attr, assertion_value()).prop_map(|(a, v)| LdapFilter::GreaterOrEqual(a.into(), v)),
    ]
}

fn ldap_filter() -> impl Strategy<Value = LdapFilter> {
    leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(LdapFilter::And),
            prop::collection::vec(inner.clone(), 0..4).prop_map(LdapFilter::Or),
            inner.prop_map(|x| LdapFilter::Not(Box::new(x))),
        ]
    })
}

fn graph_user() -> impl Strategy<Value = Value> {
    let opt = || prop::option::of(stored_value());
    (
        opt(),
        opt(),
        opt(),
        opt(),
        opt(),
        opt(),
        prop::collection::vec(stored_value(), 0..3),
        stored_value(),
    )
        .prop_map(|(dn, gn, sn, mail, title, mobile, phones, upn)| {
            json!({
                "id": "00000000-0000-0000-0000-000000000001",
                "accountEnabled": true,
                "userPrincipalName": upn,
                "displayName": dn, "givenName": gn, "surname": sn, "mail": mail,
                "jobTitle": title, "mobilePhone": mobile, "businessPhones": phones,
            })
        })
}

fn check_query_shape(c: Collection, q: &GraphQuery) -> Result<(), TestCaseError> {
    let parsed = q.filter.as_deref().map(parse_odata);
    let advanced = parsed.as_ref().is_some_and(|e| needs_advanced(c, e));
    prop_assert_eq!(q.count, advanced, "{}", q.display_decoded());
    prop_assert_eq!(q.consistency_eventual, advanced || q.search.is_some());
    prop_assert!(url_fits(q), "{} chars", q.path_and_query().len());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// (a) superset in the exact modes, plus (b), (c), (d) on every request.
    #[test]
    fn exact_plans_are_supersets(f in ldap_filter(), users in prop::collection::vec(graph_user(), 1..5)) {
        let mapping = contract_mapping();
        let ctx = TranslateContext {
            mapping: &mapping,
            user_filter: "accountEnabled eq true",
            strict_substrings: true,
            phone_e164: false,
            phone_variants: &no_variants,
            phone_index: &|_, _, _| None,
            page_size: 999,
        };
        let plan = plan_collection(&f, Collection::Users, None, &ctx);
        prop_assert!(plan.approximations.is_empty());
        prop_assert!(plan.queries.len() <= 2);
        let parsed: Vec<Option<OData>> = plan.queries.iter().map(|q| q.filter.as_deref().map(parse_odata)).collect();
        for q in &plan.queries {
            prop_assert!(q.search.is_none());
            check_query_shape(Collection::Users, q)?;
        }
        for u in &users {
            if ldap_eval(&f, u) == Tri::T {
                let found = parsed.iter().any(|p| p.as_ref().is_none_or(|e| odata_matches(e, u)));
                prop_assert!(found, "missed {u}\n{}", explain_plan(&plan));
            }
        }
    }

    /// Non-strict and e164 modes: approximations allowed, but (b), (c), (d) still hold, and
    /// a caller-ID style OR of phone equalities stays within two requests.
    #[test]
    fn approximate_plans_stay_valid(
        f in ldap_filter(),
        number in "\\+?[0-9][0-9 ()-]{3,15}",
        extra in prop::collection::vec("[0-9 +()-]{4,24}", 0..40),
        c in prop::sample::select(&[Collection::Users, Collection::Contacts][..]),
    ) {
        let mapping = contract_mapping();
        // A number that parses (it has spellings) never costs a scan of /users; one that
        // does not parse must scan (telephoneNumberMatch ignores spaces and hyphens).
        let parses = !extra.is_empty();
        let variants = move |_: &str| extra.clone();
        let ctx = TranslateContext {
            mapping: &mapping,
            user_filter: "accountEnabled eq true",
            strict_substrings: false,
            phone_e164: true,
            phone_variants: &variants,
            phone_index: &|_, _, _| None,
            page_size: 999,
        };
        let caller_id = LdapFilter::Or(vec![
            LdapFilter::Equality("telephoneNumber".into(), number.clone()),
            LdapFilter::Equality("mobile".into(), number),
        ]);
        for filter in [&f, &caller_id] {
            let plan = plan_collection(filter, c, None, &ctx);
            prop_assert!(plan.queries.len() <= 2, "{}", explain_plan(&plan));
            for q in &plan.queries {
                check_query_shape(c, q)?;
            }
        }
        let plan = plan_collection(&caller_id, c, None, &ctx);
        if c == Collection::Users {
            prop_assert_eq!(plan.unbounded, !parses, "{}", explain_plan(&plan));
        }
    }
}

// ---------------------------------------------------------------- recall over messy values

/// Canonical words: non-ASCII (one mark, several marks, dotted I), RFC 4515 specials
/// (`*`, `(`, `)`, `\`, NUL), quotes and mixed case.
const MESSY_WORDS: &[&str] = &[
    "Meyer",
    "John",
    "Smith",
    "Zo\u{eb}",
    "M\u{fc}ller",
    "Jos\u{e9}",
    "Nguy\u{1ec5}n",
    "O'Brien",
    "a*b",
    "(x)",
    "back\\slash",
    "nul\0x",
    "\u{c5}ngstr\u{f6}m",
    "\u{c9}MILE",
    "L\u{f8}kke",
    "stra\u{df}e",
    "\u{130}rem",
    "\u{1f08}\u{3b8}\u{3b7}\u{342}\u{3bd}\u{3b1}\u{3b9}",
];

/// A small deterministic generator, so one proptest `u64` picks a whole spelling.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// `canonical` as a person might have stored or typed it: 0-2 leading and trailing
/// spaces, 1-3 spaces or a no-break space between words, each word as is, upper or lower case, each character in NFC
/// or NFD.
fn respell(canonical: &str, seed: u64) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mut d = Dice(seed);
    let spaces = |d: &mut Dice, min: u64| " ".repeat((min + d.roll(3)) as usize);
    let mut out = spaces(&mut d, 0);
    for (i, word) in canonical.split(' ').enumerate() {
        if i > 0 {
            // Sometimes a no-break space, which slapd's NFKC makes a space.
            if d.roll(4) == 0 {
                out.push('\u{a0}');
            } else {
                out.push_str(&spaces(&mut d, 1));
            }
        }
        let cased = match d.roll(3) {
            0 => word.to_string(),
            1 => word.to_uppercase(),
            _ => word.to_lowercase(),
        };
        for ch in cased.nfc() {
            if d.roll(2) == 0 {
                out.push(ch);
            } else {
                out.extend(std::iter::once(ch).nfd());
            }
        }
    }
    out.push_str(&spaces(&mut d, 0));
    out
}

/// A value's first `n` characters (an `initial` piece typed on a phone).
fn first_chars(v: &str, n: usize) -> String {
    v.trim_start().chars().take(n.max(1)).collect()
}

fn canonical_name() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(MESSY_WORDS), 1..4).prop_map(|w| w.join(" "))
}

/// Text attributes with the Graph property behind them for users (CONTRACT §5) — every
/// text rule: caseIgnore with and without startsWith, IA5 (mail), and a first-of source.
const TEXT_ATTRS: &[(&str, &str)] = &[
    ("cn", "displayName"),
    ("sn", "surname"),
    ("givenName", "givenName"),
    ("mail", "mail"),
    ("title", "jobTitle"),
    ("department", "department"),
    ("l", "city"),
    ("sAMAccountName", "mailNickname"),
];

/// The shapes whose recall every mode guarantees: equality, `initial`, and contains pieces
/// that are whole stored words (non-strict `$search` matches word prefixes).
#[derive(Debug, Clone)]
enum Shape {
    Equality,
    Initial(usize),
    InitialAny(usize),
    ContainsWord(usize),
    Present,
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Equality),
        (1usize..8).prop_map(Shape::Initial),
        (1usize..5).prop_map(Shape::InitialAny),
        (0usize..3).prop_map(Shape::ContainsWord),
        Just(Shape::Present),
    ]
}

/// One leaf: an attribute, a shape, which pool name it asserts and a spelling seed.
fn messy_leaf(pool: usize) -> impl Strategy<Value = (usize, Shape, usize, u64)> {
    (0..TEXT_ATTRS.len(), shape(), 0..pool, any::<u64>())
}

fn leaf_filter(leaf: &(usize, Shape, usize, u64), pool: &[String]) -> LdapFilter {
    let (attr, shape, name, seed) = leaf;
    let attr = TEXT_ATTRS[*attr].0.to_string();
    let typed = respell(&pool[*name], *seed);
    match shape {
        Shape::Equality => LdapFilter::Equality(attr, typed),
        Shape::Initial(n) => LdapFilter::Substring(
            attr,
            LdapSubstringFilter {
                initial: Some(first_chars(&typed, *n)),
                any: Vec::new(),
                final_: None,
            },
        ),
        Shape::InitialAny(n) => LdapFilter::Substring(
            attr,
            LdapSubstringFilter {
                initial: Some(first_chars(&typed, *n)),
                any: vec![typed.chars().rev().take(2).collect()],
                final_: None,
            },
        ),
        Shape::ContainsWord(w) => {
            let words: Vec<&str> = typed.split(' ').filter(|x| !x.is_empty()).collect();
            let word = words.get(*w % words.len().max(1)).copied().unwrap_or("x");
            // The word-prefix guarantee is displayName's (tokenized $search, GRAPH.md §2);
            // surname and givenName fall back to startsWith, an approximation `explain`
            // reports, so contains is asserted on cn only.
            LdapFilter::Substring(
                "cn".to_string(),
                LdapSubstringFilter {
                    initial: None,
                    any: vec![word.to_string()],
                    final_: None,
                },
            )
        }
        Shape::Present => LdapFilter::Present(attr),
    }
}

/// A Graph user whose text properties are messy spellings of pool names, or empty.
fn messy_user(n: usize, picks: &[(usize, u64, bool)], pool: &[String]) -> Value {
    let mut obj = json!({
        "id": format!("00000000-0000-4000-8000-{n:012}"),
        "userPrincipalName": format!("u{n}@example.com"),
        "accountEnabled": true,
        "businessPhones": [],
    });
    for ((_, property), (name, seed, empty)) in TEXT_ATTRS.iter().zip(picks) {
        let value = if *empty {
            String::new()
        } else if *property == "mail" {
            // caseIgnoreIA5Match: only ASCII mail values can match.
            respell(&pool[*name], *seed)
                .chars()
                .filter(char::is_ascii)
                .collect()
        } else {
            respell(&pool[*name], *seed)
        };
        obj[*property] = Value::String(value);
    }
    obj
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    Strict,
    E164,
    NonStrict,
}

/// The objects of `users` the plan's requests return, by the emulator's own `$filter` and
/// `$search` evaluators (an OData implementation the translator does not share), which
/// also refuse any request Graph would reject.
fn returned_by_graph(plan: &PushdownPlan, users: &[Value]) -> Result<Vec<bool>, TestCaseError> {
    use graph_emulator::{odata, resource::USERS, search};
    let mut found = vec![false; users.len()];
    for q in &plan.queries {
        let filter = match q.filter.as_deref() {
            Some(text) => {
                let f = odata::parse(text)
                    .map_err(|e| TestCaseError::fail(format!("{text}: {e:?}")))?;
                odata::check(&f, &USERS, q.count && q.consistency_eventual)
                    .map_err(|e| TestCaseError::fail(format!("Graph rejects {text}: {e:?}")))?;
                Some(f)
            }
            None => None,
        };
        let search = match q.search.as_deref() {
            Some(text) => Some(
                search::parse(text, &USERS)
                    .map_err(|e| TestCaseError::fail(format!("{text}: {e:?}")))?,
            ),
            None => None,
        };
        for (i, u) in users.iter().enumerate() {
            let by_filter = filter.as_ref().is_none_or(|f| odata::matches(f, u));
            let by_search = search.as_ref().is_none_or(|s| search::matches(s, u));
            found[i] |= by_filter && by_search;
        }
    }
    Ok(found)
}

fn check_recall(mode: Mode, f: &LdapFilter, users: &[Value]) -> Result<(), TestCaseError> {
    use crate::directory::filter::{MatchContext, Tri as LocalTri, evaluate};
    use crate::directory::phone::{PhoneMatch, PhoneRules};
    use crate::directory::tree::Tree;
    let phone_mode = match mode {
        Mode::E164 => PhoneMatch::E164,
        _ => PhoneMatch::Rfc4517,
    };
    let rules = PhoneRules::new(phone_mode, "US").map_err(TestCaseError::fail)?;
    let variants = |v: &str| rules.spelling_variants(v);
    let mapping = Mapping::default_mapping();
    let ctx = TranslateContext {
        mapping: &mapping,
        user_filter: "accountEnabled eq true",
        strict_substrings: matches!(mode, Mode::Strict | Mode::E164),
        phone_e164: matches!(mode, Mode::E164),
        phone_variants: &variants,
        phone_index: &|_, _, _| None,
        page_size: 999,
    };
    let plan = plan_collection(f, Collection::Users, None, &ctx);
    prop_assert!(plan.queries.len() <= 2, "{}", explain_plan(&plan));
    for q in &plan.queries {
        prop_assert!(url_fits(q));
    }
    let found = returned_by_graph(&plan, users)?;
    let tree = Tree::new("dc=example,dc=com").map_err(TestCaseError::fail)?;
    let local = MatchContext {
        phone: &rules,
        mapping: &mapping,
        memberships: None,
    };
    for (u, found) in users.iter().zip(found) {
        let Some(entry) = mapping.to_entry(Collection::Users, u, &tree, &Needed::All) else {
            continue;
        };
        if evaluate(f, &entry, &local) == LocalTri::True {
            prop_assert!(
                found,
                "{mode:?}: {} accepts\n{u:#}\nbut Graph is not asked for it:\n{}",
                super::pushdown::ldap_filter_text(f),
                explain_plan(&plan)
            );
        }
    }
    Ok(())
}

fn messy_case() -> impl Strategy<Value = (Vec<String>, Vec<Value>, LdapFilter)> {
    prop::collection::vec(canonical_name(), 1..4).prop_flat_map(|pool| {
        let n = pool.len();
        let pick = (0..n, any::<u64>(), prop::bool::weighted(0.1));
        let user = prop::collection::vec(pick, TEXT_ATTRS.len());
        let leaves = prop::collection::vec(messy_leaf(n), 1..4);
        (
            Just(pool),
            prop::collection::vec(user, 1..6),
            leaves,
            0u8..4,
        )
            .prop_map(|(pool, picks, leaves, combine)| {
                let users: Vec<Value> = picks
                    .iter()
                    .enumerate()
                    .map(|(i, p)| messy_user(i, p, &pool))
                    .collect();
                let mut items: Vec<LdapFilter> =
                    leaves.iter().map(|l| leaf_filter(l, &pool)).collect();
                let f = match (combine, items.len()) {
                    (_, 1) => items.remove(0),
                    (0, _) => LdapFilter::Or(items),
                    (1, _) => LdapFilter::And(items),
                    (2, _) => {
                        // (&(first)(!(second))...): a NOT is checked locally.
                        let first = items.remove(0);
                        LdapFilter::And(vec![
                            first,
                            LdapFilter::Not(Box::new(LdapFilter::Or(items))),
                        ])
                    }
                    _ => LdapFilter::Or(vec![items.remove(0), LdapFilter::And(items)]),
                };
                (pool, users, f)
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Recall: every user the local filter accepts is among what Graph is asked
    /// for, whatever the stored spelling (spaces, NFC/NFD, case, empty values, escapes),
    /// in strict mode, e164 mode and non-strict mode.
    #[test]
    fn messy_values_are_recalled_in_every_mode(case in messy_case()) {
        let (_pool, users, f) = case;
        for mode in [Mode::Strict, Mode::E164, Mode::NonStrict] {
            check_recall(mode, &f, &users)?;
        }
    }

    /// The same with the typed value being an exact stored value's spelling of another
    /// user, so equality always has a match to find.
    #[test]
    fn a_stored_value_typed_differently_finds_its_owner(
        name in canonical_name(),
        stored in any::<u64>(),
        typed in any::<u64>(),
        attr in 0..TEXT_ATTRS.len(),
        cut in 1usize..10,
    ) {
        let pool = vec![name];
        let picks = vec![(0usize, stored, false); TEXT_ATTRS.len()];
        let users = vec![messy_user(0, &picks, &pool)];
        for shape in [Shape::Equality, Shape::Initial(cut)] {
            let f = leaf_filter(&(attr, shape, 0, typed), &pool);
            for mode in [Mode::Strict, Mode::E164, Mode::NonStrict] {
                check_recall(mode, &f, &users)?;
            }
        }
    }
}

#[test]
fn explain_shows_the_spellings_sent() {
    let plan = plan_with("(sn=M\u{fc}ller)", Collection::Users, None, &DEFAULTS);
    let text = explain_plan(&plan);
    assert!(
        text.contains("startsWith(surname,'M\u{fc}ller') or startsWith(surname,'Mu\u{308}ller') or startsWith(surname,' ')"),
        "{text}"
    );
    assert!(text.contains("stored spellings asked for"), "{text}");
    assert!(
        text.contains(
            // Combining marks are shown escaped, so the two spellings look different.
            "(sn=M\u{fc}ller): surname starting with \"M\u{fc}ller\" or \"Mu\\u{308}ller\" or \" \""
        ),
        "{text}"
    );
    // A property without startsWith says why it is read whole.
    let text = explain_plan(&plan_with(
        "(department=Sales)",
        Collection::Users,
        None,
        &DEFAULTS,
    ));
    assert!(text.contains("department has no startsWith"), "{text}");
    assert!(text.contains("scan:"), "{text}");
}

// ---------------------------------------------------------------- phone index (CONTRACT §7)

fn plan_indexed(
    filter: &str,
    c: Collection,
    lookup: &dyn Fn(&Source) -> Option<Vec<String>>,
) -> PushdownPlan {
    let f = parse_ldap_filter_str(filter).unwrap();
    let mapping = contract_mapping();
    let index = |_: Collection, s: &Source, _: super::PhoneAssertion<'_>| lookup(s);
    let ctx = TranslateContext {
        mapping: &mapping,
        user_filter: DEFAULTS.user_filter,
        strict_substrings: true,
        phone_e164: true,
        phone_variants: &nanp_variants,
        phone_index: &index,
        page_size: 999,
    };
    plan_collection(&f, c, None, &ctx)
}

fn guid_n(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

#[test]
fn indexed_caller_id_is_one_request_for_the_candidates() {
    let owner = guid_n(1);
    let plan = plan_indexed(
        "(|(telephoneNumber=+14255550100)(mobile=+14255550100))",
        Collection::Users,
        &|s| match s {
            Source::Property(p) if p == "businessPhones" => Some(vec![owner.clone()]),
            _ => Some(Vec::new()),
        },
    );
    assert_eq!(
        filters(&plan),
        [format!("(accountEnabled eq true) and (id eq '{owner}')")]
    );
    assert!(!plan.unbounded);
    assert!(plan.approximations.is_empty(), "{:?}", plan.approximations);
    // No candidate anywhere: no request at all.
    let none = plan_indexed("(telephoneNumber=+19999999999)", Collection::Users, &|_| {
        Some(Vec::new())
    });
    assert!(none.queries.is_empty());
    // Contacts: the typed phones are answered by the index too, not by a scan.
    let contact = plan_indexed("(mobile=+14255550100)", Collection::Contacts, &|s| {
        matches!(s, Source::ContactPhone(t) if t == "mobile").then(|| vec![guid_n(7)])
    });
    assert_eq!(filters(&contact), [format!("id eq '{}'", guid_n(7))]);
    assert!(!contact.unbounded);
}

#[test]
fn indexed_phone_items_or_with_names_and_fall_back_when_the_index_cannot_answer() {
    let plan = plan_indexed(
        "(|(cn=4255*)(sn=4255*)(telephoneNumber=4255*))",
        Collection::Users,
        &|_| Some(vec![guid_n(3)]),
    );
    assert_eq!(plan.queries.len(), 1);
    let f = &filters(&plan)[0];
    assert!(f.contains("startsWith(displayName,'4255')"), "{f}");
    assert!(f.contains(&format!("id eq '{}'", guid_n(3))), "{f}");
    // None: today's spelling pushdown.
    let fallback = plan_indexed("(telephoneNumber=+14255550100)", Collection::Users, &|_| {
        None
    });
    assert!(
        filters(&fallback)[0].contains("startsWith"),
        "{:?}",
        filters(&fallback)
    );
}

#[test]
fn many_candidates_are_split_into_requests_that_fit_the_url() {
    let ids: Vec<String> = (0..120).map(guid_n).collect();
    let plan = plan_indexed("(telephoneNumber=*0100)", Collection::Users, &|_| {
        Some(ids.clone())
    });
    assert!(plan.queries.len() > 2, "{} requests", plan.queries.len());
    assert!(!plan.unbounded);
    let mut seen = Vec::new();
    for q in &plan.queries {
        assert!(super::plan::url_fits(q), "{}", q.display_decoded());
        let f = q.filter.as_deref().unwrap();
        assert!(f.starts_with("(accountEnabled eq true) and "), "{f}");
        seen.extend(ids.iter().filter(|id| f.contains(id.as_str())).cloned());
    }
    seen.sort();
    assert_eq!(seen, ids, "every candidate in exactly one request");
}

// ------------------------------------------------ Active Directory profile (CONTRACT §9)

fn ad_plan(filter: &str, c: Collection) -> PushdownPlan {
    let mapping = Mapping::configured(&[], &[], Some("dc=example,dc=com"));
    let ctx = TranslateContext {
        mapping: &mapping,
        user_filter: "",
        strict_substrings: false,
        phone_e164: true,
        phone_variants: &no_variants,
        phone_index: &|_, _, _| None,
        page_size: 999,
    };
    let f =
        crate::directory::filter::parse_filter(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
    plan_collection(&f, c, None, &ctx)
}

#[test]
fn ad_bitwise_rules_decide_account_enabled() {
    let preset = "(&(objectCategory=person)(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))";
    assert_eq!(
        filters(&ad_plan(preset, Collection::Users)),
        ["accountEnabled eq true"]
    );
    // Contacts are persons but not `user`s: no request at all.
    assert!(ad_plan(preset, Collection::Contacts).queries.is_empty());
    assert_eq!(
        filters(&ad_plan(
            "(userAccountControl:1.2.840.113556.1.4.803:=2)",
            Collection::Users
        )),
        ["accountEnabled eq false"]
    );
    assert_eq!(
        filters(&ad_plan(
            "(userAccountControl:1.2.840.113556.1.4.804:=514)",
            Collection::Users
        )),
        [""],
        "both 512 and 514 share a bit: nothing to push"
    );
    assert!(
        ad_plan(
            "(userAccountControl:1.2.840.113556.1.4.803:=16)",
            Collection::Users
        )
        .queries
        .is_empty(),
        "no user has LOCKOUT in 512/514"
    );
    assert_eq!(
        filters(&ad_plan(
            "(!(userAccountControl:1.2.840.113556.1.4.803:=16))",
            Collection::Users
        )),
        [""]
    );
    assert_eq!(
        filters(&ad_plan("(userAccountControl=514)", Collection::Users)),
        ["accountEnabled eq false"]
    );
    assert!(
        ad_plan("(userAccountControl=66048)", Collection::Users)
            .queries
            .is_empty()
    );
    assert!(
        ad_plan("(objectCategory=group)", Collection::Users)
            .queries
            .is_empty()
    );
    assert_eq!(
        filters(&ad_plan(
            "(objectCategory=CN=Person,CN=Schema,CN=Configuration,DC=example,DC=com)",
            Collection::Users
        )),
        [""]
    );
}

#[test]
fn ad_names_are_pushed_like_name_prefixes() {
    let anr = filters(&ad_plan("(anr=Adele)", Collection::Users)).join(" | ");
    for p in [
        "displayName",
        "givenName",
        "surname",
        "mail",
        "userPrincipalName",
    ] {
        assert!(
            anr.contains(&format!("startsWith({p},'Adele')")),
            "{p}: {anr}"
        );
    }
    let login = filters(&ad_plan(
        "(&(objectClass=user)(sAMAccountName=adele.vance))",
        Collection::Users,
    ))
    .join(" | ");
    assert!(
        login.contains("startsWith(userPrincipalName,'adele.vance')"),
        "{login}"
    );
    assert!(
        login.contains("startsWith(onPremisesSamAccountName,'adele.vance')"),
        "{login}"
    );
    // objectGUID: the 16 bytes name the id (bytes below 0x80, which the PDU decoder
    // accepts as text).
    let id = "00112233-4455-6677-1122-334455667711";
    let guid = crate::directory::compat::guid_bytes(id).unwrap();
    let f = LdapFilter::Equality(
        "objectGUID".into(),
        String::from_utf8(guid.to_vec()).unwrap(),
    );
    let mapping = Mapping::configured(&[], &[], Some("dc=example,dc=com"));
    let ctx = TranslateContext {
        mapping: &mapping,
        user_filter: "",
        strict_substrings: false,
        phone_e164: true,
        phone_variants: &no_variants,
        phone_index: &|_, _, _| None,
        page_size: 999,
    };
    let plan = plan_collection(&f, Collection::Users, None, &ctx);
    assert_eq!(filters(&plan), [format!("id eq '{id}'")]);
}

proptest! {
    /// The shortcut of `url_fits` (every byte percent-encoded would still fit) never
    /// says a query fits that the written-out URL does not.
    #[test]
    fn url_fits_agrees_with_the_written_url(
        filter in proptest::option::of(".{0,700}"),
        search in proptest::option::of("[a-z \"&:+#]{0,300}"),
        select in proptest::collection::vec("[a-zA-Z]{1,20}", 0..30),
        top in proptest::option::of(any::<u32>()),
        count in any::<bool>(),
    ) {
        let mut q = GraphQuery::new(Collection::Contacts, select);
        q.filter = filter;
        q.search = search;
        q.orderby = Some("displayName".into());
        q.top = top;
        q.count = count;
        let written = q.path_and_query().len() + ORIGIN_RESERVE_CHARS <= MAX_URL_CHARS;
        prop_assert_eq!(url_fits(&q), written);
    }
}
