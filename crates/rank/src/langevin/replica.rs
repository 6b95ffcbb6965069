//! One replica of the parameters (holding `objective.stacked()` chains) with its noise state, and
//! its Langevin step θ ← θ − ηG∇L + √η σ G^½ ζ.

use super::Scheme;
use super::projection::Projection;
use burn::tensor::Tensor;
use hessrank_core::params::{gradients_of, map_trainable, params_of};
use hessrank_core::step_noise::{CounterNoise, HostNormals};
use hessrank_core::{Objective, ParamTensors};

/// Below this many parameters per replica a step runs on the calling thread: handing the noise to
/// another thread costs more than drawing it.
const CONCURRENT_NOISE_MIN: usize = 16_384;

/// The noise-free companion's point θ̄_k and gradient ∇L(θ̄_k), taken before its step: what the
/// control-variate correction of the noisy chains at iteration k needs.
pub(crate) struct CompanionPoint {
    pub theta: ParamTensors,
    pub grad: ParamTensors,
}

/// What one step of a replica returns, read back in one transfer.
pub(crate) struct StepLosses {
    /// L(θ_k) of each chain of the replica (before the step).
    pub losses: Vec<f64>,
    /// ∇L(θ̄_k)ᵀ(θ_k − θ̄_k) of each chain, when a companion point was given.
    pub cross: Option<Vec<f64>>,
}

/// One copy of the parameters with its noise stream.
pub(crate) struct Replica<M> {
    /// Always `Some` between steps (taken and put back by the update mapper).
    pub model: Option<M>,
    pub noise: CounterNoise,
    /// Draws made so far: the next draw's index (draw k is a pure function of seed, stream, k).
    pub draws: u64,
    /// ξ_k of the Leimkuhler–Matthews scheme, per parameter, on the host (draw `draws − 1`).
    pub xi: Option<Vec<HostNormals>>,
    /// No noise: the deterministic drift companion.
    pub noiseless: bool,
    /// Parameters in this replica (all its chains).
    pub numel: usize,
    /// Chains stacked along the leading axis of every parameter (`objective.stacked()`).
    pub chains: usize,
}

/// Draw `draw` of `noise` for every parameter of `like`, in the parameters' float type.
pub(crate) fn draw_parts(noise: &CounterNoise, draw: u64, like: &ParamTensors) -> Vec<HostNormals> {
    let parts = like.tensors.iter().enumerate();
    parts.map(|(part, t)| noise.normals(draw, part as u64, t.shape().num_elements(), t.dtype())).collect()
}

impl<M: burn::module::Module> Replica<M> {
    /// A replica of `theta0` drawing from `noise` (or none, for the companion).
    pub fn new(theta0: M, noise: CounterNoise, noiseless: bool, numel: usize, chains: usize) -> Self {
        Self { model: Some(theta0), noise, draws: 0, xi: None, noiseless, numel, chains }
    }

    /// The index of the next draw, counted as made.
    fn next_draw(&mut self) -> u64 {
        self.draws += 1;
        self.draws - 1
    }

    fn draw(&mut self, like: &ParamTensors) -> Vec<HostNormals> {
        let draw = self.next_draw();
        draw_parts(&self.noise, draw, like)
    }

    /// The noise ζ of this step for every parameter, on the host: ξ_k (EM) or (ξ_k + ξ_{k+1})/2
    /// (LM); `None` for the drift companion.
    fn zeta(&mut self, like: &ParamTensors, scheme: Scheme) -> Vec<Option<HostNormals>> {
        if self.noiseless {
            return Vec::new();
        }
        match scheme {
            Scheme::EulerMaruyama => self.draw(like).into_iter().map(Some).collect(),
            Scheme::LeimkuhlerMatthews => {
                let mut zeta = match self.xi.take() {
                    Some(xi) => xi,
                    None => self.draw(like), // ξ_0, at the first step
                };
                // ξ_{k+1} is drawn and ξ_k's buffer becomes (ξ_k + ξ_{k+1})/2 in one pass.
                let (noise, draw) = (self.noise, self.next_draw());
                let next =
                    zeta.iter_mut().enumerate().map(|(part, xi)| noise.next_with_midpoint(draw, part as u64, xi));
                self.xi = Some(next.collect());
                zeta.into_iter().map(Some).collect()
            }
        }
    }

    /// The current point and the gradient there, for a companion about to step (the gradient is
    /// the one its own step computes; see [`Replica::step`]).
    pub fn point(&self) -> ParamTensors {
        params_of(self.model.as_ref().expect("model present between steps"))
    }

    /// One LD step: θ ← θ − (ηG)∇L + (√η σ G^½) ζ, with ζ = ξ_k (EM) or (ξ_k + ξ_{k+1})/2 (LM);
    /// with a `projection`, every scale-invariant group's step is projected onto its sphere's
    /// tangent space and the group retracted to its θ₀ norm ([`Projection`]).
    ///
    /// Returns the chains' losses at θ_k (before the step) and, given the companion's point, the
    /// cross terms ∇L(θ̄_k)ᵀ(θ_k − θ̄_k) per chain; with `keep_gradient`, also ∇L(θ_k).
    ///
    /// The noise does not depend on θ, so on a pool of several threads it is drawn while the
    /// gradient is computed (`rayon::join`: the other worker takes it when free, otherwise this
    /// thread draws it afterwards); the numbers are the same either way. Called from outside
    /// the pool, the whole step then runs on one worker, so the update's parallel pass finds the
    /// other worker awake instead of the step crossing threads twice.
    pub fn step<O: Objective<Model = M>>(
        &mut self,
        objective: &O,
        factors: (&ParamTensors, &ParamTensors),
        scheme: Scheme,
        projection: Option<&Projection>,
        companion: Option<&CompanionPoint>,
        keep_gradient: bool,
    ) -> (StepLosses, Option<ParamTensors>) {
        let concurrent = self.numel >= CONCURRENT_NOISE_MIN && rayon::current_num_threads() > 1;
        if concurrent && rayon::current_thread_index().is_none() {
            return rayon::scope(|_| self.step(objective, factors, scheme, projection, companion, keep_gradient));
        }
        let (a, b) = factors;
        let model = self.model.take().expect("model present between steps");
        let gradient = |model: M| {
            let loss = objective.loss(&model);
            // Backward seeds the root with ones of its shape, so the chains' [C] losses give the
            // gradient of their sum without a sum on the tape.
            let grads = loss.backward();
            let g = gradients_of(&model, &grads);
            (model, loss.inner(), g)
        };
        let ((model, loss, g), mut zeta) = if concurrent {
            rayon::join(|| gradient(model), || self.zeta(a, scheme))
        } else {
            let out = gradient(model);
            (out, self.zeta(a, scheme))
        };
        let kept = keep_gradient.then(|| g.clone());
        let chains = self.chains;
        let mut cross: Option<Tensor<1>> = None;
        let mut g: Vec<Option<Tensor<1>>> = g.tensors.into_iter().map(Some).collect();
        self.model = Some(map_trainable(model, |i, theta| {
            if let Some(p) = companion {
                // Σ over this parameter of ∇L(θ̄)ᵢ (θ − θ̄)ᵢ, per chain (chains lead every parameter).
                let n = theta.shape().num_elements();
                let term = p.grad.tensors[i].clone().mul(theta.clone().sub(p.theta.tensors[i].clone()));
                let term = term.reshape([chains, n / chains]).sum_dim(1).reshape([chains]);
                cross = Some(match cross.take() {
                    Some(c) => c.add(term),
                    None => term,
                });
            }
            let g = g[i].take().expect("one gradient per parameter");
            // ζ is uploaded once per parameter and the update is one fused pass where available.
            let noise = zeta.get_mut(i).and_then(Option::take).map(|z| {
                let z = Tensor::from_data(z.into_data(), &theta.device());
                (b.tensors[i].clone(), z)
            });
            match projection.filter(|p| p.covers(i)) {
                Some(p) => {
                    let new = hessrank_kernels::langevin_update(theta.clone(), a.tensors[i].clone(), g, noise);
                    p.apply(i, theta, new)
                }
                None => hessrank_kernels::langevin_update(theta, a.tensors[i].clone(), g, noise),
            }
        }));
        // One read-back per step: the losses and, after them, the cross terms.
        let read = match &cross {
            Some(c) => Tensor::cat(vec![loss, c.clone()], 0),
            None => loss,
        };
        let mut values: Vec<f64> = read.into_data().iter::<f64>().collect();
        let cross = cross.map(|_| values.split_off(chains));
        (StepLosses { losses: values, cross }, kept)
    }
}
