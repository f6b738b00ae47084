//! Command line of ldap-graph-gateway (CONTRACT §2): parses arguments, sets up logging and
//! runs one command. Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

mod demo;

use clap::{Parser, Subcommand};
use ldap_graph_gateway::{app, config::Config, ldap::accounts};

const DEFAULT_CONFIG: &str = "/etc/ldap-graph-gateway/config.toml";

/// An LDAP directory for desk phones and LDAP clients, answered live from Microsoft
/// Graph (Entra ID users and organizational contacts). Nothing is synced or stored.
#[derive(Parser)]
#[command(name = "ldap-graph-gateway", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}
