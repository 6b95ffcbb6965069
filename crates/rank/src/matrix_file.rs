//! Reading a square matrix from `.npy` (NumPy, f64 or f32, C or Fortran order) or CSV (comma,
//! semicolon or whitespace separated rows), with errors that name the file, the shape and the value.
//! Symmetry and finiteness are checked by [`crate::quadratic::Quadratic::new`].

use hessrank_core::{Error, Result};
use std::path::Path;

/// Largest accepted dimension: a 46341² f64 matrix already needs 16 GiB.
const MAX_DIM: usize = 46_341;

/// Reads a square matrix: returns n and its row-major entries.
pub fn read_matrix(path: &Path) -> Result<(usize, Vec<f64>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_matrix(&bytes, path)
}

/// Writes a square f64 matrix (row-major entries) as C-order `.npy`, atomically.
pub fn write_npy(path: &Path, n: usize, row_major: &[f64]) -> Result<()> {
    use npyz::WriterBuilder;
    let mut bytes = Vec::with_capacity(128 + 8 * row_major.len());
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&[n as u64, n as u64])
        .writer(&mut bytes)
        .begin_nd()
        .map_err(|e| Error::io(path, e))?;
    writer.extend(row_major.iter().copied()).map_err(|e| Error::io(path, e))?;
    writer.finish().map_err(|e| Error::io(path, e))?;
    hessrank_core::atomic::write_atomic(path, &bytes)
}

/// Decodes a matrix file's bytes: `.npy` when they start with NumPy's magic string, else CSV
/// (the entry point the fuzz target drives).
pub fn parse_matrix(bytes: &[u8], path: &Path) -> Result<(usize, Vec<f64>)> {
    if bytes.starts_with(b"\x93NUMPY") { parse_npy(bytes, path) } else { parse_csv(bytes, path) }
}

/// Decodes `.npy` bytes.
pub fn parse_npy(bytes: &[u8], path: &Path) -> Result<(usize, Vec<f64>)> {
    let bad = |what: String| Error::format(path, what);
    check_npy_header_length(bytes).map_err(bad)?;
    let file = npyz::NpyFile::new(bytes).map_err(|e| bad(format!("not a valid .npy file: {e}")))?;
    let shape: Vec<u64> = file.shape().to_vec();
    let [rows, cols] = shape[..] else {
        return Err(bad(format!("shape {shape:?}: expected a square 2-D matrix")));
    };
    if rows != cols {
        return Err(bad(format!("shape ({rows}, {cols}) is not square")));
    }
    let n = rows as usize;
    if n == 0 || n > MAX_DIM {
        return Err(bad(format!("dimension {n}: expected 1 ≤ n ≤ {MAX_DIM}")));
    }
    let fortran = file.order() == npyz::Order::Fortran;
    let dtype = file.dtype().descr();
    // The data can be no larger than the file: check before reading, so a forged header cannot
    // make us allocate.
    if (n * n) as u64 > bytes.len() as u64 {
        return Err(bad(format!(
            "truncated data: ({n}, {n}) needs {} elements, the file has {} bytes",
            n * n,
            bytes.len()
        )));
    }
    let values: Vec<f64> = match file.try_data::<f64>() {
        Ok(r) => r.collect::<std::io::Result<_>>(),
        Err(file) => match file.try_data::<f32>() {
            Ok(r) => r.map(|x| x.map(f64::from)).collect::<std::io::Result<_>>(),
            Err(_) => return Err(bad(format!("dtype {dtype}: expected float64 or float32"))),
        },
    }
    .map_err(|e| bad(format!("truncated or unreadable data: {e}")))?;
    if values.len() != n * n {
        return Err(bad(format!("{} values for shape ({n}, {n})", values.len())));
    }
    Ok((n, if fortran { transpose(&values, n) } else { values }))
}

/// Checks that the header length field fits in the file: npyz allocates the header's length
/// before reading it, so a forged field (found by fuzzing) would make it allocate gigabytes.
fn check_npy_header_length(bytes: &[u8]) -> std::result::Result<(), String> {
    let (len, start) = match bytes.get(6) {
        Some(1) if bytes.len() >= 10 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        Some(2 | 3) if bytes.len() >= 12 => {
            (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12)
        }
        Some(v @ 1..=3) => return Err(format!("truncated .npy preamble (version {v}): {} bytes", bytes.len())),
        v => return Err(format!("unsupported .npy format version {v:?}: expected 1, 2 or 3")),
    };
    if start + len > bytes.len() {
        return Err(format!("truncated .npy header: it declares {len} bytes, the file holds {}", bytes.len() - start));
    }
    // npyz parses the header as a Python literal with backtracking: deeply nested brackets (found
    // by fuzzing) take exponential time. A plain float matrix's header is one dict holding one
    // tuple; lists only appear in structured dtypes, which are refused anyway.
    let header = &bytes[start..start + len];
    if header.contains(&b'[') {
        return Err("structured dtype (a list in the header): expected float64 or float32".into());
    }
    let mut depth = 0usize;
    for &b in header {
        match b {
            b'(' | b'{' => depth += 1,
            b')' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > 2 {
            return Err("malformed .npy header: brackets nested deeper than {'shape': (…)}".into());
        }
    }
    Ok(())
}

fn transpose(v: &[f64], n: usize) -> Vec<f64> {
    (0..n * n).map(|k| v[(k % n) * n + k / n]).collect()
}

/// Decodes CSV text: one row per line, fields separated by commas, semicolons or whitespace.
pub fn parse_csv(bytes: &[u8], path: &Path) -> Result<(usize, Vec<f64>)> {
    let text = std::str::from_utf8(bytes).map_err(|e| Error::format(path, format!("not UTF-8 text: {e}")))?;
    let mut rows: Vec<Vec<f64>> = Vec::new();
    for (line_no, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let row = line
            .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
            .filter(|f| !f.is_empty())
            .map(|f| {
                f.parse::<f64>()
                    .map_err(|_| Error::format(path, format!("line {}: {f:?} is not a number", line_no + 1)))
            })
            .collect::<Result<Vec<f64>>>()?;
        if rows.len() >= MAX_DIM {
            return Err(Error::format(path, format!("more than {MAX_DIM} rows")));
        }
        rows.push(row);
    }
    let n = rows.len();
    if n == 0 {
        return Err(Error::format(path, "no rows: expected a square matrix"));
    }
    if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != n) {
        return Err(Error::format(
            path,
            format!("row {} has {} entries, expected {n} (a square {n}×{n} matrix)", i + 1, r.len()),
        ));
    }
    Ok((n, rows.into_iter().flatten().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(header: &str, data: &[u8]) -> Vec<u8> {
        let mut h = header.to_string();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        let mut v = b"\x93NUMPY\x01\x00".to_vec();
        v.extend((h.len() as u16).to_le_bytes());
        v.extend(h.as_bytes());
        v.extend(data);
        v
    }

    /// The problem of a [`Error::Format`] (any other outcome fails the test).
    fn problem(r: Result<(usize, Vec<f64>)>) -> String {
        match r {
            Err(Error::Format { problem, .. }) => problem,
            other => panic!("expected a format error, got {other:?}"),
        }
    }

    fn f64s(v: &[f64]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn write_npy_round_trips() {
        let path = std::env::temp_dir().join(format!("hessrank-npy-{}.npy", std::process::id()));
        let m = [1.0, 2.5, -3.0, 4.0e-300];
        write_npy(&path, 2, &m).unwrap();
        assert_eq!(read_matrix(&path).unwrap(), (2, m.to_vec()));
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn npy_c_and_fortran_order_and_f32() {
        let p = Path::new("m.npy");
        let c = npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", &f64s(&[1.0, 2.0, 3.0, 4.0]));
        assert_eq!(parse_npy(&c, p).unwrap(), (2, vec![1.0, 2.0, 3.0, 4.0]));
        let f = npy("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", &f64s(&[1.0, 3.0, 2.0, 4.0]));
        assert_eq!(parse_npy(&f, p).unwrap(), (2, vec![1.0, 2.0, 3.0, 4.0]));
        let s: Vec<u8> = [1.5f32, 0.0, 0.0, 2.5].iter().flat_map(|x| x.to_le_bytes()).collect();
        let f32s = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", &s);
        assert_eq!(parse_npy(&f32s, p).unwrap(), (2, vec![1.5, 0.0, 0.0, 2.5]));
    }

    #[test]
    fn npy_errors_name_the_problem() {
        let p = Path::new("bad.npy");
        let rect = npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", &f64s(&[0.0; 6]));
        assert!(problem(parse_npy(&rect, p)).contains("(2, 3) is not square"));
        let trunc = npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", &f64s(&[1.0, 2.0, 3.0]));
        assert!(problem(parse_npy(&trunc, p)).contains("truncated"));
        let huge = npy("{'descr': '<f8', 'fortran_order': False, 'shape': (40000, 40000), }", &[]);
        assert!(problem(parse_npy(&huge, p)).contains("truncated"));
        let ints = npy("{'descr': '<i8', 'fortran_order': False, 'shape': (1, 1), }", &7i64.to_le_bytes());
        assert!(problem(parse_npy(&ints, p)).contains("dtype"));
    }

    #[test]
    fn csv_forms_and_errors() {
        let p = Path::new("m.csv");
        assert_eq!(parse_csv(b"1, 2\n3 4\n", p).unwrap(), (2, vec![1.0, 2.0, 3.0, 4.0]));
        assert_eq!(parse_csv(b"# comment\n1;0\n\n0;1\n", p).unwrap(), (2, vec![1.0, 0.0, 0.0, 1.0]));
        assert!(problem(parse_csv(b"1,2\n3\n", p)).contains("row 2 has 1 entries"));
        assert!(problem(parse_csv(b"1,x\n3,4\n", p)).contains("line 1"));
        assert!(problem(parse_csv(b"", p)).contains("no rows"));
        assert!(parse_csv(b"nan,1\n1,1\n", p).unwrap().1[0].is_nan());
    }
}
