//! What the filter and translator targets evaluate on: a small slice of the emulator's
//! sample tenant as Graph JSON and as the gateway maps it, the default mapping, and the
//! phone rules of both matching modes. Built once per process; knows no target.

use std::sync::OnceLock;

use graph_emulator::Tenant;
use ldap_graph_gateway::directory::Collection;
use ldap_graph_gateway::directory::entry::Entry;
use ldap_graph_gateway::directory::mapping::Mapping;
use ldap_graph_gateway::directory::needed::Needed;
use ldap_graph_gateway::directory::phone::{PhoneMatch, PhoneRules};
use ldap_graph_gateway::directory::tree::Tree;
use serde_json::Value;

/// The base DN of the fixtures (the demo's).
pub const BASE_DN: &str = "dc=example,dc=com";
/// Users taken from the head of the sample tenant (the named, hand-written people).
const HEAD_USERS: usize = 16;
/// Users taken from its tail (the messy spellings: NFD, stray spaces, odd case).
const TAIL_USERS: usize = 24;
/// Contacts taken from the head of the sample tenant.
const CONTACTS: usize = 10;

/// One Graph object and, when it has its key, the entry the gateway maps it to.
pub struct Object {
    pub json: Value,
    pub entry: Option<Entry>,
}

pub struct Fixtures {
    pub mapping: Mapping,
    pub tree: Tree,
    pub users: Vec<Object>,
    pub contacts: Vec<Object>,
    /// `[phone] match = "e164"` (the default) and `"rfc4517"`, region US.
    pub e164: PhoneRules,
    pub rfc4517: PhoneRules,
}

impl Fixtures {
    pub fn objects(&self, c: Collection) -> &[Object] {
        match c {
            Collection::Users => &self.users,
            Collection::Contacts => &self.contacts,
        }
    }
}

/// The fixtures, built on first use.
pub fn get() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(build)
}

fn build() -> Fixtures {
    let tenant = Tenant::sample();
    let mapping = Mapping::default_mapping();
    let tree = Tree::new(BASE_DN).expect("the fixture base DN parses");
    let tail = tenant
        .users
        .len()
        .saturating_sub(TAIL_USERS)
        .max(HEAD_USERS);
    let users: Vec<Value> = tenant.users[..HEAD_USERS.min(tenant.users.len())]
        .iter()
        .chain(&tenant.users[tail..])
        .cloned()
        .collect();
    let contacts: Vec<Value> = tenant.contacts.iter().take(CONTACTS).cloned().collect();
    let map = |c: Collection, objects: Vec<Value>| -> Vec<Object> {
        objects
            .into_iter()
            .map(|json| Object {
                entry: mapping.to_entry(c, &json, &tree, &Needed::All),
                json,
            })
            .collect()
    };
    let users = map(Collection::Users, users);
    let contacts = map(Collection::Contacts, contacts);
    let e164 = PhoneRules::new(PhoneMatch::E164, "US").expect("US is a region");
    let rfc4517 = PhoneRules::new(PhoneMatch::Rfc4517, "US").expect("US is a region");
    // The phone number metadata loads on first use (~0.4 s unoptimized): here, once, not in
    // the first input that holds a number, which AFL would time as a hang.
    let _ = e164.e164("+1 425 555 0100");
    Fixtures {
        users,
        contacts,
        e164,
        rfc4517,
        mapping,
        tree,
    }
}
