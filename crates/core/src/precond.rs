//! The diagonal preconditioner G: one positive tensor per trainable parameter.

use crate::atomic::{read_json, write_json_atomic};
use crate::params::{HostParams, ParamLayout, ParamTensors};
use crate::{Error, Result};
use burn::tensor::Device;
use std::path::Path;

/// The file kind recorded in a saved preconditioner.
const KIND: &str = "hessrank-diag-preconditioner";

/// A fixed diagonal preconditioner G, stored per parameter (layout order) with its square root,
/// and optionally a block: the parameters the dynamics move.
///
/// Invariant: every entry of G is finite and strictly positive (checked on construction and load),
/// so G is positive definite as Algorithm 1 requires and `Σ = σ² G⁻¹` exists. A block does not
/// touch G: it is a 0/1 mask M on the parameters, and the dynamics (the step, the noise, μ_max and
/// the theory) use the restricted operator M G M through [`DiagPreconditioner::dynamics_g`] and its
/// kin, so the held parameters stay at θ₀ exactly.
#[derive(Debug, Clone)]
pub struct DiagPreconditioner {
    layout: ParamLayout,
    g: ParamTensors,
    sqrt_g: ParamTensors,
    /// Per parameter (layout order): whether the dynamics move it (`None`: all of them).
    moving: Option<Vec<bool>>,
}

impl DiagPreconditioner {
    /// G = I.
    pub fn identity(layout: &ParamLayout, device: &Device) -> Self {
        let g = ParamTensors::full(layout, 1.0, device);
        Self { layout: layout.clone(), sqrt_g: g.clone(), g, moving: None }
    }

    /// G from per-parameter tensors; rejects zeros, negatives and non-finite entries, naming the
    /// parameter, the index and the value.
    pub fn new(layout: &ParamLayout, g: ParamTensors) -> Result<Self> {
        let host = g.to_host();
        if host.len() != layout.specs.len() {
            return Err(Error::Shape {
                what: "preconditioner".into(),
                expected: format!("{} parameters", layout.specs.len()),
                found: format!("{}", host.len()),
            });
        }
        for (spec, values) in layout.specs.iter().zip(&host) {
            if values.len() != spec.numel() {
                return Err(Error::Shape {
                    what: format!("preconditioner of {}", spec.path),
                    expected: format!("{} values", spec.numel()),
                    found: format!("{}", values.len()),
                });
            }
            if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !(v.is_finite() && **v > 0.0)) {
                return Err(Error::config(
                    "preconditioner",
                    format!("{v} at {}[{i}]", spec.path),
                    "every entry finite and > 0 (G must be positive definite); rebuild it or use the identity",
                ));
            }
        }
        let sqrt_g = g.map(|t| t.sqrt());
        Ok(Self { layout: layout.clone(), g, sqrt_g, moving: None })
    }

    /// The same G with the dynamics restricted to the parameters `keep` selects (layout order, see
    /// [`ParamLayout::select`]). The rest stay at θ₀, so the dynamics see only the diagonal block
    /// H_BB of the Hessian, and Algorithm 1 reports rank(G_B^½ H_BB G_B^½) = rank(H_BB) (G_B > 0):
    /// the block's own rank. G itself keeps every entry positive.
    pub fn restricted(&self, keep: &[bool]) -> Result<Self> {
        if keep.len() != self.layout.specs.len() {
            return Err(Error::Shape {
                what: "parameter selection".into(),
                expected: format!("{} parameters", self.layout.specs.len()),
                found: format!("{}", keep.len()),
            });
        }
        if !keep.iter().any(|k| *k) {
            return Err(Error::config("params", "an empty selection", "at least one parameter"));
        }
        Ok(Self { moving: Some(keep.to_vec()), ..self.clone() })
    }

    /// Which parameters the dynamics move (`None`: all of them).
    pub fn moving(&self) -> Option<&[bool]> {
        self.moving.as_deref()
    }

    /// `t` with the held parameters' tensors zeroed (unchanged without a block).
    fn masked(&self, t: &ParamTensors) -> ParamTensors {
        match &self.moving {
            None => t.clone(),
            Some(keep) => ParamTensors {
                tensors: t
                    .tensors
                    .iter()
                    .zip(keep)
                    .map(|(x, k)| if *k { x.clone() } else { x.clone().zeros_like() })
                    .collect(),
            },
        }
    }

    /// M G M: G on the parameters that move, 0 on the held ones (what the step's drift uses).
    pub fn dynamics_g(&self) -> ParamTensors {
        self.masked(&self.g)
    }

    /// M G^½ M (what the step's noise uses).
    pub fn dynamics_sqrt_g(&self) -> ParamTensors {
        self.masked(&self.sqrt_g)
    }

    /// M G M as one host vector in layout order (what μ_max, the theory and the run's fingerprint
    /// use).
    pub fn dynamics_flat(&self) -> Vec<f64> {
        self.dynamics_g().to_flat()
    }

    /// The parameter layout G belongs to.
    pub fn layout(&self) -> &ParamLayout {
        &self.layout
    }

    /// G, per parameter.
    pub fn g(&self) -> &ParamTensors {
        &self.g
    }

    /// G^½, per parameter.
    pub fn sqrt_g(&self) -> &ParamTensors {
        &self.sqrt_g
    }

    /// G multiplied by a positive scalar `s`.
    pub fn scaled(&self, s: f64) -> Result<Self> {
        if !(s.is_finite() && s > 0.0) {
            return Err(Error::config("preconditioner scale", s, "a finite number > 0"));
        }
        Ok(Self { moving: self.moving.clone(), ..Self::new(&self.layout, self.g.map(|t| t.mul_scalar(s)))? })
    }

    /// The entries of G as one host vector in layout order (all positive; see
    /// [`DiagPreconditioner::dynamics_flat`] for the restricted operator).
    pub fn to_flat(&self) -> Vec<f64> {
        self.g.to_flat()
    }

    /// Saves G keyed by parameter path, atomically, as JSON.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_json_atomic(path, &HostParams::capture(KIND, &self.layout, &self.g))
    }

    /// Loads G for a model with `layout`, matching parameters by path.
    pub fn load(path: &Path, layout: &ParamLayout, device: &Device) -> Result<Self> {
        let host: HostParams = read_json(path)?;
        if host.kind != KIND {
            return Err(Error::format(path, format!("kind {:?}, expected {KIND:?}", host.kind)));
        }
        let g = host.to_tensors(layout, device, &path.display().to_string())?;
        Self::new(layout, g)
    }
}
