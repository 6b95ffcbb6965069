//! figure1, table1 (and its resume) and dncnn end to end.

use super::*;

#[test]
fn figure1_writes_trace_plot_and_result() {
    let out = scratch("figure1");
    let args = ["figure1", "--d", "4", "--depth", "3", "--iters", "3000", "--avg", "2000", "--eta", "2e-2"];
    hessrank(&out).args(args).assert().success();
    let dir = run_dir(&out, "figure1-");
    let r = json(&dir.join("result.json"));
    assert_eq!(r["true_rank"], 16);
    // The estimate against the discrete-time expectation of this run, within its own error bar.
    let (est, se) = (r["estimate"]["estimate"].as_f64().unwrap(), r["estimate"]["stderr"].as_f64().unwrap());
    let predicted = r["discrete_expected_estimate"].as_f64().unwrap();
    assert!((est - predicted).abs() < 4.0 * se, "estimate {est} ± {se} vs the discrete theory {predicted}");
    assert!(predicted > 14.0, "the run is long enough to see most of rank 16: {predicted}");
    assert_svg(&dir.join("figure1.svg"));
    let csv = std::fs::read_to_string(dir.join("trace.csv")).unwrap();
    assert!(csv.starts_with("iteration,loss_minus_loss0,theorem1,prop1_limit,discrete_expectation\n"));
    assert_eq!(csv.lines().count(), 3001);
}

#[test]
fn table1_nrmse_is_recomputed_from_the_per_trial_csv() {
    let out = scratch("table1");
    hessrank(&out)
        .args([
            "table1",
            "--dims",
            "8",
            "--trials",
            "3",
            "--iters",
            "600",
            "--avg",
            "300",
            "--us-vecs",
            "20",
            "--us-degree",
            "20",
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains("Table 1"));
    let dir = run_dir(&out, "table1-");
    let csv = std::fs::read_to_string(dir.join("trials.csv")).unwrap();
    let rows: Vec<Vec<f64>> = csv.lines().skip(1).map(|l| l.split(',').map(|x| x.parse().unwrap()).collect()).collect();
    assert_eq!(rows.len(), 3);
    let nrmse = |col: usize| (rows.iter().map(|r| (r[col] - 64.0).powi(2)).sum::<f64>() / 3.0).sqrt() / 64.0;
    let r = json(&dir.join("result.json"));
    let row = &r["table"][0];
    assert!((row["nrmse"].as_f64().unwrap() - nrmse(2)).abs() < 1e-12);
    assert!((row["us_nrmse"].as_f64().unwrap() - nrmse(3)).abs() < 1e-12);
    assert_eq!(row["paper_nrmse"].as_f64().unwrap(), 0.069);
    assert_eq!(row["dtype"], "F64");
    assert_svg(&dir.join("figure2.svg"));

    // The same widths with LM and the automatic step (`auto`, η = 1/μ_max), then Figure 2 with both
    // runs and the first one's U&S.
    let lm_out = scratch("table1-lm");
    hessrank(&lm_out)
        .args(["table1", "--dims", "8", "--trials", "3", "--iters", "600", "--avg", "300", "--scheme", "lm"])
        .args(["--eta", "auto", "--no-us"])
        .assert()
        .success();
    let lm_dir = run_dir(&lm_out, "table1-");
    assert_eq!(json(&lm_dir.join("config.json"))["langevin"]["step"]["Auto"]["c"], 1.0);
    hessrank(&out).arg("figure2").arg(&dir).arg(&lm_dir).assert().success().stdout(
        predicates::str::contains("EM, η = 0.0001: 1 widths").and(predicates::str::contains("LM, η = 1/μ_max")),
    );
    let svg = run_dir(&out, "figure2-").join("figure2.svg");
    assert_svg(&svg);
    let text = std::fs::read_to_string(&svg).unwrap();
    for label in ["EM, η = 0.0001", "LM, η = 1/μ_max", "Ubaru–Saad"] {
        assert!(text.contains(label), "Figure 2 names {label}");
    }
}

#[test]
fn an_interrupted_table1_sweep_resumes_to_bitwise_the_same_trials() {
    let args = [
        "table1",
        "--dims",
        "4,6",
        "--trials",
        "3",
        "--iters",
        "40000",
        "--avg",
        "1000",
        "--eta",
        "auto",
        "--no-us",
        "--checkpoint-every",
        "300",
    ];
    let whole = scratch("table1-whole");
    hessrank(&whole).args(args).assert().success();
    let a = std::fs::read_to_string(run_dir(&whole, "table1-").join("trials.csv")).unwrap();

    // d = 4 finishes first and leaves d4.json; d = 6 is interrupted once its state is saved.
    let cut = scratch("table1-cut");
    let stdout = interrupt_once_saved(&cut, &args, "langevin-state-d6.json");
    assert!(stdout.contains("interrupted at d=6"), "{stdout}");
    let dir = run_dir(&cut, "table1-");
    assert!(dir.join("d4.json").is_file() && dir.join("langevin-state-d6.json").is_file());
    let partial = json(&dir.join("result.json"));
    assert_eq!(partial["partial"], true);
    assert_eq!(partial["provenance"]["burn"], "0.22.1");
    assert_eq!(partial["provenance"]["seed"], 0);
    hessrank(&cut)
        .args(args)
        .arg("--resume")
        .arg(&dir)
        .assert()
        .success()
        .stdout(predicates::str::contains("d=4: done earlier"));
    let b = std::fs::read_to_string(dir.join("trials.csv")).unwrap();
    assert_eq!(a, b, "the resumed sweep gives bitwise the same trials");
    assert_eq!(json(&dir.join("result.json"))["partial"], false);
    // Other settings refuse the folder.
    hessrank(&cut)
        .args(["table1", "--dims", "4,6", "--trials", "2", "--no-us", "--resume"])
        .arg(&dir)
        .assert()
        .failure()
        .stderr(predicates::str::contains("the saved run has --trials 3, this run 2"));
}

#[test]
fn a_finished_table1_sweep_extends_to_more_widths() {
    let base = ["table1", "--trials", "3", "--iters", "600", "--avg", "300", "--no-us"];
    let trials_of = |dir: &std::path::Path, d: &str| -> Vec<String> {
        let csv = std::fs::read_to_string(dir.join("trials.csv")).unwrap();
        csv.lines().filter(|l| l.starts_with(&format!("{d},"))).map(String::from).collect()
    };
    let alone = scratch("table1-d6");
    hessrank(&alone).args(base).args(["--dims", "6"]).assert().success();
    let want = trials_of(&run_dir(&alone, "table1-"), "6");

    let out = scratch("table1-extend");
    hessrank(&out).args(base).args(["--dims", "4"]).assert().success();
    let dir = run_dir(&out, "table1-");
    let d4 = trials_of(&dir, "4");
    hessrank(&out)
        .args(base)
        .args(["--dims", "4,6", "--resume"])
        .arg(&dir)
        .assert()
        .success()
        .stdout(predicates::str::contains("d=4: done earlier"))
        .stdout(predicates::str::contains("extending the saved sweep over d = [4] to d = [4, 6]"));
    // d = 4 is read back, d = 6 runs as it would alone (each d has its own seeds), and the saved
    // settings now list both.
    assert_eq!(trials_of(&dir, "4"), d4);
    assert_eq!(trials_of(&dir, "6"), want);
    assert_eq!(json(&dir.join("result.json"))["table"].as_array().unwrap().len(), 2);
    assert_eq!(json(&dir.join("config.json"))["dims"], serde_json::json!([4, 6]));
    // Dropping a saved width is refused.
    hessrank(&out)
        .args(base)
        .args(["--dims", "6", "--resume"])
        .arg(&dir)
        .assert()
        .failure()
        .stderr(predicates::str::contains("dims"));
}

#[cfg(feature = "wgpu")]
#[test]
fn the_wgpu_backend_runs_figure1_in_f32_and_refuses_f64() {
    let out = scratch("wgpu");
    hessrank(&out)
        .args(["--backend", "wgpu", "figure1", "--d", "3", "--depth", "3", "--iters", "300", "--avg", "150"])
        .assert()
        .success();
    let r = json(&run_dir(&out, "figure1-").join("result.json"));
    assert_eq!(r["provenance"]["backend"], "wgpu");
    assert_eq!(r["provenance"]["dtype"], "F32", "wgpu defaults to f32");
    let est = r["estimate"]["estimate"].as_f64().unwrap();
    // The same run (same seed, so the same noise) on the reference CPU backend in f32: only
    // rounding may differ, far less than the run's own error bar. Flex's f32 path (hessrank's own
    // kernels) rounds differently enough on this 300-step, σ² = 2e-5 run to sit 0.9 SE from the f64
    // run on some machines, where ndarray f32 and wgpu stay within 0.3 SE of it.
    let cpu = scratch("wgpu-cpu");
    hessrank(&cpu)
        .args([
            "--backend",
            "ndarray",
            "--dtype",
            "f32",
            "figure1",
            "--d",
            "3",
            "--depth",
            "3",
            "--iters",
            "300",
            "--avg",
            "150",
        ])
        .assert()
        .success();
    let c = json(&run_dir(&cpu, "figure1-").join("result.json"));
    let (est_cpu, se) = (c["estimate"]["estimate"].as_f64().unwrap(), c["estimate"]["stderr"].as_f64().unwrap());
    assert!((est - est_cpu).abs() < 0.5 * se, "wgpu {est} vs CPU {est_cpu} ± {se}");
    hessrank(&out)
        .args(["--backend", "wgpu", "--dtype", "f64", "figure1", "--d", "3"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("--dtype f64 is not supported on wgpu"));
}

#[test]
fn dncnn_on_pytorch_weights_measures_theta0_with_g_identity_and_says_it_is_no_minimum() {
    let out = scratch("pytorch-dncnn");
    let (w, b) = (pytorch_fixture("weights.pt"), pytorch_fixture("batch.safetensors"));
    hessrank(&out)
        .args(["--threads", "1", "dncnn", "--arch", "dncnn", "--weights"])
        .arg(&w)
        .arg("--data")
        .arg(&b)
        .args(["--iters", "60", "--avg", "30", "--chains", "2"])
        .assert()
        .success()
        .stdout(
            predicates::str::contains("G = I")
                .and(predicates::str::contains("θ₀ is not a minimum"))
                .and(predicates::str::contains("Ubaru–Saad assumes a PSD matrix")),
        );
    let r = json(&run_dir(&out, "dncnn-").join("result.json"));
    let reference = json(&pytorch_fixture("reference.json"));
    // θ₀ and its batch are the user's: PyTorch's loss, gradient norm and λ_max (float64 there).
    let loss = r["theta0"]["loss"].as_f64().unwrap();
    let want = reference["loss"].as_f64().unwrap();
    assert!((loss - want).abs() < 1e-9 * want, "loss {loss} vs PyTorch's {want}");
    let grad_norm =
        reference["grad"].as_array().unwrap().iter().map(|g| g.as_f64().unwrap().powi(2)).sum::<f64>().sqrt();
    let got = r["theta0"]["grad_norm"].as_f64().unwrap();
    assert!((got - grad_norm).abs() < 1e-8 * grad_norm, "‖∇L‖ {got} vs PyTorch's {grad_norm}");
    let lmax = reference["hessian_eigenvalues"][0].as_f64().unwrap();
    assert!((r["spectrum"]["lambda_max"].as_f64().unwrap() - lmax).abs() < 1e-6 * lmax);
    assert_eq!(r["theta0"]["precond"], "identity");
    assert_eq!(r["data"]["n_images"], 4);
    let kinds: Vec<&str> = r["warnings"].as_array().unwrap().iter().map(|w| w["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["not_a_minimum", "us_outside_interval"], "{}", r["warnings"]);
    assert!(r["warnings"][0]["negatives"].as_u64().unwrap() > 0 && r["warnings"][1]["blowup"].as_f64().unwrap() > 2.0);
    assert_finite(&r["validation"], "validation");

    hessrank(&out)
        .args(["dncnn", "--data"])
        .arg(&b)
        .assert()
        .failure()
        .stderr(predicates::str::contains("--data").and(predicates::str::contains("--weights")));
    hessrank(&out)
        .args(["dncnn", "--arch", "dncnn", "--weights"])
        .arg(&w)
        .arg("--data")
        .arg(&b)
        .args(["--n-images", "8"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("--n-images").and(predicates::str::contains("--data")));
    hessrank(&out)
        .args(["dncnn", "--dir", "models/dncnn-mnist", "--arch", "dncnn", "--weights"])
        .arg(&w)
        .assert()
        .failure()
        .stderr(predicates::str::contains("--dir").and(predicates::str::contains("--weights")));
}
