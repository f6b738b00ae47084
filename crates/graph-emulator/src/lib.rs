//! The Microsoft Graph emulator used by ldap-graph-gateway's `demo`, tests and benchmarks: a
//! token endpoint and `/v1.0/users`, `/v1.0/contacts` served from a sample tenant, strict
//! like Graph (it rejects what Graph rejects, with Graph's error bodies).

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod delta;
pub mod errors;
pub mod groups;
pub mod odata;
pub mod resource;
pub mod search;
pub mod server;
pub mod tenant;

pub use groups::Groups;
pub use server::{EmulatorHandle, Fault, PageFault, start};
pub use tenant::{SAMPLE_CLIENT_ID, SAMPLE_CLIENT_SECRET, SAMPLE_TENANT_ID, Tenant};
