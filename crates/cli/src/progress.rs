//! Progress bars for long runs (indicatif): iteration, current loss, running rank estimate, ETA.

use hessrank_rank::langevin::{Iteration, Observer, StartInfo, TraceRecorder};
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

pub use hessrank_rank::langevin::TracePoint;

/// A bar for the Langevin run; also records the mean loss trace (a [`TraceRecorder`]) for plots
/// and CSV.
pub struct LangevinProgress {
    bar: ProgressBar,
    /// The recorded trace.
    pub trace: TraceRecorder,
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
        Self { bar, trace: TraceRecorder::default(), stop, persist: None }
    }

    /// Keeps the trace in `path` (JSON, written atomically every `every` iterations and when the
    /// run stops), so that the plots and CSV of a resumed run cover the whole run. With `resume`,
    /// the trace saved there is loaded first; points at or after the iteration the run resumes
    /// from are dropped as they come again.
    pub fn persist_trace(mut self, path: PathBuf, every: usize, resume: bool) -> anyhow::Result<Self> {
        if resume && path.is_file() {
            self.trace.points = hessrank_core::atomic::read_json(&path)?;
        }
        self.persist = Some((path, every.max(1), 0));
        Ok(self)
    }

    fn save_trace(&mut self, k: usize) {
        if let Some((path, _, last)) = &mut self.persist {
            *last = k;
            if let Err(e) = hessrank_core::atomic::write_json_atomic(path, &self.trace.points) {
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
    }

    fn iteration(&mut self, it: &Iteration<'_>) -> bool {
        let k = it.k;
        self.trace.iteration(it);
        let p = self.trace.points.last().copied().expect("just recorded");
        self.bar.set_position(k as u64 + 1);
        self.bar.set_message(format!("loss {:.6e}  4/σ²·excess {:.1}", p.mean_loss, p.mean_excess));
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

impl Drop for LangevinProgress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for TrainProgress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// The CLI's observer of an experiment: milestones printed, a progress bar per run and per
/// training, Ctrl-C as the stop request.
pub struct CliObserver {
    quiet: bool,
    stop: Arc<AtomicBool>,
}

impl CliObserver {
    /// Bars hidden when `quiet`; runs stop when `stop` is raised.
    pub fn new(quiet: bool, stop: Arc<AtomicBool>) -> Self {
        Self { quiet, stop }
    }
}

impl hessrank_experiments::ExperimentObserver for CliObserver {
    fn note(&mut self, line: &str) {
        println!("{line}");
    }

    fn langevin(&mut self, label: &str) -> Box<dyn Observer + '_> {
        let prefix = label.split(':').next().unwrap_or(label);
        Box::new(LangevinProgress::new(prefix, self.quiet, self.stop.clone()))
    }

    fn training(&mut self) -> Box<dyn TrainObserver + '_> {
        Box::new(TrainProgress::new(self.quiet, self.stop.clone()))
    }
}
