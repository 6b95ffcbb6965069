//! L(θ) = ½ θᵀ S θ for a symmetric PSD matrix S, as a Burn objective with C chains batched in one
//! [C, n] parameter: the rank of S by Algorithm 1 (the paper's closing remark), and a quadratic with
//! a known spectrum for tests.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};
use hessrank_core::{Error, Objective, Result};

/// C points in R^n, one per row.
#[derive(Module, Debug)]
pub struct Points {
    /// θ, [C, n].
    pub theta: Param<Tensor<2>>,
}

impl Points {
    /// C copies of the origin (the minimum of a PSD quadratic).
    pub fn zeros(chains: usize, n: usize, device: &Device) -> Self {
        Self { theta: Param::from_tensor(Tensor::zeros([chains, n], device)) }
    }
}

/// ½ θᵀ S θ (+ bᵀθ, see [`Quadratic::with_linear`]) per chain.
#[derive(Debug, Clone)]
pub struct Quadratic {
    s: Tensor<2>,
    /// The linear term b as a [1, n] row, when set.
    b: Option<Tensor<2>>,
    n: usize,
    chains: usize,
}

impl Quadratic {
    /// The objective for the row-major n×n matrix `s`, evaluated for `chains` points at once.
    /// Rejects a non-square, non-finite or non-symmetric matrix (relative tolerance 1e-10), naming
    /// `source` and the offending entry.
    pub fn new(s: &[f64], n: usize, chains: usize, device: &Device, source: &str) -> Result<Self> {
        if s.len() != n * n {
            return Err(Error::Shape {
                what: format!("matrix {source}"),
                expected: format!("{n}×{n}"),
                found: format!("{} entries", s.len()),
            });
        }
        if let Some(i) = s.iter().position(|x| !x.is_finite()) {
            return Err(Error::format(
                source,
                format!("entry ({}, {}) is {}: every entry must be a finite number", i / n, i % n, s[i]),
            ));
        }
        let scale = s.iter().fold(0.0f64, |a, x| a.max(x.abs())).max(f64::MIN_POSITIVE);
        for i in 0..n {
            for j in 0..i {
                if (s[i * n + j] - s[j * n + i]).abs() > 1e-10 * scale {
                    return Err(Error::format(
                        source,
                        format!(
                            "entries ({i}, {j}) and ({j}, {i}) are {} ≠ {}: the matrix must be symmetric",
                            s[i * n + j],
                            s[j * n + i]
                        ),
                    ));
                }
            }
        }
        if chains == 0 {
            return Err(Error::config("chains", 0, "≥ 1"));
        }
        Ok(Self { s: Tensor::from_data(TensorData::new(s.to_vec(), [n, n]), device), b: None, n, chains })
    }

    /// Adds the linear term bᵀθ: the origin is then no longer stationary (∇L(0) = b), as θ₀ of a
    /// trained network never quite is; a b with a null-space component of S has no minimum at all.
    pub fn with_linear(mut self, b: &[f64]) -> Result<Self> {
        if b.len() != self.n {
            return Err(Error::Shape {
                what: "linear term b".into(),
                expected: format!("{} entries", self.n),
                found: format!("{}", b.len()),
            });
        }
        self.b = Some(Tensor::from_data(TensorData::new(b.to_vec(), [1, self.n]), &self.s.device()));
        Ok(self)
    }

    /// The dimension n.
    pub fn dim(&self) -> usize {
        self.n
    }
}

impl Objective for Quadratic {
    type Model = Points;

    fn loss(&self, model: &Points) -> Tensor<1> {
        let theta = model.theta.val();
        let quadratic = theta.clone().matmul(self.s.clone()).mul_scalar(0.5);
        let per_row = match &self.b {
            Some(b) => quadratic.add(b.clone()).mul(theta),
            None => quadratic.mul(theta),
        };
        per_row.sum_dim(1).reshape([self.chains])
    }

    fn stacked(&self) -> usize {
        self.chains
    }
}

/// The rank of a symmetric PSD matrix S (row-major, n×n) by Algorithm 1 on L = ½ θᵀSθ from θ_0 = 0
/// with G = I; `config.chains` chains run batched in one [C, n] parameter.
pub fn matrix_rank(
    s: &[f64],
    n: usize,
    config: &crate::LangevinConfig,
    device: &Device,
    source: &str,
) -> Result<crate::RankEstimate> {
    config.validate()?;
    let objective = Quadratic::new(s, n, config.chains, device, source)?;
    let theta0 = Points::zeros(config.chains, n, device);
    let g = hessrank_core::DiagPreconditioner::identity(&hessrank_core::ParamLayout::of(&theta0), device);
    let batched = config.clone().with_chains(1);
    let mut r = crate::Langevin::new(&batched).run(&objective, &theta0, &g)?;
    // The settings as given, with the length run (an adaptive run's last stage).
    r.config.chains = config.chains;
    Ok(r)
}
