//! `demo`: the emulator's sample tenant served over LDAP on a loopback address, so the
//! gateway can be tried without an Azure account. Part of the binary only: the gateway
//! library never links the Graph emulator.

use std::net::SocketAddr;
use std::time::Duration;

use graph_emulator::{Groups, Tenant};
use ldap_graph_gateway::{app, config::Config};

/// Runs the demo until Ctrl-C.
pub async fn run(listen: SocketAddr) -> Result<(), String> {
    let tenant = Tenant::sample();
    let groups = Groups::sample(&tenant.users, &tenant.contacts);
    let (tenant_id, client_id, secret) = (
        tenant.tenant_id.clone(),
        tenant.client_id.clone(),
        tenant.client_secret.clone(),
    );
    let emulator = graph_emulator::start(tenant, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .map_err(|e| format!("cannot start the Graph emulator: {e}"))?;
    emulator.set_groups(groups);
    let mut config = Config::demo(
        listen,
        &emulator.base_url(),
        &tenant_id,
        &client_id,
        &secret,
    )?;
    // The demo serves the Active Directory profile (docs/configuration.md `[compat]`).
    config.compat.active_directory = true;
    // The sample tenant's groups (nested, Microsoft 365 and empty ones), CONTRACT §9.
    config.groups.enabled = true;
    // Metrics on a free loopback port: the demo shows where, rather than claiming one.
    config.metrics.listen = vec![SocketAddr::from(([127, 0, 0, 1], 0))];
    let (_gateway, running, observed) = app::start_observed(&config).await?;
    let addr = running.ldap_addrs.first().copied().unwrap_or(listen);
    let base = config.ldap.tree.base_dn();
    println!("ldap-graph-gateway demo: a sample tenant served over LDAP on {addr}");
    println!("Microsoft Graph emulator on {}", emulator.base_url());
    for m in &observed.addrs {
        println!("Prometheus metrics on http://{m}/metrics (health: http://{m}/healthz)");
    }
    println!();
    println!("Try:");
    println!("  ldapsearch -x -H ldap://{addr} -b {base} '(cn=a*)' cn telephoneNumber");
    println!("  ldapsearch -x -H ldap://{addr} -b {base} '(telephoneNumber=+14255550100)' cn");
    println!(
        "  ldapsearch -x -H ldap://{addr} -b {base} '(&(objectClass=user)(objectCategory=person)(!(userAccountControl:1.2.840.113556.1.4.803:=2))(sAMAccountName=mbowen))' sAMAccountName userAccountControl objectGUID"
    );
    println!(
        "  ldapsearch -x -H ldap://{addr} -b {base} '(memberOf:1.2.840.113556.1.4.1941:=cn=All Staff,ou=groups,{base})' cn"
    );
    println!();
    println!("Press Ctrl-C to stop.");
    let _ = tokio::signal::ctrl_c().await;
    running.shutdown(Duration::from_secs(5)).await;
    emulator.shutdown().await;
    Ok(())
}
