//! Fuzz target: the matrix-file reader (.npy or CSV) must return n and n² values or an error,
//! never panic or allocate beyond what the file can hold.
#![no_main]

use hessrank_rank::matrix_file::parse_matrix;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    match parse_matrix(data, Path::new("fuzz.npy")) {
        Ok((n, values)) => {
            assert!(n >= 1);
            assert_eq!(values.len(), n * n);
        }
        Err(e) => assert!(e.to_string().contains("fuzz.npy"), "the error names the file: {e}"),
    }
});
