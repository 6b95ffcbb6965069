//! ONNX graphs through the registry and every command's library function: exact minima of known
//! rank built by PyTorch (crates/onnx/tests/fixtures, written by scripts/fixtures/onnx_fixtures.py)
//! give PyTorch's eigenvalues from `spectrum`, and `estimate` (whole, per layer, and validated
//! with the paired frozen chains on a ReLU graph) agrees with the discrete theory on that spectrum.

use crate::common::*;
use hessrank_experiments::Quiet;
use hessrank_experiments::curvature::spectrum;
use hessrank_experiments::estimate::{EstimateSpec, PrecondChoice, estimate, per_layer};
use hessrank_experiments::registry::{ModelSource, OnnxLoss, OnnxSpec, Problem, ProblemSpec};
use hessrank_rank::theory::DiscreteTheory;
use hessrank_rank::{LangevinConfig, RankEstimate};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../onnx/tests/fixtures").join(name)
}

fn reference(name: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(fixture(name).join("reference.json")).unwrap()).unwrap()
}

fn load(name: &str, loss: OnnxLoss) -> Problem<'static> {
    let spec = OnnxSpec { model: fixture(name).join("model.onnx"), data: fixture(name).join("data.safetensors"), loss };
    ProblemSpec { source: ModelSource::Onnx(spec), data: None, label_smoothing: None }.load(&f64_device()).unwrap()
}

/// σ² = 1e-8 (f64): the network is not quadratic at the scale of the fluctuations along its
/// flattest modes (μ ~ 1e-4) at σ² = 1e-5, where the estimates fall ~1 below the quadratic theory.
fn estimate_spec(k_tot: usize, validate: bool) -> EstimateSpec {
    let mut langevin = LangevinConfig::new().with_k_tot(k_tot).with_k_avg(k_tot / 2).with_seed(11);
    langevin.chains = 8;
    langevin.sigma2 = 1e-8;
    EstimateSpec {
        sigma2: vec![langevin.sigma2],
        langevin,
        precond: PrecondChoice::Default,
        params: Vec::new(),
        validate,
        checkpoint_every: 1,
        resume: false,
        symmetry: None,
    }
}

/// The discrete theory of `r`'s run on the eigenvalues `mu`.
fn theory(r: &RankEstimate, mu: &[f64], spec: &EstimateSpec) -> f64 {
    let c = &spec.langevin;
    DiscreteTheory { mu: mu.to_vec(), eta: r.eta, sigma2: c.sigma2, scheme: c.scheme }
        .expected_estimate(c.k_tot, c.k_avg)
}

fn assert_agrees(what: &str, r: &RankEstimate, theory: f64) {
    let u = &r.uncertainty;
    println!("{what}: {} ± {} vs theory {theory:.3}", u.estimate, u.stderr);
    assert!((u.estimate - theory).abs() <= 3.0 * u.stderr, "{what}: {} ± {} vs theory {theory}", u.estimate, u.stderr);
}

/// `spectrum --onnx` gives PyTorch's Hessian eigenvalues (torch.autograd.functional.hessian) to
/// 1e-6 of λ_max, and counts rank(J) of them above 1e-6·λ_max: 12 (MSE), 10 (cross-entropy on its
/// own softmax: N(C − 1)) and 16 (the ReLU network).
#[test]
fn onnx_minima_have_pytorchs_spectrum_and_rank() {
    for (name, loss) in [
        ("mse_exact_minimum", OnnxLoss::Mse),
        ("cross_entropy_exact_minimum", OnnxLoss::CrossEntropy { label_smoothing: 0.0 }),
        ("relu_exact_minimum", OnnxLoss::Mse),
    ] {
        let problem = load(name, loss);
        let reference = reference(name);
        let report = spectrum(&problem, 1000).unwrap();
        let mut want: Vec<f64> =
            reference["eigenvalues"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        want.sort_by(|a, b| b.total_cmp(a));
        let got = &report.spectrum.eigenvalues;
        let scale = want[0];
        let err = got.iter().zip(&want).fold(0.0f64, |m, (a, b)| m.max((a - b).abs())) / scale;
        let rank = got.iter().filter(|&&l| l > 1e-6 * scale).count();
        println!("{name}: λ_max {scale:.4}, rel err {err:.1e}, rank {rank}");
        assert!(err < 1e-6, "{name}: eigenvalues differ by {err:e} of λ_max");
        assert_eq!(rank as u64, reference["jacobian_rank"].as_u64().unwrap(), "{name}");
    }
}

/// `estimate --onnx` on the MSE minimum agrees with the discrete theory on its exact spectrum
/// within 3 SE; per layer (`l1`, `l2`: the layers by name), each block's estimate agrees with the
/// theory on that diagonal block of the exact Hessian.
#[test]
fn onnx_estimates_agree_with_the_theory_whole_and_per_layer() {
    let problem = load("mse_exact_minimum", OnnxLoss::Mse);
    let report = spectrum(&problem, 1000).unwrap();
    let spec = estimate_spec(4000, false);
    let r = estimate(&spec, &problem, None, &mut Quiet).unwrap().estimate;
    assert_agrees("whole", &r, theory(&r, &report.spectrum.eigenvalues, &spec));

    let layers = problem.layers();
    let names: Vec<&str> = layers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["l1", "l2"]);
    let rows = per_layer(&spec, &problem, &mut Quiet).unwrap();
    let layout = problem.layout();
    let mut start = 0;
    for row in &rows {
        let n = row.n_params;
        let block = report.hessian.view((start, start), (n, n)).into_owned();
        let mu = hessrank_rank::hessian::Spectrum::of(&block).eigenvalues;
        assert_agrees(&row.block, &row.result, theory(&row.result, &mu, &spec));
        start += n;
    }
    assert_eq!(start, layout.numel());
}

/// `estimate --onnx --validate` on a ReLU graph: the frozen-activation objective exists (a smooth
/// graph has none), and the paired frozen chains agree with the discrete theory on the exact
/// spectrum within 2.5 SE, as the check reports.
#[test]
fn onnx_relu_graph_validates_with_paired_frozen_chains() {
    let smooth = load("mse_exact_minimum", OnnxLoss::Mse);
    assert!(!smooth.has_frozen());
    let problem = load("relu_exact_minimum", OnnxLoss::Mse);
    assert!(problem.has_frozen());
    let report = estimate(&estimate_spec(4000, true), &problem, None, &mut Quiet).unwrap();
    let row = report.validation.first().expect("one validation row");
    println!("frozen {:?} theory {} z {}", row.frozen, row.theory, row.z_vs_theory);
    assert!(row.agrees_within_2_5_se, "frozen chains vs theory: z = {}", row.z_vs_theory);
}

/// The paper's DnCNN exported from PyTorch (the weights and batch of the import fixture) and the
/// native DnCNN loaded from the same state_dict have the same exact spectrum (both f64, the
/// frozen-activation Hessians, 753 eigenvalues) to 1e-9 of λ_max, which is PyTorch's own (central
/// differences of its gradient) to 1e-8.
#[test]
fn the_dncnn_through_onnx_has_the_native_dncnns_spectrum() {
    use hessrank_experiments::registry::{Arch, ImportSpec};
    let device = f64_device();
    let onnx = load("dncnn", OnnxLoss::Mse);
    let pt = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/tests/fixtures/pytorch-dncnn");
    let import = ImportSpec {
        arch: Arch::Dncnn,
        weights: pt.join("weights.safetensors"),
        renames: vec![],
        allow_partial: false,
    };
    let native = ProblemSpec {
        source: ModelSource::Weights(import),
        data: Some(pt.join("batch.safetensors")),
        label_smoothing: None,
    }
    .load(&device)
    .unwrap();
    assert!(onnx.has_frozen() && native.has_frozen());
    let a = spectrum(&onnx, 1000).unwrap().spectrum.eigenvalues;
    let b = spectrum(&native, 1000).unwrap().spectrum.eigenvalues;
    let reference: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pt.join("reference.json")).unwrap()).unwrap();
    let mut c: Vec<f64> =
        reference["hessian_eigenvalues"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    c.sort_by(|x, y| y.total_cmp(x));
    let diff = |x: &[f64], y: &[f64]| x.iter().zip(y).fold(0.0f64, |m, (p, q)| m.max((p - q).abs())) / y[0];
    let (native_err, torch_err) = (diff(&a, &b), diff(&a, &c));
    println!("ONNX vs native: {native_err:.1e}; vs PyTorch: {torch_err:.1e} (λ_max {:.4})", b[0]);
    assert_eq!((a.len(), b.len()), (753, 753));
    assert!(native_err < 1e-9, "{native_err:e}");
    assert!(torch_err < 1e-8, "{torch_err:e}");
}
