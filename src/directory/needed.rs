//! Which mapped attributes a search needs on its entries: those its attribute list
//! returns, its filter tests and its order compares. Mapping only those keeps a search's
//! cost per entry independent of how many attributes the mapping serves. Pure.

use ldap3_proto::proto::LdapFilter;

use super::schema::{self, AttributeType};

/// The attribute types of a search's entries that must be mapped. The entry's identity
/// and operational attributes (objectClass, uid, entryUUID, entryDN…) are always there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Needed {
    /// Every mapped attribute: no attribute list (or `*`), or a filter item that may
    /// look at any attribute (`anr`, an extensible match without a type, an unknown name).
    All,
    /// These types and their subtypes (`name` brings `cn`, `sn`… RFC 4512 §2.5.1).
    Only(Vec<&'static AttributeType>),
}

impl Needed {
    /// What a search with attribute list `attrs` (RFC 4511 §4.5.1.8), filter `filter`
    /// and order keys `order` needs.
    pub fn of(attrs: &[String], filter: &LdapFilter, order: &[&'static AttributeType]) -> Needed {
        let mut types = Vec::new();
        if attrs.is_empty() {
            return Needed::All;
        }
        for a in attrs {
            match a.trim() {
                "*" => return Needed::All,
                // Operational attributes are always mapped; "1.1" asks for none.
                "+" | "1.1" => {}
                // A name the schema does not know is not returned (entry_out): not needed.
                name => types.extend(schema::attribute(name)),
            }
        }
        if !tested(filter, &mut types) {
            return Needed::All;
        }
        types.extend_from_slice(order);
        let mut only: Vec<&'static AttributeType> = Vec::with_capacity(types.len());
        for at in types {
            if !only.iter().any(|o| std::ptr::eq(*o, at)) {
                only.push(at);
            }
        }
        Needed::Only(only)
    }

    /// True when attributes of type `at` must be mapped.
    pub fn wants(&self, at: &AttributeType) -> bool {
        match self {
            Needed::All => true,
            Needed::Only(types) => types.iter().any(|n| at.is_subtype_of(n)),
        }
    }
}

/// Adds the types `f` tests to `out`; false when it may test any attribute.
fn tested(f: &LdapFilter, out: &mut Vec<&'static AttributeType>) -> bool {
    let mut by_name = |attr: &str| {
        // Options (`cn;lang-de`) name the same type as far as mapping goes.
        let base = attr.split(';').next().unwrap_or_default();
        match schema::attribute(base) {
            // AD's ambiguous name resolution reads several attributes (compat::anr_filter).
            Some(at) if at.name == "aNR" => false,
            Some(at) => {
                out.push(at);
                true
            }
            None => false,
        }
    };
    match f {
        LdapFilter::And(items) | LdapFilter::Or(items) => items.iter().all(|i| tested(i, out)),
        LdapFilter::Not(inner) => tested(inner, out),
        LdapFilter::Equality(a, _)
        | LdapFilter::GreaterOrEqual(a, _)
        | LdapFilter::LessOrEqual(a, _)
        | LdapFilter::Approx(a, _)
        | LdapFilter::Present(a) => by_name(a),
        LdapFilter::Substring(a, _) => by_name(a),
        LdapFilter::Extensible(m) => m.type_.as_deref().is_some_and(by_name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::filter::parse_filter;

    fn at(name: &str) -> &'static AttributeType {
        schema::attribute(name).unwrap()
    }

    fn needed(attrs: &[&str], filter: &str) -> Needed {
        let attrs: Vec<String> = attrs.iter().map(|a| a.to_string()).collect();
        Needed::of(&attrs, &parse_filter(filter).unwrap(), &[at("displayName")])
    }

    #[test]
    fn a_phone_search_needs_its_attribute_list_its_filter_and_its_order() {
        let n = needed(&["cn", "telephoneNumber"], "(|(sn=smi*)(mobile=+1*))");
        for wanted in ["cn", "telephoneNumber", "sn", "mobile", "displayName"] {
            assert!(n.wants(at(wanted)), "{wanted}");
        }
        for not in ["mail", "givenName", "title", "department"] {
            assert!(!n.wants(at(not)), "{not}");
        }
    }

    #[test]
    fn supertypes_bring_their_subtypes() {
        let n = needed(&["name"], "(objectClass=*)");
        assert!(n.wants(at("cn")) && n.wants(at("sn")) && n.wants(at("givenName")));
        assert!(!n.wants(at("mail")));
        // In the filter too: (name=x) tests cn, sn… (RFC 4512 §2.5.1).
        let n = needed(&["mail"], "(name=Vance)");
        assert!(n.wants(at("sn")) && n.wants(at("mail")));
    }

    #[test]
    fn everything_when_the_search_may_look_at_any_attribute() {
        assert_eq!(needed(&[], "(cn=a)"), Needed::All);
        assert_eq!(needed(&["cn", "*"], "(cn=a)"), Needed::All);
        assert_eq!(needed(&["cn"], "(:caseExactMatch:=a)"), Needed::All);
        assert_eq!(needed(&["cn"], "(anr=smi)"), Needed::All);
        assert_eq!(needed(&["cn"], "(&(sn=a)(noSuchAttribute=b))"), Needed::All);
        assert_ne!(needed(&["cn"], "(cn:caseExactMatch:=a)"), Needed::All);
        assert_ne!(needed(&["cn;lang-de"], "(sn;lang-de=a)"), Needed::All);
    }

    #[test]
    fn plus_and_one_one_need_only_the_filter_and_order() {
        let n = needed(&["+"], "(mail=a@b)");
        assert_eq!(n, Needed::Only(vec![at("mail"), at("displayName")]));
        let n = needed(&["1.1"], "(mail=a@b)");
        assert!(n.wants(at("mail")) && !n.wants(at("cn")));
    }
}
