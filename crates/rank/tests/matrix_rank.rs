//! The rank of a symmetric PSD matrix read from a file (the paper's closing remark).

use crate::common::*;
use hessrank_core::Error;
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
    println!("matrix rank: {:.3} ± {:.3}", r.uncertainty.estimate, r.uncertainty.stderr);
    assert!((r.uncertainty.estimate - 12.0).abs() < 0.5, "{} ± {}", r.uncertainty.estimate, r.uncertainty.stderr);

    // A non-symmetric matrix and a NaN are refused, naming the file and the entry.
    let mut bad = entries.clone();
    bad[1] += 1.0;
    let err = matrix_rank(&bad, n, &config, &device, "s.csv").unwrap_err();
    assert!(format_error(&err, "s.csv", "entries (1, 0) and (0, 1) are"), "{err}");
    bad[1] = f64::NAN;
    let err = matrix_rank(&bad, n, &config, &device, "s.csv").unwrap_err();
    assert!(format_error(&err, "s.csv", "entry (0, 1) is NaN"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_forged_npy_header_length_is_an_error_not_a_huge_allocation() {
    // Found by `cargo fuzz run matrix_file`: version 3 declares a 2.4 GB header in a 97-byte file.
    use hessrank_rank::matrix_file::parse_matrix;
    let mut bytes = b"\x93NUMPY\x03\x00".to_vec();
    bytes.extend(2_390_425_718u32.to_le_bytes());
    bytes.extend(b"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }\n");
    let err = parse_matrix(&bytes, std::path::Path::new("forged.npy")).unwrap_err();
    assert!(format_error_containing(&err, "forged.npy", "declares 2390425718 bytes"), "{err}");
    let err = parse_matrix(b"\x93NUMPY\x09\x00\x10\x00", std::path::Path::new("v9.npy")).unwrap_err();
    assert!(format_error_containing(&err, "v9.npy", "unsupported .npy format version"), "{err}");
}

#[test]
fn deeply_nested_npy_header_brackets_are_refused_at_once() {
    // Found by `cargo fuzz run matrix_file`: nested '[' made npyz's header parser backtrack for
    // minutes. Such headers are refused before parsing.
    use hessrank_rank::matrix_file::parse_matrix;
    for (open, what) in [("[", "structured dtype"), ("(", "nested deeper")] {
        let header = format!("{{'descr': '<f8', 'x': {}0, 'shape': (1, 1), }}\n", open.repeat(40));
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        bytes.extend(1.0f64.to_le_bytes());
        let err = parse_matrix(&bytes, std::path::Path::new("nested.npy")).unwrap_err();
        assert!(format_error_containing(&err, "nested.npy", what), "{err}");
    }
}

/// A [`Error::Format`] for `file` whose problem starts with `start`.
fn format_error(err: &Error, file: &str, start: &str) -> bool {
    matches!(err, Error::Format { path, problem } if path.ends_with(file) && problem.starts_with(start))
}

/// A [`Error::Format`] for `file` whose problem mentions `what`.
fn format_error_containing(err: &Error, file: &str, what: &str) -> bool {
    matches!(err, Error::Format { path, problem } if path.ends_with(file) && problem.contains(what))
}
