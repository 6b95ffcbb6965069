//! The GPU path against the CPU reference: the same objective, initial parameters and injected
//! noise on wgpu (f32) and ndarray (f32) agree to f32 rounding, step by step and in a short
//! estimate. CI runs these on lavapipe, Mesa's CPU Vulkan driver, so the wgpu code path (WGSL
//! kernels, cubecl's runtime) is exercised on every change without a GPU.
#![cfg(feature = "wgpu")]
// Device::ndarray() is deprecated in Burn 0.22 in favour of flex; it stays the reference CPU backend.
#![allow(deprecated)]

use burn::tensor::{Device, FloatDType};
use hessrank_core::device::with_float_dtype;
use hessrank_core::params::{flatten_f64, unflatten_f64};
use hessrank_core::{DiagPreconditioner, ParamLayout, value_and_grad};
use hessrank_models::{DnCnnConfig, GlobalMinimum, Mnist, NoisyMnist, NoisyMnistConfig, NoisyMnistSampler};
use hessrank_rank::langevin::{Langevin, LangevinRun};
use hessrank_rank::quadratic::{Points, Quadratic};
use hessrank_rank::{LangevinConfig, Scheme, StepSize};
use hessrank_train::{AdamPhase, GdPhase, SgdPhase, TrainConfig, train};
use std::sync::OnceLock;

/// The wgpu device in f32 with autodiff, initialised once per test binary (the runtime refuses a
/// second initialisation). Fails, naming the cause, where no Vulkan/Metal/DX12 adapter exists.
fn wgpu() -> Device {
    static DEVICE: OnceLock<Result<Device, String>> = OnceLock::new();
    let device = DEVICE.get_or_init(|| Device::wgpu_options().init().map_err(|e| e.to_string()));
    match device {
        Ok(d) => with_float_dtype(d.clone(), FloatDType::F32).expect("f32 wgpu").autodiff(),
        Err(e) => panic!(
            "no wgpu adapter: {e}. On Debian/Ubuntu install lavapipe (apt-get install mesa-vulkan-drivers) \
             or run on a machine with a GPU"
        ),
    }
}

/// The reference: ndarray in f32 with autodiff.
fn ndarray() -> Device {
    with_float_dtype(Device::ndarray(), FloatDType::F32).expect("f32 ndarray").autodiff()
}

/// max |a − b| / max |b|, with the sizes checked.
fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "parameter counts differ");
    let err = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    err / b.iter().fold(f64::MIN_POSITIVE, |m, y| m.max(y.abs()))
}

#[test]
fn one_langevin_step_on_the_linear_net_matches_ndarray() {
    let min = GlobalMinimum::random(6, 3, 2).unwrap();
    let config = LangevinConfig::new()
        .with_step(StepSize::Fixed(1e-3))
        .with_sigma2(1e-2)
        .with_k_tot(2)
        .with_k_avg(1)
        .with_chains(2)
        .with_check_step(false)
        .with_seed(11);
    let mut out = Vec::new();
    for device in [ndarray(), wgpu()] {
        let objective = min.objective(&device);
        let theta0 = min.net(&device);
        let g = DiagPreconditioner::identity(&ParamLayout::of(&theta0), &device);
        let mut ld = LangevinRun::new(&config, &objective, &theta0, &g).unwrap();
        let l0 = ld.step().unwrap();
        let l1 = ld.step().unwrap();
        let params: Vec<Vec<f64>> = ld.models().map(flatten_f64).collect();
        out.push((l0, l1, params));
    }
    let ((l0a, l1a, pa), (l0b, l1b, pb)) = (&out[0], &out[1]);
    for (x, y) in l0a.iter().chain(l1a).zip(l0b.iter().chain(l1b)) {
        assert!((x - y).abs() <= 1e-5 * y.abs().max(1.0), "loss: wgpu {y} vs ndarray {x}");
    }
    for (c, (a, b)) in pa.iter().zip(pb).enumerate() {
        let e = rel_err(b, a);
        assert!(e < 1e-5, "chain {c}: parameters after two steps differ by {e:e} (relative)");
    }
    // The step moved the parameters (a test of equality between two frozen states proves nothing).
    assert!(rel_err(&pa[0], &flatten_f64(&min.net(&ndarray()))) > 1e-4);
}

#[test]
fn a_short_estimate_on_a_rank_5_quadratic_matches_ndarray() {
    // diag(4, 2, 1, 0.5, 0.25, 0, 0, 0): rank 5.
    let n = 8;
    let ev = [4.0, 2.0, 1.0, 0.5, 0.25, 0.0, 0.0, 0.0];
    let mut s = vec![0.0; n * n];
    for (i, e) in ev.iter().enumerate() {
        s[i * n + i] = *e;
    }
    let config = LangevinConfig::new()
        .with_step(StepSize::Auto { c: 1.0 })
        .with_scheme(Scheme::LeimkuhlerMatthews)
        .with_sigma2(1e-2)
        .with_k_tot(400)
        .with_k_avg(300)
        .with_chains(4)
        .with_seed(5);
    let mut r = Vec::new();
    for device in [ndarray(), wgpu()] {
        let q = Quadratic::new(&s, n, 4, &device, "parity").unwrap();
        let theta0 = Points::zeros(4, n, &device);
        let g = DiagPreconditioner::identity(&ParamLayout::of(&theta0), &device);
        r.push(Langevin::new(&config).run(&q, &theta0, &g).unwrap());
    }
    let (cpu, gpu) = (&r[0], &r[1]);
    println!(
        "rank-5 quadratic: ndarray {:.6} wgpu {:.6} (η {} vs {})",
        cpu.uncertainty.estimate, gpu.uncertainty.estimate, cpu.eta, gpu.eta
    );
    assert!((cpu.eta - gpu.eta).abs() < 1e-3 * cpu.eta, "η: {} vs {}", cpu.eta, gpu.eta);
    assert!(
        (cpu.uncertainty.estimate - gpu.uncertainty.estimate).abs() < 1e-3 * cpu.uncertainty.estimate,
        "estimate: wgpu {} vs ndarray {}",
        gpu.uncertainty.estimate,
        cpu.uncertainty.estimate
    );
    assert!(
        (gpu.uncertainty.estimate - 5.0).abs() < 1.5,
        "the wgpu estimate {} is near the rank 5",
        gpu.uncertainty.estimate
    );
}

#[test]
fn dncnn_forward_backward_on_a_small_batch_matches_ndarray() {
    let mnist = Mnist::bundled().unwrap();
    let data = NoisyMnistConfig::new().with_n_images(4);
    let reference = ndarray();
    let init = DnCnnConfig::new().init(&reference).unwrap();
    let theta = flatten_f64(&init);
    let mut out = Vec::new();
    for device in [reference.clone(), wgpu()] {
        let model = unflatten_f64(DnCnnConfig::new().init(&device).unwrap(), &theta).unwrap();
        let objective = NoisyMnist::new(&mnist, &data, &device).unwrap();
        let vg = value_and_grad(&objective, &model);
        out.push((vg.loss, vg.grads.to_flat()));
    }
    let ((la, ga), (lb, gb)) = (&out[0], &out[1]);
    assert!((la - lb).abs() < 1e-5 * la.abs(), "loss: wgpu {lb} vs ndarray {la}");
    assert_eq!(ga.len(), 753);
    let e = rel_err(gb, ga);
    assert!(e < 1e-4, "DnCNN gradient differs by {e:e} (relative to its largest entry)");
}

#[test]
fn one_training_step_of_each_phase_matches_ndarray() {
    let mnist = Mnist::bundled().unwrap();
    let data = NoisyMnistConfig::new().with_n_images(4);
    let schedule = TrainConfig::new(
        SgdPhase::new().with_epochs(1).with_batch_size(4).with_lr(0.02),
        GdPhase::new().with_max_steps(1).with_lr(0.05).with_tol(1e-12),
        AdamPhase::new().with_steps(1),
    );
    let reference = ndarray();
    let theta = flatten_f64(&DnCnnConfig::new().init(&reference).unwrap());
    let mut out = Vec::new();
    for (name, device) in [("ndarray", reference.clone()), ("wgpu", wgpu())] {
        let model = unflatten_f64(DnCnnConfig::new().init(&device).unwrap(), &theta).unwrap();
        let sampler = NoisyMnistSampler::new(&mnist, &data, &device).unwrap();
        let full = NoisyMnist::new(&mnist, &data, &device).unwrap();
        let dir = std::env::temp_dir().join(format!("hessrank-parity-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let kind = hessrank_experiments::dncnn::dncnn_kind(&data, None);
        let t = train(&schedule, &sampler, &full, model, &dir, kind, &mut ()).unwrap();
        out.push((flatten_f64(&t.model), t.precond.to_flat(), t.manifest.final_loss));
        std::fs::remove_dir_all(&dir).unwrap();
    }
    let ((ta, ga, la), (tb, gb, lb)) = (&out[0], &out[1]);
    assert!(rel_err(ta, &theta) > 1e-5, "training moved the parameters");
    let e = rel_err(tb, ta);
    assert!(e < 1e-5, "θ after SGD and GD differs by {e:e}");
    // G = s/(√v̂ + ε) with v̂ = g² after one step: where |g| is small against its largest entry,
    // the f32 rounding of g (≈ 1e-7 of the largest gradient) becomes a relative error of G.
    let e = rel_err(gb, ga);
    assert!(e < 1e-2, "Adam's preconditioner differs by {e:e}");
    assert!((la - lb).abs() < 1e-5 * la.abs(), "final loss: wgpu {lb} vs ndarray {la}");
}

/// Flex in f32 with autodiff (the ONNX interpreter's CPU reference here).
fn flex_f32() -> Device {
    with_float_dtype(Device::flex(), FloatDType::F32).expect("f32 flex").autodiff()
}

/// The ONNX interpreter on wgpu agrees with Flex in f32 on three PyTorch fixtures (a CNN with
/// grouped and strided convolutions, training-mode BatchNorm and pooling; attention with its
/// shape arithmetic; an MLP through every activation): the loss to 1e-6 and the gradient to 1e-5
/// relative (measured on lavapipe: ≤ 1.1e-7 and ≤ 2.3e-7).
#[test]
fn the_onnx_interpreter_on_wgpu_matches_flex() {
    use hessrank_onnx::{Loss, OnnxProblem, OnnxSpec};
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../onnx/tests/fixtures");
    for (name, loss) in [
        ("cnn_batchnorm_training", Loss::CrossEntropy { label_smoothing: 0.1 }),
        ("attention_graph_loss", Loss::Graph),
        ("mlp_activations", Loss::Mse),
    ] {
        let spec = OnnxSpec {
            model: fixtures.join(name).join("model.onnx"),
            data: fixtures.join(name).join("data.safetensors"),
            loss,
        };
        let mut out = Vec::new();
        for device in [flex_f32(), wgpu()] {
            let problem = OnnxProblem::load(&spec, &device).unwrap_or_else(|e| panic!("{name}: {e}"));
            let vg = value_and_grad(&problem.objective, &problem.params);
            out.push((vg.loss, vg.grads.to_flat()));
        }
        let (flex, gpu) = (&out[0], &out[1]);
        let loss_err = (gpu.0 - flex.0).abs() / flex.0.abs();
        let grad_err = rel_err(&gpu.1, &flex.1);
        println!("{name}: loss {} vs {} ({loss_err:.1e}), gradient {grad_err:.1e}", gpu.0, flex.0);
        assert!(loss_err < 1e-6, "{name}: loss {} on wgpu vs {} on flex", gpu.0, flex.0);
        assert!(grad_err < 1e-5, "{name}: gradient rel err {grad_err:e}");
    }
}
