//! `--onnx` end to end through the binary: spectrum, estimate (validated, per layer) and baseline
//! on the PyTorch fixtures of crates/onnx, and the flag errors.

use super::*;

fn onnx_fixture(name: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../onnx/tests/fixtures").join(name).join(file)
}

#[test]
fn onnx_graphs_run_through_spectrum_estimate_and_baseline() {
    let out = scratch("onnx");
    let (m, d) =
        (onnx_fixture("relu_exact_minimum", "model.onnx"), onnx_fixture("relu_exact_minimum", "data.safetensors"));
    let with = |c: &mut Command| {
        c.arg("--onnx").arg(&m).arg("--data").arg(&d).args(["--loss", "mse"]);
    };
    let mut c = hessrank(&out);
    c.args(["--threads", "1", "spectrum"]);
    with(&mut c);
    c.assert().success().stdout(predicates::str::contains("38 parameters in 4 tensors"));
    let r = json(&run_dir(&out, "spectrum-").join("result.json"));
    let reference = json(&onnx_fixture("relu_exact_minimum", "reference.json"));
    let top = r["eigenvalues"][0].as_f64().unwrap();
    let want = reference["eigenvalues"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).fold(0.0, f64::max);
    assert!((top - want).abs() < 1e-6 * want, "λ_max {top} vs PyTorch {want}");

    let mut c = hessrank(&out);
    c.args(["--threads", "1", "estimate", "--iters", "200", "--avg", "100", "--chains", "2", "--validate"]);
    with(&mut c);
    c.assert().success();
    let dir = run_dir(&out, "estimate-");
    assert_finite(&json(&dir.join("result.json")), "result");

    let mut c = hessrank(&out);
    c.args([
        "--threads",
        "1",
        "--dtype",
        "f32",
        "estimate",
        "--iters",
        "100",
        "--avg",
        "50",
        "--chains",
        "2",
        "--per-layer",
    ]);
    with(&mut c);
    c.assert().success().stdout(predicates::str::contains("converted parameters F64 → F32, data F64 → F32"));
    let dirs: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("per-layer.json").is_file())
        .collect();
    assert_eq!(dirs.len(), 1);
    assert_eq!(per_layer_blocks(&dirs[0]), [("l1".to_string(), 24), ("l2".to_string(), 14)]);

    let mut c = hessrank(&out);
    c.args(["--threads", "1", "baseline"]);
    with(&mut c);
    c.assert().success();
    assert_finite(&json(&run_dir(&out, "baseline-").join("result.json")), "baseline");
}

#[test]
fn onnx_flags_that_do_not_fit_are_named() {
    let out = scratch("onnx-flags");
    let (m, d) =
        (onnx_fixture("mse_exact_minimum", "model.onnx"), onnx_fixture("mse_exact_minimum", "data.safetensors"));
    let fails_with = |extra: &[&str], message: &str| {
        let mut c = hessrank(&out);
        c.arg("estimate").arg("--onnx").arg(&m).arg("--data").arg(&d).args(extra);
        c.assert().failure().stderr(predicates::str::contains(message));
    };
    fails_with(&[], "--loss"); // --onnx needs --data and --loss
    fails_with(&["--loss", "hinge"], "unknown loss \"hinge\"");
    fails_with(&["--loss", "mse", "--label-smoothing", "0.1"], "--label-smoothing 0.1"); // a cross-entropy setting
}
