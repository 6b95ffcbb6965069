//! The rank of a symmetric PSD matrix read from a file (the paper's closing remark).

mod common;
use common::*;
use hessrank_rank::LangevinConfig;
use hessrank_rank::matrix_file::read_matrix;
use hessrank_rank::quadratic::matrix_rank;

#[test]
fn rank_of_a_csv_matrix_with_a_gap() {
    let device = f64_device();
    let n = 30;
    let mut ev = log_spaced(0.1, 10.0, 12);
    ev.extend(std::iter::repeat_n(0.0, n - 12));
    let s = with_spectrum(&ev, 5);
    let dir = std::env::temp_dir().join(format!("hessrank-matrix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.csv");
    let text: String =
        (0..n).map(|i| (0..n).map(|j| format!("{:.17e}", s[(i, j)])).collect::<Vec<_>>().join(",") + "\n").collect();
    std::fs::write(&path, text).unwrap();
    let (m, entries) = read_matrix(&path).unwrap();
    assert_eq!(m, n);
    let config = LangevinConfig::new().with_chains(8).with_k_tot(4000).with_k_avg(3000).with_sigma2(1e-2).with_seed(2);
    let r = matrix_rank(&entries, n, &config, &device, "s.csv").unwrap();
    println!("matrix rank: {:.3} ± {:.3}", r.estimate, r.stderr);
    assert!((r.estimate - 12.0).abs() < 0.5, "{} ± {}", r.estimate, r.stderr);

    // A non-symmetric matrix and a NaN are refused, naming the file and the entry.
    let mut bad = entries.clone();
    bad[1] += 1.0;
    let err = matrix_rank(&bad, n, &config, &device, "s.csv").unwrap_err().to_string();
    assert!(err.contains("s.csv") && err.contains("(1, 0)") && err.contains("symmetric"), "{err}");
    bad[1] = f64::NAN;
    let err = matrix_rank(&bad, n, &config, &device, "s.csv").unwrap_err().to_string();
    assert!(err.contains("finite"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
