//! The output folder of a run, `results/<command>-<timestamp>/`, and atomic writers for its files.

use anyhow::{Context, Result};
use hessrank_core::atomic::{write_atomic, write_json_atomic};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// What produced this process's results; added to every JSON object a run writes.
static PROVENANCE: OnceLock<serde_json::Value> = OnceLock::new();

/// The version of a package in the workspace's `Cargo.lock` (compiled in, so it names what this
/// binary was built against).
pub fn locked_version(package: &str) -> Option<&'static str> {
    let lock = include_str!("../../../Cargo.lock");
    let header = format!("name = \"{package}\"\nversion = \"");
    let start = lock.find(&header)? + header.len();
    lock[start..].split('"').next()
}

/// Records the provenance added to every JSON result: versions, backend, dtype, seed and the
/// command line. Called once by `main`.
pub fn set_provenance(backend: &str, dtype: &str, seed: u64) {
    let _ = PROVENANCE.set(serde_json::json!({
        "hessrank": env!("CARGO_PKG_VERSION"),
        "burn": locked_version("burn"),
        "backend": backend,
        "dtype": dtype,
        "seed": seed,
        "command": std::env::args().collect::<Vec<_>>(),
    }));
}

/// Where a run writes its files.
pub struct RunDir {
    /// The folder.
    pub path: PathBuf,
}

/// `YYYYMMDD-HHMMSS` (UTC) from the system clock (civil-from-days, H. Hinnant).
pub fn timestamp() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}-{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

impl RunDir {
    /// `<root>/<command>-<timestamp>` (a suffix is added if it exists), created now so an
    /// unwritable output folder fails before any work.
    pub fn create(root: &Path, command: &str) -> Result<Self> {
        let base = root.join(format!("{command}-{}", timestamp()));
        let mut path = base.clone();
        let mut i = 1;
        while path.exists() {
            path = PathBuf::from(format!("{}-{i}", base.display()));
            i += 1;
        }
        std::fs::create_dir_all(&path).with_context(|| {
            format!("cannot create the output folder {}: choose a writable one with --out DIR", path.display())
        })?;
        Ok(Self { path })
    }

    /// The folder of an earlier `command` run to resume (it must hold `state`), or a new one.
    pub fn resume_or_create(resume: Option<&Path>, root: &Path, command: &str, state: &str) -> Result<Self> {
        match resume {
            Some(d) => {
                anyhow::ensure!(
                    d.join(state).is_file(),
                    "--resume {}: no {state} there (give the folder of an earlier {command} run)",
                    d.display()
                );
                Ok(Self { path: d.to_path_buf() })
            }
            None => Self::create(root, command),
        }
    }

    /// Writes `name` as pretty JSON, atomically; a JSON object gets a `provenance` entry (see
    /// [`set_provenance`]).
    pub fn json<T: serde::Serialize>(&self, name: &str, value: &T) -> Result<PathBuf> {
        let p = self.path.join(name);
        let mut value = serde_json::to_value(value)?;
        if let (Some(o), Some(prov)) = (value.as_object_mut(), PROVENANCE.get()) {
            o.insert("provenance".into(), prov.clone());
        }
        write_json_atomic(&p, &value)?;
        Ok(p)
    }

    /// Writes a CSV file (header + rows), atomically. Non-finite numbers are written as empty
    /// fields, never as NaN.
    pub fn csv(&self, name: &str, header: &[&str], rows: impl IntoIterator<Item = Vec<f64>>) -> Result<PathBuf> {
        let mut text = header.join(",");
        text.push('\n');
        for row in rows {
            let fields: Vec<String> =
                row.iter().map(|x| if x.is_finite() { format!("{x}") } else { String::new() }).collect();
            text.push_str(&fields.join(","));
            text.push('\n');
        }
        let p = self.path.join(name);
        write_atomic(&p, text.as_bytes())?;
        Ok(p)
    }
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
