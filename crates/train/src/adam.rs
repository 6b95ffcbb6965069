//! Adam as a [`ModuleMapper`](burn::module::ModuleMapper) update that exposes its moments.
//!
//! Burn 0.22's `Adam` keeps its moments private (readable only by decoding its burnpack record by
//! name), so this small Adam keeps m and v as per-parameter tensors keyed by layout order. Its
//! update is Burn's: θ ← θ − lr · m̂ / (√v̂ + ε), m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ); a test checks the
//! two trajectories agree.

use crate::config::{AdamPhase, PrecondScale};
use burn::module::Module;
use hessrank_core::params::map_trainable;
use hessrank_core::{DiagPreconditioner, ParamLayout, ParamTensors, Result};

/// Adam's moments after `t` steps.
#[derive(Debug, Clone)]
pub struct AdamState {
    /// First moment m.
    pub m: ParamTensors,
    /// Second moment v (not bias-corrected).
    pub v: ParamTensors,
    /// Steps taken.
    pub t: usize,
}

impl AdamState {
    /// Zero moments for `layout` on `device`.
    pub fn new(layout: &ParamLayout, device: &burn::tensor::Device) -> Self {
        Self { m: ParamTensors::full(layout, 0.0, device), v: ParamTensors::full(layout, 0.0, device), t: 0 }
    }

    /// One Adam step with gradient `grads`.
    pub fn step<M: Module>(&mut self, model: M, grads: &ParamTensors, cfg: &AdamPhase) -> M {
        self.t += 1;
        let t = self.t as i32;
        let (b1, b2) = (cfg.beta1, cfg.beta2);
        self.m = self.m.zip(grads, |m, g| m.mul_scalar(b1).add(g.mul_scalar(1.0 - b1)));
        self.v = self.v.zip(grads, |v, g| v.mul_scalar(b2).add(g.powi_scalar(2).mul_scalar(1.0 - b2)));
        let bc1 = 1.0 - b1.powi(t);
        let bc2_sqrt = (1.0 - b2.powi(t)).sqrt();
        // m̂/(√v̂ + ε) = m·(√bc2/bc1)/(√v + ε·√bc2), Burn's arrangement of the same formula.
        let factor = cfg.lr * bc2_sqrt / bc1;
        let (m, v) = (&self.m, &self.v);
        map_trainable(model, |i, theta| {
            let denom = v.tensors[i].clone().sqrt().add_scalar(cfg.epsilon * bc2_sqrt);
            theta.sub(m.tensors[i].clone().mul_scalar(factor).div(denom))
        })
    }

    /// The bias-corrected second moment v̂ = v/(1 − β₂ᵗ).
    pub fn v_hat(&self, beta2: f64) -> ParamTensors {
        let bc2 = 1.0 - beta2.powi(self.t as i32);
        self.v.map(|v| v.div_scalar(bc2))
    }

    /// G = s/(√v̂ + ε) with the scale `scale` (returns G and the s used).
    pub fn preconditioner(
        &self,
        layout: &ParamLayout,
        cfg: &AdamPhase,
        scale: PrecondScale,
    ) -> Result<(DiagPreconditioner, f64)> {
        let raw = self.v_hat(cfg.beta2).map(|v| v.sqrt().add_scalar(cfg.epsilon).recip());
        let s = match scale {
            PrecondScale::One => 1.0,
            PrecondScale::AdamLr => cfg.lr,
            PrecondScale::MeanOne => {
                let flat = raw.to_flat();
                flat.len() as f64 / flat.iter().sum::<f64>()
            }
        };
        Ok((DiagPreconditioner::new(layout, raw.map(|g| g.mul_scalar(s)))?, s))
    }
}
