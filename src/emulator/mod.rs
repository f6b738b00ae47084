//! The in-tree Microsoft Graph emulator used by `demo`, the tests and the benchmarks: a
//! token endpoint and `/v1.0/users`, `/v1.0/contacts` served from a sample tenant, strict
//! like Graph (it rejects what Graph rejects, with Graph's error bodies).
