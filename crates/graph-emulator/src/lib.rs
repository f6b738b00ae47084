//! The Microsoft Graph emulator used by ldap-graph-gateway's `demo`, tests and benchmarks: a
//! token endpoint and `/v1.0/users`, `/v1.0/contacts`, `/v1.0/groups` with member lists served
//! from a sample tenant, strict like Graph (it rejects what Graph rejects, with Graph's error
//! bodies).
//!
//! The `graph-emulator` command runs it as its own process (benchmarks keep its CPU apart):
//!
//! ```text
//! graph-emulator generate --users N [--contacts M] [--groups G] --out tenant.json
//! graph-emulator generate --sample --out tenant.json
//! graph-emulator serve --tenant tenant.json --listen 127.0.0.1:PORT
//! ```
//!
//! `generate` writes a tenant file (`{"users":[…],"contacts":[…],"groups":[…]}` in Graph v1.0
//! shapes plus the app credentials; each group with its direct member ids): `Tenant::generated_with`
//! people `user00000`…`user{N-1}` with unique phone numbers in varied spellings and G groups, or
//! `Tenant::sample` with its groups. `serve` prints `tenant_id …`, `client_id …`,
//! `client_secret …` and then `listening on http://ADDR` once bound (the address is both the
//! gateway's `login_url` and `graph_url`), and serves until SIGTERM or SIGINT.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod delta;
pub mod errors;
pub mod groups;
pub mod index;
pub mod odata;
pub mod resource;
pub mod search;
pub mod server;
pub mod tenant;
pub mod tenant_file;

pub use groups::Groups;
pub use server::{EmulatorHandle, Fault, PageFault, start};
pub use tenant::{SAMPLE_CLIENT_ID, SAMPLE_CLIENT_SECRET, SAMPLE_TENANT_ID, Tenant};
