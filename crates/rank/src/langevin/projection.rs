//! Langevin dynamics on the quotient by scale symmetries: every scale-invariant group
//! ([`crate::symmetry`]) moves only on the sphere of its θ₀ norm.
//!
//! # Why
//! Along a group w the loss is flat in the radial direction (L(αw) = L(w)), so the noise
//! random-walks ‖w‖ upward: E‖w_{k+1}‖² = ‖w_k‖² + ησ² Σ_{i∈w} G_i per step, in both schemes. The
//! curvature of the directions around w falls as 1/‖w‖², so their modes relax ever more slowly and
//! a long run under-counts them.
//!
//! # The scheme
//! Each step computes the unprojected increment Δ = −ηG∇L + √η σ G^½ ζ (ζ = ξ_k for EM,
//! (ξ_k + ξ_{k+1})/2 for LM), then for every group w
//!
//! Δ_w ← Q Δ_w = Δ_w − w (wᵀΔ_w)/‖w‖²,   w ← r (w + Δ_w)/‖w + Δ_w‖,
//!
//! with r = ‖w₀‖: the increment is projected onto the tangent space {v : wᵀv = 0} of the sphere
//! and the group is retracted to the sphere along its radius (the nearest point on it). The other
//! parameters step as before, and a model with no groups runs bitwise the same as without.
//!
//! Because ∇L ⊥ w everywhere for a scale-invariant group (Euler: wᵀ∇_w L = d/dα L(αw) = 0),
//! Q∇L = ∇L, so the projected step is exactly the preconditioned step with the (singular)
//! preconditioner G_Q = QGQ: drift −ηQGQ∇L = −ηQG∇L, noise √ησ QG^½ζ with covariance ∝ QGQ.
//! Linearised at θ₀ the dynamics are therefore Algorithm 1's with G_Q, and Algorithm 1's analysis
//! applies mode by mode to G_Q^½ H G_Q^½.
//!
//! # The target is unchanged
//! At a minimum, scale invariance gives H w = −∇L = 0 (differentiate wᵀ∇L(w) = 0 along w), so
//! HQ = H and QH = H. The nonzero eigenvalues of G_Q^½ H G_Q^½ are those of H G_Q = HQGQ = HGQ,
//! which (cycling Q to the front) are those of QHG = HG, i.e. of G^½HG^½. So the projection removes
//! one exactly flat direction per group and keeps every other mode with its eigenvalue: the rank,
//! the stationary expected loss σ²/4 · rank, and the discrete theory on the exact spectrum at θ₀
//! (EM's inflation, the modes below 1/(2ηK)) are all the same as without it.
//!
//! # Why the Euclidean projection, not the one in the metric G⁻¹
//! Projecting in the metric G⁻¹ (Δ ← Δ − Gw (wᵀΔ)/(wᵀGw)) gives the preconditioner G − GwwᵀG/(wᵀGw)
//! and keeps the rank too, but its nonzero spectrum is that of the compression of G^½HG^½ to the
//! complement of G^½w, which differs from G^½HG^½'s wherever G is not constant on the group (the
//! eigenvalues interlace). Both agree for G = I or G constant on each group; only the Euclidean one
//! leaves the discrete theory on the exact spectrum at θ₀ exact for Adam's G.
//!
//! # The retraction's order
//! |Δ_w|² = O(ησ²) per step, and the retraction moves w radially by |Δ_w|²/(2r): a second-order
//! correction that keeps the group on its sphere to rounding (it is renormalised every step, not
//! accumulated), and whose tangential effect is of third order.

use crate::symmetry::{GroupSlice, ScaleGroup};
use burn::tensor::{Device, Tensor, TensorData};
use hessrank_core::{Error, ParamLayout, Result};

/// The groups of one parameter tensor, viewed as a [rows, cols] matrix whose groups run along one
/// axis.
struct PartProjection {
    shape: [usize; 2],
    /// The axis summed over to get one value per slice (1: rows or the whole, 0: columns).
    axis: usize,
    /// 1 on a group's slice, 0 elsewhere ([rows, 1] or [1, cols]).
    mask: Tensor<2>,
    /// 1 − mask.
    rest: Tensor<2>,
    /// The θ₀ norm of each group's slice, 0 elsewhere.
    radius: Tensor<2>,
    /// ‖w‖² of each group's slice (its θ₀ norm squared: every step retracts to it), 1 elsewhere
    /// (keeps the division finite where the mask is 0).
    norm_sq: Tensor<2>,
}

/// The projection and retraction of every group, per parameter: the step of Algorithm 1 on the
/// quotient by the loss's scale symmetries. The scheme, its derivation for diagonal G and both
/// discretisations, and why the estimate's target is unchanged are in the [module docs](self).
pub struct Projection {
    parts: Vec<Option<PartProjection>>,
}

impl Projection {
    /// The projection of `groups` (dead ones, with ‖w₀‖ = 0, left out) for a model of `layout`
    /// with θ₀ = `theta0` (flat, layout order), on `device`; `None` when no live group is left.
    /// Errors on a group outside the layout, on two kinds of slice in one tensor, and on a norm that
    /// is not θ₀'s (groups found at another point).
    pub fn new(groups: &[ScaleGroup], layout: &ParamLayout, theta0: &[f64], device: &Device) -> Result<Option<Self>> {
        let live: Vec<&ScaleGroup> = groups.iter().filter(|g| !g.is_dead()).collect();
        if live.is_empty() {
            return Ok(None);
        }
        let mut parts: Vec<Option<PartSlices>> = (0..layout.specs.len()).map(|_| None).collect();
        for g in live {
            let indices = g.indices(layout)?;
            let norm = indices.iter().map(|&i| theta0[i].powi(2)).sum::<f64>().sqrt();
            if !(norm > 0.0 && ((norm - g.norm) / norm).abs() <= 1e-6) {
                return Err(Error::config(
                    "scale group",
                    format!("{} with ‖w₀‖ = {}", g.group, g.norm),
                    format!("the norm at this θ₀, {norm} (groups found at another point?)"),
                ));
            }
            let (kind, at) = match g.slice {
                GroupSlice::Whole => (GroupKind::Whole, 0),
                GroupSlice::Row(c) => (GroupKind::Rows, c),
                GroupSlice::Column(j) => (GroupKind::Columns, j),
            };
            let entry = parts[g.param].get_or_insert_with(|| (kind, Vec::new()));
            if entry.0 != kind {
                return Err(Error::config(
                    "scale group",
                    &g.group,
                    "groups of one tensor all of one kind (the whole, rows or columns)",
                ));
            }
            entry.1.push((at, norm));
        }
        let parts = parts
            .into_iter()
            .zip(&layout.specs)
            .map(|(part, spec)| part.map(|(kind, slices)| PartProjection::new(kind, &spec.shape, &slices, device)))
            .collect();
        Ok(Some(Self { parts }))
    }

    /// Whether parameter `index` has groups.
    pub fn covers(&self, index: usize) -> bool {
        self.parts.get(index).is_some_and(Option::is_some)
    }

    /// Parameter `index` after the step from `old` to `new` (flat tensors), with the step of every
    /// group projected onto its tangent space and the group retracted to its θ₀ norm; `new`
    /// unchanged where the parameter has no group.
    pub fn apply(&self, index: usize, old: Tensor<1>, new: Tensor<1>) -> Tensor<1> {
        let Some(Some(p)) = self.parts.get(index) else {
            return new;
        };
        let n = p.shape[0] * p.shape[1];
        let old = old.reshape(p.shape);
        let new = new.reshape(p.shape);
        let step = new.clone().sub(old.clone());
        // wᵀΔ / ‖w‖² per slice (0 off the groups).
        let dot = old.clone().mul(step).sum_dim(p.axis);
        let coef = dot.div(p.norm_sq.clone()).mul(p.mask.clone());
        let moved = new.sub(old.mul(coef));
        // r / ‖w + QΔ‖ on the groups, 1 elsewhere.
        let norm = moved.clone().mul(moved.clone()).sum_dim(p.axis).sqrt();
        let scale = p.radius.clone().div(norm.add(p.rest.clone())).add(p.rest.clone());
        moved.mul(scale).reshape([n])
    }
}

/// The kind of a tensor's groups with each group's slice index and θ₀ norm.
type PartSlices = (GroupKind, Vec<(usize, f64)>);

/// Which way a tensor's groups run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GroupKind {
    Whole,
    Rows,
    Columns,
}

impl PartProjection {
    fn new(kind: GroupKind, shape: &[usize], slices: &[(usize, f64)], device: &Device) -> Self {
        let numel: usize = shape.iter().product();
        let (shape, axis) = match kind {
            GroupKind::Whole => ([1, numel], 1),
            GroupKind::Rows => ([shape[0], numel / shape[0]], 1),
            GroupKind::Columns => ([shape[0], shape[1]], 0),
        };
        let len = shape[1 - axis];
        let (mut mask, mut radius) = (vec![0.0; len], vec![0.0; len]);
        for &(at, norm) in slices {
            mask[at] = 1.0;
            radius[at] = norm;
        }
        let dims = if axis == 1 { [len, 1] } else { [1, len] };
        let tensor = |v: Vec<f64>| Tensor::<2>::from_data(TensorData::new(v, dims), device);
        let rest = tensor(mask.iter().map(|m| 1.0 - m).collect());
        let norm_sq = tensor(radius.iter().zip(&mask).map(|(r, m)| if *m == 1.0 { r * r } else { 1.0 }).collect());
        Self { shape, axis, mask: tensor(mask), rest, radius: tensor(radius), norm_sq }
    }
}
