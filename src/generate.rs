//! Writes the man pages (clap_mangen) and shell completions (clap_complete) from the command line's
//! own clap definitions, so the packaged documentation cannot drift from `--help`. It only writes files
//! into the directory it is given; what goes where on a system is the package's business (Cargo.toml).

use std::io;
use std::path::{Path, PathBuf};

use clap_complete::Shell;

/// Writes `<name>.1` for the program and `<name>-<command>.1` for each visible command into `dir`
/// (created if missing), and returns the paths written.
pub fn man_pages(cmd: clap::Command, dir: &Path) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    clap_mangen::generate_to(cmd, dir)?;
    let mut written: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "1"))
        .collect();
    written.sort();
    Ok(written)
}

/// Writes the completion script for `shell` into `dir` (created if missing) under the name that
/// shell's generator chooses (`<name>.bash`, `_<name>`, `<name>.fish`), and returns its path.
pub fn completions(mut cmd: clap::Command, shell: Shell, dir: &Path) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let name = cmd.get_name().to_string();
    clap_complete::generate_to(shell, &mut cmd, name, dir)
}
