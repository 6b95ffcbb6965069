//! The CLI's own records (`config.json` of its commands, the baseline's and matrix-rank's results,
//! `validation.json`, `per-layer.json`): typed, so every file has one definition of its fields.

use hessrank_experiments::sweep::{FrozenCheck, SweepRow, Value};
use hessrank_rank::baselines::UbaruSaad;
use hessrank_rank::hessian::{TopEigen, TraceEstimate};
use hessrank_rank::validation::PairedDifference;
use hessrank_rank::{LangevinConfig, RankEstimate};
use serde::Serialize;
use std::path::PathBuf;

/// The result of a run stopped before it had an estimate.
#[derive(Serialize)]
pub struct Interrupted {
    /// Always true.
    pub partial: bool,
    /// Always none.
    pub estimate: Option<RankEstimate>,
}

/// Where a model came from, as `estimate` and `spectrum` record it.
#[derive(Serialize)]
pub struct Source<'a> {
    /// The checkpoint or import, in words.
    pub model: &'a str,
    /// `--weights`.
    pub weights: &'a Option<PathBuf>,
    /// `--data`.
    pub data: &'a Option<PathBuf>,
}

/// `estimate`'s `config.json`.
#[derive(Serialize)]
pub struct EstimateConfig<'a> {
    /// The model.
    #[serde(flatten)]
    pub source: Source<'a>,
    /// The preconditioner: adam, identity or a file.
    pub precond: &'a str,
    /// Algorithm 1's settings at the first σ².
    pub langevin: &'a LangevinConfig,
    /// Every σ².
    pub sigma2: &'a [f64],
    /// The backend.
    pub backend: String,
    /// The float type.
    pub dtype: String,
    /// The seed.
    pub seed: u64,
}

/// `spectrum`'s `config.json`.
#[derive(Serialize)]
pub struct SpectrumConfig<'a> {
    /// The model.
    #[serde(flatten)]
    pub source: Source<'a>,
    /// Its parameters.
    pub n_params: usize,
}

/// One σ² of `validation.json`: the frozen chains against the discrete theory on the exact Hessian.
#[derive(Serialize)]
pub struct ValidationRow<'a> {
    /// σ².
    pub sigma2: f64,
    /// The real estimate.
    pub real: Value,
    /// The frozen estimate.
    pub frozen: Value,
    /// real − frozen, paired.
    pub relu_excess: &'a Option<PairedDifference>,
    /// The theory's expected estimate.
    pub theory: f64,
    /// (frozen − theory) / SE.
    pub z_vs_theory: f64,
    /// Within 2.5 SE.
    pub agrees_within_2_5_se: bool,
}

impl<'a> ValidationRow<'a> {
    /// The row of a sweep row with a frozen estimate and a theory.
    pub fn of(row: &'a SweepRow, frozen: Value, theory: f64, check: &FrozenCheck) -> Self {
        Self {
            sigma2: row.sigma2,
            real: row.real,
            frozen,
            relu_excess: &row.relu_excess,
            theory,
            z_vs_theory: check.z,
            agrees_within_2_5_se: check.agrees,
        }
    }
}

/// One block of `estimate --per-layer`.
#[derive(Serialize)]
pub struct BlockRow {
    /// The block's name.
    pub block: String,
    /// Its parameter glob.
    pub params: String,
    /// Its parameters.
    pub n_params: usize,
    /// Its estimate.
    pub result: RankEstimate,
}

/// `baseline`'s `result.json`.
#[derive(Serialize)]
pub struct BaselineResult {
    /// Ubaru–Saad.
    pub ubaru_saad: UbaruSaad,
    /// Lanczos' top eigenvalues.
    pub lanczos: TopEigen,
    /// Hutchinson's trace.
    pub hutchinson: TraceEstimate,
    /// The operator's size.
    pub n_params: usize,
    /// Gradients spent forming the operator.
    pub gradient_evaluations: usize,
    /// The matrix file, for `--matrix`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matrix: Option<PathBuf>,
    /// The model, otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// `matrix-rank`'s `result.json`.
#[derive(Serialize)]
pub struct MatrixRankResult<'a> {
    /// The file.
    pub file: &'a PathBuf,
    /// Its size.
    pub n: usize,
    /// The estimate.
    pub estimate: RankEstimate,
}

/// `merge`'s `config.json`.
#[derive(Serialize)]
pub struct MergeConfig<'a> {
    /// The merged run folders.
    pub merged: &'a [PathBuf],
}
