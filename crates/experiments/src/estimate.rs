//! `estimate` as a library call: Algorithm 1 on any [`Problem`] at one σ² or a sweep, on a block of
//! parameters or layer by layer, and, for models with ReLU kinks, the paired frozen-activation
//! check against the discrete theory on the exact Hessian. The CLI and the facade both call it.

use crate::observer::ExperimentObserver;
use crate::paired::StateFiles;
use crate::registry::Problem;
use crate::store::RunStore;
use crate::sweep::{FrozenCheck, SweepRow, Value};
use hessrank_core::{DiagPreconditioner, Error, ParamLayout, Result};
use hessrank_rank::langevin::TracePoint;
use hessrank_rank::theory::DiscreteTheory;
use hessrank_rank::validation::{PairedDifference, ThresholdPoint, threshold_curve};
use hessrank_rank::{LangevinConfig, RankEstimate};
use serde::Serialize;
use std::path::PathBuf;

/// Which preconditioner G the dynamics use.
#[derive(Debug, Clone, Default)]
pub enum PrecondChoice {
    /// The problem's own G (Adam's from training, or one the caller attached) where it has one, else
    /// the identity.
    #[default]
    Default,
    /// Adam's from training (an error where the weights came without it).
    Adam,
    /// G = I.
    Identity,
    /// A preconditioner file saved by hessrank.
    File(PathBuf),
    /// One already resolved, with its name (a front end that resolves G early, to name a bad
    /// choice before any work, hands it on without reading it twice).
    Given {
        /// G.
        g: DiagPreconditioner,
        /// Its name as the run records it.
        name: String,
    },
}

impl PrecondChoice {
    /// G for `problem`, with its name as the run records it (`adam`, `identity` or the file).
    pub fn resolve(&self, problem: &Problem<'_>) -> Result<(DiagPreconditioner, String)> {
        match (self, &problem.precond) {
            (PrecondChoice::Default | PrecondChoice::Adam, Some(adam)) => Ok((adam.clone(), "adam".into())),
            (PrecondChoice::Adam, None) => Err(Error::config(
                "precond",
                "adam",
                "identity or a preconditioner file: these weights come without Adam's second moment",
            )),
            (PrecondChoice::Default | PrecondChoice::Identity, _) => {
                Ok((problem.identity_precond()?, "identity".into()))
            }
            (PrecondChoice::File(file), _) => {
                let g = DiagPreconditioner::load(file, &problem.layout(), &problem.plain_device()?)?;
                Ok((g, file.display().to_string()))
            }
            (PrecondChoice::Given { g, name }, _) => Ok((g.clone(), name.clone())),
        }
    }
}

/// What to estimate and how.
#[derive(Debug, Clone)]
pub struct EstimateSpec {
    /// Algorithm 1's settings (its σ² is replaced by each entry of `sigma2`).
    pub langevin: LangevinConfig,
    /// Every σ² (one: a single estimate; more: a sweep, with the frozen chains paired at each where
    /// the model has them).
    pub sigma2: Vec<f64>,
    /// G.
    pub precond: PrecondChoice,
    /// Run the dynamics on the parameters these path globs select only; the rest stay at θ₀ (the
    /// rank of that diagonal block of H). Empty: every parameter.
    pub params: Vec<String>,
    /// Also run the same chains on the frozen-activation objective and compare them with the
    /// discrete theory on the exact Hessian (f64, at most 5,000 parameters).
    pub validate: bool,
    /// Save the running state every this many iterations (when a store is given).
    pub checkpoint_every: usize,
    /// Continue the runs saved in the store.
    pub resume: bool,
    /// What the dynamics do with the loss's scale-invariant groups, found at θ₀ before the run
    /// (`None`: project them wherever there are some, [`crate::symmetry::with_scale_groups`]).
    pub symmetry: Option<hessrank_rank::Symmetry>,
}

impl EstimateSpec {
    /// This spec with the scale-invariant groups of `problem` at θ₀ in its settings and the
    /// symmetry choice applied (said to `observer`).
    pub fn with_scale_groups(&self, problem: &Problem<'_>, observer: &mut dyn ExperimentObserver) -> Result<Self> {
        let groups = problem.ops().scale_groups()?;
        let langevin = crate::symmetry::with_scale_groups(self.langevin.clone(), self.symmetry, groups, observer);
        Ok(Self { langevin, ..self.clone() })
    }

    /// The settings of Algorithm 1 at σ² number `index`.
    pub fn config_at(&self, index: usize) -> LangevinConfig {
        self.langevin.clone().with_sigma2(self.sigma2[index])
    }

    /// Checks the σ² list and every configuration (errors name the field).
    pub fn validate_settings(&self) -> Result<()> {
        if self.sigma2.is_empty() {
            return Err(Error::config("sigma2", "an empty list", "at least one σ²"));
        }
        (0..self.sigma2.len()).try_for_each(|i| self.config_at(i).validate())
    }
}

/// One σ² of the like-for-like check: the frozen chains against the discrete theory.
#[derive(Debug, Clone, Serialize)]
pub struct ValidationRow {
    /// σ².
    pub sigma2: f64,
    /// The real estimate.
    pub real: Value,
    /// The frozen estimate.
    pub frozen: Value,
    /// real − frozen, paired.
    pub relu_excess: Option<PairedDifference>,
    /// The theory's expected estimate.
    pub theory: f64,
    /// (frozen − theory) / SE.
    pub z_vs_theory: f64,
    /// Within 2.5 SE.
    pub agrees_within_2_5_se: bool,
}

/// The estimate of one run, with what the sweep and the check add.
#[derive(Debug, Clone)]
pub struct EstimateReport {
    /// The estimate at the first σ².
    pub estimate: RankEstimate,
    /// Its recorded mean trace.
    pub trace: Vec<TracePoint>,
    /// The rank at every eigenvalue threshold 1/(2ηk), from the trace alone.
    pub threshold: Vec<ThresholdPoint>,
    /// One row per σ² (when sweeping or validating).
    pub sweep: Vec<SweepRow>,
    /// The like-for-like check per σ² (with `validate`).
    pub validation: Vec<ValidationRow>,
    /// The preconditioner used (`adam`, `identity` or its file).
    pub precond: String,
    /// The parameters that moved, of all (`params` restricts them).
    pub moving: (usize, usize),
}

/// G restricted to the parameters `params` selects (unchanged when empty), with the count that
/// moves.
pub fn restrict(g: DiagPreconditioner, layout: &ParamLayout, params: &[String]) -> Result<(DiagPreconditioner, usize)> {
    if params.is_empty() {
        return Ok((g, layout.numel()));
    }
    let keep = layout.select(params)?;
    let moving = layout.specs.iter().zip(&keep).filter(|(_, k)| **k).map(|(s, _)| s.numel()).sum();
    Ok((g.restricted(&keep)?, moving))
}

/// Runs `spec` on `problem`, saving state into `store` when given. An interrupted run returns
/// [`Error::Interrupted`] with its state saved.
pub fn estimate(
    spec: &EstimateSpec,
    problem: &Problem<'_>,
    store: Option<&RunStore>,
    observer: &mut dyn ExperimentObserver,
) -> Result<EstimateReport> {
    spec.validate_settings()?;
    let spec = &spec.with_scale_groups(problem, observer)?;
    let sweep = spec.sigma2.len() > 1;
    let has_frozen = problem.has_frozen();
    if spec.validate && !has_frozen {
        return Err(Error::config(
            "validate",
            "a model without ReLU kinks",
            "a model with a frozen-activation objective (the linear net is checked against its closed form by \
             figure1 and table1)",
        ));
    }
    let layout = problem.layout();
    let (g, precond) = spec.precond.resolve(problem)?;
    let (g, moving) = restrict(g, &layout, &spec.params)?;
    let exact_mu = if spec.validate {
        problem.require_f64("validate")?;
        observer.note(&format!(
            "validate: the exact Hessian of the frozen-activation objective ({} parameters, f64)",
            layout.numel()
        ));
        Some(problem.ops().exact_mode_eigenvalues(&g)?)
    } else {
        None
    };
    if sweep && !has_frozen {
        observer.note("this model has no frozen-activation objective: the σ² sweep has the real estimates only");
    }
    let paired = has_frozen && (sweep || spec.validate);
    let (mut rows, mut validation, mut first) = (Vec::new(), Vec::new(), None);
    for index in 0..spec.sigma2.len() {
        let config = spec.config_at(index);
        let files = StateFiles {
            dir: store.map(|s| s.path.as_path()),
            index,
            every: spec.checkpoint_every.max(1),
            resume: spec.resume,
        };
        let (r, trace, frozen) = if paired {
            let p = problem.ops().run_paired(&config, &g, files, observer)?;
            (p.real, p.real_trace, Some((p.frozen, p.relu_excess)))
        } else {
            let (r, trace) = problem.ops().run_real(&config, &g, files, observer, "langevin")?;
            (r, trace, None)
        };
        if sweep || spec.validate {
            let theory = exact_mu.as_ref().map(|mu| {
                DiscreteTheory { mu: mu.clone(), eta: r.eta, sigma2: config.sigma2, scheme: config.scheme }
                    .expected_estimate(r.config.k_tot, r.config.k_avg)
            });
            let row = SweepRow::of(&r, frozen.as_ref().map(|(f, d)| (f, d)), theory);
            if let (Some(f), Some(theory)) = (row.frozen, theory) {
                let check = FrozenCheck::of(f.estimate, f.stderr, theory);
                validation.push(ValidationRow {
                    sigma2: row.sigma2,
                    real: row.real,
                    frozen: f,
                    relu_excess: row.relu_excess.clone(),
                    theory,
                    z_vs_theory: check.z,
                    agrees_within_2_5_se: check.agrees,
                });
            }
            rows.push(row);
        }
        if first.is_none() {
            first = Some((r, trace));
        }
    }
    let (estimate, trace) = first.expect("at least one σ² (validated)");
    let threshold = threshold_curve(&trace, estimate.eta, None, None);
    Ok(EstimateReport {
        estimate,
        trace,
        threshold,
        sweep: rows,
        validation,
        precond,
        moving: (moving, layout.numel()),
    })
}

/// One block of a per-layer estimate.
#[derive(Debug, Clone, Serialize)]
pub struct BlockRow {
    /// The block's name (the layer's path).
    pub block: String,
    /// Its parameter glob.
    pub params: String,
    /// Its parameters.
    pub n_params: usize,
    /// Its estimate.
    pub result: RankEstimate,
}

/// One estimate per layer (`first`, `mid.0`, `last` on the DnCNN; `layers.0`, … on an MLP): the
/// rank of each diagonal block of H, at the spec's first σ². Nothing is saved (no resume).
pub fn per_layer(
    spec: &EstimateSpec,
    problem: &Problem<'_>,
    observer: &mut dyn ExperimentObserver,
) -> Result<Vec<BlockRow>> {
    spec.validate_settings()?;
    if spec.sigma2.len() > 1 {
        return Err(Error::config("sigma2", format!("{} values", spec.sigma2.len()), "one σ² per layer-by-layer run"));
    }
    let spec = &spec.with_scale_groups(problem, observer)?;
    let layout = problem.layout();
    let (g, _) = spec.precond.resolve(problem)?;
    let config = spec.config_at(0);
    let mut rows = Vec::new();
    for (block, globs) in problem.layers() {
        let (g, n_params) = restrict(g.clone(), &layout, &globs)?;
        let glob = globs.join(", ");
        let (result, _) = problem.ops().run_real(&config, &g, StateFiles::NONE, observer, block.as_str())?;
        observer.note(&format!("{block:<10} {n_params:>6} parameters: {result}"));
        rows.push(BlockRow { block, params: glob, n_params, result });
    }
    Ok(rows)
}
