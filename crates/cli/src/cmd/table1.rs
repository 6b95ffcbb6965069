//! `hessrank table1`: the paper's Table 1 and Figure 2 — rank estimates of deep linear nets at
//! random global minima against the true rank d² and the Ubaru–Saad baseline with the same
//! matrix-vector budget. The trials of one d run as batched chains.

use super::{parse_eta, parse_scheme};
use crate::Ctx;
use crate::plots::{Bars, errorbar_chart};
use crate::progress::LangevinProgress;
use crate::run_dir::RunDir;
use anyhow::{Result, ensure};
use clap::Args;
use hessrank_core::atomic::read_json;
use hessrank_core::{DiagPreconditioner, ParamLayout};
use hessrank_models::GlobalMinimum;
use hessrank_models::linear::{BatchedLinearNet, BatchedPopulationObjective};
use hessrank_rank::baselines::{GapRule, UbaruSaad, UbaruSaadConfig};
use hessrank_rank::langevin::{Checkpointing, Langevin};
use hessrank_rank::{LangevinConfig, Scheme, StepSize};
use plotters::style::RGBColor;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The paper's published normalised RMSE (%) for d = 8 … 256: ours, U&S.
const PAPER: [(usize, f64, f64); 6] =
    [(8, 6.9, 12.2), (16, 2.8, 18.5), (32, 1.2, 19.0), (64, 0.3, 19.2), (128, 2.0, 17.9), (256, 4.6, 18.7)];

/// How the trials of one d are drawn.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protocol {
    /// The authors' script: one Σyx (so one T and one Hessian spectrum) per d, seeded; each trial
    /// a fresh orthogonal gauge P (another global minimum with the same spectrum).
    Authors,
    /// A new Σyx, T and P per trial (the spectrum varies across trials).
    Fresh,
}

/// Arguments of `table1` (defaults: the paper's settings).
#[derive(Args, Debug)]
pub struct Table1Args {
    /// Dimensions d (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "8,16,32,64,128,256")]
    pub dims: Vec<usize>,
    /// Trials per d (each at its own random global minimum).
    #[arg(long, default_value_t = 100)]
    pub trials: usize,
    /// How trials differ: authors (one spectrum per d, a new gauge per trial, the paper's) or
    /// fresh (a new spectrum per trial).
    #[arg(long, value_enum, default_value = "authors")]
    pub protocol: Protocol,
    /// Discretisation: em (the paper) or lm.
    #[arg(long, value_parser = parse_scheme, default_value = "em")]
    pub scheme: Scheme,
    /// Step size: a number (the paper: 1e-4), auto or auto:C.
    #[arg(long, value_parser = parse_eta, default_value = "1e-4", allow_hyphen_values = true)]
    pub eta: StepSize,
    /// Total iterations K_tot.
    #[arg(long, default_value_t = 15000)]
    pub iters: usize,
    /// Iterations averaged, K_avg.
    #[arg(long, default_value_t = 10000)]
    pub avg: usize,
    /// Chains per trial.
    #[arg(long, default_value_t = 1)]
    pub chains: usize,
    /// Noise power σ².
    #[arg(long, default_value_t = 2e-5, allow_hyphen_values = true)]
    pub sigma2: f64,
    /// Depth M.
    #[arg(long, default_value_t = 5)]
    pub depth: usize,
    /// U&S probe vectors (degree × vectors = the matrix-vector budget; the paper: 50 × 300).
    #[arg(long, default_value_t = 300)]
    pub us_vecs: usize,
    /// U&S polynomial degree.
    #[arg(long, default_value_t = 50)]
    pub us_degree: usize,
    /// Skip U&S.
    #[arg(long)]
    pub no_us: bool,
    /// U&S threshold rule: published (Ubaru and Saad's code, the paper's baseline) or first-minimum.
    #[arg(long, value_parser = super::parse_us_rule, default_value = "published")]
    pub us_rule: GapRule,
    /// Save the running d's Langevin state (langevin-state-d<d>.json) every this many iterations.
    #[arg(long, default_value_t = 1000)]
    pub checkpoint_every: usize,
    /// Continue the sweep saved in this results folder (same flags and seed): finished
    /// dimensions are read back, the interrupted one continues from its saved state.
    #[arg(long)]
    pub resume: Option<PathBuf>,
}

/// What one finished dimension leaves in the run folder (`d<d>.json`), so a resumed sweep skips it.
#[derive(Serialize, Deserialize)]
struct DoneDim {
    summary: serde_json::Value,
    ours: Vec<f64>,
    /// `null` where U&S was skipped.
    us: Vec<Option<f64>>,
}

fn nrmse(estimates: &[f64], truth: f64) -> f64 {
    (estimates.iter().map(|e| (e - truth).powi(2)).sum::<f64>() / estimates.len() as f64).sqrt() / truth
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let s =
        if v.len() > 1 { (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt() } else { 0.0 };
    (m, s)
}

/// Runs `table1`.
pub fn run(ctx: &Ctx, a: Table1Args) -> Result<()> {
    ensure!(
        !a.dims.is_empty() && a.dims.iter().all(|&d| d > 0),
        "--dims needs positive dimensions, e.g. --dims 8,16,32"
    );
    ensure!(a.trials >= 1, "--trials must be ≥ 1");
    ensure!(a.chains >= 1, "--chains must be ≥ 1");
    let base = LangevinConfig::new()
        .with_step(a.eta)
        .with_sigma2(a.sigma2)
        .with_k_tot(a.iters)
        .with_k_avg(a.avg)
        .with_scheme(a.scheme)
        .with_check_step(false)
        .with_record_stride((a.iters / 500).max(1));
    base.validate()?;
    let config_json = serde_json::json!({"dims": a.dims, "trials": a.trials, "protocol": a.protocol, "chains": a.chains, "depth": a.depth, "langevin": base, "us_vecs": a.us_vecs, "us_degree": a.us_degree, "us_rule": a.us_rule, "no_us": a.no_us, "seed": ctx.seed, "backend": ctx.backend.to_string(), "dtype": format!("{:?}", ctx.dtype)});
    let dir = match &a.resume {
        Some(d) => {
            let path = d.join("config.json");
            let saved: serde_json::Value = read_json(&path).map_err(|e| {
                anyhow::anyhow!("--resume {}: {e} (give the folder of an earlier table1 run)", d.display())
            })?;
            let mut saved_cmp = saved.clone();
            if let Some(o) = saved_cmp.as_object_mut() {
                o.remove("provenance");
            }
            ensure!(
                saved_cmp == config_json,
                "--resume {}: that sweep used other settings ({}); resume with the same flags and seed",
                d.display(),
                path.display()
            );
            RunDir { path: d.clone() }
        }
        None => {
            let dir = RunDir::create(&ctx.out, "table1")?;
            dir.json("config.json", &config_json)?;
            dir
        }
    };
    let mut rows = Vec::new();
    let mut summary = Vec::new();
    let mut partial = false;
    for &d in &a.dims {
        let truth = (d * d) as f64;
        let done_path = dir.path.join(format!("d{d}.json"));
        if a.resume.is_some() && done_path.is_file() {
            let done: DoneDim = read_json(&done_path)?;
            ensure!(
                done.ours.len() == a.trials && done.us.len() == a.trials,
                "{}: {} trials saved, {} asked for",
                done_path.display(),
                done.ours.len(),
                a.trials
            );
            println!("d={d}: done earlier ({})", done_path.display());
            for t in 0..a.trials {
                rows.push(vec![d as f64, t as f64, done.ours[t], done.us[t].unwrap_or(f64::NAN), truth]);
            }
            summary.push(done.summary);
            continue;
        }
        let seed_of = |t: usize| ctx.seed.wrapping_mul(1_000_003).wrapping_add((d * 10_000 + t) as u64);
        let minima: Vec<GlobalMinimum> = (0..a.trials)
            .map(|t| match a.protocol {
                Protocol::Authors => GlobalMinimum::random_with_gauge(d, a.depth, seed_of(0), seed_of(t)),
                Protocol::Fresh => GlobalMinimum::random(d, a.depth, seed_of(t)),
            })
            .collect::<Result<_, _>>()?;
        let replicated: Vec<GlobalMinimum> =
            minima.iter().flat_map(|m| std::iter::repeat_n(m.clone(), a.chains)).collect();
        let net = BatchedLinearNet::from_minima(&replicated, &ctx.device)?;
        let objective = BatchedPopulationObjective::from_minima(&replicated, &ctx.device);
        let g = DiagPreconditioner::identity(&ParamLayout::of(&net), &ctx.device.clone().inner());
        let config = base.clone().with_seed(ctx.seed.wrapping_add(d as u64));
        let checkpointing = Checkpointing {
            path: dir.path.join(format!("langevin-state-d{d}.json")),
            every: a.checkpoint_every.max(1),
        };
        let mut bar = LangevinProgress::new(&format!("d={d}"), ctx.quiet, ctx.stop.clone());
        let r = Langevin::new(&config)
            .observe(&mut bar)
            .checkpoint(checkpointing.clone())
            .resume(a.resume.is_some())
            .run(&objective, &net, &g);
        bar.finish();
        let (r, stopped) = match r {
            Err(e @ hessrank_core::Error::Interrupted { .. }) => (None, e.to_string()),
            r => {
                let r = r?;
                let msg = format!("{} iterations done", r.iterations);
                if r.partial { (None, msg) } else { (Some(r), msg) }
            }
        };
        let Some(r) = r else {
            partial = true;
            println!("interrupted at d={d} ({stopped}); continue with --resume {}", dir.path.display());
            break;
        };
        let ours: Vec<f64> =
            r.chain.chunks(a.chains).map(|c| c.iter().map(|s| s.estimate).sum::<f64>() / c.len() as f64).collect();
        let us: Vec<f64> = if a.no_us {
            vec![f64::NAN; a.trials]
        } else {
            minima
                .iter()
                .enumerate()
                .map(|(t, m)| {
                    let cfg = UbaruSaadConfig {
                        gap_rule: a.us_rule,
                        degree: a.us_degree,
                        nvecs: a.us_vecs,
                        seed: ctx.seed.wrapping_add(t as u64),
                        ..Default::default()
                    };
                    UbaruSaad::estimate(&m.hessian(), &cfg).rank
                })
                .collect()
        };
        for t in 0..a.trials {
            rows.push(vec![d as f64, t as f64, ours[t], us[t], truth]);
        }
        let (m, s) = mean_std(&ours);
        let (um, us_s) = mean_std(&us);
        let paper = PAPER.iter().find(|p| p.0 == d);
        let row = serde_json::json!({
            "d": d, "true_rank": truth, "mean": m, "std": s, "nrmse": nrmse(&ours, truth),
            "us_mean": if a.no_us { None } else { Some(um) }, "us_std": if a.no_us { None } else { Some(us_s) },
            "us_nrmse": if a.no_us { None } else { Some(nrmse(&us, truth)) },
            "paper_nrmse": paper.map(|p| p.1 / 100.0), "paper_us_nrmse": paper.map(|p| p.2 / 100.0),
            "eta": r.eta, "wall_s": r.wall_s
        });
        // U&S NaNs (with --no-us) are stored as null and read back as NaN.
        let us_json: Vec<Option<f64>> = us.iter().map(|x| x.is_finite().then_some(*x)).collect();
        dir.json(&format!("d{d}.json"), &serde_json::json!({"summary": row, "ours": ours, "us": us_json}))?;
        // The dimension is recorded; its Langevin state is no longer needed.
        let _ = std::fs::remove_file(&checkpointing.path);
        summary.push(row);
    }
    dir.csv("trials.csv", &["d", "trial", "estimate", "us_estimate", "true_rank"], rows.clone())?;
    dir.json("result.json", &serde_json::json!({"table": summary, "partial": partial}))?;
    if partial {
        return Ok(());
    }

    println!(
        "\nTable 1 — normalised RMSE of the rank estimate ({} trials per d, {:?} protocol, scheme {:?}, U&S {:?})",
        a.trials, a.protocol, a.scheme, a.us_rule
    );
    println!("{:>6} {:>10} {:>12} {:>10} {:>12} {:>12}", "d²", "ours", "paper ours", "U&S", "paper U&S", "mean ours");
    for s in &summary {
        let pct = |k: &str| s[k].as_f64().map(|x| format!("{:.2} %", 100.0 * x)).unwrap_or_else(|| "—".into());
        println!(
            "{:>6} {:>10} {:>12} {:>10} {:>12} {:>12.1}",
            s["true_rank"].as_f64().unwrap_or(0.0),
            pct("nrmse"),
            pct("paper_nrmse"),
            pct("us_nrmse"),
            pct("paper_us_nrmse"),
            s["mean"].as_f64().unwrap_or(f64::NAN)
        );
    }
    let bars = |col: usize| -> Vec<(f64, f64, f64)> {
        a.dims
            .iter()
            .map(|&d| {
                let v: Vec<f64> = rows.iter().filter(|r| r[0] == d as f64).map(|r| r[col]).collect();
                let (m, s) = mean_std(&v);
                ((d * d) as f64, m, s)
            })
            .collect()
    };
    let mut groups = vec![Bars { label: "Langevin (ours)".into(), points: bars(2), color: RGBColor(31, 119, 180) }];
    if !a.no_us {
        groups.push(Bars { label: "Ubaru–Saad".into(), points: bars(3), color: RGBColor(214, 39, 40) });
    }
    errorbar_chart(
        &dir.path.join("figure2.svg"),
        "Estimated Hessian rank of linear nets (±1 std)",
        "true rank d²",
        "estimated rank",
        &groups,
    )?;
    println!("results in {}", dir.path.display());
    Ok(())
}
