//! What produced this process's results (versions, backend, dtype, seed, the command line),
//! handed to the library's run store, which adds it to every JSON object a run writes.

/// The version of a package in the workspace's `Cargo.lock` (compiled in, so it names what this
/// binary was built against).
pub fn locked_version(package: &str) -> Option<&'static str> {
    let lock = include_str!("../../../Cargo.lock");
    let header = format!("name = \"{package}\"\nversion = \"");
    let start = lock.find(&header)? + header.len();
    lock[start..].split('"').next()
}

/// Records the provenance of this process's results. Called once by `main`.
pub fn set_provenance(backend: &str, dtype: &str, seed: u64) {
    hessrank_experiments::store::set_provenance(serde_json::json!({
        "hessrank": env!("CARGO_PKG_VERSION"),
        "burn": locked_version("burn"),
        "backend": backend,
        "dtype": dtype,
        "seed": seed,
        "command": std::env::args().collect::<Vec<_>>(),
    }));
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_locked_burn_version_is_the_one_the_workspace_pins() {
        let manifest = include_str!("../../../Cargo.toml");
        let pinned = manifest
            .lines()
            .find(|l| l.trim_start().starts_with("burn ="))
            .and_then(|l| l.split("version = \"=").nth(1))
            .and_then(|v| v.split('"').next())
            .expect("burn pinned in Cargo.toml");
        assert_eq!(super::locked_version("burn"), Some(pinned));
        assert_eq!(super::locked_version("no-such-package"), None);
    }
}
