//! The Microsoft Graph client: client-credentials tokens, paging through
//! `@odata.nextLink`, timeouts, retries after 429/503, and mapping failures to LDAP
//! result codes (CONTRACT §6). It knows nothing of LDAP filters.

mod assertion;
mod client;
mod error;
mod ids;
mod settings;
mod token;

pub use client::{GraphClient, GraphPage};
pub use error::GraphError;
pub use settings::{Credential, GraphSettings};
