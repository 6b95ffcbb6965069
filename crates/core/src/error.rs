//! Typed errors of the library crates: every variant names the thing, the value and what was expected.

use std::path::PathBuf;

/// The result type of hessrank's library crates.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong on user input or I/O. Library code returns these; it never panics
/// on user input.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },
    /// A file's content is not what its format requires.
    #[error("{path}: {problem}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the value found and the value expected.
        problem: String,
    },
    /// A configuration value is out of its allowed range.
    #[error("invalid {field} = {value}: {expected}")]
    InvalidConfig {
        /// The configuration field (front ends map it to their own option names).
        field: &'static str,
        /// The value given.
        value: String,
        /// What is allowed.
        expected: String,
    },
    /// A saved run (a resume state, a checkpoint, a run to merge) was made with other settings than
    /// the ones given now.
    #[error("{path}: {field} = {saved} there, but {given} here; use the same settings (or start a new run)")]
    SettingsMismatch {
        /// The saved file or folder.
        path: PathBuf,
        /// The first setting that differs.
        field: &'static str,
        /// Its value in the saved run.
        saved: String,
        /// The value it must match (the settings given now, or the first run's when merging).
        given: String,
    },
    /// Two things that must agree in shape or layout do not.
    #[error("shape mismatch in {what}: expected {expected}, found {found}")]
    Shape {
        /// What was compared.
        what: String,
        /// The expected shape or layout.
        expected: String,
        /// The shape or layout found.
        found: String,
    },
    /// A (de)serialisation of JSON failed.
    #[error("{path}: invalid JSON: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// An iteration left its stable region: the loss became non-finite or rose above its bound.
    #[error(
        "{phase} diverged at iteration {iteration}{}: loss {loss:.6e} above the bound {bound:.6e}; step {eta:.3e}{} — use a smaller step{}",
        chain.map(|c| format!(" (chain {c})")).unwrap_or_default(),
        eta_mu_max.map(|x| format!(", η μ_max = {x:.3}")).unwrap_or_default(),
        if eta_mu_max.is_some() { " (η μ_max < 2) or a preconditioner" } else { "" }
    )]
    Diverged {
        /// What was iterating: `"langevin"`, `"sgd"` or `"gd"`.
        phase: &'static str,
        /// The iteration (the epoch for SGD).
        iteration: usize,
        /// The chain, where several run.
        chain: Option<usize>,
        /// The loss reached (possibly NaN or infinite).
        loss: f64,
        /// The largest loss allowed (infinite where only non-finite losses count as divergence).
        bound: f64,
        /// The step size (η, or the learning rate).
        eta: f64,
        /// η times the largest eigenvalue of G^½HG^½, where measured.
        eta_mu_max: Option<f64>,
    },
    /// The automatic step η = c/μ_max needs μ_max > 0, and the power iteration did not give one.
    #[error(
        "automatic step: the largest eigenvalue of G^½HG^½ came out as {mu_max:?}, so θ_0 is not near a minimum; give a fixed step"
    )]
    NoStepSize {
        /// The power iteration's result.
        mu_max: Option<f64>,
    },
    /// The run ended with too few iterations in its averaging window for an estimate with an error
    /// bar.
    #[error(
        "{done} iterations of the averaging window done at iteration {iteration} of {k_tot}: too few for an estimate with an error bar (≥ {needed})"
    )]
    TooFewSamples {
        /// Window iterations recorded.
        done: usize,
        /// Window iterations needed.
        needed: usize,
        /// The iteration reached.
        iteration: usize,
        /// K_tot.
        k_tot: usize,
    },
    /// The run was stopped on request (Ctrl-C or an observer) before it had a result.
    #[error(
        "interrupted: {phase} stopped at iteration {iteration} of {total}{}",
        resume.as_ref().map(|p| format!("; run the same command again to resume from {}", p.display())).unwrap_or_default()
    )]
    Interrupted {
        /// What was running: `"langevin"`, `"sgd"`, `"gd"`, `"lbfgs"` or `"adam"`.
        phase: &'static str,
        /// The iteration reached.
        iteration: usize,
        /// The iterations planned.
        total: usize,
        /// Where the saved state is, when there is one.
        resume: Option<PathBuf>,
    },
    /// Encoding or converting data failed inside a dependency (e.g. safetensors, Burn's
    /// `TensorData`).
    #[error("{what}: {message}")]
    Encoding {
        /// What was being encoded or converted.
        what: &'static str,
        /// The dependency's message.
        message: String,
    },
    /// A device could not be configured.
    #[error("device: {0}")]
    Device(String),
    /// The objective gave two different values at the same parameters: it is not a function of θ
    /// (it resamples data or noise, or reduces in a varying order), so it has no Hessian to measure.
    #[error(
        "the objective is not deterministic: two evaluations at θ₀ gave {what} {first:.17e} and {second:.17e} \
         (difference {:.3e} above the rounding tolerance {tolerance:.3e}); fix the data and the noise of the loss",
        (first - second).abs()
    )]
    Nondeterministic {
        /// What differed: `"loss"` or `"gradient norm"` (the norm of the gradients' difference is
        /// reported as `second`, with `first` = 0).
        what: &'static str,
        /// The first evaluation's value.
        first: f64,
        /// The second evaluation's value.
        second: f64,
        /// The largest difference taken for rounding.
        tolerance: f64,
    },
    /// A named tensor of a weights or data file cannot be used as it is.
    #[error("{path}: tensor {key:?} {problem}")]
    Tensor {
        /// The file.
        path: PathBuf,
        /// The tensor's key (the file's name for it where it was renamed on loading).
        key: String,
        /// What is wrong with it.
        problem: TensorProblem,
    },
}

/// What is wrong with one named tensor of a weights or data file (see [`Error::Tensor`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TensorProblem {
    /// The model or the objective needs it and the file does not have it.
    #[error("is missing (expected shape {expected:?})")]
    Missing {
        /// The shape the model expects.
        expected: Vec<usize>,
    },
    /// The file has it and nothing uses it.
    #[error("is not used by the model (shape {shape:?}); rename it onto a parameter or allow a partial load")]
    Unused {
        /// Its shape in the file.
        shape: Vec<usize>,
    },
    /// Its shape is not the one expected.
    #[error("has shape {found:?}, expected {expected:?}")]
    Shape {
        /// The shape required.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// Its element type cannot be used here.
    #[error("has dtype {found}, expected {expected}")]
    Dtype {
        /// What is accepted.
        expected: String,
        /// The file's dtype.
        found: String,
    },
    /// It holds a NaN or an infinity.
    #[error("holds the non-finite value {value} at flat index {index}")]
    NonFinite {
        /// The first offending element's flat index.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// An integer entry is outside its allowed range (e.g. a class label).
    #[error("holds {value} at flat index {index}, outside {allowed}")]
    OutOfRange {
        /// The flat index.
        index: usize,
        /// The value found.
        value: i64,
        /// The allowed range.
        allowed: String,
    },
}

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// An [`Error::Format`] for `path`.
    pub fn format(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        Error::Format { path: path.into(), problem: problem.into() }
    }

    /// An [`Error::InvalidConfig`].
    pub fn config(field: &'static str, value: impl ToString, expected: impl Into<String>) -> Self {
        Error::InvalidConfig { field, value: value.to_string(), expected: expected.into() }
    }
}

/// The first of `fields` whose value differs between two JSON objects (a saved run's settings and
/// the ones given now), with both values as JSON text; `None` when all agree.
pub fn first_difference(
    saved: &serde_json::Value,
    given: &serde_json::Value,
    fields: &[&'static str],
) -> Option<(&'static str, String, String)> {
    let text = |v: &serde_json::Value, f: &str| v.get(f).map_or_else(|| "(absent)".to_string(), |x| x.to_string());
    fields.iter().find(|f| saved.get(**f) != given.get(**f)).map(|f| (*f, text(saved, f), text(given, f)))
}
