//! The premises of Algorithm 1 and of U&S, checked on the exact spectrum and on the chains: θ₀ a
//! minimum (Proposition 1), U&S's interval covering the spectrum (it assumes a PSD matrix), and the
//! quadratic model kept along BatchNorm's scale-invariant directions.

use hessrank_core::atomic::read_json;
use hessrank_core::{Result, params::flatten_f64};
use hessrank_models::DnCnn;
use hessrank_rank::baselines::chebyshev_blowup;
use hessrank_rank::hessian::Spectrum;
use hessrank_rank::langevin::LangevinState;
use hessrank_rank::validation::{ScaleDrift, scale_drift};
use serde::Serialize;
use std::path::Path;

/// Above this share of Σ|λ| in negative eigenvalues, θ₀ is reported as no minimum (the N = 256
/// checkpoint's round-off share is far below it).
pub const NOT_A_MINIMUM_SHARE: f64 = 1e-2;

/// Above this magnification of U&S's filter below its interval, its count is reported as void.
pub const US_BLOWUP_LIMIT: f64 = 2.0;

/// Above this ratio of a BatchNorm-fed channel's norm to θ₀'s, the drift is reported (the
/// curvature of the channel has fallen by its square, over 1.5×).
pub const SCALE_DRIFT_LIMIT: f64 = 1.25;

/// A premise of Algorithm 1 or of U&S that the exact spectrum or the chains show broken, with its
/// numbers; `Display` says what it means.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CheckWarning {
    /// Negative eigenvalues carry more than [`NOT_A_MINIMUM_SHARE`] of Σ|λ|.
    NotAMinimum {
        /// Negative eigenvalues.
        negatives: usize,
        /// The smallest eigenvalue.
        lambda_min: f64,
        /// Their share of Σ|λ|.
        share: f64,
        /// ‖∇L(θ₀)‖.
        grad_norm: f64,
    },
    /// λ_min lies below U&S's interval, where its filter is magnified beyond [`US_BLOWUP_LIMIT`].
    UsOutsideInterval {
        /// The smallest eigenvalue.
        lambda_min: f64,
        /// The filter's degree.
        degree: usize,
        /// The filter's largest magnification there.
        blowup: f64,
    },
    /// The chains grew the norms of BatchNorm-fed channels beyond [`SCALE_DRIFT_LIMIT`].
    ScaleDrift {
        /// The channels.
        channels: usize,
        /// The smallest and largest norm ratio over chains and channels.
        ratios: [f64; 2],
        /// The iteration of the saved state.
        k: usize,
    },
}

impl std::fmt::Display for CheckWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            CheckWarning::NotAMinimum { negatives, lambda_min, share, grad_norm } => write!(
                f,
                "θ₀ is not a minimum: {negatives} negative eigenvalues (λ_min {lambda_min:.3e}) carry {:.1} % of \
                 Σ|λ|, and ‖∇L‖ = {grad_norm:.3e}; Algorithm 1 and the energy captured assume a minimum \
                 (Proposition 1), so they mean little here",
                100.0 * share
            ),
            CheckWarning::UsOutsideInterval { lambda_min, degree, blowup } => write!(
                f,
                "Ubaru–Saad assumes a PSD matrix: λ_min {lambda_min:.3e} lies below its interval, where its \
                 degree-{degree} filter is magnified up to ×{blowup:.1e}; its count is not meaningful here"
            ),
            CheckWarning::ScaleDrift { channels, ratios: [lo, hi], k } => write!(
                f,
                "the noise grew the norms of the {channels} channels feeding BatchNorm (flat directions of the loss, \
                 which a noise-free step leaves alone) by ×{lo:.2}–×{hi:.2} by k = {k}: their curvature fell by up \
                 to ×{:.0}, so the theory at θ₀ over-predicts the modes that equilibrate; a shorter K_tot or a \
                 smaller σ² keeps the quadratic model",
                hi * hi
            ),
        }
    }
}

/// What the exact spectrum says about the assumptions of Algorithm 1 and of U&S.
pub fn spectrum_warnings(spectrum: &Spectrum, grad_norm: f64, us_degree: usize) -> Vec<CheckWarning> {
    let mut warnings = Vec::new();
    let share = spectrum.negative_share();
    if share > NOT_A_MINIMUM_SHARE {
        warnings.push(CheckWarning::NotAMinimum {
            negatives: spectrum.negatives(0.0),
            lambda_min: spectrum.min(),
            share,
            grad_norm,
        });
    }
    let blowup = chebyshev_blowup(spectrum.min(), spectrum.max(), us_degree);
    if blowup > US_BLOWUP_LIMIT {
        warnings.push(CheckWarning::UsOutsideInterval { lambda_min: spectrum.min(), degree: us_degree, blowup });
    }
    warnings
}

/// The chains' drift along the DnCNN's scale-invariant channels, from a run's saved state.
#[derive(Debug, Clone, Serialize)]
pub struct BnScaleDrift {
    /// The iteration of the saved state.
    pub k: usize,
    /// Each channel's norm ratios.
    pub channels: Vec<ScaleDrift>,
}

/// The drift at the end of the run saved in `state`, or `None` when the model has no BatchNorm or
/// no state was saved.
pub fn bn_scale_drift(state: &Path, model: &DnCnn) -> Result<Option<BnScaleDrift>> {
    let groups = model.scale_invariant_groups();
    if groups.is_empty() || !state.exists() {
        return Ok(None);
    }
    let saved: LangevinState = read_json(state)?;
    let theta0 = flatten_f64(model);
    Ok(Some(BnScaleDrift { k: saved.k, channels: scale_drift(&theta0, &saved.chain_params(), &groups) }))
}

/// The warning for a drift beyond [`SCALE_DRIFT_LIMIT`].
pub fn scale_drift_warning(d: &BnScaleDrift) -> Option<CheckWarning> {
    let ratios: Vec<f64> = d.channels.iter().flat_map(|c| c.ratios.iter().copied()).collect();
    let (lo, hi) = ratios.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    (hi > SCALE_DRIFT_LIMIT).then_some(CheckWarning::ScaleDrift {
        channels: d.channels.len(),
        ratios: [lo, hi],
        k: d.k,
    })
}
