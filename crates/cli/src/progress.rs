//! Progress bars for long runs (indicatif): iteration, current loss, running rank estimate, ETA.

use hessrank_rank::langevin::{Iteration, Observer, StartInfo};
use hessrank_train::TrainObserver;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} {msg} (eta {eta})")
        .expect("valid template")
        .progress_chars("=> ")
}

/// A bar for one Langevin run: iteration, mean loss and scaled excess, ETA; Ctrl-C stops the run.
pub struct LangevinProgress {
    bar: ProgressBar,
    stop: Arc<AtomicBool>,
    /// Redraw every this many iterations (about 1,000 updates a run).
    every: usize,
}

impl LangevinProgress {
    /// A bar titled `prefix`, hidden when `quiet`; `stop` is raised by Ctrl-C.
    pub fn new(prefix: &str, quiet: bool, stop: Arc<AtomicBool>) -> Self {
        let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new(1) };
        bar.set_style(style());
        bar.set_prefix(prefix.to_string());
        Self { bar, stop, every: 1 }
    }
}

impl Observer for LangevinProgress {
    fn start(&mut self, info: &StartInfo) {
        for w in &info.warnings {
            self.bar.println(format!("warning: {w}"));
        }
        self.bar.set_length(info.k_tot as u64);
        self.every = (info.k_tot / 1000).max(1);
    }

    fn next_stage(&mut self, stage: &hessrank_rank::langevin::Stage, k_tot: usize) {
        self.bar.println(format!(
            "stage K = {}: {:.1} ± {:.1} (modes above μ_K = {:.3e}); doubling to {k_tot}",
            stage.k_tot, stage.estimate, stage.stderr, stage.threshold
        ));
        self.bar.set_length(k_tot as u64);
        self.every = (k_tot / 1000).max(1);
    }

    fn iteration(&mut self, it: &Iteration<'_>) -> bool {
        if !it.k.is_multiple_of(self.every) {
            return !self.stop.load(Ordering::Relaxed);
        }
        let n = it.losses.len() as f64;
        let mean_loss = it.losses.iter().sum::<f64>() / n;
        let mean_excess = it.excess.iter().sum::<f64>() / n;
        self.bar.set_position(it.k as u64 + 1);
        self.bar.set_message(format!("loss {mean_loss:.6e}  4/σ²·excess {mean_excess:.1}"));
        !self.stop.load(Ordering::Relaxed)
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
