//! The service accounts that may bind (`[[ldap.accounts]]`): lookup by DN or listed
//! name and password verification (argon2id, or a plain password kept in a file). It
//! never logs or returns a password.

use std::path::PathBuf;

use argon2::{Argon2, PasswordHash, PasswordVerifier};

use crate::directory::tree::normalize_dn;

/// How an account's password is checked.
#[derive(Clone)]
pub enum AccountSecret {
    /// An argon2id PHC string from `hash-password`.
    Hash(String),
    /// A file holding the plain password (read at each bind, trailing newline ignored).
    PasswordFile(PathBuf),
}

impl std::fmt::Debug for AccountSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccountSecret::Hash(_) => f.write_str("Hash(<redacted>)"),
            AccountSecret::PasswordFile(p) => write!(f, "PasswordFile({})", p.display()),
        }
    }
}

/// One bindable account.
#[derive(Debug, Clone)]
pub struct BindAccount {
    /// The account's DN as configured (returned by WhoAmI).
    pub dn: String,
    /// Other names it may bind as (`phones@example.com`, `phones`).
    pub names: Vec<String>,
    pub secret: AccountSecret,
}

/// The distinguishedNameMatch key of a bind name; a name that is not a DN (a short or
/// `user@domain` name) is compared lowercased.
fn loose_dn(dn: &str) -> String {
    normalize_dn(dn).unwrap_or_else(|| dn.trim().to_lowercase())
}

/// Finds the account a bind name refers to.
pub fn find<'a>(accounts: &'a [BindAccount], name: &str) -> Option<&'a BindAccount> {
    let wanted = loose_dn(name);
    accounts.iter().find(|a| {
        loose_dn(&a.dn) == wanted || a.names.iter().any(|n| n.eq_ignore_ascii_case(name.trim()))
    })
}

/// Checks a password against an account's secret. Runs argon2 on a blocking thread.
pub async fn verify(account: &BindAccount, password: &str) -> bool {
    match &account.secret {
        AccountSecret::Hash(phc) => {
            let phc = phc.clone();
            let password = password.to_string();
            tokio::task::spawn_blocking(move || {
                PasswordHash::new(&phc)
                    .map(|h| {
                        Argon2::default()
                            .verify_password(password.as_bytes(), &h)
                            .is_ok()
                    })
                    .unwrap_or(false)
            })
            .await
            .unwrap_or(false)
        }
        AccountSecret::PasswordFile(path) => match tokio::fs::read_to_string(path).await {
            Ok(stored) => {
                let stored = stored.trim_end_matches(['\r', '\n']);
                constant_time_eq(stored.as_bytes(), password.as_bytes())
            }
            Err(e) => {
                tracing::error!(file = %path.display(), error = %e, "cannot read an account's password_file");
                false
            }
        },
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An argon2id PHC string for a password (the `hash-password` command).
pub fn hash_password(password: &str) -> Result<String, String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    use std::io::Read;
    // 16 random bytes from the kernel for the salt (RFC 9106 §3.1 recommends 128 bits).
    let mut raw = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut raw))
        .map_err(|e| format!("cannot read random bytes for the salt: {e}"))?;
    let salt = SaltString::encode_b64(&raw).map_err(|e| format!("salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify() {
        let phc = hash_password("s3cret-for-tests").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        let acct = BindAccount {
            dn: "cn=phones,dc=example,dc=com".into(),
            names: vec!["phones@example.com".into()],
            secret: AccountSecret::Hash(phc),
        };
        assert!(verify(&acct, "s3cret-for-tests").await);
        assert!(!verify(&acct, "wrong").await);
        let list = [acct];
        assert!(find(&list, "CN=Phones, DC=example, DC=com").is_some());
        assert!(find(&list, "PHONES@example.com").is_some());
        assert!(find(&list, "cn=other,dc=example,dc=com").is_none());
        assert!(!format!("{:?}", list[0]).contains("argon2id"));
    }
}
