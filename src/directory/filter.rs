//! Local evaluation of an LDAP filter on a mapped entry, three-valued (RFC 4511 §4.5.1.7):
//! unknown attribute types are Undefined, never an error.
