//! `--symmetry` end to end: the groups found at θ₀ (in f32 too, where the loss rounds at ~1e-7)
//! are reported with the run's settings and projected by default; `project` on a model without
//! groups is a note, not an error; a bad value names the flag.

use super::*;

#[test]
fn groups_are_found_in_f32_reported_and_projected_by_default() {
    let out = scratch("symmetry-f32");
    hessrank(&out)
        .args(["--dtype", "f32", "estimate", "--model", "../../models/dncnn-mnist-256", "--iters", "40", "--avg", "20"])
        .assert()
        .success();
    let result = json(&run_dir(&out, "estimate").join("result.json"));
    let config = &result["config"];
    assert_eq!(config["symmetry"], "Project");
    let groups = config["scale_groups"].as_array().unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g["group"].as_str().unwrap()).collect();
    let want: Vec<String> = (0..8).map(|c| format!("mid.0.conv.weight[{c}]")).collect();
    assert_eq!(names, want);
    assert!(groups.iter().all(|g| g["norm"].as_f64().unwrap() > 0.0));
}

#[test]
fn project_on_a_model_without_groups_is_a_note_and_a_bad_value_names_the_flag() {
    let out = scratch("symmetry-note");
    let run = std::process::Command::new(assert_cmd::cargo::cargo_bin("hessrank"))
        .args(["--out", out.to_str().unwrap(), "estimate", "--model", "../../models/mlp-mnist"])
        .args(["--iters", "20", "--avg", "10", "--symmetry", "project"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let said = format!("{}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(said.contains("--symmetry project: the loss has no live scale-invariant group"), "{said}");
    hessrank(&out)
        .args(["estimate", "--symmetry", "sideways"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("--symmetry").and(predicates::str::contains("project or off")));
}
