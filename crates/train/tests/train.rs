//! Training end to end on a tiny DnCNN problem: checkpoint contents, reload, resume.

use burn::tensor::{Device, FloatDType};
use hessrank_core::device::with_float_dtype;
use hessrank_core::params::flatten_f64;
use hessrank_core::{Error, ParamLayout, value_and_grad};
use hessrank_models::{DnCnnConfig, GlobalMinimum, Mnist, NoisyMnist, NoisyMnistConfig, NoisyMnistSampler};
use hessrank_train::checkpoint::Checkpoint;
use hessrank_train::checkpoint::Manifest;
use hessrank_train::{AdamPhase, GdPhase, SgdPhase, TrainConfig, TrainObserver, train};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

fn device() -> Device {
    with_float_dtype(Device::flex(), FloatDType::F64).unwrap().autodiff()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hessrank-train-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn schedule() -> TrainConfig {
    TrainConfig::new(
        SgdPhase::new().with_epochs(3).with_batch_size(8).with_lr(0.02),
        GdPhase::new().with_max_steps(30).with_lr(0.05).with_tol(1e-12),
        AdamPhase::new().with_steps(20),
    )
    .with_checkpoint_every(5)
}

/// The model description these tests record (the registry's typed kind lives above this crate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Kind {
    model_kind: String,
    n_images: usize,
}

fn info() -> Kind {
    Kind { model_kind: "dncnn".into(), n_images: 16 }
}

/// Stops after `limit` reported steps.
struct StopAfter(usize);

impl TrainObserver for StopAfter {
    fn step(&mut self, _: &str, _: usize, _: usize, _: f64, _: f64) -> bool {
        self.0 = self.0.saturating_sub(1);
        self.0 > 0
    }
}

#[test]
fn trains_writes_a_complete_checkpoint_and_reloads_it_bit_exactly() {
    let device = device();
    let mnist = Mnist::bundled().unwrap();
    let data = NoisyMnistConfig::new().with_n_images(16);
    let sampler = NoisyMnistSampler::new(&mnist, &data, &device).unwrap();
    let full = NoisyMnist::new(&mnist, &data, &device).unwrap();
    let init = DnCnnConfig::new().init(&device).unwrap();
    let loss_init = value_and_grad(&full, &init).loss;
    let dir = scratch("complete");
    let out = train(&schedule(), &sampler, &full, init, &dir, info(), &mut ()).unwrap();

    let m = &out.manifest;
    assert_eq!(m.phases.iter().map(|p| p.phase.as_str()).collect::<Vec<_>>(), ["sgd", "gd", "adam"]);
    assert_eq!(m.phases[0].steps, 3 * 2);
    assert_eq!(m.phases[1].stop, "step limit");
    assert!(m.final_loss < loss_init, "training lowered the loss: {} → {}", loss_init, m.final_loss);
    assert!(m.final_grad_norm.is_finite() && m.final_grad_norm > 0.0);
    assert_eq!(m.layout.numel(), 753);
    let g = out.precond.to_flat();
    assert!((g.iter().sum::<f64>() / g.len() as f64 - 1.0).abs() < 1e-9, "mean(G) = 1");
    assert!(!dir.join("resume").exists(), "the resume state is removed at the end");

    let (model, precond, manifest): (_, _, Manifest<Kind>) =
        Checkpoint::load(&dir, DnCnnConfig::new().init(&device).unwrap(), &device).unwrap();
    assert_eq!(manifest.model, info(), "the model description round-trips through manifest.json");
    assert_eq!(flatten_f64(&model), flatten_f64(&out.model));
    assert_eq!(precond.to_flat(), g);
    assert_eq!(manifest.final_loss, m.final_loss);
    // θ₀ is the GD result, not Adam's copy: its loss is the manifest's.
    assert_eq!(value_and_grad(&full, &model).loss, m.final_loss);

    // A checkpoint of another architecture is refused, naming the file.
    let linear = GlobalMinimum::random(4, 2, 0).unwrap().net(&device);
    let err = Checkpoint::load::<_, Kind>(&dir, linear, &device).expect_err("must fail");
    assert!(matches!(&err, Error::Format { path, .. } if path.ends_with("model.bpk")), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_interrupted_training_resumes_to_the_same_parameters() {
    let device = device();
    let mnist = Mnist::bundled().unwrap();
    let data = NoisyMnistConfig::new().with_n_images(16);
    let sampler = NoisyMnistSampler::new(&mnist, &data, &device).unwrap();
    let full = NoisyMnist::new(&mnist, &data, &device).unwrap();
    let fresh = || DnCnnConfig::new().init(&device).unwrap();

    let whole = train(&schedule(), &sampler, &full, fresh(), &scratch("whole"), info(), &mut ()).unwrap();
    let dir = scratch("resumed");
    // Stop inside SGD, then inside GD, then inside Adam; each time resume from the folder.
    for limit in [4, 12, 15] {
        let err = train(&schedule(), &sampler, &full, fresh(), &dir, info(), &mut StopAfter(limit)).err().unwrap();
        assert!(matches!(&err, Error::Interrupted { resume: Some(r), .. } if r.ends_with("resume")), "{err}");
    }
    let resumed = train(&schedule(), &sampler, &full, fresh(), &dir, info(), &mut ()).unwrap();
    assert_eq!(flatten_f64(&resumed.model), flatten_f64(&whole.model));
    assert_eq!(resumed.precond.to_flat(), whole.precond.to_flat());
    let _ = ParamLayout::of(&resumed.model);
}

#[test]
fn a_checkpoint_trained_in_f32_is_refused_in_f64_and_an_f64_one_loads_in_f32() {
    // ndarray carries f32 here (flex is f64 in this test binary: one dtype per device per process).
    #[allow(deprecated)]
    let f32_device = with_float_dtype(Device::ndarray(), FloatDType::F32).unwrap().autodiff();
    let f64_device = device();
    let mnist = Mnist::bundled().unwrap();
    let data = NoisyMnistConfig::new().with_n_images(8);
    let short = TrainConfig::new(
        SgdPhase::new().with_epochs(1).with_batch_size(8),
        GdPhase::new().with_max_steps(2),
        AdamPhase::new().with_steps(2),
    );
    let mut dirs = Vec::new();
    for (name, dev) in [("f32", &f32_device), ("f64", &f64_device)] {
        let sampler = NoisyMnistSampler::new(&mnist, &data, dev).unwrap();
        let full = NoisyMnist::new(&mnist, &data, dev).unwrap();
        let dir = scratch(&format!("dtype-{name}"));
        train(&short, &sampler, &full, DnCnnConfig::new().init(dev).unwrap(), &dir, info(), &mut ()).unwrap();
        dirs.push(dir);
    }
    let Err(err) = Checkpoint::load::<_, Kind>(
        &dirs[0],
        DnCnnConfig::new().init(&f64_device).unwrap(),
        &f64_device.clone().inner(),
    ) else {
        panic!("an f32 checkpoint is refused in an f64 run")
    };
    assert!(
        matches!(&err, Error::SettingsMismatch { path, field: "dtype", saved, given }
            if path.to_string_lossy().ends_with("dtype-f32") && saved == "F32" && given == "F64"),
        "{err}"
    );
    // f64 → f32 rounds: the parameters agree to f32 precision.
    let (m32, _, _) = Checkpoint::load::<_, Kind>(
        &dirs[1],
        DnCnnConfig::new().init(&f32_device).unwrap(),
        &f32_device.clone().inner(),
    )
    .unwrap();
    let (m64, _, _) = Checkpoint::load::<_, Kind>(
        &dirs[1],
        DnCnnConfig::new().init(&f64_device).unwrap(),
        &f64_device.clone().inner(),
    )
    .unwrap();
    let dtypes: Vec<_> = hessrank_core::params::params_of(&m32).tensors.iter().map(|t| t.dtype()).collect();
    assert!(dtypes.iter().all(|d| *d == burn::tensor::DType::F32), "loaded into f32: {dtypes:?}");
    let (a, b) = (flatten_f64(&m32), flatten_f64(&m64));
    let err = a.iter().zip(&b).map(|(x, y)| (x - y).abs() / y.abs().max(1e-3)).fold(0.0, f64::max);
    assert!(err < 1e-6 && err > 0.0, "f32 copy of the f64 checkpoint: relative error {err:e}");
    for d in dirs {
        std::fs::remove_dir_all(d).unwrap();
    }
}
