//! `--iters auto` end to end: the default of `matrix-rank` finds the plateau of a matrix with a
//! gap and says so; a budget-limited `estimate` says it found none, with μ_K; the adaptive flags
//! are refused with a fixed length, and `--avg` with an adaptive one.

use super::*;

#[test]
fn matrix_rank_by_default_runs_until_the_plateau_and_says_so() {
    let out = scratch("adaptive-matrix");
    let file = rank3_csv(&out);
    let assert = hessrank(&out).args(["matrix-rank"]).arg(&file).args(["--precision", "2%"]).assert().success();
    let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    assert!(stdout.contains("run length: plateau after"), "{stdout}");
    assert!(!stdout.contains("still rising"), "{stdout}");
    let r = json(&run_dir(&out, "matrix-rank-").join("result.json"));
    let a = &r["estimate"]["adaptive"];
    assert_eq!(a["stop"]["reason"], "plateau");
    let stages = a["stages"].as_array().unwrap();
    let last = stages.last().unwrap();
    assert_eq!(r["estimate"]["iterations"], last["k_tot"]);
    let est = r["estimate"]["estimate"].as_f64().unwrap();
    assert!((est - 3.0).abs() <= 0.06, "{est}");
    for w in stages.windows(2) {
        assert_eq!(w[1]["k_tot"].as_u64().unwrap(), 2 * w[0]["k_tot"].as_u64().unwrap());
    }
}

#[test]
fn a_budget_stops_the_run_without_a_plateau_and_the_flags_are_checked() {
    let out = scratch("adaptive-budget");
    let assert = hessrank(&out)
        .args(["estimate", "--model", "../../models/dncnn-mnist", "--max-iters", "400", "--chains", "2"])
        .assert()
        .success();
    let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    assert!(stdout.contains("run length: no plateau: stopped at the iteration budget"), "{stdout}");
    let r = json(&run_dir(&out, "estimate-").join("result.json"));
    assert_eq!(r["adaptive"]["stop"]["reason"], "max_iters");
    // A budget below the first stage (1,000) is the one stage.
    assert_eq!(r["iterations"], 400);
    for (args, needle) in [
        (vec!["estimate", "--iters", "100", "--precision", "1%"], "--precision"),
        (vec!["estimate", "--iters", "100", "--max-time", "10m"], "--max-time"),
        (vec!["estimate", "--avg", "50"], "--avg"),
        (vec!["estimate", "--iters", "soon"], "--iters"),
        (vec!["estimate", "--max-time", "ten"], "--max-time"),
    ] {
        let assert = hessrank(&out).args(&args).assert().failure();
        let err = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}
