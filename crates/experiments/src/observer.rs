//! What an experiment tells its caller while it runs: milestones in words, and per-run observers of
//! the Langevin iterations and of training (progress bars, stop requests).

use hessrank_core::Result;
use hessrank_core::atomic::{read_json, write_json_atomic};
use hessrank_rank::langevin::{Iteration, NullObserver, Observer, StartInfo, TracePoint, TraceRecorder};
use hessrank_train::TrainObserver;
use std::path::PathBuf;

/// Receives an experiment's progress. Every method has a silent default.
pub trait ExperimentObserver {
    /// A milestone of the experiment, in words (e.g. "loading models/dncnn-mnist").
    fn note(&mut self, _line: &str) {}

    /// An observer of the Langevin run named `label` (e.g. "σ² = 1.0e-5: real loss"); returning
    /// `false` from its `iteration` stops the run, which then ends partial.
    fn langevin(&mut self, _label: &str) -> Box<dyn Observer + '_> {
        Box::new(NullObserver)
    }

    /// An observer of training; returning `false` from its `step` stops training (it resumes from
    /// its last checkpoint next time).
    fn training(&mut self) -> Box<dyn TrainObserver + '_> {
        Box::new(())
    }
}

/// An observer that takes nothing in: experiments run silently to the end.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quiet;

impl ExperimentObserver for Quiet {}

/// A [`TraceRecorder`] kept in a JSON file beside a run's saved state, so that a resumed run's
/// trace covers the whole run: loaded on resume, written atomically every `every` iterations and
/// when the run stops (in memory only without a file).
pub struct PersistentTrace {
    /// The recorded trace.
    pub trace: TraceRecorder,
    path: Option<PathBuf>,
    every: usize,
    last_saved: usize,
    /// The last write error, reported once by [`PersistentTrace::finish`].
    error: Option<hessrank_core::Error>,
}

impl PersistentTrace {
    /// A trace kept in `path` (when given), saved every `every` iterations; with `resume`, the
    /// trace saved there is loaded first (points the resumed run repeats are replaced as they come
    /// again).
    pub fn new(path: Option<PathBuf>, every: usize, resume: bool) -> Result<Self> {
        let mut trace = TraceRecorder::default();
        if let Some(p) = path.as_ref().filter(|p| resume && p.is_file()) {
            trace.points = read_json(p)?;
        }
        Ok(Self { trace, path, every: every.max(1), last_saved: 0, error: None })
    }

    /// Saves the trace once more and returns its points, or the first write error.
    pub fn finish(mut self) -> Result<Vec<TracePoint>> {
        self.save(self.last_saved);
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.trace.points),
        }
    }

    fn save(&mut self, k: usize) {
        self.last_saved = k;
        if let Some(path) = &self.path
            && let Err(e) = write_json_atomic(path, &self.trace.points)
        {
            self.error.get_or_insert(e);
        }
    }
}

impl Observer for PersistentTrace {
    fn start(&mut self, info: &StartInfo) {
        self.trace.start(info);
    }

    fn next_stage(&mut self, stage: &hessrank_rank::langevin::Stage, k_tot: usize) {
        self.trace.next_stage(stage, k_tot);
    }

    fn iteration(&mut self, it: &Iteration<'_>) -> bool {
        self.trace.iteration(it);
        if it.k >= self.last_saved + self.every {
            self.save(it.k);
        }
        true
    }
}
