//! The benchmark's tenant: N users named `user00000`, `user00001`, … with one business phone
//! and one mobile each, as Graph JSON the emulator loads. It knows nothing of LDAP, the
//! gateway or slapd; which searches hit how many of these users is `mix.rs`'s business.

use serde_json::{Value, json};

/// Digits of the number in every name (`user00042`), enough for 100,000 users.
pub const DIGITS: usize = 5;

/// The name of user `n` (its displayName, so its cn).
pub fn name(n: usize) -> String {
    format!("user{n:0DIGITS$}")
}

/// User `n`'s surname (`Last00042`).
pub fn surname(n: usize) -> String {
    format!("Last{n:0DIGITS$}")
}

/// User `n`'s business phone as the directory stores it (`+1 425-700-0042`): spaces and a
/// hyphen, so a caller ID search with the bare E.164 form is spelled differently.
pub fn business_phone(n: usize) -> String {
    format!("+1 425-7{:02}-{:04}", n / 10_000, n % 10_000)
}

/// The same number as a phone's caller ID shows it (`+14257000042`).
pub fn caller_id(n: usize) -> String {
    format!("+14257{:02}{:04}", n / 10_000, n % 10_000)
}

/// The tenant file `graph_emulator::Tenant::from_json` reads (the sample app credentials).
pub fn tenant_json(users: usize) -> String {
    let users: Vec<Value> = (0..users).map(user).collect();
    json!({ "users": users, "contacts": [] }).to_string()
}

fn user(n: usize) -> Value {
    let name = name(n);
    json!({
        "id": format!("00000000-0000-4000-8000-{n:012}"),
        "displayName": name,
        "givenName": format!("First{n:0DIGITS$}"),
        "surname": surname(n),
        "mail": format!("{name}@example.com"),
        "userPrincipalName": format!("{name}@example.com"),
        "mailNickname": name,
        "businessPhones": [business_phone(n)],
        "mobilePhone": format!("+1 206-8{:02}-{:04}", n / 10_000, n % 10_000),
        "jobTitle": "Engineer",
        "department": format!("Department {}", n % 50),
        "companyName": "Contoso Ltd.",
        "city": "Redmond",
        "country": "United States",
        "accountEnabled": true,
        "userType": "Member",
    })
}
