//! The paper's Table 1 and Figure 2: rank estimates of deep linear nets at random global minima
//! against the true rank d² and the Ubaru–Saad baseline with the same matrix-vector budget. The
//! trials of one d run as batched chains; a finished d is saved, so an interrupted sweep resumes.

use crate::observer::ExperimentObserver;
use burn::tensor::Device;
use hessrank_core::atomic::{read_json, write_json_atomic};
use hessrank_core::error::first_difference;
use hessrank_core::{DiagPreconditioner, Error, ParamLayout, Result};
use hessrank_models::GlobalMinimum;
use hessrank_models::linear::{BatchedLinearNet, BatchedPopulationObjective};
use hessrank_rank::baselines::{GapRule, UbaruSaad, UbaruSaadConfig};
use hessrank_rank::langevin::{Checkpointing, Langevin};
use hessrank_rank::theory::{DiscreteTheory, TheoryBreakdown};
use hessrank_rank::{LangevinConfig, Scheme, StepSize};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The paper's published normalised RMSE (%) for d = 8 … 256: ours, U&S.
pub const PAPER: [(usize, f64, f64); 6] =
    [(8, 6.9, 12.2), (16, 2.8, 18.5), (32, 1.2, 19.0), (64, 0.3, 19.2), (128, 2.0, 17.9), (256, 4.6, 18.7)];

/// How the trials of one d are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protocol {
    /// The authors' script: one Σyx (so one T and one Hessian spectrum) per d, seeded; each trial
    /// a fresh orthogonal gauge P (another global minimum with the same spectrum).
    Authors,
    /// A new Σyx, T and P per trial (the spectrum varies across trials).
    Fresh,
}

/// What to run.
#[derive(Debug, Clone, Serialize)]
pub struct Table1Spec {
    /// Dimensions d.
    pub dims: Vec<usize>,
    /// Trials per d.
    pub trials: usize,
    /// How trials differ.
    pub protocol: Protocol,
    /// Chains per trial.
    pub chains: usize,
    /// Depth M.
    pub depth: usize,
    /// Algorithm 1's settings (the seed of d is `langevin.seed + d`).
    pub langevin: LangevinConfig,
    /// U&S probe vectors.
    pub us_vecs: usize,
    /// U&S polynomial degree.
    pub us_degree: usize,
    /// U&S threshold rule.
    pub us_rule: GapRule,
    /// Skip U&S.
    pub no_us: bool,
    /// Seed of the minima (and of the noise, through `langevin`).
    pub seed: u64,
    /// Where the sweep keeps its state: `config.json`, a `d<d>.json` per finished d and the running
    /// d's Langevin state.
    #[serde(skip)]
    pub state_dir: PathBuf,
    /// Save the running d's state every this many iterations.
    #[serde(skip)]
    pub checkpoint_every: usize,
    /// Continue the sweep saved in `state_dir`.
    #[serde(skip)]
    pub resume: bool,
}

impl Table1Spec {
    /// Algorithm 1's settings of a table: η, σ², K_tot, K_avg and the scheme, validated.
    pub fn langevin_config(
        eta: StepSize,
        sigma2: f64,
        iters: usize,
        avg: usize,
        scheme: Scheme,
    ) -> Result<LangevinConfig> {
        let config = LangevinConfig::new()
            .with_chains(1)
            .with_step(eta)
            .with_sigma2(sigma2)
            .with_k_tot(iters)
            .with_k_avg(avg)
            .with_scheme(scheme)
            .with_check_step(false);
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        if self.dims.is_empty() || self.dims.contains(&0) {
            return Err(Error::config("dims", format!("{:?}", self.dims), "positive dimensions, e.g. 8,16,32"));
        }
        if self.trials == 0 {
            return Err(Error::config("trials", 0, "≥ 1"));
        }
        if self.chains == 0 {
            return Err(Error::config("chains", 0, "≥ 1"));
        }
        self.langevin.validate()
    }
}

/// One d of the table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Table1Row {
    /// d.
    pub d: usize,
    /// d², the true rank.
    pub true_rank: f64,
    /// Mean estimate over the trials.
    pub mean: f64,
    /// Their standard deviation.
    pub std: f64,
    /// Normalised RMSE against d².
    pub nrmse: f64,
    /// U&S's mean (none when skipped).
    pub us_mean: Option<f64>,
    /// U&S's standard deviation.
    pub us_std: Option<f64>,
    /// U&S's normalised RMSE.
    pub us_nrmse: Option<f64>,
    /// The paper's normalised RMSE for this d, where published.
    pub paper_nrmse: Option<f64>,
    /// The paper's U&S normalised RMSE.
    pub paper_us_nrmse: Option<f64>,
    /// The step used.
    pub eta: f64,
    /// Seconds of the Langevin run.
    pub wall_s: f64,
    /// The discrete-time expectation of the estimate on the exact spectrum, averaged over the
    /// trials' minima (one spectrum under the authors' protocol): the scheme's per-mode inflation
    /// (EM: 1/(1 − ημ/2)) and the modes below 1/(2ηK) that have not equilibrated, for this η, σ²,
    /// K_tot and K_avg ([`hessrank_rank::theory::DiscreteTheory`]). What the measured mean should
    /// be, where it differs from d².
    #[serde(default)]
    pub theory: Option<f64>,
    /// The theory taken apart ([`TheoryBreakdown`], 90 % of the deficit): EM's inflation and the
    /// slow modes' deficit, averaged over the trials, and trial 0's slowest modes (every trial's,
    /// under the authors' protocol, where the spectrum is shared).
    #[serde(default)]
    pub breakdown: Option<TheoryBreakdown>,
    /// The float dtype the Langevin run used (`F32`, `F64`): a table assembled from resumed
    /// widths may mix them.
    #[serde(default)]
    pub dtype: Option<String>,
}

/// One trial's estimates.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Trial {
    /// d.
    pub d: usize,
    /// The trial's index.
    pub trial: usize,
    /// Algorithm 1 (mean over the trial's chains).
    pub estimate: f64,
    /// U&S (NaN when skipped).
    pub us_estimate: f64,
    /// d².
    pub true_rank: f64,
}

/// The table.
#[derive(Debug, Clone, Serialize)]
pub struct Table1Report {
    /// One row per finished d.
    pub table: Vec<Table1Row>,
    /// Whether the sweep stopped before its last d.
    pub partial: bool,
    /// Where and why it stopped, when it did.
    pub stopped: Option<String>,
    /// Every finished trial (written as CSV, not into the JSON report).
    #[serde(skip)]
    pub trials: Vec<Trial>,
}

/// What one finished d leaves in the state folder (`d<d>.json`), so a resumed sweep skips it.
#[derive(Serialize, Deserialize)]
struct DoneDim {
    summary: Table1Row,
    ours: Vec<f64>,
    /// `null` where U&S was skipped.
    us: Vec<Option<f64>>,
}

/// Normalised RMSE of `estimates` against `truth`.
pub fn nrmse(estimates: &[f64], truth: f64) -> f64 {
    (estimates.iter().map(|e| (e - truth).powi(2)).sum::<f64>() / estimates.len() as f64).sqrt() / truth
}

/// Mean and sample standard deviation.
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let s =
        if v.len() > 1 { (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt() } else { 0.0 };
    (m, s)
}

/// Checks a resumed sweep's settings against the saved ones, or saves them for a new sweep.
///
/// A resumed sweep may add widths: its `dims` must include every saved one, and the saved settings
/// then record the longer list. So a finished sweep extends to larger d, in another dtype if the
/// run asks for one (each row records its own). Returns the saved dims when the list grew.
fn settle_config(spec: &Table1Spec) -> Result<Option<Vec<usize>>> {
    let path = spec.state_dir.join("config.json");
    let now = serde_json::to_value(spec).map_err(|source| Error::Json { path: path.clone(), source })?;
    if !spec.resume {
        return write_json_atomic(&path, &now).map(|()| None);
    }
    let saved: serde_json::Value = read_json(&path)?;
    if let Some((field, saved, given)) = first_difference(&saved, &now, TABLE1_FIELDS) {
        return Err(Error::SettingsMismatch { path, field, saved, given });
    }
    let saved_dims: Vec<usize> = saved
        .get("dims")
        .and_then(|d| serde_json::from_value(d.clone()).ok())
        .ok_or_else(|| Error::format(&path, "no list of dims"))?;
    if saved_dims.iter().any(|d| !spec.dims.contains(d)) {
        return Err(Error::SettingsMismatch {
            path,
            field: "dims",
            saved: format!("{saved_dims:?}"),
            given: format!("{:?} (a resumed sweep keeps every saved d and may add more)", spec.dims),
        });
    }
    if saved_dims == spec.dims {
        return Ok(None);
    }
    write_json_atomic(&path, &now)?;
    Ok(Some(saved_dims))
}

/// The serialised fields of [`Table1Spec`] that must equal the saved ones on resume (`dims` may grow).
const TABLE1_FIELDS: &[&str] =
    &["trials", "protocol", "chains", "depth", "langevin", "us_vecs", "us_degree", "us_rule", "no_us", "seed"];

/// The finished d saved in `path`, checked against the trials asked for.
fn read_done(path: &Path, trials: usize) -> Result<DoneDim> {
    let done: DoneDim = read_json(path)?;
    if done.ours.len() != trials || done.us.len() != trials {
        return Err(Error::format(path, format!("{} trials saved, {trials} asked for", done.ours.len())));
    }
    Ok(done)
}

/// Runs Table 1 on `device` (an autodiff device).
pub fn run(spec: &Table1Spec, device: &Device, observer: &mut dyn ExperimentObserver) -> Result<Table1Report> {
    spec.validate()?;
    if let Some(saved) = settle_config(spec)? {
        observer.note(&format!("extending the saved sweep over d = {saved:?} to d = {:?}", spec.dims));
    }
    let mut report = Table1Report { table: Vec::new(), partial: false, stopped: None, trials: Vec::new() };
    for &d in &spec.dims {
        let truth = (d * d) as f64;
        let done_path = spec.state_dir.join(format!("d{d}.json"));
        let push = |report: &mut Table1Report, ours: &[f64], us: &[f64]| {
            report.trials.extend((0..spec.trials).map(|t| Trial {
                d,
                trial: t,
                estimate: ours[t],
                us_estimate: us[t],
                true_rank: truth,
            }));
        };
        let seed_of = |t: usize| spec.seed.wrapping_mul(1_000_003).wrapping_add((d * 10_000 + t) as u64);
        let draw_minima = || -> Result<Vec<GlobalMinimum>> {
            (0..spec.trials)
                .map(|t| match spec.protocol {
                    Protocol::Authors => GlobalMinimum::random_with_gauge(d, spec.depth, seed_of(0), seed_of(t)),
                    Protocol::Fresh => GlobalMinimum::random(d, spec.depth, seed_of(t)),
                })
                .collect()
        };
        if spec.resume && done_path.is_file() {
            let mut done = read_done(&done_path, spec.trials)?;
            observer.note(&format!("d={d}: done earlier ({})", done_path.display()));
            let us: Vec<f64> = done.us.iter().map(|u| u.unwrap_or(f64::NAN)).collect();
            push(&mut report, &done.ours, &us);
            if done.summary.breakdown.is_none() {
                // A row saved before the theory's breakdown existed: the minima are redrawn from
                // their seeds, so the theory is that of the trials that ran.
                let (theory, breakdown) = theory_of(spec, &draw_minima()?, done.summary.eta);
                done.summary.theory = Some(theory);
                done.summary.breakdown = Some(breakdown);
            }
            report.table.push(done.summary);
            continue;
        }
        let minima = draw_minima()?;
        let replicated: Vec<GlobalMinimum> =
            minima.iter().flat_map(|m| std::iter::repeat_n(m.clone(), spec.chains)).collect();
        let net = BatchedLinearNet::from_minima(&replicated, device)?;
        let objective = BatchedPopulationObjective::from_minima(&replicated, device);
        let g = DiagPreconditioner::identity(&ParamLayout::of(&net), &device.clone().inner());
        let config = spec.langevin.clone().with_seed(spec.seed.wrapping_add(d as u64));
        let checkpointing = Checkpointing {
            path: spec.state_dir.join(format!("langevin-state-d{d}.json")),
            every: spec.checkpoint_every.max(1),
        };
        let r = {
            let mut progress = observer.langevin(&format!("d={d}"));
            Langevin::new(&config)
                .observe(progress.as_mut())
                .checkpoint(checkpointing.clone())
                .resume(spec.resume)
                .run(&objective, &net, &g)
        };
        let r = match r {
            Err(e @ Error::Interrupted { .. }) => Err(e.to_string()),
            Ok(r) if r.partial => Err(format!("{} iterations done", r.iterations)),
            r => Ok(r?),
        };
        let r = match r {
            Ok(r) => r,
            Err(why) => {
                report.partial = true;
                report.stopped = Some(format!("d={d}: {why}"));
                break;
            }
        };
        let ours: Vec<f64> =
            r.chain.chunks(spec.chains).map(|c| c.iter().map(|s| s.estimate).sum::<f64>() / c.len() as f64).collect();
        let us: Vec<f64> = if spec.no_us {
            vec![f64::NAN; spec.trials]
        } else {
            minima
                .iter()
                .enumerate()
                .map(|(t, m)| {
                    let cfg = UbaruSaadConfig {
                        gap_rule: spec.us_rule,
                        degree: spec.us_degree,
                        nvecs: spec.us_vecs,
                        seed: spec.seed.wrapping_add(t as u64),
                        ..Default::default()
                    };
                    UbaruSaad::estimate(&m.hessian_in_eigenbasis(), &cfg).rank
                })
                .collect()
        };
        push(&mut report, &ours, &us);
        let (m, s) = mean_std(&ours);
        let (um, us_s) = mean_std(&us);
        let paper = PAPER.iter().find(|p| p.0 == d);
        let with_us = |x: f64| (!spec.no_us).then_some(x);
        let (theory, breakdown) = theory_of(spec, &minima, r.eta);
        let row = Table1Row {
            d,
            true_rank: truth,
            mean: m,
            std: s,
            nrmse: nrmse(&ours, truth),
            us_mean: with_us(um),
            us_std: with_us(us_s),
            us_nrmse: with_us(nrmse(&us, truth)),
            paper_nrmse: paper.map(|p| p.1 / 100.0),
            paper_us_nrmse: paper.map(|p| p.2 / 100.0),
            eta: r.eta,
            wall_s: r.wall_s,
            theory: Some(theory),
            breakdown: Some(breakdown),
            dtype: Some(format!("{:?}", device.settings().float_dtype)),
        };
        // U&S NaNs (skipped) are stored as null and read back as NaN.
        let us_saved: Vec<Option<f64>> = us.iter().map(|x| x.is_finite().then_some(*x)).collect();
        write_json_atomic(&done_path, &DoneDim { summary: row.clone(), ours, us: us_saved })?;
        // The dimension is recorded; its Langevin state is no longer needed.
        let _ = std::fs::remove_file(&checkpointing.path);
        report.table.push(row);
    }
    Ok(report)
}

/// The row's theory on the trials' exact spectra for step `eta`: the mean expected estimate and its
/// breakdown (inflation and deficit averaged; trial 0's slowest modes), from one pass per trial.
fn theory_of(spec: &Table1Spec, minima: &[GlobalMinimum], eta: f64) -> (f64, TheoryBreakdown) {
    let (c, k_tot, k_avg) = (&spec.langevin, spec.langevin.k_tot, spec.langevin.k_avg);
    let each: Vec<TheoryBreakdown> = minima
        .iter()
        .map(|m| {
            DiscreteTheory { mu: m.hessian_eigenvalues(), eta, sigma2: c.sigma2, scheme: c.scheme }
                .breakdown(k_tot, k_avg, 0.9)
        })
        .collect();
    let n = each.len() as f64;
    let mut breakdown = each[0];
    breakdown.inflation = each.iter().map(|b| b.inflation).sum::<f64>() / n;
    breakdown.deficit = each.iter().map(|b| b.deficit).sum::<f64>() / n;
    (each.iter().map(TheoryBreakdown::expected_estimate).sum::<f64>() / n, breakdown)
}
