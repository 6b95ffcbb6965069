//! matrix-rank; train → estimate → merge → spectrum → baseline → dncnn with resume; bad flags.

use super::*;

#[test]
fn matrix_rank_reads_a_csv_and_prints_the_rank() {
    let out = scratch("matrix");
    let file = rank3_csv(&out);
    let assert = hessrank(&out)
        .args(["matrix-rank"])
        .arg(&file)
        .args(["--iters", "3000", "--avg", "2000", "--chains", "16"])
        .assert()
        .success();
    let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    assert!(stdout.contains("rank"), "{stdout}");
    let r = json(&run_dir(&out, "matrix-rank-").join("result.json"));
    let est = r["estimate"]["estimate"].as_f64().unwrap();
    assert!((est - 3.0).abs() < 0.2, "{est}");
    assert_eq!(r["estimate"]["chain"].as_array().unwrap().len(), 16);
    // An explicit --chains 1 is honoured.
    let one = scratch("matrix-one");
    hessrank(&one)
        .args(["matrix-rank"])
        .arg(&file)
        .args(["--iters", "300", "--avg", "200", "--chains", "1"])
        .assert()
        .success();
    let r = json(&run_dir(&one, "matrix-rank-").join("result.json"));
    assert_eq!(r["estimate"]["chain"].as_array().unwrap().len(), 1);
    assert_eq!(r["estimate"]["config"]["chains"], 1);
    // The baselines on the same file: the published U&S finds the rank 3 of the clean gap.
    hessrank(&out).args(["baseline", "--matrix"]).arg(&file).args(["--top-k", "2"]).assert().success();
    let b = json(&run_dir(&out, "baseline-").join("result.json"));
    let us = b["ubaru_saad"]["rank"].as_f64().unwrap();
    assert!((us - 3.0).abs() < 0.3, "U&S {us}");
    assert!((b["lanczos"]["eigenvalues"][0].as_f64().unwrap() - 3.0).abs() < 1e-8);
    assert!((b["hutchinson"]["trace"].as_f64().unwrap() - 6.0).abs() < 1.5);
    // A non-symmetric file is refused with the entry named.
    std::fs::write(&file, "1,2\n3,4\n").unwrap();
    hessrank(&out)
        .args(["baseline", "--matrix"])
        .arg(&file)
        .assert()
        .failure()
        .stderr(predicates::str::contains("symmetric"));
    hessrank(&out).args(["matrix-rank"]).arg(&file).assert().failure().stderr(predicates::str::contains("symmetric"));
}

#[test]
fn train_estimate_merge_spectrum_baseline_and_dncnn_write_their_files_and_resume() {
    let out = scratch("dncnn");
    let model = out.join("m");
    let m = model.to_str().unwrap();
    hessrank(&out)
        .args([
            "train",
            "dncnn",
            "--dir",
            m,
            "--n-images",
            "8",
            "--sgd-epochs",
            "1",
            "--gd-steps",
            "5",
            "--adam-steps",
            "3",
        ])
        .assert()
        .success();
    for f in ["model.bpk", "preconditioner.json", "manifest.json"] {
        assert!(model.join(f).is_file(), "{f}");
    }
    hessrank(&out)
        .args(["estimate", "--model", m, "--iters", "60", "--avg", "30", "--eta", "1e-3", "--drift"])
        .assert()
        .success();
    let est_dir = run_dir(&out, "estimate-");
    let r = json(&est_dir.join("result.json"));
    assert_finite(&r, "estimate");
    assert!(est_dir.join("langevin-state.json").is_file());
    // The rank at every threshold, from the Langevin trace alone.
    assert_svg(&est_dir.join("threshold.svg"));
    let curve = json(&est_dir.join("threshold.json"));
    let last = curve.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["k"], 59);
    assert!((last["threshold"].as_f64().unwrap() * 2.0 * 1e-3 * 59.0 - 1.0).abs() < 1e-12);
    assert!(last["exact_count"].is_null());
    // Four chains by default, recorded with R̂, ESS and each chain's window trace.
    assert_eq!(r["chain"].as_array().unwrap().len(), 4);
    assert_eq!(r["config"]["drift"], "ControlVariate");
    assert!(r["r_hat"].is_number() && r["ess"].is_number(), "{}", r["r_hat"]);
    let traces = json(&est_dir.join("window-traces.json"));
    assert_eq!(traces.as_array().unwrap().len(), 4);
    assert!(traces.as_array().unwrap().iter().all(|t| t.as_array().unwrap().len() == 30));
    // A second seed merges with the first into 8 chains; other settings are refused by name.
    let second = scratch("dncnn-seed2");
    let est = ["estimate", "--model", m, "--iters", "60", "--avg", "30", "--eta", "1e-3", "--drift"];
    hessrank(&second).args(est).args(["--seed", "2"]).assert().success();
    let seed2 = run_dir(&second, "estimate-");
    hessrank(&out)
        .arg("merge")
        .arg(&est_dir)
        .arg(&seed2)
        .assert()
        .success()
        .stdout(predicates::str::contains("8 chains"));
    let merged = json(&run_dir(&out, "merge-").join("result.json"));
    assert_eq!(merged["chain"].as_array().unwrap().len(), 8);
    let mean = (r["estimate"].as_f64().unwrap() + json(&seed2.join("result.json"))["estimate"].as_f64().unwrap()) / 2.0;
    assert!((merged["estimate"].as_f64().unwrap() - mean).abs() < 1e-9 * mean.abs().max(1.0));
    // A σ² sweep: one table row per σ², each with its paired frozen run.
    let swept = scratch("dncnn-sweep");
    hessrank(&swept)
        .args(["estimate", "--model", m, "--iters", "60", "--avg", "30", "--eta", "1e-3", "--chains", "2"])
        .args(["--sigma2", "1e-5,4e-5"])
        .assert()
        .success()
        .stdout(predicates::str::contains("real − frozen"));
    let sweep_dir = run_dir(&swept, "estimate-");
    let rows = json(&sweep_dir.join("sigma2-sweep.json"));
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["sigma2"].as_f64(), Some(4e-5));
    assert!(rows.iter().all(|r| r["frozen"]["estimate"].is_number() && r["relu_excess"]["stderr"].is_number()));
    assert_eq!(json(&sweep_dir.join("result.json"))["config"]["sigma2"].as_f64(), Some(1e-5));
    assert_svg(&sweep_dir.join("sigma2-sweep.svg"));
    let third = scratch("dncnn-sigma");
    hessrank(&third).args(est).args(["--seed", "3", "--sigma2", "2e-5"]).assert().success();
    let other = run_dir(&third, "estimate-");
    hessrank(&out)
        .arg("merge")
        .arg(&est_dir)
        .arg(&other)
        .assert()
        .failure()
        .stderr(predicates::str::contains("sigma2").and(predicates::str::contains(other.to_str().unwrap())));
    hessrank(&out)
        .arg("merge")
        .arg(&est_dir)
        .arg(&est_dir)
        .assert()
        .failure()
        .stderr(predicates::str::contains("already"));
    hessrank(&out)
        .arg("merge")
        .arg(out.join("nowhere"))
        .assert()
        .failure()
        .stderr(predicates::str::contains("nowhere"));
    // Resuming a finished run reproduces its result.
    hessrank(&out)
        .args(["estimate", "--model", m, "--iters", "60", "--avg", "30", "--eta", "1e-3", "--drift", "--resume"])
        .arg(&est_dir)
        .assert()
        .success();
    assert_eq!(json(&est_dir.join("result.json"))["estimate"], r["estimate"]);
    hessrank(&out).args(["spectrum", "--model", m]).assert().success();
    let s = json(&run_dir(&out, "spectrum-").join("result.json"));
    assert_eq!(s["eigenvalues"].as_array().unwrap().len(), 753);
    assert_svg(&run_dir(&out, "spectrum-").join("energy.svg"));
    hessrank(&out)
        .args(["baseline", "--model", m, "--nvecs", "10", "--degree", "10", "--probes", "10"])
        .assert()
        .success();
    assert_finite(&json(&run_dir(&out, "baseline-").join("result.json")), "baseline");
    hessrank(&out)
        .args([
            "dncnn",
            "--dir",
            m,
            "--n-images",
            "8",
            "--iters",
            "200",
            "--avg",
            "100",
            "--chains",
            "8",
            "--us-vecs",
            "10",
            "--us-degree",
            "10",
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains("loading").and(predicates::str::contains("frozen-Hessian check")));
    let dir = run_dir(&out, "dncnn-");
    let r = json(&dir.join("result.json"));
    assert_finite(&r, "dncnn");
    assert_svg(&dir.join("figure3.svg"));
    assert_svg(&dir.join("validation.svg"));
    assert_svg(&dir.join("threshold.svg"));
    // Like for like: the frozen-activation chains (the quadratic model the theory is computed from)
    // agree with the discrete theory on its exact spectrum within 2.5 standard errors.
    let frozen = &r["validation"]["frozen"]["result"];
    let (f, se) = (frozen["estimate"].as_f64().unwrap(), frozen["stderr"].as_f64().unwrap());
    let theory = r["theory"]["expected_estimate"].as_f64().unwrap();
    assert!((f - theory).abs() <= 2.5 * se, "frozen {f} ± {se} vs theory {theory}");
    assert!(se > 0.0 && se < 0.2 * theory, "a real error bar: {se}");
    // The ReLU excess is the paired difference of the chain estimates, real − frozen.
    let per_chain = |v: &serde_json::Value| -> Vec<f64> {
        v["chain"].as_array().unwrap().iter().map(|c| c["estimate"].as_f64().unwrap()).collect()
    };
    let (real, fr) = (per_chain(&r["estimate"]), per_chain(frozen));
    assert_eq!(real.len(), 8);
    let diff = real.iter().zip(&fr).map(|(a, b)| a - b).sum::<f64>() / 8.0;
    assert!((r["relu_excess"]["value"].as_f64().unwrap() - diff).abs() < 1e-9 * diff.abs().max(1.0));
    // The threshold curve: thresholds 1/(2ηk) and, at the last k, the exact count below n.
    let curve = r["threshold_curve"].as_array().unwrap();
    let eta = r["estimate"]["eta"].as_f64().unwrap();
    let last = curve.last().unwrap();
    assert_eq!(last["k"], 199);
    assert!((last["threshold"].as_f64().unwrap() * 2.0 * eta * 199.0 - 1.0).abs() < 1e-12);
    assert!(last["exact_count"].as_u64().unwrap() <= 753);

    // Ctrl-C during the Langevin run leaves a partial result; --resume finishes it, with the
    // loss trace of the whole run.
    let cut = scratch("dncnn-cut");
    let args = [
        "dncnn",
        "--dir",
        m,
        "--n-images",
        "8",
        "--iters",
        "4000",
        "--avg",
        "1000",
        "--us-vecs",
        "10",
        "--us-degree",
        "10",
        "--checkpoint-every",
        "50",
    ];
    let stdout = interrupt_once_saved(&cut, &args, "langevin-state.json");
    // Stopped long before the averaging window: no estimate yet, the result says so.
    assert!(stdout.contains("before the averaging window") && stdout.contains("--resume"), "{stdout}");
    let dir = run_dir(&cut, "dncnn-");
    let partial = json(&dir.join("result.json"));
    assert_eq!(partial["partial"], true);
    assert!(partial["estimate"].is_null());
    hessrank(&cut).args(args).arg("--resume").arg(&dir).assert().success();
    let r = json(&dir.join("result.json"));
    assert_eq!(r["estimate"]["partial"], false);
    assert_eq!(r["estimate"]["iterations"], 4000);
    let csv = std::fs::read_to_string(dir.join("trace.csv")).unwrap();
    let ks: Vec<f64> = csv.lines().skip(1).map(|l| l.split(',').next().unwrap().parse().unwrap()).collect();
    assert_eq!(ks.first(), Some(&0.0), "the trace starts at iteration 0");
    assert_eq!(ks.last(), Some(&3999.0));
    assert!(ks.windows(2).all(|w| w[0] < w[1]), "the trace is increasing, without repeats");
}

#[test]
fn bad_flags_exit_non_zero_naming_the_flag() {
    let out = scratch("bad");
    for (args, needle) in [
        (vec!["estimate", "--eta", "-1"], "--eta"),
        (vec!["estimate", "--iters", "10", "--avg", "20"], "--avg"),
        (vec!["--backend", "foo", "figure1"], "unknown backend"),
        (vec!["estimate", "--model", "/nonexistent/checkpoint"], "/nonexistent/checkpoint"),
        (vec!["estimate", "--sigma2", "0"], "--sigma2"),
        (vec!["estimate", "--sigma2", "1e-5,-2e-6"], "-2e-6"),
        (vec!["dncnn", "--sigma2", "1e-5,inf"], "inf"),
        (vec!["table1", "--protocol", "random"], "authors"),
        (vec!["dncnn", "--mnist", "/nonexistent/mnist"], "train-images-idx3-ubyte"),
        (vec!["matrix-rank", "x.csv", "--sigma2", "1e-5,1e-6"], "one value"),
        (vec!["figure1", "--iters", "10", "--avg", "20"], "--avg"),
    ] {
        let assert = hessrank(&out).args(&args).assert().failure();
        let err = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(err.lines().filter(|l| !l.trim().is_empty()).count() <= 3, "short message: {err}");
    }
    // An unwritable output folder is named.
    Command::cargo_bin("hessrank")
        .unwrap()
        .args([
            "--quiet",
            "--out",
            "/proc/hessrank-cannot-write",
            "figure1",
            "--d",
            "2",
            "--iters",
            "20",
            "--avg",
            "10",
        ])
        .assert()
        .failure()
        .stderr(predicates::str::contains("/proc/hessrank-cannot-write"));
}
