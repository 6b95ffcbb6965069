//! The CLI's own records (`config.json` of its commands, matrix-rank's result, `merge`'s config):
//! typed, so every file has one definition of its fields.

use hessrank_rank::{LangevinConfig, RankEstimate};
use serde::Serialize;
use std::path::PathBuf;

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
