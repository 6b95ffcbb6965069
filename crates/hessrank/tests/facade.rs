//! The five-line API against independent truths: a teacher-student MLP (θ₀ a zero-loss minimum),
//! whose estimate must match the discrete theory on its exact spectrum, and whose Lanczos, Hutchinson
//! and SLQ views must match the dense eigenvalues.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig, Relu};
use burn::tensor::{Device, FloatDType, Tensor, TensorData};
use hessrank::rank::theory::DiscreteTheory;
use hessrank::{Hessian, Langevin, Scheme};

#[derive(Module, Debug)]
struct Mlp {
    hidden: Linear,
    out: Linear,
    relu: Relu,
}

impl Mlp {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.out.forward(self.relu.forward(self.hidden.forward(x)))
    }
}

/// A deterministic MLP 4 → 16 → 2 (weights from a formula, not the backend's generator), 8 inputs,
/// the targets its own outputs.
fn problem() -> (Mlp, Tensor<2>, Tensor<2>) {
    let device = hessrank::core::device::with_float_dtype(Device::flex(), FloatDType::F64).unwrap().autodiff();
    let mlp = Mlp {
        hidden: LinearConfig::new(4, 16).init(&device),
        out: LinearConfig::new(16, 2).init(&device),
        relu: Relu::new(),
    };
    let layout = hessrank::ParamLayout::of(&mlp);
    let flat: Vec<f64> = (0..layout.numel()).map(|i| 0.6 * ((i as f64) * 1.37 + 0.4).sin()).collect();
    let mlp = hessrank::core::params::unflatten_f64(mlp, &flat).unwrap();
    let x = Tensor::<2>::from_data(TensorData::new((0..32).map(|i| (i as f64 * 0.7).sin()).collect(), [8, 4]), &device);
    let y = mlp.forward(x.clone()).detach();
    (mlp, x, y)
}

#[test]
fn the_builder_estimate_matches_the_discrete_theory_on_the_exact_spectrum() {
    let (model, x, y) = problem();
    let loss = |m: &Mlp| m.forward(x.clone()).sub(y.clone()).powi_scalar(2).mean();
    let lm = Langevin::new().sigma2(1e-5).k_tot(6000).k_avg(3000).chains(8).seed(3);
    let r = lm.run(&loss, &model).unwrap();
    let spectrum = Hessian::new(loss, &model).eigenvalues();
    let exact = spectrum.count_above(1e-6);
    let theory = DiscreteTheory {
        mu: spectrum.eigenvalues.clone(),
        eta: r.eta,
        sigma2: 1e-5,
        scheme: Scheme::LeimkuhlerMatthews,
    };
    let predicted = theory.expected_estimate(6000, 3000);
    assert!((12..=16).contains(&exact), "a 16-output teacher-student Hessian: {exact}");
    assert!(
        (r.uncertainty.estimate - predicted).abs() < 2.5 * r.uncertainty.stderr,
        "{r} vs the theory {predicted:.2} (exact count {exact})"
    );
    assert!(r.uncertainty.stderr < 0.1 * predicted, "the error bar is informative: {r}");
    let line = r.to_string();
    assert!(line.starts_with("rank ") && line.contains("R̂") && line.contains("95 % CI"), "{line}");
    // The same seed gives the same numbers.
    assert_eq!(
        lm.run(&|m: &Mlp| m.forward(x.clone()).sub(y.clone()).powi_scalar(2).mean(), &model)
            .unwrap()
            .uncertainty
            .estimate,
        r.uncertainty.estimate
    );
}

#[test]
fn lanczos_hutchinson_and_slq_agree_with_the_dense_eigenvalues() {
    let (model, x, y) = problem();
    let h = Hessian::new(move |m: &Mlp| m.forward(x.clone()).sub(y.clone()).powi_scalar(2).mean(), &model);
    let spectrum = h.eigenvalues();
    let top = h.top_eigenvalues(3);
    for (a, b) in top.iter().zip(&spectrum.eigenvalues) {
        assert!((a - b).abs() < 1e-6 * spectrum.max(), "Lanczos {top:?} vs dense {:?}", &spectrum.eigenvalues[..3]);
    }
    let tr = h.trace();
    assert!(
        (tr.trace - spectrum.trace).abs() < 4.0 * tr.stderr.max(1e-9),
        "Hutchinson {} ± {} vs {}",
        tr.trace,
        tr.stderr,
        spectrum.trace
    );
    let dos = h.density();
    let top_node = dos.nodes.iter().cloned().fold(f64::MIN, f64::max);
    assert!(
        (top_node - spectrum.max()).abs() < 1e-6 * spectrum.max(),
        "SLQ's top node {top_node} vs λ_max {}",
        spectrum.max()
    );
    let mean: f64 = dos.nodes.iter().zip(&dos.weights).map(|(l, w)| l * w).sum::<f64>();
    let n = spectrum.eigenvalues.len() as f64;
    // SLQ's first moment is the trace / n (exact in expectation; 10 probes).
    assert!(
        (mean * n - spectrum.trace).abs() < 0.25 * spectrum.trace,
        "SLQ mean {mean} · n vs trace {}",
        spectrum.trace
    );
}

/// Two parameter blocks a ∈ R³, b ∈ R⁴ under L = ½ θᵀSθ, θ = (a, b), with S = VVᵀ built so that
/// rank(S_aa) = 2, rank(S_bb) = 3 and rank(S) = 4.
#[derive(Module, Debug)]
struct TwoBlocks {
    a: burn::module::Param<Tensor<1>>,
    b: burn::module::Param<Tensor<1>>,
}

#[test]
fn a_block_estimate_is_the_rank_of_the_diagonal_block_not_of_the_whole_hessian() {
    use burn::module::Param;
    let device = hessrank::core::device::with_float_dtype(Device::flex(), FloatDType::F64).unwrap().autodiff();
    // V is 7×4: rows 0–2 (block a) span 2 dimensions, rows 3–6 (block b) span 3, all 7 span 4.
    let v = nalgebra::DMatrix::<f64>::from_row_slice(
        7,
        4,
        &[
            1.0, 0.0, 0.5, 0.0, //
            0.0, 1.0, 0.0, 0.0, //
            1.0, 1.0, 0.5, 0.0, //
            0.0, 0.0, 1.0, 0.0, //
            0.3, 0.0, 0.0, 1.0, //
            0.0, 0.7, 1.0, 1.0, //
            0.3, 0.0, 1.0, 1.0, //
        ],
    );
    let s = &v * v.transpose();
    let rank = |m: nalgebra::DMatrix<f64>| m.symmetric_eigenvalues().iter().filter(|x| x.abs() > 1e-9).count();
    assert_eq!((rank(s.view((0, 0), (3, 3)).into()), rank(s.view((3, 3), (4, 4)).into()), rank(s.clone())), (2, 3, 4));
    let s_t = Tensor::<2>::from_data(TensorData::new(s.transpose().as_slice().to_vec(), [7, 7]), &device);
    let model = TwoBlocks {
        a: Param::from_tensor(Tensor::zeros([3], &device).require_grad()),
        b: Param::from_tensor(Tensor::zeros([4], &device).require_grad()),
    };
    let loss = |m: &TwoBlocks| {
        let theta = Tensor::cat(vec![m.a.val(), m.b.val()], 0).reshape([7, 1]);
        theta.clone().transpose().matmul(s_t.clone().matmul(theta)).reshape([1]).mul_scalar(0.5)
    };
    let lm = Langevin::new().sigma2(1e-4).k_tot(4000).k_avg(3000).chains(8);
    for (globs, want) in [(vec!["a"], 2.0), (vec!["b"], 3.0), (vec!["a", "b"], 4.0), (vec!["*"], 4.0)] {
        let r = lm.clone().params(globs.clone()).run(&loss, &model).unwrap();
        println!("{globs:?}: {r} (block rank {want})");
        assert!(
            (r.uncertainty.estimate - want).abs() < 2.5 * r.uncertainty.stderr && r.uncertainty.stderr < 0.1,
            "{globs:?}: {r} vs rank {want}"
        );
    }
    let e = lm.params(["c.*"]).run(&loss, &model).unwrap_err();
    assert!(
        matches!(&e, hessrank_core::Error::InvalidConfig { field: "params", value, expected } if value == "c.*" && expected.ends_with("a, b")),
        "{e}"
    );
}
