//! Tests where the estimator meets real models (the linear net and the DnCNN from
//! `hessrank-models`), kept here because `hessrank-rank` itself must not depend on the models;
//! and the experiments against their closed forms. Linked into one binary.

#[path = "../../rank/tests/common/mod.rs"]
mod common;
mod experiments;
mod ground_truth;
mod langevin_dncnn;
mod langevin_linear;
mod onnx;
mod registry;
mod symmetry;
