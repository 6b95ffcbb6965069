//! Shared set-up: the f64 device, the fixtures and their reference values.

use burn::tensor::{Device, FloatDType};
use hessrank_core::device::with_float_dtype;
use hessrank_onnx::{Loss, OnnxProblem, OnnxSpec};
use std::path::PathBuf;

/// The f64 Flex device with autodiff (the device the fixtures' references are in).
pub fn f64_device() -> Device {
    with_float_dtype(Device::flex(), FloatDType::F64).expect("f64 flex").autodiff()
}

/// The folder of fixture `name`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// PyTorch's numbers for fixture `name`.
pub fn reference(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixture(name).join("reference.json")).expect("reference.json");
    serde_json::from_str(&text).expect("valid JSON")
}

/// The loss the fixture's reference was computed with.
pub fn loss_of(reference: &serde_json::Value) -> Loss {
    match reference["loss_kind"].as_str().expect("loss kind") {
        "mse" => Loss::Mse,
        "cross-entropy" => Loss::CrossEntropy { label_smoothing: reference["label_smoothing"].as_f64().unwrap_or(0.0) },
        "graph" => Loss::Graph,
        other => panic!("unknown loss {other}"),
    }
}

/// The fixture's problem on `device`.
pub fn load(name: &str, device: &Device) -> (OnnxProblem, serde_json::Value) {
    let reference = reference(name);
    let spec = OnnxSpec {
        model: fixture(name).join("model.onnx"),
        data: fixture(name).join("data.safetensors"),
        loss: loss_of(&reference),
    };
    (OnnxProblem::load(&spec, device).unwrap_or_else(|e| panic!("{name}: {e}")), reference)
}

/// A JSON array of numbers.
pub fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number")).collect()
}

/// max |a − b| / max |b|, the scale floored at 1e-6 (at an exact minimum the gradient is 0 and
/// both sides are round-off, ~1e-17).
pub fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-6);
    a.iter().zip(b).fold(0.0f64, |m, (x, y)| m.max((x - y).abs())) / scale
}
