//! The `hessrank` binary end to end on tiny sizes: every subcommand runs, writes the files it
//! promises, its JSON parses with finite numbers, its plots are SVG; bad flags fail with a message.

pub use assert_cmd::Command;
pub use predicates::prelude::PredicateBooleanExt;
pub use std::path::{Path, PathBuf};

mod adaptive;
mod commands;
mod experiments;
mod imports;
mod onnx;
mod symmetry;

pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hessrank-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `out/s.csv`: diag(3, 2, 1, 0, 0), rank 3 above a gap down to zero.
pub fn rank3_csv(out: &Path) -> PathBuf {
    let file = out.join("s.csv");
    let rows: Vec<String> = (0..5)
        .map(|i| {
            (0..5)
                .map(|j| if i == j && i < 3 { format!("{}", 3 - i) } else { "0".into() })
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    std::fs::write(&file, rows.join("\n")).unwrap();
    file
}

pub fn hessrank(out: &Path) -> Command {
    let mut c = Command::cargo_bin("hessrank").unwrap();
    c.arg("--quiet").arg("--out").arg(out);
    c
}

/// The single run folder under `out` whose name starts with `prefix`.
pub fn run_dir(out: &Path, prefix: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.pop().unwrap()
}

pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every number in the JSON is finite (NaN cannot even be written as JSON; check for nulls too).
pub fn assert_finite(v: &serde_json::Value, at: &str) {
    match v {
        serde_json::Value::Number(n) => assert!(n.as_f64().unwrap().is_finite(), "{at}"),
        serde_json::Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| assert_finite(x, &format!("{at}[{i}]"))),
        serde_json::Value::Object(o) => o.iter().for_each(|(k, x)| assert_finite(x, &format!("{at}.{k}"))),
        _ => {}
    }
}

pub fn assert_svg(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>") && text.len() > 1000, "{}", path.display());
}

/// Runs `hessrank --quiet --out <out> <args>` and, once a run folder under `out` holds `file`
/// (the run has saved its state), sends SIGINT as Ctrl-C would. Returns the process's stdout.
pub fn interrupt_once_saved(out: &Path, args: &[&str], file: &str) -> String {
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

/// The PyTorch DnCNN fixture (scripts/fixtures/pytorch_dncnn.py): weights, batch, PyTorch's numbers.
pub fn pytorch_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/tests/fixtures/pytorch-dncnn").join(name)
}

/// The (block, parameter count) rows of a `--per-layer` run's per-layer.json.
pub fn per_layer_blocks(dir: &Path) -> Vec<(String, u64)> {
    let rows = json(&dir.join("per-layer.json"));
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| (r["block"].as_str().unwrap().to_string(), r["n_params"].as_u64().unwrap()))
        .collect()
}
