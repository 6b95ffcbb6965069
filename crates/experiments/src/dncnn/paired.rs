//! One σ²'s paired runs of the DnCNN: the real loss and the frozen-activation objective, the same
//! noise (run by [`crate::paired`]).

use crate::paired::PairedRun;
use hessrank_rank::RankEstimate;
use hessrank_rank::langevin::TracePoint;
use hessrank_rank::validation::PairedDifference;

/// The real and the frozen run of one σ².
#[derive(Debug, Clone)]
pub struct Paired {
    /// Algorithm 1 on the real loss.
    pub real: RankEstimate,
    /// Its recorded mean trace.
    pub real_trace: Vec<TracePoint>,
    /// The same chains on the frozen-activation objective (θ₀'s ReLU pattern fixed).
    pub frozen: RankEstimate,
    /// Its recorded mean trace.
    pub frozen_trace: Vec<TracePoint>,
    /// real − frozen, chain by chain: the loss the Hessian does not see.
    pub relu_excess: PairedDifference,
}

impl Paired {
    /// The pair of a [`PairedRun`] that ran its frozen half.
    pub fn of(run: PairedRun) -> Self {
        let frozen = run.frozen.expect("the DnCNN experiment always runs the frozen chains");
        Self {
            real: run.real,
            real_trace: run.trace,
            frozen: frozen.estimate,
            frozen_trace: frozen.trace,
            relu_excess: frozen.relu_excess,
        }
    }
}
