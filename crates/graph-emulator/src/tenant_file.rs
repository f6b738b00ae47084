//! Tenant files on disk: `Tenant::load` reads one (`Tenant::from_json`), `Tenant::save` writes
//! `Tenant::to_json`; `TenantFile` adds the optional `groups` array (`Groups::to_json`) beside
//! them. Only file I/O; the shapes and their checks live in `tenant` and `groups`.

use super::groups::Groups;
use super::tenant::Tenant;
use serde_json::Value;
use std::path::Path;

/// A tenant file's whole content: the tenant and its groups (none when the file has no
/// `groups` key).
#[derive(Clone)]
pub struct TenantFile {
    pub tenant: Tenant,
    pub groups: Groups,
}

impl TenantFile {
    /// Reads and checks a tenant file with its groups.
    pub fn load(path: &Path) -> Result<TenantFile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let at = |e: String| format!("{}: {e}", path.display());
        let tenant = Tenant::from_json(&text).map_err(at)?;
        // Most files hold no groups: only those pay for a second parse.
        let groups = if text.contains("\"groups\"") {
            let mut root: Value = serde_json::from_str(&text).map_err(|e| at(e.to_string()))?;
            match root.get_mut("groups").map(Value::take) {
                None | Some(Value::Null) => Groups::default(),
                Some(groups) => Groups::from_json(groups).map_err(at)?,
            }
        } else {
            Groups::default()
        };
        Ok(TenantFile { tenant, groups })
    }

    /// Writes the tenant file `load` reads, `groups` beside `users` and `contacts`.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let mut root = self.tenant.to_json();
        if !self.groups.is_empty() {
            root["groups"] = self.groups.to_json();
        }
        let text =
            serde_json::to_string(&root).map_err(|e| format!("cannot encode the tenant: {e}"))?;
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

impl Tenant {
    /// Reads and checks a tenant file.
    pub fn load(path: &Path) -> Result<Tenant, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Tenant::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Writes the tenant file `load` reads.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string(&self.to_json())
            .map_err(|e| format!("cannot encode the tenant: {e}"))?;
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_tenant_loads_back_equal() {
        let dir = std::env::temp_dir().join(format!("graph-emulator-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tenant.json");
        let tenant = Tenant::generated_with(30, 5);
        tenant.save(&path).unwrap();
        let back = Tenant::load(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(back.users, tenant.users);
        assert_eq!(back.contacts, tenant.contacts);
        assert_eq!(back.client_id, tenant.client_id);
        assert_eq!(back.client_secret, tenant.client_secret);
        assert_eq!(back.tenant_id, tenant.tenant_id);
        assert!(Tenant::load(&dir.join("missing.json")).is_err());
    }

    #[test]
    fn groups_round_trip_through_a_tenant_file() {
        let dir = std::env::temp_dir().join(format!("graph-emulator-g-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tenant.json");
        let tenant = Tenant::generated_with(40, 2);
        let groups = Groups::generated(&tenant.users, 6);
        TenantFile {
            tenant: tenant.clone(),
            groups: groups.clone(),
        }
        .save(&path)
        .unwrap();
        let back = TenantFile::load(&path).unwrap();
        assert_eq!(back.tenant.users, tenant.users);
        assert_eq!(back.tenant.contacts, tenant.contacts);
        assert_eq!(back.groups.len(), 6);
        for g in groups.objects() {
            let id = g["id"].as_str().unwrap();
            let (a, b) = (back.groups.find(id).unwrap(), groups.find(id).unwrap());
            assert_eq!((&a.object, &a.members), (&b.object, &b.members));
        }
        // Tenant::load reads the same file and leaves the groups aside.
        assert_eq!(Tenant::load(&path).unwrap().users, tenant.users);
        // A file without groups has none; a malformed groups array is refused.
        tenant.save(&path).unwrap();
        assert!(TenantFile::load(&path).unwrap().groups.is_empty());
        let mut bad = tenant.to_json();
        bad["groups"] = serde_json::json!([{"group": {"displayName": "no id"}}]);
        std::fs::write(&path, bad.to_string()).unwrap();
        let Err(err) = TenantFile::load(&path) else {
            panic!("a group without an id is refused");
        };
        assert!(err.contains("needs a string 'id'"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
