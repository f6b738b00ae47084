//! Phone-number matching across formats (CONTRACT §7): E.164 parsing with a default
//! region, digits-only forms for substrings, and the spelling variants the translator
//! pushes to Graph. Pure; no I/O.
