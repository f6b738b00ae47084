//! Target `odata`: text through the strict emulator's `$filter` and `$search` parsers, the
//! capability check and the evaluators, for users and contacts. Knows nothing of LDAP.
//! Oracle: no panic, no hang, bounded memory (the parsers limit nesting themselves).

use graph_emulator::resource::{CONTACTS, USERS};
use graph_emulator::{odata, search};
use ldap_graph_gateway::directory::Collection;

use crate::fixtures;

pub fn run(data: &[u8]) {
    let Some(text) = crate::text(data) else {
        return;
    };
    let fx = fixtures::get();
    let filter = odata::parse(text).ok();
    let _ = search::tokens(text);
    for (c, resource) in [
        (Collection::Users, &USERS),
        (Collection::Contacts, &CONTACTS),
    ] {
        let objects = fx.objects(c);
        if let Some(f) = &filter {
            for advanced in [false, true] {
                let _ = odata::check(f, resource, advanced);
            }
            for o in objects {
                let _ = odata::matches(f, &o.json);
            }
        }
        if let Ok(s) = search::parse(text, resource) {
            for o in objects {
                let _ = search::matches(&s, &o.json);
            }
        }
    }
}
