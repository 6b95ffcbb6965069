//! Fuzz target: the `.onnx` loader (the parameter rewrite and onnx-ir's parse, then the operator
//! check) must return a graph or an error naming the file, never panic.
#![no_main]

use hessrank_onnx::Graph;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    match Graph::from_bytes(Path::new("fuzz.onnx"), data) {
        Ok(g) => g.params.iter().for_each(|p| assert_eq!(p.values.len(), p.shape.iter().product::<usize>())),
        Err(e) => assert!(e.to_string().contains("fuzz.onnx"), "the error names the file: {e}"),
    }
});
