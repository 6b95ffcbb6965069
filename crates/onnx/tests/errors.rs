//! Bad input: each problem is a one-line error naming the file and the node, input, key or value,
//! raised when the problem is loaded, before any run.

use crate::common::{f64_device, fixture};
use hessrank_models::tensor_file::{NamedTensor, write_safetensors};
use hessrank_onnx::{Loss, OnnxError, OnnxProblem, OnnxSpec};
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hessrank-onnx-errors-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn load_err(model: &Path, data: &Path, loss: Loss) -> OnnxError {
    let spec = OnnxSpec { model: model.into(), data: data.into(), loss };
    match OnnxProblem::load(&spec, &f64_device()) {
        Ok(_) => panic!("{} on {} loads", model.display(), data.display()),
        Err(e) => e,
    }
}

fn one_line_with(e: &OnnxError, parts: &[&str]) {
    let text = e.to_string();
    assert!(!text.contains('\n'), "one line: {text}");
    for part in parts {
        assert!(text.contains(part), "{text:?} lacks {part:?}");
    }
}

#[test]
fn an_unsupported_operator_is_named_with_its_node_and_the_list() {
    let data = fixture("mse_exact_minimum").join("data.safetensors");
    let e = load_err(&fixture("bad").join("sin.onnx"), &data, Loss::Mse);
    assert!(matches!(&e, OnnxError::Unsupported { node, op, .. } if node == "/Sin" && op == "Sin"), "{e}");
    one_line_with(&e, &["sin.onnx", "\"/Sin\"", "Sin", "supported: ", "Conv", "MaxPool"]);
    let e = load_err(&fixture("bad").join("if.onnx"), &data, Loss::Mse);
    assert!(matches!(&e, OnnxError::Node { op, .. } if op == "If"), "{e}");
    one_line_with(&e, &["if.onnx", "\"/If\"", "control flow"]);
}

#[test]
fn a_corrupt_or_truncated_file_is_an_error_naming_it() {
    let dir = scratch("corrupt");
    let data = fixture("mlp_activations").join("data.safetensors");
    let bytes = std::fs::read(fixture("mlp_activations").join("model.onnx")).unwrap();
    for (name, content) in [
        ("truncated.onnx", bytes[..bytes.len() / 2].to_vec()),
        ("garbage.onnx", (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect()),
        ("empty.onnx", Vec::new()),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        let e = load_err(&path, &data, Loss::Mse);
        assert!(matches!(&e, OnnxError::Parse { .. }), "{name}: {e}");
        one_line_with(&e, &[name]);
    }
    let e = load_err(&dir.join("missing.onnx"), &data, Loss::Mse);
    assert!(matches!(&e, OnnxError::Io { .. }), "{e}");
}

/// The MSE minimum's batch (x [6, 3], targets [6, 2]) with `edit` applied.
fn batch(dir: &Path, name: &str, tensors: Vec<NamedTensor>) -> PathBuf {
    let path = dir.join(name);
    write_safetensors(&path, &tensors).unwrap();
    path
}

#[test]
fn data_that_does_not_fit_the_graph_or_the_loss_is_named() {
    let dir = scratch("data");
    let mse = fixture("mse_exact_minimum").join("model.onnx");
    let ce = fixture("cross_entropy_exact_minimum").join("model.onnx");
    let x = |n: usize, d: usize| NamedTensor::float("x", vec![n, d], vec![0.1; n * d], false);
    let y = |n: usize, d: usize| NamedTensor::float("targets", vec![n, d], vec![0.0; n * d], false);

    let e = load_err(&mse, &batch(&dir, "no-x.safetensors", vec![y(6, 2)]), Loss::Mse);
    assert!(matches!(&e, OnnxError::MissingData { key, .. } if key == "x"), "{e}");
    one_line_with(&e, &["no-x.safetensors", "\"x\"", "[6, 3]", "targets"]);

    let e = load_err(&mse, &batch(&dir, "no-targets.safetensors", vec![x(6, 3)]), Loss::Mse);
    assert!(matches!(&e, OnnxError::MissingData { key, .. } if key == "targets"), "{e}");

    let e = load_err(&mse, &batch(&dir, "shape.safetensors", vec![x(5, 3), y(6, 2)]), Loss::Mse);
    one_line_with(&e, &["shape.safetensors", "\"x\"", "[5, 3]", "[6, 3]"]);

    let ints = NamedTensor::int("x", vec![6, 3], vec![1; 18]);
    let e = load_err(&mse, &batch(&dir, "dtype.safetensors", vec![ints, y(6, 2)]), Loss::Mse);
    one_line_with(&e, &["dtype.safetensors", "\"x\"", "floats"]);

    let e = load_err(&mse, &batch(&dir, "targets-shape.safetensors", vec![x(6, 3), y(6, 3)]), Loss::Mse);
    one_line_with(&e, &["targets-shape.safetensors", "\"targets\"", "[6, 3]", "[6, 2]"]);

    let labels = NamedTensor::int("targets", vec![5], vec![0, 1, 2, 3, 1]);
    let e = load_err(
        &ce,
        &batch(&dir, "labels.safetensors", vec![x(5, 3), labels]),
        Loss::CrossEntropy { label_smoothing: 0.0 },
    );
    one_line_with(&e, &["labels.safetensors", "label 3 at row 3", "0..3"]);

    let probs = NamedTensor::float("targets", vec![5, 3], [[0.5, 0.5, 0.5]; 5].concat(), false);
    let e = load_err(
        &ce,
        &batch(&dir, "probs.safetensors", vec![x(5, 3), probs]),
        Loss::CrossEntropy { label_smoothing: 0.0 },
    );
    one_line_with(&e, &["probs.safetensors", "row 0", "sum 1.5"]);

    let e = load_err(&mse, &fixture("mse_exact_minimum").join("data.safetensors"), Loss::Graph);
    one_line_with(&e, &["model.onnx", "--loss graph needs a scalar output", "[6, 2]"]);
}

/// Equal tensors PyTorch's exporter merged (its default form names the copies by Identity nodes)
/// are separate parameters again, under their own names; nothing is reported tied.
#[test]
fn tensors_the_exporter_merged_are_separate_parameters_again() {
    let dir = scratch("twins");
    let data = batch(
        &dir,
        "x.safetensors",
        vec![
            NamedTensor::float("x", vec![4, 3], vec![0.3; 12], false),
            NamedTensor::float("targets", vec![4, 3], vec![0.0; 12], false),
        ],
    );
    let spec = OnnxSpec { model: fixture("bad").join("merged_twins.onnx"), data, loss: Loss::Mse };
    let problem = OnnxProblem::load(&spec, &f64_device()).unwrap();
    let mut names = problem.params.names().to_vec();
    names.sort();
    assert_eq!(names, ["a.bias", "a.weight", "b.bias", "b.weight"]);
    assert!(problem.tied.is_empty(), "{:?}", problem.tied);
}
