//! The run store: the one owner of a run folder, `<root>/<command>-<timestamp>/`. Every file name a
//! run writes is a constant here, every writer goes through it (atomically, with the process's
//! provenance added to each JSON object), and `merge` reads runs back through it.

use hessrank_core::atomic::{read_json, write_atomic, write_json_atomic};
use hessrank_core::{Error, Result};
use hessrank_rank::RankEstimate;
use hessrank_rank::langevin::TracePoint;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The settings of the run (`config.json`).
pub const CONFIG: &str = "config.json";
/// The run's result (`result.json`): the command's report.
pub const RESULT: &str = "result.json";
/// The Algorithm 1 estimate of the run (`estimate.json`), whatever the command: what `merge` reads.
pub const ESTIMATE: &str = "estimate.json";
/// The averaging window's per-chain excess traces (`window-traces.json`): what `merge` pools.
pub const WINDOW_TRACES: &str = "window-traces.json";
/// The recorded mean trace (`trace.csv`).
pub const TRACE: &str = "trace.csv";
/// The rank at every eigenvalue threshold, thinned (`threshold.json`).
pub const THRESHOLD: &str = "threshold.json";
/// The saved Langevin state of a run's first σ² (`langevin-state.json`): a folder holding it can be
/// resumed.
pub const STATE: &str = "langevin-state.json";

/// What produced this process's results; added to every JSON object a run writes.
static PROVENANCE: OnceLock<serde_json::Value> = OnceLock::new();

/// Records the provenance added to every JSON object written through a [`RunStore`] (versions,
/// backend, dtype, seed, the command line). The first call wins; later calls change nothing.
pub fn set_provenance(provenance: serde_json::Value) {
    let _ = PROVENANCE.set(provenance);
}

/// A run folder and its files.
#[derive(Debug, Clone)]
pub struct RunStore {
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

/// The result of a run stopped before it had an estimate.
#[derive(Serialize)]
struct Interrupted {
    partial: bool,
    estimate: Option<RankEstimate>,
}

impl RunStore {
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
        std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        Ok(Self { path })
    }

    /// An existing run folder (for reading, or to continue).
    pub fn open(path: &Path) -> Result<Self> {
        if !path.is_dir() {
            return Err(Error::format(path, "not a run folder (no such directory)"));
        }
        Ok(Self { path: path.to_path_buf() })
    }

    /// The folder of an earlier `command` run to resume (it must hold [`STATE`]), or a new one.
    pub fn resume_or_create(resume: Option<&Path>, root: &Path, command: &str) -> Result<Self> {
        match resume {
            Some(d) if d.join(STATE).is_file() => Ok(Self { path: d.to_path_buf() }),
            Some(d) => Err(Error::format(d, format!("no {STATE} here: give the folder of an earlier {command} run"))),
            None => Self::create(root, command),
        }
    }

    /// The path of `name` in the folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `name` as pretty JSON, atomically; a JSON object gets a `provenance` entry.
    pub fn json<T: Serialize>(&self, name: &str, value: &T) -> Result<PathBuf> {
        let p = self.file(name);
        let mut value = serde_json::to_value(value).map_err(|source| Error::Json { path: p.clone(), source })?;
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
        let p = self.file(name);
        write_atomic(&p, text.as_bytes())?;
        Ok(p)
    }

    /// Writes an Algorithm 1 estimate: [`ESTIMATE`] and its window traces ([`WINDOW_TRACES`]).
    pub fn write_estimate(&self, r: &RankEstimate) -> Result<()> {
        self.json(ESTIMATE, r)?;
        self.json(WINDOW_TRACES, &r.traces)?;
        Ok(())
    }

    /// Writes the recorded mean trace of a run ([`TRACE`]).
    pub fn write_trace(&self, trace: &[TracePoint]) -> Result<()> {
        self.csv(
            TRACE,
            &["iteration", "mean_loss", "mean_scaled_excess", "companion_loss"],
            trace.iter().map(|p| vec![p.k as f64, p.mean_loss, p.mean_excess, p.companion.unwrap_or(f64::NAN)]),
        )?;
        Ok(())
    }

    /// Marks the run as stopped before its averaging window: [`RESULT`] says partial, no estimate.
    pub fn write_interrupted(&self) -> Result<()> {
        self.json(RESULT, &Interrupted { partial: true, estimate: None })?;
        Ok(())
    }

    /// The finished estimate of the run with its window traces, as [`RunStore::write_estimate`]
    /// wrote them (what `merge` pools).
    pub fn read_estimate(&self) -> Result<RankEstimate> {
        let path = self.file(ESTIMATE);
        if !path.is_file() {
            let partial = read_json::<serde_json::Value>(&self.file(RESULT))
                .is_ok_and(|v| v.get("partial").and_then(|p| p.as_bool()) == Some(true));
            return Err(Error::format(
                &self.path,
                if partial {
                    "a partial run with no estimate (continue it first)".to_string()
                } else {
                    format!("no {ESTIMATE}: not a finished estimate run")
                },
            ));
        }
        let mut estimate: RankEstimate = read_json(&path)?;
        estimate.traces = read_json(&self.file(WINDOW_TRACES))?;
        Ok(estimate)
    }
}
