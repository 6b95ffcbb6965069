//! The `hessrank` binary end to end on tiny sizes: every subcommand runs, writes the files it
//! promises, its JSON parses with finite numbers, its plots are SVG; bad flags fail with a message.

use assert_cmd::Command;
use predicates::prelude::PredicateBooleanExt;
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hessrank-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn hessrank(out: &Path) -> Command {
    let mut c = Command::cargo_bin("hessrank").unwrap();
    c.arg("--quiet").arg("--out").arg(out);
    c
}

/// The single run folder under `out` whose name starts with `prefix`.
fn run_dir(out: &Path, prefix: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.pop().unwrap()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every number in the JSON is finite (NaN cannot even be written as JSON; check for nulls too).
fn assert_finite(v: &serde_json::Value, at: &str) {
    match v {
        serde_json::Value::Number(n) => assert!(n.as_f64().unwrap().is_finite(), "{at}"),
        serde_json::Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| assert_finite(x, &format!("{at}[{i}]"))),
        serde_json::Value::Object(o) => o.iter().for_each(|(k, x)| assert_finite(x, &format!("{at}.{k}"))),
        _ => {}
    }
}

fn assert_svg(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>") && text.len() > 1000, "{}", path.display());
}

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
    assert_svg(&dir.join("figure2.svg"));
}

#[test]
fn matrix_rank_reads_a_csv_and_prints_the_rank() {
    let out = scratch("matrix");
    let file = out.join("s.csv");
    // diag(3, 2, 1, 0, 0): rank 3.
    let rows: Vec<String> = (0..5)
        .map(|i| {
            (0..5)
                .map(|j| if i == j && i < 3 { format!("{}", 3 - i) } else { "0".into() })
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    std::fs::write(&file, rows.join("\n")).unwrap();
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
    assert_eq!(r["estimate"]["chains"], 16);
    // An explicit --chains 1 is honoured.
    let one = scratch("matrix-one");
    hessrank(&one)
        .args(["matrix-rank"])
        .arg(&file)
        .args(["--iters", "300", "--avg", "200", "--chains", "1"])
        .assert()
        .success();
    let r = json(&run_dir(&one, "matrix-rank-").join("result.json"));
    assert_eq!(r["estimate"]["chains"], 1);
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
    assert_eq!(r["chains"], 4);
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
    assert_eq!(merged["chains"], 8);
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
    let frozen = &r["validation"]["frozen"];
    let (f, se) = (frozen["estimate"].as_f64().unwrap(), frozen["stderr"].as_f64().unwrap());
    let theory = r["theory"]["expected_estimate"].as_f64().unwrap();
    assert!((f - theory).abs() <= 2.5 * se, "frozen {f} ± {se} vs theory {theory}");
    assert!(se > 0.0 && se < 0.2 * theory, "a real error bar: {se}");
    // The ReLU excess is the paired difference of the chain estimates, real − frozen.
    let per_chain = |v: &serde_json::Value| -> Vec<f64> {
        v["chain"].as_array().unwrap().iter().map(|c| c["estimate"].as_f64().unwrap()).collect()
    };
    let (real, fr) = (per_chain(&r["estimate"]), per_chain(&frozen["result"]));
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

/// Runs `hessrank --quiet --out <out> <args>` and, once a run folder under `out` holds `file`
/// (the run has saved its state), sends SIGINT as Ctrl-C would. Returns the process's stdout.
fn interrupt_once_saved(out: &Path, args: &[&str], file: &str) -> String {
    use std::process::Stdio;
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("hessrank"))
        .arg("--quiet")
        .arg("--out")
        .arg(out)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let saved = || std::fs::read_dir(out).unwrap().any(|e| e.unwrap().path().join(file).is_file());
    let t0 = std::time::Instant::now();
    while !saved() {
        assert!(t0.elapsed().as_secs() < 600, "{file} never appeared");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let status = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let done = child.wait_with_output().unwrap();
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    String::from_utf8(done.stdout).unwrap()
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

/// The PyTorch DnCNN fixture (scripts/fixtures/pytorch_dncnn.py): weights, batch, PyTorch's numbers.
fn pytorch_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/tests/fixtures/pytorch-dncnn").join(name)
}

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

/// The (block, parameter count) rows of a `--per-layer` run's per-layer.json.
fn per_layer_blocks(dir: &Path) -> Vec<(String, u64)> {
    let rows = json(&dir.join("per-layer.json"));
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| (r["block"].as_str().unwrap().to_string(), r["n_params"].as_u64().unwrap()))
        .collect()
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
    assert_eq!(r["warnings"].as_array().unwrap().len(), 2, "{}", r["warnings"]);
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
