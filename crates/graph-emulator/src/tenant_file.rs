//! Tenant files on disk: `Tenant::load` reads one (`Tenant::from_json`), `Tenant::save` writes
//! `Tenant::to_json`. Only file I/O; the shape and its checks live in `tenant`.

use super::tenant::Tenant;
use std::path::Path;

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
}
