//! The Microsoft Graph client: client-credentials tokens, paging through
//! `@odata.nextLink`, timeouts, retries after 429/503, and failures described for an
//! administrator. It knows nothing of LDAP filters or LDAP result codes.

mod assertion;
mod client;
mod error;
mod ids;
mod request;
mod settings;
mod token;

pub use client::{GraphClient, GraphPage};
pub use error::GraphError;
pub use request::GraphRequest;
pub use settings::{Credential, GraphSettings, parse_base_url, parse_client_id, parse_tenant_id};
