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

/// What the exact spectrum says about the assumptions of Algorithm 1 and of U&S.
pub fn spectrum_warnings(spectrum: &Spectrum, grad_norm: f64, us_degree: usize) -> Vec<String> {
    let mut warnings = Vec::new();
    let share = spectrum.negative_share();
    if share > NOT_A_MINIMUM_SHARE {
        warnings.push(format!(
            "θ₀ is not a minimum: {} negative eigenvalues (λ_min {:.3e}) carry {:.1} % of Σ|λ|, and ‖∇L‖ = {:.3e}; \
             Algorithm 1 and the energy captured assume a minimum (Proposition 1), so they mean little here",
            spectrum.negatives(0.0),
            spectrum.min(),
            100.0 * share,
            grad_norm
        ));
    }
    let blowup = chebyshev_blowup(spectrum.min(), spectrum.max(), us_degree);
    if blowup > US_BLOWUP_LIMIT {
        warnings.push(format!(
            "Ubaru–Saad assumes a PSD matrix: λ_min {:.3e} lies below its interval, where its degree-{us_degree} \
             filter is magnified up to ×{blowup:.1e}; its count is not meaningful here",
            spectrum.min()
        ));
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
pub fn scale_drift_warning(d: &BnScaleDrift) -> Option<String> {
    let ratios: Vec<f64> = d.channels.iter().flat_map(|c| c.ratios.iter().copied()).collect();
    let (lo, hi) = ratios.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    (hi > SCALE_DRIFT_LIMIT).then(|| {
        format!(
            "the noise grew the norms of the {} channels feeding BatchNorm (flat directions of the loss, which \
             a noise-free step leaves alone) by ×{lo:.2}–×{hi:.2} by k = {}: their curvature fell by up to \
             ×{:.0}, so the theory at θ₀ over-predicts the modes that equilibrate; a shorter K_tot or a smaller \
             σ² keeps the quadratic model",
            d.channels.len(),
            d.k,
            hi * hi
        )
    })
}
