//! Weights from PyTorch: a DnCNN `state_dict` with PyTorch's key names, written here with the
//! safetensors crate (no Python), loads back exactly; every bad tensor is its own error naming the
//! key; a batch file gives the loss computed by hand.

use crate::common::*;
use hessrank_core::objective::ScalarExt;
use hessrank_core::params::{flatten_f64, params_of};
use hessrank_core::{Error, Objective, ParamLayout, TensorProblem};
use hessrank_models::tensor_file::{NamedTensor, TensorFile, to_safetensors_bytes, write_safetensors};
use hessrank_models::{DnCnn, DnCnnConfig, Mnist, NoisyMnist, NoisyMnistConfig, WeightsOptions, load_weights};
use std::path::{Path, PathBuf};

/// PyTorch's key for a Burn path of the default DnCNN (`nn.Sequential` indices 0, 2, 3, 5).
fn pytorch_key(path: &str) -> String {
    path.replace("first.", "0.")
        .replace("mid.0.conv.", "2.")
        .replace("mid.0.bn.gamma", "3.weight")
        .replace("mid.0.bn.beta", "3.bias")
        .replace("last.", "5.")
}

/// The `state_dict` of `net` as PyTorch would save it: parameters, BatchNorm's running statistics
/// and its int64 step counter.
fn state_dict(net: &DnCnn, as_f32: bool) -> Vec<NamedTensor> {
    let layout = ParamLayout::of(net);
    let values = params_of(net).to_host();
    let mut out: Vec<NamedTensor> = layout
        .specs
        .iter()
        .zip(values)
        .map(|(s, v)| NamedTensor::float(pytorch_key(&s.path), s.shape.clone(), v, as_f32))
        .collect();
    out.push(NamedTensor::float("3.running_mean", vec![8], vec![0.25; 8], as_f32));
    out.push(NamedTensor::float("3.running_var", vec![8], vec![2.0; 8], as_f32));
    out.push(NamedTensor::int("3.num_batches_tracked", vec![], vec![1234]));
    out
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hessrank-weights-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn options() -> WeightsOptions {
    WeightsOptions::default().with_renames(DnCnnConfig::new().pytorch_sequential_renames())
}

fn template() -> DnCnn {
    DnCnnConfig::new().with_seed(99).init(&f64_device()).unwrap()
}

fn load(path: &Path, opts: &WeightsOptions) -> hessrank_core::Result<DnCnn> {
    load_weights(template(), path, opts).map(|(m, _)| m)
}

#[test]
fn a_pytorch_state_dict_loads_back_exactly_and_gives_the_same_loss() {
    let device = f64_device();
    let net = DnCnnConfig::new().with_seed(5).init(&device).unwrap();
    let file = temp("roundtrip.safetensors");
    write_safetensors(&file, &state_dict(&net, false)).unwrap();
    let (loaded, report) = load_weights(template(), &file, &options()).unwrap();
    let (a, b) = (flatten_f64(&net), flatten_f64(&loaded));
    assert_eq!(a.len(), 753);
    assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()), "parameters differ after the round trip");
    assert_eq!(ParamLayout::of(&loaded), ParamLayout::of(&net), "the trainable layout survives loading");
    assert_eq!(report.applied.len(), 10, "8 parameters + 2 running statistics: {:?}", report.applied);
    assert_eq!(report.ignored, vec!["3.num_batches_tracked".to_string()]);
    assert!(report.missing.is_empty() && report.unused.is_empty());
    // Running statistics are taken too (they do not enter the training-mode loss).
    let bn = loaded.mid[0].bn.as_ref().unwrap();
    let rm: Vec<f64> = bn.running_mean.value().into_data().iter::<f64>().collect();
    assert_eq!(rm, vec![0.25; 8]);

    let data = NoisyMnist::new(&Mnist::bundled().unwrap(), &NoisyMnistConfig::new().with_n_images(4), &device).unwrap();
    let (l0, l1) = (data.loss(&net).into_scalar_f64(), data.loss(&loaded).into_scalar_f64());
    assert_eq!(l0.to_bits(), l1.to_bits(), "loss {l0} vs {l1}");
    // And the loaded model trains: its gradient exists for every parameter.
    let g = hessrank_core::value_and_grad(&data, &loaded);
    assert_eq!(g.grads.to_flat().len(), 753);
}

#[test]
fn f32_weights_load_into_an_f64_run_and_the_conversion_is_reported() {
    let net = DnCnnConfig::new().with_seed(6).init(&f64_device()).unwrap();
    let file = temp("f32.safetensors");
    write_safetensors(&file, &state_dict(&net, true)).unwrap();
    let (loaded, report) = load_weights(template(), &file, &options()).unwrap();
    let want: Vec<f64> = flatten_f64(&net).iter().map(|x| *x as f32 as f64).collect();
    assert_eq!(flatten_f64(&loaded), want);
    assert_eq!(report.file_dtypes, vec!["F32".to_string()]);
    assert_eq!(report.loaded_as, "F64");
    assert!(report.summary().contains("converted F32 → F64"), "{}", report.summary());
}

/// The error of loading `tensors` with `opts`.
fn load_error(name: &str, tensors: &[NamedTensor], opts: &WeightsOptions) -> Error {
    let file = temp(name);
    write_safetensors(&file, tensors).unwrap();
    match load(&file, opts) {
        Ok(_) => panic!("{name}: loaded"),
        Err(e) => e,
    }
}

fn tensor_problem(e: &Error) -> (&str, &TensorProblem) {
    match e {
        Error::Tensor { key, problem, .. } => (key.as_str(), problem),
        other => panic!("expected a tensor error, got {other}"),
    }
}

#[test]
fn a_missing_an_extra_a_misshaped_and_a_nan_tensor_each_name_their_key() {
    let net = DnCnnConfig::new().with_seed(7).init(&f64_device()).unwrap();
    let base = state_dict(&net, false);

    let missing: Vec<_> = base.iter().filter(|t| t.key != "5.bias").cloned().collect();
    let e = load_error("missing.safetensors", &missing, &options());
    assert_eq!(tensor_problem(&e), ("last.bias", &TensorProblem::Missing { expected: vec![1] }));
    assert!(matches!(&e, Error::Tensor { path, .. } if path.ends_with("missing.safetensors")), "{e}");

    let mut extra = base.clone();
    extra.push(NamedTensor::float("6.weight", vec![3], vec![1.0; 3], false));
    let e = load_error("extra.safetensors", &extra, &options());
    assert_eq!(tensor_problem(&e), ("6.weight", &TensorProblem::Unused { shape: vec![3] }));

    let mut shaped = base.clone();
    let w = shaped.iter_mut().find(|t| t.key == "2.weight").unwrap();
    *w = NamedTensor::float("2.weight", vec![8, 8, 9], vec![0.1; 576], false);
    let e = load_error("shape.safetensors", &shaped, &options());
    assert_eq!(
        tensor_problem(&e),
        ("2.weight", &TensorProblem::Shape { expected: vec![8, 8, 3, 3], found: vec![8, 8, 9] })
    );

    let mut nan = base.clone();
    let b = nan.iter_mut().find(|t| t.key == "0.bias").unwrap();
    let mut v = match &b.values {
        hessrank_models::tensor_file::HostValues::Float(v) => v.clone(),
        _ => unreachable!(),
    };
    v[3] = f64::NAN;
    *b = NamedTensor::float("0.bias", vec![8], v, false);
    let e = load_error("nan.safetensors", &nan, &options());
    let (key, problem) = tensor_problem(&e);
    assert_eq!(key, "0.bias");
    assert!(matches!(problem, TensorProblem::NonFinite { index: 3, value } if value.is_nan()), "{problem:?}");
}

#[test]
fn a_partial_load_is_allowed_only_when_asked_and_is_reported() {
    let net = DnCnnConfig::new().with_seed(8).init(&f64_device()).unwrap();
    let mut tensors: Vec<_> = state_dict(&net, false).into_iter().filter(|t| t.key != "5.bias").collect();
    tensors.push(NamedTensor::float("head.weight", vec![2], vec![1.0, 2.0], false));
    let file = temp("partial.safetensors");
    write_safetensors(&file, &tensors).unwrap();
    assert!(load(&file, &options()).is_err());
    let partial = WeightsOptions { allow_partial: true, ..options() };
    let (loaded, report) = load_weights(template(), &file, &partial).unwrap();
    assert_eq!(report.missing, vec!["last.bias".to_string()]);
    assert_eq!(report.unused, vec!["head.weight".to_string()]);
    assert!(report.summary().contains("PARTIAL"), "{}", report.summary());
    // Everything but the missing bias came from the file; the bias kept the template's value.
    let (a, b, t) = (flatten_f64(&net), flatten_f64(&loaded), flatten_f64(&template()));
    assert_eq!(&a[..752], &b[..752]);
    assert_eq!(b[752], t[752]);
}

#[test]
fn renames_take_other_key_layouts_and_a_bad_pattern_is_named() {
    let net = DnCnnConfig::new().with_seed(9).init(&f64_device()).unwrap();
    let tensors: Vec<_> = state_dict(&net, false)
        .into_iter()
        .map(|mut t| {
            t.key = format!("model.net.{}", t.key);
            t
        })
        .collect();
    let file = temp("prefixed.safetensors");
    write_safetensors(&file, &tensors).unwrap();
    assert!(load(&file, &options()).is_err(), "the prefix hides every key");
    let strip = WeightsOptions::default()
        .with_renames([(r"^model\.net\.".to_string(), String::new())])
        .with_renames(DnCnnConfig::new().pytorch_sequential_renames());
    assert_eq!(flatten_f64(&load(&file, &strip).unwrap()), flatten_f64(&net));
    let bad = WeightsOptions::default().with_renames([("(".to_string(), String::new())]);
    let e = load(&file, &bad).unwrap_err();
    assert!(matches!(&e, Error::InvalidConfig { field, value, .. } if *field == "rename" && value == "("), "{e}");
}

#[test]
fn corrupt_truncated_and_foreign_files_are_errors_not_panics() {
    let net = DnCnnConfig::new().with_seed(10).init(&f64_device()).unwrap();
    let bytes = to_safetensors_bytes(&state_dict(&net, false)).unwrap();
    for (name, data) in [
        ("truncated.safetensors", bytes[..bytes.len() / 2].to_vec()),
        ("header.safetensors", bytes[..6].to_vec()),
        ("garbage.safetensors", vec![0xff; 64]),
        ("garbage.pt", vec![0x50, 0x4b, 3, 4, 0, 0, 9, 9]),
    ] {
        let file = temp(name);
        std::fs::write(&file, data).unwrap();
        let e = load(&file, &options()).unwrap_err();
        assert!(matches!(&e, Error::Format { path, .. } if path.ends_with(name)), "{name}: {e}");
    }
    let e = load(&temp("weights.onnx"), &options()).unwrap_err();
    assert!(
        matches!(&e, Error::Io { path, source } if path.ends_with("weights.onnx") && source.kind() == std::io::ErrorKind::NotFound),
        "{e}"
    );
}

#[test]
fn a_batch_file_gives_the_loss_computed_by_hand_and_bad_batches_name_the_key() {
    let device = f64_device();
    let net = DnCnnConfig::new().with_seed(11).init(&device).unwrap();
    // A batch of 3 images: clean in [0, 1], noisy = clean + a deterministic perturbation.
    let n = 3 * 784;
    let clean: Vec<f64> = (0..n).map(|i| ((i * 37) % 256) as f64 / 255.0).collect();
    let noisy: Vec<f64> = clean.iter().enumerate().map(|(i, c)| c + ((i as f64) * 0.37).sin()).collect();
    let file = temp("batch.safetensors");
    let shape = vec![3, 1, 28, 28];
    write_safetensors(
        &file,
        &[
            NamedTensor::float("noisy", shape.clone(), noisy.clone(), true),
            NamedTensor::float("clean", shape.clone(), clean.clone(), true),
        ],
    )
    .unwrap();
    let batch = NoisyMnist::from_file(&file, &device).unwrap();
    assert_eq!(batch.config.n_images, 3);
    let noisy32: Vec<f64> = noisy.iter().map(|x| *x as f32 as f64).collect();
    let clean32: Vec<f64> = clean.iter().map(|x| *x as f32 as f64).collect();
    let noisy_t = burn::tensor::Tensor::<4>::from_data(burn::tensor::TensorData::new(noisy32, shape.clone()), &device);
    let den: Vec<f64> = net.forward(noisy_t).into_data().iter::<f64>().collect();
    let mse = den.iter().zip(&clean32).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / n as f64;
    let loss = batch.loss(&net).into_scalar_f64();
    assert!((loss - mse).abs() <= 1e-13 * mse, "{loss} vs {mse}");

    let bad = temp("bad-batch.safetensors");
    write_safetensors(
        &bad,
        &[
            NamedTensor::float("noisy", shape.clone(), noisy.clone(), false),
            NamedTensor::float("clean", vec![2, 1, 28, 28], clean[..2 * 784].to_vec(), false),
        ],
    )
    .unwrap();
    let e = NoisyMnist::from_file(&bad, &device).unwrap_err();
    assert_eq!(
        tensor_problem(&e),
        ("clean", &TensorProblem::Shape { expected: shape.clone(), found: vec![2, 1, 28, 28] })
    );
    write_safetensors(&bad, &[NamedTensor::float("noisy", shape.clone(), noisy, false)]).unwrap();
    let e = NoisyMnist::from_file(&bad, &device).unwrap_err();
    assert_eq!(tensor_problem(&e).0, "clean");
    write_safetensors(
        &bad,
        &[NamedTensor::int("noisy", shape.clone(), vec![0; n]), NamedTensor::float("clean", shape, clean, false)],
    )
    .unwrap();
    let e = NoisyMnist::from_file(&bad, &device).unwrap_err();
    assert!(matches!(tensor_problem(&e), ("noisy", TensorProblem::Dtype { .. })), "{e}");
    // The reader itself keeps the file's dtype.
    assert_eq!(TensorFile::read(&file).unwrap().tensors["noisy"].dtype, "F32");
}

/// The fixture written by PyTorch (scripts/fixtures/pytorch_dncnn.py): its state_dict as `.pt`
/// and safetensors, a batch, and PyTorch's float64 loss and gradient.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pytorch-dncnn").join(name)
}

#[test]
fn a_pytorch_trained_state_dict_gives_pytorchs_loss_and_gradient_from_pt_and_safetensors() {
    let device = f64_device();
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("reference.json")).unwrap()).unwrap();
    let loss_ref = reference["loss"].as_f64().unwrap();
    let grad_ref: Vec<f64> = reference["grad"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let batch = NoisyMnist::from_file(&fixture("batch.safetensors"), &device).unwrap();
    let mut thetas = Vec::new();
    for file in ["weights.pt", "weights.safetensors"] {
        let (net, report) = load_weights(template(), &fixture(file), &options()).unwrap();
        assert_eq!(report.ignored, vec!["3.num_batches_tracked".to_string()], "{file}");
        assert_eq!(report.file_dtypes, vec!["F32".to_string()], "{file}");
        let loss = batch.loss(&net).into_scalar_f64();
        assert!((loss - loss_ref).abs() <= 1e-12 * loss_ref, "{file}: loss {loss} vs PyTorch {loss_ref}");
        let grad = hessrank_core::value_and_grad(&batch, &net).grads.to_flat();
        let scale = grad_ref.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        let worst = grad.iter().zip(&grad_ref).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst <= 1e-10 * scale, "{file}: gradient differs from PyTorch's by {worst:e} (scale {scale:e})");
        thetas.push(flatten_f64(&net));
    }
    assert_eq!(thetas[0], thetas[1], ".pt and safetensors hold the same weights");
}
