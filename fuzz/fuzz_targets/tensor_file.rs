//! Fuzz target: the safetensors reader (`--data` batches) and the weights loader (safetensors and
//! PyTorch .pt through burn-store) must return tensors or an error naming the file, never panic.
#![no_main]

use burn::tensor::{Device, FloatDType};
use hessrank_core::device::with_float_dtype;
use hessrank_models::tensor_file::TensorFile;
use hessrank_models::{DnCnnConfig, WeightsOptions, load_weights};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    match TensorFile::from_bytes(Path::new("fuzz.safetensors"), data) {
        Ok(f) => f.tensors.values().for_each(|t| {
            let n = match &t.values {
                hessrank_models::tensor_file::HostValues::Float(v) => v.len(),
                hessrank_models::tensor_file::HostValues::Int(v) => v.len(),
            };
            assert_eq!(n, t.shape.iter().product::<usize>());
        }),
        Err(e) => assert!(e.to_string().contains("fuzz.safetensors"), "the error names the file: {e}"),
    }
    let device = with_float_dtype(Device::flex(), FloatDType::F64).expect("f64 flex").autodiff();
    let dir = std::env::temp_dir().join(format!("hessrank-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let options = WeightsOptions::default().with_renames(DnCnnConfig::new().pytorch_sequential_renames());
    for name in ["w.safetensors", "w.pt"] {
        let file = dir.join(name);
        std::fs::write(&file, data).expect("write");
        let template = DnCnnConfig::new().init(&device).expect("DnCNN");
        if let Err(e) = load_weights(template, &file, &options) {
            assert!(e.to_string().contains(name), "the error names the file: {e}");
        }
    }
});
