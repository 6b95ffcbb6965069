//! Scale-invariant parameter groups, found numerically at θ₀: sets of entries w whose joint scaling
//! leaves the loss unchanged, L(θ with w ×α) = L(θ) for α near 1 (the weights feeding a
//! normalization layer). Along such a group the loss is exactly flat, so long Langevin runs drift
//! along it.
//!
//! Candidates are every parameter tensor and every slice of it along its first axis (an output
//! channel, or a row) and, for matrices, along its second (a column: the output unit of Burn's
//! `Linear`, whose weight is [in, out]). A candidate is a group when
//! - |∇L·w| is at most [`GRAD_TOL`] of ‖∇_w L‖·‖w‖ (the gradient is orthogonal to w), and
//! - scaling it by 1 ± [`SCALE_STEP`] (f64; [`SCALE_STEP_F32`] in f32) changes the loss by at most [`SCALE_TOL`] of what random steps of the
//!   same length within it change it by (the largest of [`RANDOM_STEPS`]), and
//! - the loss does depend on it: those random steps change the loss by more than [`DEPENDS_TOL`]
//!   of |L(θ₀)| (a parameter the loss ignores, such as a bias that BatchNorm subtracts, or the
//!   weights of an input pixel that is always zero, is flat in every direction, not scale-invariant).
//!
//! The tolerances separate a symmetry that BatchNorm's ε breaks slightly from curvature and from
//! rounding. BatchNorm's (x − μ)/√(σ² + ε) makes a channel invariant only up to ε/σ²: on the
//! trained DnCNN checkpoint its 8 channels have gradient cosines ≤ 8.5e-7 and scale/random ratios
//! ≤ 1.6e-5, on the untrained PyTorch DnCNN fixture (smaller σ²) ≤ 4.3e-5 and ≤ 2.2e-3; every other
//! candidate of the DnCNN and of the MLP and CNN classifiers that the loss depends on has a cosine
//! ≥ 8.4e-4 or a ratio ≥ 0.39 ([`scan_candidates`], f64). Rounding moves the loss by ~1e-15 of L.
//! Groups are reported at the finest level: when slices of a tensor are groups, those slices are
//! reported, not the tensor.

use burn::module::Module;
use hessrank_core::objective::ScalarExt;
use hessrank_core::params::{flatten_f64, unflatten_f64};
use hessrank_core::{Objective, ParamLayout, Result, noise::SeededNoise, value_and_grad};
use serde::{Deserialize, Serialize};

/// A change of the loss under the ±1e-3 scaling below this fraction of the change under a random
/// step of the same length within the group counts as none.
pub const SCALE_TOL: f64 = 1e-2;
/// |∇L·w| below this fraction of ‖∇_w L‖·‖w‖ counts as orthogonal.
pub const GRAD_TOL: f64 = 2e-4;
/// A change under a random step within the group above this fraction of |L(θ₀)| means the loss
/// depends on the group (rounding is ~1e-15).
pub const DEPENDS_TOL: f64 = 1e-12;
/// Random steps within a candidate whose largest loss change is the scale the others are measured
/// against.
pub const RANDOM_STEPS: usize = 3;
/// The relative scaling of the test, 1 ± this, in f64 (the random steps have this length relative
/// to ‖w‖).
pub const SCALE_STEP: f64 = 1e-3;
/// The same in f32, where the loss rounds at ~1e-7 of itself: a step 30 times longer lifts the
/// changes the test compares (first order in the step) well above rounding.
pub const SCALE_STEP_F32: f64 = 3e-2;

/// Which entries of one parameter tensor a group holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupSlice {
    /// The whole tensor.
    Whole,
    /// The slice at this index of the first axis (an output channel of a convolution, a row).
    Row(usize),
    /// The column at this index of a matrix (an output unit of Burn's `Linear`, weight [in, out]).
    Column(usize),
}

/// One scale-invariant group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScaleGroup {
    /// Its name: the parameter's path, `path[c]` for a slice along the first axis, `path[:, j]`
    /// along the second.
    pub group: String,
    /// The parameter's index in the layout (trainable parameters, layout order).
    pub param: usize,
    /// Which entries of that parameter.
    pub slice: GroupSlice,
    /// ‖w‖ at θ₀. Zero for a dead slice (all zeros) beside live groups of the same tensor: it is
    /// reported, and left out of the projected dynamics (a zero vector has no sphere).
    pub norm: f64,
}

impl ScaleGroup {
    /// The group's entries as indices into the flat parameter vector of `layout` (layout order).
    /// Errors when the layout has no such parameter or slice.
    pub fn indices(&self, layout: &ParamLayout) -> Result<Vec<usize>> {
        let spec = layout.specs.get(self.param).ok_or_else(|| {
            hessrank_core::Error::config(
                "scale group",
                &self.group,
                format!("a parameter index < {}", layout.specs.len()),
            )
        })?;
        let offset: usize = layout.specs[..self.param].iter().map(|s| s.numel()).sum();
        let numel = spec.numel();
        let out_of_range = || {
            hessrank_core::Error::config(
                "scale group",
                &self.group,
                format!("a slice of {} {:?}", spec.path, spec.shape),
            )
        };
        match self.slice {
            GroupSlice::Whole => Ok((offset..offset + numel).collect()),
            GroupSlice::Row(c) if spec.shape.len() >= 2 && c < spec.shape[0] => {
                let inner = numel / spec.shape[0];
                Ok((offset + c * inner..offset + (c + 1) * inner).collect())
            }
            GroupSlice::Column(j) if spec.shape.len() == 2 && j < spec.shape[1] => {
                Ok((0..spec.shape[0]).map(|i| offset + i * spec.shape[1] + j).collect())
            }
            _ => Err(out_of_range()),
        }
    }

    /// Whether the group is dead (‖w‖ = 0 at θ₀).
    pub fn is_dead(&self) -> bool {
        self.norm == 0.0
    }
}

/// A candidate: name, slice and flat indices.
type Candidate = (String, GroupSlice, Vec<usize>);

/// The candidates of one tensor at `offset` with `shape`: the whole, its first-axis slices and,
/// for a matrix, its columns.
fn candidates(path: &str, shape: &[usize], offset: usize) -> (Candidate, Vec<Vec<Candidate>>) {
    let numel: usize = shape.iter().product();
    let whole = (path.to_string(), GroupSlice::Whole, (offset..offset + numel).collect());
    let mut levels = Vec::new();
    if shape.len() >= 2 && shape[0] > 1 {
        let inner = numel / shape[0];
        levels.push(
            (0..shape[0])
                .map(|c| {
                    let indices = (offset + c * inner..offset + (c + 1) * inner).collect();
                    (format!("{path}[{c}]"), GroupSlice::Row(c), indices)
                })
                .collect(),
        );
    }
    if shape.len() == 2 && shape[1] > 1 {
        levels.push(
            (0..shape[1])
                .map(|j| {
                    let indices = (0..shape[0]).map(|i| offset + i * shape[1] + j).collect();
                    (format!("{path}[:, {j}]"), GroupSlice::Column(j), indices)
                })
                .collect(),
        );
    }
    (whole, levels)
}

/// What the test measured on one candidate, each relative to its scale.
#[derive(Debug, Clone, Serialize)]
pub struct CandidateScan {
    /// The candidate's name.
    pub group: String,
    /// |∇L·w| / (‖∇_w L‖·‖w‖).
    pub grad_cos: f64,
    /// max over ±: |L(θ with w ×(1 ± 1e-3)) − L(θ₀)| / |L(θ₀)| (NaN where not measured).
    pub scale_change: f64,
    /// The largest |L(θ + random step of length 1e-3‖w‖ within w) − L(θ₀)| / |L(θ₀)| over
    /// [`RANDOM_STEPS`] steps (NaN where not measured).
    pub random_change: f64,
}

impl CandidateScan {
    /// Whether the measurements make the candidate a scale-invariant group (the module's criteria).
    pub fn is_group(&self) -> bool {
        self.grad_cos <= GRAD_TOL
            && self.random_change > DEPENDS_TOL
            && self.scale_change <= SCALE_TOL * self.random_change
    }
}

/// The measurements at θ₀ of one objective and model: θ₀, its loss and gradient, and the noise of
/// the random steps.
struct Scanner<'a, O: Objective> {
    objective: &'a O,
    model: &'a O::Model,
    theta: Vec<f64>,
    grad: Vec<f64>,
    loss0: f64,
    noise: SeededNoise,
    /// [`SCALE_STEP`], or [`SCALE_STEP_F32`] for an f32 model.
    step: f64,
}

impl<'a, O: Objective> Scanner<'a, O>
where
    O::Model: Clone,
{
    fn new(objective: &'a O, model: &'a O::Model) -> Self {
        let vg = value_and_grad(objective, model);
        let f32 = vg.grads.tensors.first().is_some_and(|t| t.dtype() == burn::tensor::DType::F32);
        let grad = vg.grads.to_flat();
        Scanner {
            step: if f32 { SCALE_STEP_F32 } else { SCALE_STEP },
            objective,
            model,
            theta: flatten_f64(model),
            grad,
            loss0: vg.loss,
            noise: SeededNoise::new(0x5ca1e, 0),
        }
    }

    /// |L(θ with the entries `indices` changed by `step`) − L(θ₀)| / |L(θ₀)|, evaluated without
    /// gradients (no autodiff graph is kept).
    fn change(&self, indices: &[usize], step: impl Fn(f64, usize) -> f64) -> Result<f64> {
        let mut flat = self.theta.clone();
        for (k, &i) in indices.iter().enumerate() {
            flat[i] = step(flat[i], k);
        }
        let loss = self.objective.loss(&unflatten_f64(self.model.clone(), &flat)?.no_grad()).sum().into_scalar_f64();
        Ok((loss - self.loss0).abs() / self.loss0.abs().max(f64::MIN_POSITIVE))
    }

    /// The candidate's measurements; with `full = false` the losses are evaluated only when the
    /// gradient is orthogonal to w (one that is not settles it for free).
    fn measure(&mut self, group: String, indices: &[usize], full: bool) -> Result<CandidateScan> {
        let norm = indices.iter().map(|&i| self.theta[i].powi(2)).sum::<f64>().sqrt();
        let gnorm = indices.iter().map(|&i| self.grad[i].powi(2)).sum::<f64>().sqrt();
        let dot: f64 = indices.iter().map(|&i| self.grad[i] * self.theta[i]).sum();
        let grad_cos = if norm == 0.0 { f64::NAN } else { dot.abs() / (gnorm * norm).max(f64::MIN_POSITIVE) };
        let mut scan = CandidateScan { group, grad_cos, scale_change: f64::NAN, random_change: f64::NAN };
        // A NaN cosine (a zero-norm candidate) fails too.
        if !full && (grad_cos.is_nan() || grad_cos > GRAD_TOL) {
            return Ok(scan);
        }
        let step = self.step;
        let up = self.change(indices, |x, _| x * (1.0 + step))?;
        let down = self.change(indices, |x, _| x * (1.0 - step))?;
        scan.scale_change = up.max(down);
        // The loss must depend on the group: the largest change under random steps of the same
        // length within it (several, so that one nearly orthogonal to the gradient by chance
        // does not set the scale).
        for _ in 0..RANDOM_STEPS {
            let dir = self.noise.normal_vec(indices.len());
            let dnorm = dir.iter().map(|x| x * x).sum::<f64>().sqrt();
            let change = self.change(indices, |x, k| x + step * norm * dir[k] / dnorm)?;
            scan.random_change = if scan.random_change.is_nan() { change } else { scan.random_change.max(change) };
        }
        Ok(scan)
    }
}

/// The measurements of every candidate (the whole tensors and their slices), for inspection.
pub fn scan_candidates<O: Objective>(objective: &O, model: &O::Model) -> Result<Vec<CandidateScan>>
where
    O::Model: Clone,
{
    let mut scanner = Scanner::new(objective, model);
    let mut out = Vec::new();
    let mut offset = 0;
    for spec in &ParamLayout::of(model).specs {
        let (whole, levels) = candidates(&spec.path, &spec.shape, offset);
        offset += spec.numel();
        for (group, _, indices) in std::iter::once(whole).chain(levels.into_iter().flatten()) {
            out.push(scanner.measure(group, &indices, true)?);
        }
    }
    Ok(out)
}

/// The scale-invariant groups of `objective` at `model` (see the module's criteria). Where slices
/// of a tensor are groups, the dead slices (all zeros) of that tensor are reported too, with norm 0.
pub fn find_scale_groups<O: Objective>(objective: &O, model: &O::Model) -> Result<Vec<ScaleGroup>>
where
    O::Model: Clone,
{
    let mut scanner = Scanner::new(objective, model);
    let theta = scanner.theta.clone();
    let layout = ParamLayout::of(model);
    let mut groups = Vec::new();
    let mut offset = 0;
    for (param, spec) in layout.specs.iter().enumerate() {
        let (whole, levels) = candidates(&spec.path, &spec.shape, offset);
        offset += spec.numel();
        let norm = |indices: &[usize]| indices.iter().map(|&i| theta[i].powi(2)).sum::<f64>().sqrt();
        let mut found = None;
        for level in &levels {
            let mut hits = Vec::new();
            for (name, slice, indices) in level {
                if scanner.measure(name.clone(), indices, false)?.is_group() {
                    hits.push((name.clone(), *slice, indices.clone()));
                }
            }
            if !hits.is_empty() {
                hits.extend(level.iter().filter(|(_, _, indices)| norm(indices) == 0.0).cloned());
                hits.sort_by_key(|(_, _, indices)| indices[0]);
                found = Some(hits);
                break;
            }
        }
        let hits = match found {
            Some(hits) => hits,
            None if scanner.measure(whole.0.clone(), &whole.2, false)?.is_group() => vec![whole],
            None => continue,
        };
        for (group, slice, indices) in hits {
            let norm = norm(&indices);
            groups.push(ScaleGroup { group, param, slice, norm });
        }
    }
    Ok(groups)
}

/// The predicted ratio ‖w_K‖/‖w₀‖ of every live group after `k` plain Langevin steps of size `eta`
/// at noise `sigma2` with the dynamics' diagonal G (`g`, flat in layout order):
/// √(1 + Kησ² Σ_{i∈w} Gᵢ / ‖w₀‖²).
///
/// Each step adds ησ² Σ_{i∈w} Gᵢ to E‖w‖² in both schemes (EM: the noise's own variance; LM: half
/// of it, and the other half from its correlation with the previous step's noise), while the
/// drift moves the norm only through its radial part ηwᵀG∇L, which vanishes for G constant on
/// the group (∇L ⊥ w). Exact there (to 3 SE on the tests' toy); with G varying on the group the
/// drift moves it too: on the paper-scale DnCNN with Adam's G the prediction is within 30 % of the
/// measured mean growth of every channel (the tests).
pub fn predicted_norm_growth(
    groups: &[ScaleGroup],
    layout: &ParamLayout,
    g: &[f64],
    eta: f64,
    sigma2: f64,
    k: usize,
) -> Result<Vec<(String, f64)>> {
    let mut out = Vec::new();
    for group in groups.iter().filter(|g| !g.is_dead()) {
        let sum_g: f64 = group.indices(layout)?.iter().map(|&i| g[i]).sum();
        let ratio = (1.0 + k as f64 * eta * sigma2 * sum_g / group.norm.powi(2)).sqrt();
        out.push((group.group.clone(), ratio));
    }
    Ok(out)
}
