//! Time to an answer with the adaptive run length (`--iters auto`'s defaults: first stage 1,000,
//! precision 1 %, at most 64,000 iterations, 4 chains, LM, η = 1/μ_max): for each case, the wall
//! time until the run stops, the stage it stopped at and why, and the error against the truth.
//!
//! ```text
//! cargo run --release -p hessrank-bench --example time_to_answer
//! ```
//! Cases: the paper's deep linear nets (depth 5, σ² = 2e-5) at d = 8, 16, 32, whose rank is d², and
//! a 30 × 30 matrix of rank 18 whose eigenvalues run from 148 down to 0.075 (log-spaced), then
//! zeros (a spectrum with a gap). The DnCNN main job (no gap) is timed as a whole command
//! (`cargo run --release`). One JSON line per case.

use burn::tensor::{Device, FloatDType};
use hessrank_core::noise::SeededNoise;
use hessrank_core::{DiagPreconditioner, ParamLayout};
use hessrank_models::GlobalMinimum;
use hessrank_models::linear::{BatchedLinearNet, BatchedPopulationObjective};
use hessrank_rank::langevin::{AdaptiveLength, Langevin};
use hessrank_rank::{LangevinConfig, RankEstimate};
use std::time::Instant;

fn report(case: &str, truth: f64, r: &RankEstimate, wall: f64) {
    let a = r.adaptive.as_ref().expect("adaptive");
    let last = a.stages.last().expect("a stage");
    println!(
        "{}",
        serde_json::json!({
            "case": case,
            "truth": truth,
            "estimate": r.uncertainty.estimate,
            "stderr": r.uncertainty.stderr,
            "error_percent": 100.0 * (r.uncertainty.estimate / truth - 1.0),
            "stopped_at_k": last.k_tot,
            "stages": a.stages.len(),
            "stop": format!("{:?}", a.stop),
            "mu_k": last.threshold,
            "wall_s": wall,
            "says": a.to_string(),
        })
    );
}

/// A symmetric 30 × 30 matrix Q diag(ev) Qᵀ, Q Haar-random.
fn rotated(ev: &[f64], seed: u64) -> Vec<f64> {
    let n = ev.len();
    let g = nalgebra::DMatrix::from_vec(n, n, SeededNoise::new(seed, 0).normal_vec(n * n));
    let q = g.qr().q();
    let s = &q * nalgebra::DMatrix::from_diagonal(&nalgebra::DVector::from_column_slice(ev)) * q.transpose();
    let s = (&s + s.transpose()) * 0.5;
    (0..n).flat_map(|i| (0..n).map(move |j| (i, j))).map(|(i, j)| s[(i, j)]).collect()
}

fn main() {
    let device = hessrank_core::device::with_float_dtype(Device::flex(), FloatDType::F64).expect("f64").autodiff();
    let adaptive = AdaptiveLength { max_iters: 64_000, ..AdaptiveLength::default() };
    for d in [8, 16, 32] {
        let minimum = GlobalMinimum::random_with_gauge(d, 5, 11, 11).expect("a minimum");
        let chains = vec![minimum; 4];
        let net = BatchedLinearNet::from_minima(&chains, &device).expect("net");
        let objective = BatchedPopulationObjective::from_minima(&chains, &device);
        let g = DiagPreconditioner::identity(&ParamLayout::of(&net), &device.clone().inner());
        let config = LangevinConfig::new().with_chains(1).with_sigma2(2e-5).adaptive_from(adaptive);
        let t0 = Instant::now();
        let r = Langevin::new(&config).run(&objective, &net, &g).expect("run");
        report(&format!("linear d = {d}"), (d * d) as f64, &r, t0.elapsed().as_secs_f64());
    }
    let mut ev: Vec<f64> = (0..18).map(|i| 148.0 * (0.075f64 / 148.0).powf(i as f64 / 17.0)).collect();
    ev.extend([0.0; 12]);
    let s = rotated(&ev, 5);
    let config = LangevinConfig::new().adaptive_from(adaptive);
    let t0 = Instant::now();
    let r = hessrank_rank::quadratic::matrix_rank(&s, 30, &config, &device, "gap matrix").expect("run");
    report("rank-18 matrix, eigenvalues 148 … 0.075 then 0", 18.0, &r, t0.elapsed().as_secs_f64());
}
