//! Fuzz target: the IDX reader (raw or gzip) must return a consistent array or an error, never
//! panic or allocate more than the largest valid file.
#![no_main]

use hessrank_models::mnist::decode_idx;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    for rank in [1, 3] {
        match decode_idx(data, rank, Path::new("fuzz.idx")) {
            Ok(a) => {
                assert_eq!(a.dims.len(), rank);
                assert_eq!(a.data.len(), a.dims.iter().product::<usize>());
            }
            Err(e) => assert!(e.to_string().contains("fuzz.idx"), "the error names the file: {e}"),
        }
    }
});
