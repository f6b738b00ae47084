//! The `graph-emulator` command: `generate` writes a tenant file (with groups: `--groups N`,
//! or the sample's), `serve` serves one, groups included, on an address until SIGTERM/SIGINT
//! (see the crate documentation). Argument parsing and process plumbing only; the tenant,
//! the groups and the server live in the library.

use graph_emulator::tenant_file::TenantFile;
use graph_emulator::{Groups, Tenant};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage:
  graph-emulator generate --users N [--contacts M] [--groups G] --out tenant.json
  graph-emulator generate --sample --out tenant.json   (the sample groups included)
  graph-emulator serve --tenant tenant.json --listen 127.0.0.1:PORT";

/// What a generated tenant file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Contents {
    Sample,
    Numbered {
        users: usize,
        contacts: usize,
        groups: usize,
    },
}

#[derive(Debug, PartialEq, Eq)]
enum Command {
    Generate { contents: Contents, out: PathBuf },
    Serve { tenant: PathBuf, listen: SocketAddr },
    Help,
}

/// `--name value` pairs and bare `--flag`s after the subcommand.
struct Options {
    pairs: Vec<(String, Option<String>)>,
}

impl Options {
    fn parse(args: &[String], flags: &[&str]) -> Result<Options, String> {
        let mut pairs = Vec::new();
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            let Some(name) = arg.strip_prefix("--") else {
                return Err(format!("unexpected argument '{arg}'"));
            };
            let (name, value) = match name.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None if flags.contains(&name) => (name.to_string(), None),
                None => {
                    let value = rest
                        .next()
                        .ok_or_else(|| format!("--{name} needs a value"))?;
                    (name.to_string(), Some(value.clone()))
                }
            };
            if pairs.iter().any(|(n, _)| *n == name) {
                return Err(format!("--{name} given twice"));
            }
            pairs.push((name, value));
        }
        Ok(Options { pairs })
    }

    fn check_known(&self, known: &[&str]) -> Result<(), String> {
        match self
            .pairs
            .iter()
            .find(|(n, _)| !known.contains(&n.as_str()))
        {
            Some((n, _)) => Err(format!("unknown option --{n}")),
            None => Ok(()),
        }
    }

    fn flag(&self, name: &str) -> bool {
        self.pairs.iter().any(|(n, _)| n == name)
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    fn required(&self, name: &str) -> Result<&str, String> {
        self.value(name)
            .ok_or_else(|| format!("--{name} is required"))
    }

    fn number(&self, name: &str) -> Result<Option<usize>, String> {
        self.value(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| format!("--{name} needs a whole number, not '{v}'"))
            })
            .transpose()
    }
}

fn parse(args: &[String]) -> Result<Command, String> {
    let Some((sub, rest)) = args.split_first() else {
        return Err("a command is needed".into());
    };
    match sub.as_str() {
        "generate" => {
            let o = Options::parse(rest, &["sample"])?;
            o.check_known(&["users", "contacts", "groups", "out", "sample"])?;
            let out = PathBuf::from(o.required("out")?);
            let contents = match (o.flag("sample"), o.number("users")?) {
                (true, None) if !o.flag("contacts") && !o.flag("groups") => Contents::Sample,
                (true, _) => {
                    return Err("--sample takes no --users, --contacts or --groups".into());
                }
                (false, Some(users)) => Contents::Numbered {
                    users,
                    contacts: o.number("contacts")?.unwrap_or(0),
                    groups: o.number("groups")?.unwrap_or(0),
                },
                (false, None) => return Err("--users N or --sample is required".into()),
            };
            Ok(Command::Generate { contents, out })
        }
        "serve" => {
            let o = Options::parse(rest, &[])?;
            o.check_known(&["tenant", "listen"])?;
            let listen = o.required("listen")?;
            Ok(Command::Serve {
                tenant: PathBuf::from(o.required("tenant")?),
                listen: listen
                    .parse()
                    .map_err(|_| format!("--listen needs IP:PORT, not '{listen}'"))?,
            })
        }
        "help" | "--help" | "-h" => Ok(Command::Help),
        other => Err(format!("unknown command '{other}'")),
    }
}

fn generate(contents: Contents, out: &std::path::Path) -> Result<(), String> {
    let file = match contents {
        Contents::Sample => {
            let tenant = Tenant::sample();
            let groups = Groups::sample(&tenant.users, &tenant.contacts);
            TenantFile { tenant, groups }
        }
        Contents::Numbered {
            users,
            contacts,
            groups,
        } => {
            let tenant = Tenant::generated_with(users, contacts);
            let groups = Groups::generated(&tenant.users, groups);
            TenantFile { tenant, groups }
        }
    };
    file.save(out)?;
    println!(
        "wrote {} users, {} contacts and {} groups to {}",
        file.tenant.users.len(),
        file.tenant.contacts.len(),
        file.groups.len(),
        out.display()
    );
    Ok(())
}

async fn stop_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => Ok(()),
        interrupted = tokio::signal::ctrl_c() => interrupted,
    }
}

async fn serve(tenant: &std::path::Path, listen: SocketAddr) -> Result<(), String> {
    let TenantFile { tenant, groups } = TenantFile::load(tenant)?;
    let credentials = format!(
        "tenant_id {}\nclient_id {}\nclient_secret {}",
        tenant.tenant_id, tenant.client_id, tenant.client_secret
    );
    let handle = graph_emulator::start(tenant, listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    handle.set_groups(groups);
    println!("{credentials}");
    println!("listening on {}", handle.base_url());
    use std::io::Write;
    std::io::stdout()
        .flush()
        .map_err(|e| format!("stdout: {e}"))?;
    stop_signal()
        .await
        .map_err(|e| format!("waiting for a signal: {e}"))?;
    // Exits at once: freeing 100,000 users would take seconds, and the OS reclaims them.
    std::mem::forget(handle);
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match parse(&args) {
        Ok(Command::Help) => {
            println!("{USAGE}");
            Ok(())
        }
        Ok(Command::Generate { contents, out }) => generate(contents, &out),
        Ok(Command::Serve { tenant, listen }) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the runtime: {e}"))
            .and_then(|runtime| {
                let served = runtime.block_on(serve(&tenant, listen));
                // Like the handle: the runtime is not torn down, the process ends.
                std::mem::forget(runtime);
                served
            }),
        Err(e) => Err(format!("{e}\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("graph-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn parses_the_documented_commands() {
        assert_eq!(
            parse(&args("generate --users 100 --contacts 5 --out t.json")),
            Ok(Command::Generate {
                contents: Contents::Numbered {
                    users: 100,
                    contacts: 5,
                    groups: 0
                },
                out: "t.json".into()
            })
        );
        assert_eq!(
            parse(&args("generate --users 100 --groups 12 --out t.json")),
            Ok(Command::Generate {
                contents: Contents::Numbered {
                    users: 100,
                    contacts: 0,
                    groups: 12
                },
                out: "t.json".into()
            })
        );
        assert_eq!(
            parse(&args("generate --out=t.json --users=7")),
            Ok(Command::Generate {
                contents: Contents::Numbered {
                    users: 7,
                    contacts: 0,
                    groups: 0
                },
                out: "t.json".into()
            })
        );
        assert_eq!(
            parse(&args("generate --sample --out t.json")),
            Ok(Command::Generate {
                contents: Contents::Sample,
                out: "t.json".into()
            })
        );
        assert_eq!(
            parse(&args("serve --tenant t.json --listen 127.0.0.1:8080")),
            Ok(Command::Serve {
                tenant: "t.json".into(),
                listen: "127.0.0.1:8080".parse().unwrap()
            })
        );
    }

    #[test]
    fn refuses_what_it_cannot_do() {
        for bad in [
            "",
            "generate --users 10",
            "generate --out t.json",
            "generate --users ten --out t.json",
            "generate --sample --users 3 --out t.json",
            "generate --sample --groups 3 --out t.json",
            "generate --users 3 --groups many --out t.json",
            "generate --users 3 --users 4 --out t.json",
            "generate --users 3 --out t.json --colour red",
            "serve --tenant t.json",
            "serve --tenant t.json --listen localhost",
            "serve --tenant",
            "launch",
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad:?}");
        }
    }
}
