//! hessrank's benchmarks (`cargo bench -p hessrank-bench`) and the `ld_timing` tool
//! (`cargo run --release -p hessrank-bench --example ld_timing`). They live in their own crate
//! because they time the estimator on the models, and `hessrank-rank` must not depend on
//! `hessrank-models`. This library is empty.
#![forbid(unsafe_code)]
