//! Progress bars for long runs (indicatif): iteration, current loss, running rank estimate, ETA.

use hessrank_rank::langevin::{Observer, StartInfo};
use hessrank_train::TrainObserver;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} {msg} (eta {eta})")
        .expect("valid template")
        .progress_chars("=> ")
}

/// One recorded iteration: (iteration, mean loss over chains, the drift chain's loss).
pub type TracePoint = (usize, f64, Option<f64>);

/// A bar for the Langevin run; also collects the mean loss trace for plots and CSV.
pub struct LangevinProgress {
    bar: ProgressBar,
    scale: f64,
    loss0: f64,
    /// (iteration, mean loss over chains, drift chain's loss).
    pub trace: Vec<TracePoint>,
    stop: Arc<AtomicBool>,
    /// Where the trace is kept between resumes, how often it is saved, the last iteration saved.
    persist: Option<(PathBuf, usize, usize)>,
}

impl LangevinProgress {
    /// A bar titled `prefix`, hidden when `quiet`; `stop` is raised by Ctrl-C.
    pub fn new(prefix: &str, quiet: bool, stop: Arc<AtomicBool>) -> Self {
        let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new(1) };
        bar.set_style(style());
        bar.set_prefix(prefix.to_string());
        Self { bar, scale: 1.0, loss0: 0.0, trace: Vec::new(), stop, persist: None }
    }

    /// Keeps the trace in `path` (JSON, written atomically every `every` iterations and when the
    /// run stops), so that the plots and CSV of a resumed run cover the whole run. With `resume`,
    /// the trace saved there is loaded first; points at or after the iteration the run resumes
    /// from are dropped as they come again.
    pub fn persist_trace(mut self, path: PathBuf, every: usize, resume: bool) -> anyhow::Result<Self> {
        if resume && path.is_file() {
            self.trace = hessrank_core::atomic::read_json(&path)?;
        }
        self.persist = Some((path, every.max(1), 0));
        Ok(self)
    }

    fn save_trace(&mut self, k: usize) {
        if let Some((path, _, last)) = &mut self.persist {
            *last = k;
            if let Err(e) = hessrank_core::atomic::write_json_atomic(path, &self.trace) {
                self.bar.suspend(|| eprintln!("warning: could not save the loss trace: {e}"));
            }
        }
    }

    /// Closes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Observer for LangevinProgress {
    fn start(&mut self, info: &StartInfo) {
        self.bar.set_length(info.k_tot as u64);
        self.scale = 4.0 / info.sigma2;
        self.loss0 = info.loss0.iter().sum::<f64>() / info.loss0.len() as f64;
    }

    fn iteration(&mut self, k: usize, losses: &[f64], drift: Option<f64>) -> bool {
        let mean = losses.iter().sum::<f64>() / losses.len() as f64;
        while self.trace.last().is_some_and(|p| p.0 >= k) {
            self.trace.pop();
        }
        self.trace.push((k, mean, drift));
        self.bar.set_position(k as u64 + 1);
        self.bar.set_message(format!("loss {mean:.6e}  4/σ²·(L−L₀) {:.1}", self.scale * (mean - self.loss0)));
        let go_on = !self.stop.load(Ordering::Relaxed);
        if let Some((_, every, last)) = self.persist
            && (!go_on || k >= last + every)
        {
            self.save_trace(k);
        }
        go_on
    }
}

/// A bar for training phases.
pub struct TrainProgress {
    bar: ProgressBar,
    phase: String,
    stop: Arc<AtomicBool>,
}

impl TrainProgress {
    /// A training bar, hidden when `quiet`.
    pub fn new(quiet: bool, stop: Arc<AtomicBool>) -> Self {
        let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new(1) };
        bar.set_style(style());
        Self { bar, phase: String::new(), stop }
    }

    /// Closes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl TrainObserver for TrainProgress {
    fn step(&mut self, phase: &str, step: usize, total: usize, loss: f64, grad_norm: f64) -> bool {
        if phase != self.phase {
            self.phase = phase.to_string();
            self.bar.reset();
            self.bar.set_prefix(phase.to_string());
            self.bar.set_length(total as u64);
        }
        self.bar.set_position(step as u64);
        let g = if grad_norm.is_finite() { format!("  ‖∇L‖ {grad_norm:.3e}") } else { String::new() };
        self.bar.set_message(format!("loss {loss:.6e}{g}"));
        !self.stop.load(Ordering::Relaxed)
    }
}
