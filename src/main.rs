//! Command line of ldap-graph-gateway (CONTRACT §2): parses arguments, sets up logging and
//! runs one command. Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

mod demo;
mod generate;

use clap::{CommandFactory, Parser, Subcommand};
use ldap_graph_gateway::{app, config::Config, ldap::accounts};

/// mimalloc, not glibc malloc: allocation and its lock contention were a third of a
/// search's CPU in the profile of docs/performance.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PROGRAM: &str = "ldap-graph-gateway";
const DEFAULT_CONFIG: &str = "/etc/ldap-graph-gateway/config.toml";

/// An LDAP directory for desk phones and LDAP clients, answered live from Microsoft
/// Graph (Entra ID users and organizational contacts). Nothing is synced or stored.
#[derive(Parser)]
#[command(name = PROGRAM, version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Top,
}

/// The documented commands, plus `generate`, which only builds the package's man pages and
/// completions and is left out of both (see `documented_cli`).
#[derive(Subcommand)]
enum Top {
    #[command(flatten)]
    Run(Command),
    /// Write the man pages or a shell completion script (used to build the package).
    #[command(hide = true)]
    Generate {
        #[command(subcommand)]
        what: Generated,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon in the foreground (systemd Type=notify).
    Serve {
        /// Configuration file.
        #[arg(short, long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Serve a built-in sample tenant through the in-process Graph emulator (no Azure account needed).
    Demo {
        /// LDAP listen address.
        #[arg(long, default_value = "127.0.0.1:3389")]
        listen: SocketAddr,
    },
    /// Validate the configuration; --online also fetches a token and runs one Graph query.
    Check {
        #[arg(short, long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// Also contact Microsoft Graph.
        #[arg(long)]
        online: bool,
    },
    /// Show the Graph request(s) an LDAP filter becomes, without contacting Graph.
    Explain {
        #[arg(short, long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// Search base (default: the configured base_dn).
        #[arg(short = 'b', long)]
        base: Option<String>,
        /// Search scope: base, one or sub.
        #[arg(short = 's', long, default_value = "sub")]
        scope: String,
        /// The LDAP filter, e.g. '(|(cn=smi*)(sn=smi*))'.
        filter: String,
    },
    /// Read a password on stdin and print an argon2id hash for [[ldap.accounts]] password_hash.
    HashPassword,
}

#[derive(Subcommand)]
enum Generated {
    /// The man pages: ldap-graph-gateway.1 and ldap-graph-gateway-COMMAND.1.
    Man {
        /// Directory to write into (created if missing).
        dir: PathBuf,
    },
    /// The completion script for one shell.
    Completions {
        shell: clap_complete::Shell,
        /// Directory to write into (created if missing).
        dir: PathBuf,
    },
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    // ldap3_proto logs each undecodable client PDU at ERROR without the peer; the session
    // logs client faults itself, once per connection, with the peer address.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,ldap3_proto=off"));
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(!journald);
    if journald {
        builder.without_time().init();
    } else {
        builder.init();
    }
}

fn load(path: &std::path::Path) -> Result<Config, ExitCode> {
    Config::load(path).map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(2)
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("cannot start the async runtime: {e}");
            ExitCode::from(1)
        })
}

fn run(cli: Cli) -> Result<(), ExitCode> {
    match cli.command {
        Top::Run(command) => run_command(command),
        Top::Generate { what } => run_generate(what),
    }
}

fn run_command(command: Command) -> Result<(), ExitCode> {
    match command {
        Command::Serve { config } => {
            let cfg = load(&config)?;
            runtime()?.block_on(app::serve(cfg)).map_err(|e| {
                eprintln!("error: {e}");
                ExitCode::from(1)
            })
        }
        Command::Demo { listen } => runtime()?.block_on(demo::run(listen)).map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }),
        Command::Check { config, online } => {
            let cfg = load(&config)?;
            if let Err(e) = app::build_directory(&cfg) {
                eprintln!("{}: {e}", config.display());
                return Err(ExitCode::from(2));
            }
            println!("{}: configuration is valid", config.display());
            if online {
                match runtime()?.block_on(app::check_online(&cfg)) {
                    Ok(report) => println!("{report}"),
                    Err(e) => {
                        eprintln!("online check failed: {e}");
                        return Err(ExitCode::from(1));
                    }
                }
            }
            Ok(())
        }
        Command::Explain {
            config,
            base,
            scope,
            filter,
        } => {
            let cfg = load(&config)?;
            match app::explain(&cfg, base.as_deref(), &scope, &filter) {
                Ok(text) => {
                    print!("{text}");
                    Ok(())
                }
                Err(e) => {
                    eprintln!("{e}");
                    Err(ExitCode::from(2))
                }
            }
        }
        Command::HashPassword => {
            let mut password = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut password) {
                eprintln!("cannot read the password from stdin: {e}");
                return Err(ExitCode::from(1));
            }
            let password = password.trim_end_matches(['\r', '\n']);
            if password.is_empty() {
                eprintln!("empty password on stdin");
                return Err(ExitCode::from(2));
            }
            match accounts::hash_password(password) {
                Ok(h) => {
                    println!("{h}");
                    Ok(())
                }
                Err(e) => {
                    eprintln!("{e}");
                    Err(ExitCode::from(1))
                }
            }
        }
    }
}

/// The command line as the man pages and completions show it: the program's name, version and
/// description from `Cli`, and the commands of `Command` (clap has no way to drop a subcommand, and
/// clap_complete would offer a hidden one).
fn documented_cli() -> clap::Command {
    let cli = Cli::command();
    let mut base = clap::Command::new(PROGRAM)
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true);
    if let Some(about) = cli.get_about() {
        base = base.about(about.clone());
    }
    <Command as Subcommand>::augment_subcommands(base)
}

fn run_generate(what: Generated) -> Result<(), ExitCode> {
    let written = match what {
        Generated::Man { dir } => generate::man_pages(documented_cli(), &dir),
        Generated::Completions { shell, dir } => {
            generate::completions(documented_cli(), shell, &dir).map(|p| vec![p])
        }
    };
    match written {
        Ok(paths) => {
            for p in paths {
                println!("{}", p.display());
            }
            Ok(())
        }
        Err(e) => {
            eprintln!("cannot write: {e}");
            Err(ExitCode::from(1))
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visible(cmd: &clap::Command) -> Vec<String> {
        cmd.get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| s.get_name().to_owned())
            .collect()
    }

    #[test]
    fn the_documented_command_line_is_the_parsed_one_without_generate() {
        Cli::command().debug_assert();
        documented_cli().debug_assert();
        let cli = Cli::command();
        let doc = documented_cli();
        assert_eq!(visible(&cli), visible(&doc));
        assert!(cli.find_subcommand("generate").is_some());
        assert!(doc.find_subcommand("generate").is_none());
        assert_eq!(doc.get_name(), cli.get_name());
        assert_eq!(doc.get_version(), cli.get_version());
        assert_eq!(
            doc.get_about().map(|a| a.to_string()),
            cli.get_about().map(|a| a.to_string())
        );
        let doc_check = doc.find_subcommand("check").map(|c| {
            c.get_arguments()
                .map(|a| a.get_id().to_string())
                .collect::<Vec<_>>()
        });
        assert_eq!(
            doc_check,
            Some(vec!["config".to_owned(), "online".to_owned()])
        );
    }

    #[test]
    fn man_pages_one_per_command_with_their_options() {
        let dir = tempfile::tempdir().unwrap();
        let written = generate::man_pages(documented_cli(), dir.path()).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "ldap-graph-gateway-check.1",
                "ldap-graph-gateway-demo.1",
                "ldap-graph-gateway-explain.1",
                "ldap-graph-gateway-hash-password.1",
                "ldap-graph-gateway-serve.1",
                "ldap-graph-gateway.1",
            ]
        );
        // roff escapes each hyphen as `\-`; the assertions read the text without the escapes.
        let page = |n: &str| {
            std::fs::read_to_string(dir.path().join(n))
                .unwrap()
                .replace("\\-", "-")
        };
        let check = page("ldap-graph-gateway-check.1");
        assert!(
            check.contains("\n.TH ldap-graph-gateway-check 1 "),
            "{check}"
        );
        assert!(check.contains("--online"), "{check}");
        assert!(
            check.contains(&format!("[default: {DEFAULT_CONFIG}]")),
            "{check}"
        );
        let top = page("ldap-graph-gateway.1");
        assert!(top.contains("ldap-graph-gateway-explain(1)"), "{top}");
        assert!(
            !written
                .iter()
                .any(|p| page(&p.file_name().unwrap().to_string_lossy()).contains("generate"))
        );
    }

    #[test]
    fn completions_offer_every_command_and_not_generate() {
        let dir = tempfile::tempdir().unwrap();
        for (shell, file) in [
            (clap_complete::Shell::Bash, "ldap-graph-gateway.bash"),
            (clap_complete::Shell::Zsh, "_ldap-graph-gateway"),
            (clap_complete::Shell::Fish, "ldap-graph-gateway.fish"),
        ] {
            let path = generate::completions(documented_cli(), shell, dir.path()).unwrap();
            assert_eq!(path, dir.path().join(file));
            let script = std::fs::read_to_string(&path).unwrap();
            for command in [
                "serve",
                "demo",
                "check",
                "explain",
                "hash-password",
                "--online",
            ] {
                assert!(script.contains(command), "{file} lacks {command}");
            }
            assert!(!script.contains("generate"), "{file} offers generate");
        }
    }
}
