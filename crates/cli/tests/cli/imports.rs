//! Networks trained elsewhere (PyTorch fixtures), per-layer blocks and the classifiers end to end.

use super::*;

#[test]
fn spectrum_of_a_pytorch_dncnn_and_its_batch_equals_the_spectrum_from_pytorchs_gradient() {
    let out = scratch("pytorch-spectrum");
    let (w, b) = (pytorch_fixture("weights.pt"), pytorch_fixture("batch.safetensors"));
    hessrank(&out)
        .args(["--threads", "1", "spectrum", "--arch", "dncnn", "--weights"])
        .arg(&w)
        .arg("--data")
        .arg(&b)
        .assert()
        .success()
        .stdout(predicates::str::contains("converted F32 → F64").and(predicates::str::contains("4 images")));
    let r = json(&run_dir(&out, "spectrum-").join("result.json"));
    let reference = json(&pytorch_fixture("reference.json"));
    let ours: Vec<f64> = r["eigenvalues"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let theirs: Vec<f64> =
        reference["hessian_eigenvalues"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(ours.len(), 753);
    let worst = ours.iter().zip(&theirs).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-6 * theirs[0], "eigenvalues differ by {worst:e} (λ_max {})", theirs[0]);
    let (tr, tr_ref) = (r["trace"].as_f64().unwrap(), reference["hessian_trace"].as_f64().unwrap());
    assert!((tr - tr_ref).abs() < 1e-6 * tr_ref.abs(), "trace {tr} vs {tr_ref}");
}

#[test]
fn estimate_on_imported_weights_runs_with_g_identity_and_bad_import_flags_are_named() {
    let out = scratch("pytorch-estimate");
    let (w, b) = (pytorch_fixture("weights.safetensors"), pytorch_fixture("batch.safetensors"));
    let base = |c: &mut Command| {
        c.args(["--threads", "1", "estimate", "--arch", "dncnn", "--weights"]).arg(&w).arg("--data").arg(&b);
    };
    let mut c = hessrank(&out);
    base(&mut c);
    c.args(["--iters", "40", "--avg", "20", "--chains", "2"]).assert().success();
    let dir = run_dir(&out, "estimate-");
    let cfg = json(&dir.join("config.json"));
    assert_eq!(cfg["precond"], "identity");
    assert!(cfg["model"].as_str().unwrap().contains("weights.safetensors"), "{cfg}");
    assert_finite(&json(&dir.join("result.json")), "result");
    // Adam's G does not exist for imported weights: asked for, it is an error, not a silent G = I.
    let mut c = hessrank(&out);
    base(&mut c);
    c.args(["--precond", "adam"]).assert().failure().stderr(predicates::str::contains("--precond adam"));
    for (args, needle) in [
        (vec!["--arch", "resnet"], "unknown --arch \"resnet\""),
        (vec!["--rename", "(=x"], "invalid --rename"),
        (vec!["--rename", "no-equals"], "REGEX=REPLACEMENT"),
    ] {
        let mut c = hessrank(&out);
        c.args(["estimate", "--weights"]).arg(&w);
        if args[0] != "--arch" {
            c.args(["--arch", "dncnn"]);
        }
        c.args(&args).assert().failure().stderr(predicates::str::contains(needle));
    }
    // A weights file of another architecture names the key and both shapes.
    let bad = out.join("other.safetensors");
    std::fs::copy(pytorch_fixture("batch.safetensors"), &bad).unwrap();
    hessrank(&out)
        .args(["spectrum", "--arch", "dncnn", "--weights"])
        .arg(&bad)
        .assert()
        .failure()
        .stderr(predicates::str::contains("other.safetensors").and(predicates::str::contains("is missing")));
}

#[test]
fn per_layer_and_params_estimate_blocks_and_a_glob_matching_nothing_is_named() {
    let out = scratch("per-layer");
    let short = ["--iters", "60", "--avg", "30", "--chains", "2"];
    hessrank(&out)
        .args(["--threads", "1", "estimate", "--model", "models/dncnn-mnist", "--per-layer"])
        .args(short)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .assert()
        .success()
        .stdout(
            predicates::str::contains("first")
                .and(predicates::str::contains("mid.0"))
                .and(predicates::str::contains("last")),
        );
    let blocks = per_layer_blocks(&run_dir(&out, "estimate-"));
    assert_eq!(blocks, [("first", 80), ("mid.0", 600), ("last", 73)].map(|(b, n)| (b.to_string(), n)));
    hessrank(&out)
        .args(["estimate", "--model", "models/dncnn-mnist", "--params", "middle.*"])
        .args(short)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .assert()
        .failure()
        .stderr(predicates::str::contains("middle.*").and(predicates::str::contains("first.weight")));
}

#[test]
fn an_mlp_classifier_trains_estimates_and_gets_its_spectrum_end_to_end() {
    let out = scratch("mlp");
    let model = out.join("mlp");
    hessrank(&out)
        .args(["--threads", "1", "train", "mlp", "--widths", "784-2-10", "--n-images", "32", "--sgd-epochs", "2"])
        .args(["--gd-steps", "5", "--lbfgs-steps", "0", "--adam-steps", "5", "--dir"])
        .arg(&model)
        .assert()
        .success();
    hessrank(&out).args(["--threads", "1", "spectrum", "--model"]).arg(&model).assert().success();
    let s = json(&run_dir(&out, "spectrum-").join("result.json"));
    assert_finite(&s, "spectrum");
    assert_eq!(s["eigenvalues"].as_array().unwrap().len(), 784 * 2 + 2 + 2 * 10 + 10);
    hessrank(&out)
        .args(["--threads", "1", "estimate", "--model"])
        .arg(&model)
        .args(["--iters", "60", "--avg", "30", "--chains", "2", "--sigma2", "1e-5,1e-6"])
        .assert()
        .success()
        .stdout(predicates::str::contains("real").and(predicates::str::contains("frozen")));
    let bad = out.join("labels.safetensors");
    std::fs::copy(pytorch_fixture("batch.safetensors"), &bad).unwrap();
    hessrank(&out)
        .args(["spectrum", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(&bad)
        .assert()
        .failure()
        .stderr(predicates::str::contains("labels.safetensors").and(predicates::str::contains("inputs")));
}

#[test]
fn a_cnn_classifier_with_label_smoothing_trains_and_is_probed_per_layer_end_to_end() {
    let out = scratch("cnn");
    let model = out.join("cnn");
    hessrank(&out)
        .args(["--threads", "1", "train", "cnn", "--channels", "1-2", "--n-images", "32", "--label-smoothing", "0.1"])
        .args(["--sgd-epochs", "30", "--gd-steps", "300", "--lbfgs-steps", "500", "--adam-steps", "20", "--dir"])
        .arg(&model)
        .assert()
        .success();
    // With ε = 0.1 a fit that separates the batch has a minimum: loss = the entropy of the smoothed
    // target, −0.91 ln 0.91 − 9 · 0.01 ln 0.01 = 0.50026, at finite weights.
    let manifest = json(&model.join("manifest.json"));
    let (loss, grad) = (manifest["final_loss"].as_f64().unwrap(), manifest["final_grad_norm"].as_f64().unwrap());
    let entropy = -0.91f64 * 0.91f64.ln() - 9.0 * 0.01 * 0.01f64.ln();
    assert!(loss >= entropy && loss < entropy + 2e-3 && grad < 1e-2, "loss {loss} (entropy {entropy}), ‖∇L‖ {grad}");
    assert_eq!(manifest["model_kind"], "cnn");
    assert_eq!(manifest["data"]["label_smoothing"], 0.1);
    hessrank(&out).args(["--threads", "1", "spectrum", "--model"]).arg(&model).assert().success();
    let s = json(&run_dir(&out, "spectrum-").join("result.json"));
    assert_finite(&s, "spectrum");
    // Stages 1 and 2 channels: 28 → 14 → 7, so the head reads 2·7·7 = 98 features.
    assert_eq!(s["eigenvalues"].as_array().unwrap().len(), (9 + 1) + (2 * 9 + 2) + (98 * 10 + 10));
    hessrank(&out)
        .args(["--threads", "1", "estimate", "--model"])
        .arg(&model)
        .args(["--iters", "400", "--avg", "200", "--chains", "4", "--sigma2", "1e-5,1e-6", "--validate"])
        .assert()
        .success()
        .stdout(predicates::str::contains("real").and(predicates::str::contains("frozen")));
    // Like for like: the frozen chains against the discrete theory on the exact Hessian of the
    // frozen objective (a wrong step, noise scale or estimator would be many SE off).
    let v = json(&run_dir(&out, "estimate-").join("validation.json"));
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for row in rows {
        let (f, theory) = (&row["frozen"], row["theory"].as_f64().unwrap());
        let z = (f["estimate"].as_f64().unwrap() - theory) / f["stderr"].as_f64().unwrap();
        assert!(z.abs() < 2.5 && theory > 50.0, "σ² {}: frozen {f} vs theory {theory} ({z:+.2} SE)", row["sigma2"]);
    }
    hessrank(&out)
        .args(["--threads", "1", "estimate", "--model"])
        .arg(&model)
        .args(["--iters", "60", "--avg", "30", "--chains", "2", "--per-layer", "--label-smoothing", "0.2"])
        .assert()
        .success()
        .stdout(predicates::str::contains("the loss probed uses ε = 0.2, not the 0.1 it was trained with"));
    let dir = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()).find(|p| p.join("per-layer.json").exists());
    let blocks = per_layer_blocks(&dir.expect("a per-layer run"));
    assert_eq!(blocks, [("convs.0", 10), ("convs.1", 20), ("head", 990)].map(|(b, n)| (b.to_string(), n)));
    hessrank(&out)
        .args(["estimate", "--model", "models/dncnn-mnist", "--label-smoothing", "0.1"])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .assert()
        .failure()
        .stderr(predicates::str::contains("--label-smoothing 0.1").and(predicates::str::contains("classifiers")));
}
