//! `spectrum` and `baseline` as library calls: the exact Hessian spectrum of a small [`Problem`],
//! and the classical estimators (Ubaru–Saad's rank, Lanczos' top eigenvalues, Hutchinson's trace)
//! on its Hessian or on a symmetric matrix from a file.

use crate::registry::Problem;
use hessrank_core::{DenseOperator, Error, LinearOperator, Result};
use hessrank_rank::baselines::{UbaruSaad, UbaruSaadConfig};
use hessrank_rank::hessian::{Spectrum, TopEigen, TraceEstimate, dense_matrix, hutchinson, lanczos_top_k};
use nalgebra::DMatrix;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The exact spectrum of a problem's Hessian.
#[derive(Debug, Clone)]
pub struct SpectrumReport {
    /// The eigenvalues and the energy curve.
    pub spectrum: Spectrum,
    /// The dense Hessian (f64).
    pub hessian: DMatrix<f64>,
}

/// The dense Hessian of `problem`'s curvature objective at θ₀ (central differences of gradients,
/// f64) and its spectrum; refused above `max_params` parameters (2n gradients, n² memory).
pub fn spectrum(problem: &Problem<'_>, max_params: usize) -> Result<SpectrumReport> {
    let n = problem.layout().numel();
    if n > max_params {
        return Err(Error::config(
            "max_params",
            format!("{max_params}, below the model's {n} parameters"),
            "at least the parameter count: the dense Hessian is formed",
        ));
    }
    problem.require_f64("dtype")?;
    let mut hessian = None;
    problem.ops().with_hessian(&mut |op| hessian = Some(dense_matrix(op)));
    let hessian = hessian.expect("with_hessian visits the operator");
    Ok(SpectrumReport { spectrum: Spectrum::of(&hessian), hessian })
}

/// The baselines' settings.
#[derive(Debug, Clone)]
pub struct BaselineSpec {
    /// Ubaru–Saad (the paper: degree 50, 300 vectors, the published gap rule).
    pub ubaru_saad: UbaruSaadConfig,
    /// Top eigenvalues by Lanczos.
    pub top_k: usize,
    /// Hutchinson probes.
    pub probes: usize,
    /// Form the dense Hessian first at most this many parameters (2n gradients, then every
    /// product is free); above it, each product costs two gradients.
    pub dense_up_to: usize,
    /// Seed of the probes.
    pub seed: u64,
}

/// The baselines' numbers (`baseline`'s `result.json`).
#[derive(Debug, Clone, Serialize)]
pub struct BaselineReport {
    /// Ubaru–Saad.
    pub ubaru_saad: UbaruSaad,
    /// Lanczos' top eigenvalues.
    pub lanczos: TopEigen,
    /// Hutchinson's trace.
    pub hutchinson: TraceEstimate,
    /// The operator's size.
    pub n_params: usize,
    /// Gradients spent (forming the dense matrix, or in every product).
    pub gradient_evaluations: usize,
    /// The matrix file, for a matrix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matrix: Option<PathBuf>,
    /// The model, otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

impl BaselineSpec {
    /// The three estimators on `op`.
    fn run(&self, op: &dyn LinearOperator) -> BaselineReport {
        BaselineReport {
            ubaru_saad: UbaruSaad::estimate(op, &self.ubaru_saad),
            lanczos: lanczos_top_k(op, self.top_k, (2 * self.top_k + 20).min(op.dim()), self.seed),
            hutchinson: hutchinson(op, self.probes, self.seed),
            n_params: op.dim(),
            gradient_evaluations: 0,
            matrix: None,
            model: None,
        }
    }
}

/// The baselines on `problem`'s Hessian at θ₀ (dense first when it is small enough).
pub fn baseline(spec: &BaselineSpec, problem: &Problem<'_>) -> Result<BaselineReport> {
    let mut report = None;
    let evals = problem.ops().with_hessian(&mut |fd| {
        if fd.dim() <= spec.dense_up_to {
            let m = dense_matrix(fd);
            let dense = DenseOperator::new(m.nrows(), m.transpose().as_slice().to_vec()).expect("square");
            report = Some(spec.run(&dense));
        } else {
            report = Some(spec.run(fd));
        }
    });
    let mut report = report.expect("with_hessian visits the operator");
    report.gradient_evaluations = evals;
    report.model = Some(problem.origin.clone());
    Ok(report)
}

/// The baselines on the square symmetric matrix in `file` (.npy or CSV), refused with the first
/// asymmetric pair named.
pub fn baseline_of_matrix(spec: &BaselineSpec, file: &Path) -> Result<BaselineReport> {
    let (n, s) = hessrank_rank::matrix_file::read_matrix(file)?;
    let scale = s.iter().fold(0.0f64, |m, x| m.max(x.abs())).max(f64::MIN_POSITIVE);
    if let Some((i, j)) = (0..n)
        .flat_map(|i| (0..i).map(move |j| (i, j)))
        .find(|&(i, j)| (s[i * n + j] - s[j * n + i]).abs() > 1e-8 * scale)
    {
        return Err(Error::format(
            file,
            format!("not symmetric: entry ({i}, {j}) = {} but ({j}, {i}) = {}", s[i * n + j], s[j * n + i]),
        ));
    }
    let op = DenseOperator::new(n, s).expect("read_matrix returns n² entries");
    let mut report = spec.run(&op);
    report.matrix = Some(file.to_path_buf());
    Ok(report)
}
