//! Settings of Algorithm 1.

use burn::config::Config;
use hessrank_core::Error;
use serde::{Deserialize, Serialize};

/// The discretisation of the Langevin SDE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scheme {
    /// Euler–Maruyama, the paper's eq. 21 (inflates each mode by 1/(1 − ημ/2)).
    EulerMaruyama,
    /// Leimkuhler–Matthews, noise (ξ_k + ξ_{k+1})/2 (exact stationary variance on a quadratic).
    LeimkuhlerMatthews,
}

impl std::str::FromStr for Scheme {
    type Err = Error;
    fn from_str(s: &str) -> hessrank_core::Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "em" | "euler-maruyama" | "eulermaruyama" => Ok(Scheme::EulerMaruyama),
            "lm" | "leimkuhler-matthews" | "leimkuhlermatthews" => Ok(Scheme::LeimkuhlerMatthews),
            _ => Err(Error::config("scheme", s, "em or lm")),
        }
    }
}

/// How the drift of a θ₀ that is not an exact minimum is taken out of the estimate, using a
/// noise-free companion chain θ̄_k started at θ₀ and stepped with the same η and G.
///
/// On L = L₀ + gᵀδ + ½δᵀHδ the noisy chain is θ_k = θ̄_k + n_k, where n_k follows the same linear
/// recursion as the chain at an exact minimum (g only moves θ̄). Then
/// L(θ_k) − L(θ̄_k) = ∇L(θ̄_k)ᵀn_k + ½n_kᵀHn_k: the plain difference is unbiased, but its cross term
/// has mean zero and a standard deviation of order |∇L(θ̄)|·σ, i.e. ∝ 1/σ in rank units (4/σ²).
/// Subtracting the cross term, which the companion's own gradient gives at no extra cost, leaves
/// exactly ½n_kᵀHn_k on a quadratic: the same numbers as a run from an exact minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DriftCorrection {
    /// No companion: the excess is L(θ_k) − L(θ₀).
    None,
    /// The excess is L(θ_k) − L(θ̄_k) (unbiased, noisy at small σ²).
    Plain,
    /// The excess is L(θ_k) − L(θ̄_k) − ∇L(θ̄_k)ᵀ(θ_k − θ̄_k) (unbiased, ½nᵀHn on a quadratic).
    ControlVariate,
}

impl DriftCorrection {
    /// Whether a companion chain runs.
    pub fn uses_companion(self) -> bool {
        self != DriftCorrection::None
    }
}

impl std::str::FromStr for DriftCorrection {
    type Err = Error;
    fn from_str(s: &str) -> hessrank_core::Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "none" | "off" => Ok(DriftCorrection::None),
            "plain" => Ok(DriftCorrection::Plain),
            "cv" | "control-variate" | "controlvariate" => Ok(DriftCorrection::ControlVariate),
            _ => Err(Error::config("drift", s, "none, plain or cv")),
        }
    }
}

/// How the step size η is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum StepSize {
    /// A given η.
    Fixed(f64),
    /// η = c / μ_max, with μ_max of G^½HG^½ estimated by power iteration on finite-difference
    /// Hessian-vector products at θ_0.
    ///
    /// The default is c = 1 for both schemes. Leimkuhler–Matthews keeps the exact stationary
    /// variance for any η μ < 2, so on a quadratic a larger c only helps, and modestly: on Table 1's
    /// linear nets (32 trials, the paper's budget, seed 11) c = 1 / 1.5 / 1.75 give a normalised
    /// RMSE of 2.70 / 2.35 / 2.25 % at d = 8, 1.25 / 1.01 / 0.93 % at d = 16 and 0.73 / 0.61 /
    /// 0.56 % at d = 32. But power iteration approaches μ_max from below and a network's curvature
    /// changes around θ₀: at c = 1.5 the per-layer estimate of a briefly trained CNN classifier
    /// diverged at iteration 14, at c = 1.75 five of eight chains on a 4 → 16 → 2 ReLU MLP ran away
    /// (45–120 against a rank of 13), and at c = 1.99 a d = 8 linear net diverged. c = 1 keeps a
    /// factor-2 margin.
    Auto {
        /// The target η μ_max (stability needs < 2).
        c: f64,
    },
}

/// Settings of one rank estimate: the one set of defaults of every front door (the CLI's flags
/// fall back to these; the experiments set the paper's protocol explicitly).
#[derive(Config, Debug)]
pub struct LangevinConfig {
    /// Step size.
    #[config(default = "StepSize::Auto { c: 1.0 }")]
    pub step: StepSize,
    /// Noise power σ² (the paper: 2e-5 for linear nets, 1e-5 for the DnCNN).
    #[config(default = 1e-5)]
    pub sigma2: f64,
    /// Total iterations K_tot (the paper: 15,000 for linear nets, 30,000 for the DnCNN).
    #[config(default = 2000)]
    pub k_tot: usize,
    /// Iterations averaged at the end, K_avg ≤ K_tot (the paper: 10,000).
    #[config(default = 1000)]
    pub k_avg: usize,
    /// Independent chains (copies of θ_0 with independent noise; their spread gives the error bar
    /// and R̂).
    #[config(default = 4)]
    pub chains: usize,
    /// Index of this run's first chain: chain c draws noise stream `first_chain + c` of the seed,
    /// so runs of one seed over disjoint chain ranges are independent and can be merged.
    #[config(default = 0)]
    pub first_chain: u64,
    /// The discretisation.
    #[config(default = "Scheme::LeimkuhlerMatthews")]
    pub scheme: Scheme,
    /// Seed of the noise (chain c uses stream c).
    #[config(default = 0)]
    pub seed: u64,
    /// Stop when a chain's loss exceeds L(θ_0) + `divergence_factor` · σ²/4 · n_params (the largest
    /// stationary excess is σ²/4 · rank ≤ σ²/4 · n).
    #[config(default = 100.0)]
    pub divergence_factor: f64,
    /// The drift correction (a noise-free companion chain), see [`DriftCorrection`].
    #[config(default = "DriftCorrection::None")]
    pub drift: DriftCorrection,
    /// Power iterations for the automatic step (and for checking a fixed one).
    #[config(default = 50)]
    pub power_iters: usize,
    /// With a fixed η, also estimate μ_max first and warn when η μ_max ≥ 2 (the run would diverge).
    #[config(default = true)]
    pub check_step: bool,
    /// The loss's scale-invariant groups at θ₀ ([`crate::symmetry::find_scale_groups`], or what
    /// the model declares); what happens to them is `symmetry`'s choice.
    #[config(default = "Vec::new()")]
    pub scale_groups: Vec<crate::symmetry::ScaleGroup>,
    /// Whether the groups' dynamics run on the sphere of their θ₀ norm (the projected scheme of
    /// [`super::projection`]; dead groups, ‖w₀‖ = 0, are left out) or as the plain dynamics,
    /// with a warning before the run when their norms are predicted to drift.
    #[config(default = "Symmetry::Project")]
    pub symmetry: Symmetry,
    /// An adaptive run length (`--iters auto`, [`super::adaptive`]): `k_tot` and `k_avg` are then
    /// the current stage's (the first: K₀ and K₀/2), and the run doubles until it stops. `None`:
    /// the fixed K_tot and K_avg.
    #[config(default = "None")]
    pub adaptive: Option<super::AdaptiveLength>,
}

/// What a run does with the loss's scale-invariant groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Symmetry {
    /// Each group moves on the sphere of its θ₀ norm (Langevin dynamics on the quotient).
    Project,
    /// The plain dynamics: the groups' norms random-walk upward.
    Off,
}

impl std::str::FromStr for Symmetry {
    type Err = Error;
    fn from_str(s: &str) -> hessrank_core::Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "project" | "on" => Ok(Symmetry::Project),
            "off" | "none" => Ok(Symmetry::Off),
            _ => Err(Error::config("symmetry", s, "project or off")),
        }
    }
}

impl LangevinConfig {
    /// The settings of an adaptive run starting at its first stage: K_tot = K₀, K_avg = K₀/2.
    pub fn adaptive_from(self, adaptive: super::AdaptiveLength) -> Self {
        let first = adaptive.first;
        self.with_k_tot(first).with_k_avg(first / 2).with_adaptive(Some(adaptive))
    }

    /// The groups the dynamics project: the live ones, with [`Symmetry::Project`].
    pub fn projected_groups(&self) -> Vec<crate::symmetry::ScaleGroup> {
        match self.symmetry {
            Symmetry::Project => self.scale_groups.iter().filter(|g| !g.is_dead()).cloned().collect(),
            Symmetry::Off => Vec::new(),
        }
    }
}

impl LangevinConfig {
    /// The names of the fields, in order (a resumed run's settings are compared field by field).
    pub const FIELDS: &'static [&'static str] = &[
        "step",
        "sigma2",
        "k_tot",
        "k_avg",
        "chains",
        "first_chain",
        "scheme",
        "seed",
        "divergence_factor",
        "drift",
        "power_iters",
        "check_step",
        "scale_groups",
        "symmetry",
        "adaptive",
    ];

    /// Checks every field, naming the first bad one with its value and the allowed range.
    pub fn validate(&self) -> hessrank_core::Result<()> {
        match self.step {
            StepSize::Fixed(eta) if !(eta.is_finite() && eta > 0.0) => {
                return Err(Error::config("eta", eta, "a finite number > 0, or auto"));
            }
            StepSize::Auto { c } if !(c.is_finite() && c > 0.0 && c < 2.0) => {
                return Err(Error::config("eta auto factor c", c, "0 < c < 2 (η μ_max < 2 for stability)"));
            }
            _ => {}
        }
        if !(self.sigma2.is_finite() && self.sigma2 > 0.0) {
            return Err(Error::config("sigma2", self.sigma2, "a finite number > 0"));
        }
        if self.k_tot == 0 {
            return Err(Error::config("k_tot", self.k_tot, "≥ 1"));
        }
        if self.k_avg == 0 || self.k_avg > self.k_tot {
            return Err(Error::config("k_avg", self.k_avg, format!("1 ≤ K_avg ≤ K_tot = {}", self.k_tot)));
        }
        if self.chains == 0 {
            return Err(Error::config("chains", self.chains, "≥ 1"));
        }
        if !(self.divergence_factor.is_finite() && self.divergence_factor > 1.0) {
            return Err(Error::config("divergence_factor", self.divergence_factor, "a finite number > 1"));
        }
        if let Some(a) = &self.adaptive {
            a.validate()?;
        }
        if let Some(g) = self.scale_groups.iter().find(|g| !(g.norm.is_finite() && g.norm >= 0.0)) {
            return Err(Error::config("scale group norm", format!("{} = {}", g.group, g.norm), "a finite ‖w₀‖ ≥ 0"));
        }
        Ok(())
    }
}
