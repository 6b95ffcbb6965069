//! `hessrank spectrum`: the exact Hessian of a small checkpoint (finite differences of Burn
//! gradients, f64), its eigenvalues and the normalised cumulative energy curve.

use crate::output::spectrum::write_spectrum;
use crate::records::{Source, SpectrumConfig};
use crate::{Ctx, source};
use anyhow::{Result, ensure};
use burn::tensor::FloatDType;
use clap::Args;
use hessrank_experiments::curvature::{SpectrumReport, spectrum};
use hessrank_experiments::store::{self, RunStore};
use std::path::PathBuf;

/// Arguments of `spectrum`.
#[derive(Args, Debug)]
pub struct SpectrumArgs {
    /// Checkpoint folder.
    #[arg(long, default_value = "models/dncnn-mnist")]
    pub model: PathBuf,
    /// A model trained elsewhere, or another batch.
    #[command(flatten)]
    pub import: source::ImportArgs,
    /// Also save the dense Hessian (f64, .npy) here, e.g. for `dncnn --hessian`.
    #[arg(long)]
    pub save_hessian: Option<PathBuf>,
    /// Refuse models with more parameters than this (the dense Hessian needs 2n gradients and n² memory).
    #[arg(long, default_value_t = 5000)]
    pub max_params: usize,
}

/// Runs `spectrum`.
pub fn run(ctx: &Ctx, a: SpectrumArgs) -> Result<()> {
    ensure!(
        ctx.dtype == FloatDType::F64,
        "the exact Hessian needs --dtype f64 (finite differences in f32 lose ~4 digits)"
    );
    let loaded = source::load(&a.import.spec(&a.model)?, &ctx.device)?;
    let n = loaded.layout().numel();
    ensure!(
        n <= a.max_params,
        "{} has {n} parameters; the dense Hessian is limited to --max-params {}",
        loaded.origin,
        a.max_params
    );
    let dir = RunStore::create(&ctx.out, "spectrum")?;
    let SpectrumReport { spectrum, hessian: h } = spectrum(&loaded, a.max_params)?;
    if let Some(file) = &a.save_hessian {
        hessrank_rank::matrix_file::write_npy(file, h.nrows(), h.transpose().as_slice())?;
        println!("Hessian saved to {}", file.display());
    }
    dir.json(store::RESULT, &spectrum)?;
    dir.json(
        "config.json",
        &SpectrumConfig {
            source: Source { model: &loaded.origin, weights: &a.import.weights, data: &a.import.data },
            n_params: n,
        },
    )?;
    write_spectrum(&dir, &spectrum, "energy.svg", "Normalised cumulative eigenvalue energy", &[])?;
    println!(
        "{n} parameters: λ_max {:.4e}, Tr H {:.4e}, {} eigenvalues > 1e-6·λ_max, {} < −1e-6·λ_max; 98.5 % of the energy at rank {}",
        spectrum.max(),
        spectrum.trace,
        spectrum.count_above(1e-6),
        spectrum.negatives(1e-6),
        spectrum.rank_for_energy(0.985)
    );
    println!("results in {}", dir.path.display());
    Ok(())
}
