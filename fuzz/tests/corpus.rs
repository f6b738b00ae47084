//! The regression test of the fuzz targets: every committed corpus file
//! (`fuzz/corpus/<target>/`, seeds, AFL finds and fixed crashes alike) runs through its
//! target as AFL would run it. Knows the targets only by `TARGETS`.

use std::fs;
use std::path::Path;

use ldap_graph_gateway_fuzz::TARGETS;

#[test]
fn every_corpus_file_runs_through_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut failing = Vec::new();
    for (name, run) in TARGETS {
        let dir = root.join(name);
        let mut files: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.expect("a corpus entry").path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{} holds no corpus file", dir.display());
        for path in &files {
            let data = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                failing.push(format!("{name}: {}", path.display()));
            }
        }
        eprintln!("{name}: {} corpus files replayed", files.len());
    }
    assert!(
        failing.is_empty(),
        "{} corpus files panic (messages above):\n{}",
        failing.len(),
        failing.join("\n")
    );
}
