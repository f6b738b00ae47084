//! The directory tree (CONTRACT §4): DN parsing and normalisation, what a search base and
//! scope cover, and the fixed entries (base, ou=users, ou=contacts). Owns DNs; it does not
//! talk to Graph.
