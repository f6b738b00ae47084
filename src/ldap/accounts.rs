//! The service accounts that may bind (`[[ldap.accounts]]`): the parsers of their DNs,
//! names and hashes, the one fold that says which bind names are the same, lookup and
//! password verification (argon2id, or a plain password kept in a file). It never logs
//! or returns a password.

use std::path::PathBuf;

use argon2::{Argon2, PasswordHash, PasswordVerifier};

use crate::directory::tree::{normalize_dn, parse_dn};

/// How an account's password is checked.
#[derive(Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindAccount {
    /// The account's DN as configured (returned by WhoAmI).
    pub dn: String,
    /// Other names it may bind as (`phones@example.com`, `phones`).
    pub names: Vec<String>,
    pub secret: AccountSecret,
}

impl AccountSecret {
    /// Parses `password_hash`: an argon2id PHC string (password-hashing-competition
    /// format) with parameters the argon2 crate accepts, a salt and a hash, which is what
    /// `hash-password` prints and what `verify` checks against.
    pub fn parse_hash(text: &str) -> Result<AccountSecret, String> {
        let text = text.trim();
        let usable = text.starts_with("$argon2id$")
            && PasswordHash::new(text).is_ok_and(|phc| {
                phc.salt.is_some() && phc.hash.is_some() && argon2::Params::try_from(&phc).is_ok()
            });
        if usable {
            Ok(AccountSecret::Hash(text.to_string()))
        } else {
            Err("must be an argon2id PHC string starting with $argon2id$ (run `ldap-graph-gateway hash-password`)".to_string())
        }
    }
}

/// Parses an account's DN: a non-empty DN in the tree's grammar (RFC 4514), kept as
/// written (trimmed) because WhoAmI returns it.
pub fn parse_account_dn(text: &str) -> Result<String, String> {
    let text = text.trim();
    if parse_dn(text)?.is_empty() {
        return Err("must not be empty".to_string());
    }
    Ok(text.to_string())
}

/// Parses one of an account's other bind names (`phones@example.com`, `phones`).
pub fn parse_bind_name(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() || text.chars().any(char::is_control) {
        return Err("names must be non-empty text".to_string());
    }
    Ok(text.to_string())
}

/// The one key binds compare names by: a DN by its distinguishedNameMatch form (so
/// `commonName=A, DC=X` is `cn=a,dc=x`), any other name (a short or `user@domain`
/// name) lower-cased.
pub fn bind_key(name: &str) -> String {
    normalize_dn(name).unwrap_or_else(|| name.trim().to_lowercase())
}

/// Which of an account's names another account already has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameClash {
    /// The position of the later account in the list.
    pub index: usize,
    /// `dn` or `names`.
    pub field: &'static str,
    /// The name as the later account writes it.
    pub name: String,
}

/// The first bind name that leads to more than one account (a DN or a listed name,
/// compared by `bind_key`), so that a bind is never ambiguous.
pub fn first_clash(accounts: &[BindAccount]) -> Option<NameClash> {
    let mut seen: Vec<String> = Vec::new();
    for (index, account) in accounts.iter().enumerate() {
        let names =
            std::iter::once(("dn", &account.dn)).chain(account.names.iter().map(|n| ("names", n)));
        for (field, name) in names {
            let key = bind_key(name);
            if seen.contains(&key) {
                return Some(NameClash {
                    index,
                    field,
                    name: name.clone(),
                });
            }
            seen.push(key);
        }
    }
    None
}

/// Finds the account a bind name refers to.
pub fn find<'a>(accounts: &'a [BindAccount], name: &str) -> Option<&'a BindAccount> {
    let wanted = bind_key(name);
    accounts
        .iter()
        .find(|a| bind_key(&a.dn) == wanted || a.names.iter().any(|n| bind_key(n) == wanted))
}

/// Checks a password against an account's secret. Runs argon2 on a blocking thread,
/// at most `pool`'s permits at once, so failed binds cannot occupy the async workers
/// nor more than that many cores.
pub async fn verify(account: &BindAccount, password: &str, pool: &tokio::sync::Semaphore) -> bool {
    match &account.secret {
        AccountSecret::Hash(phc) => {
            let phc = phc.clone();
            let password = password.to_string();
            let Ok(_permit) = pool.acquire().await else {
                return false;
            };
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
        let pool = tokio::sync::Semaphore::new(1);
        assert!(verify(&acct, "s3cret-for-tests", &pool).await);
        assert!(!verify(&acct, "wrong", &pool).await);
        let list = [acct];
        assert!(find(&list, "CN=Phones, DC=example, DC=com").is_some());
        assert!(find(&list, "PHONES@example.com").is_some());
        assert!(find(&list, "cn=other,dc=example,dc=com").is_none());
        assert!(!format!("{:?}", list[0]).contains("argon2id"));
    }

    #[test]
    fn parsers_take_what_bind_uses() {
        let phc = hash_password("pw").unwrap();
        assert_eq!(
            AccountSecret::parse_hash(&format!(" {phc} ")),
            Ok(AccountSecret::Hash(phc.clone()))
        );
        let argon2i = phc.replacen("$argon2id$", "$argon2i$", 1);
        assert!(AccountSecret::parse_hash(&argon2i).is_err());
        assert!(AccountSecret::parse_hash("$argon2id$garbage").is_err());
        assert_eq!(parse_account_dn(" cn=a, dc=x ").unwrap(), "cn=a, dc=x");
        assert!(parse_account_dn("  ").is_err());
        assert!(parse_account_dn("cn b,dc=x").is_err());
        assert!(parse_bind_name(" phones ").is_ok_and(|n| n == "phones"));
        assert!(parse_bind_name("a\tb").is_err());
        assert!(parse_bind_name("").is_err());
    }

    #[test]
    fn bind_key_is_distinguished_name_match() {
        assert_eq!(bind_key("CN=A, DC=X"), bind_key("cn=a,dc=x"));
        assert_eq!(bind_key("commonName=A,dc=x"), bind_key("cn=a,dc=x"));
        assert_ne!(
            bind_key("cn=John Smith,dc=x"),
            bind_key("cn=JohnSmith,dc=x")
        );
        assert_eq!(bind_key(" Phones@Example.com"), "phones@example.com");
    }

    #[test]
    fn a_name_of_two_accounts_is_a_clash() {
        let account = |dn: &str, names: &[&str]| BindAccount {
            dn: dn.into(),
            names: names.iter().map(|n| n.to_string()).collect(),
            secret: AccountSecret::PasswordFile("/p".into()),
        };
        let clash = first_clash(&[
            account("cn=a,dc=x", &["phones"]),
            account("commonName=A, DC=X", &[]),
        ]);
        assert_eq!(
            clash,
            Some(NameClash {
                index: 1,
                field: "dn",
                name: "commonName=A, DC=X".into()
            })
        );
        let by_name = first_clash(&[
            account("cn=a,dc=x", &["Phones"]),
            account("cn=b,dc=x", &["phones"]),
        ]);
        assert_eq!(by_name.map(|c| (c.index, c.field)), Some((1, "names")));
        assert_eq!(
            first_clash(&[account("cn=a,dc=x", &[]), account("cn=b,dc=x", &[])]),
            None
        );
        // And bind agrees: both spellings find the first account.
        let list = [account("cn=a,dc=x", &["phones"])];
        assert!(find(&list, "commonName=a,dc=x").is_some());
        assert!(find(&list, "PHONES").is_some());
    }
}
