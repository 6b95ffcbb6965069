//! `hessrank train dncnn|mlp|cnn|linear`.

use super::train_args::What;
pub use super::train_args::{Schedule, TrainArgs};
use crate::Ctx;
use crate::progress::CliObserver;
use anyhow::Result;
use hessrank_experiments::dncnn::dncnn_kind;
use hessrank_experiments::registry::{LinearData, ModelKind};
use hessrank_experiments::train::TrainSpec;
use hessrank_models::{CnnConfig, LinearNetConfig, MlpConfig, NoisyMnistConfig};
use hessrank_train::checkpoint::Manifest;

/// Trains `kind` into `dir` by the library's training and prints what it did.
fn train_kind(ctx: &Ctx, kind: ModelKind, schedule: &Schedule, dir: &std::path::Path) -> Result<()> {
    let spec = TrainSpec { kind, schedule: schedule.config(), dir: dir.to_path_buf() };
    let mut observer = CliObserver::new(ctx.quiet, ctx.stop.clone());
    let manifest = hessrank_experiments::train::train(&spec, &ctx.device, &mut observer)?;
    drop(observer);
    report(dir, &manifest);
    Ok(())
}

/// Prints the phases and θ₀ of a finished training.
fn report(dir: &std::path::Path, m: &Manifest<ModelKind>) {
    for p in &m.phases {
        let g = p.final_grad_norm.map(|g| format!(", ‖∇L‖ {g:.3e}")).unwrap_or_default();
        println!(
            "  {:<5} {:>6} steps, loss {:.6e}{g}, stopped by {} ({:.1} s)",
            p.phase, p.steps, p.final_loss, p.stop, p.wall_s
        );
    }
    println!(
        "θ₀: loss {:.8e}, ‖∇L‖ = {:.3e}; G scale {:.3e}; checkpoint in {}",
        m.final_loss,
        m.final_grad_norm,
        m.precond_scale,
        dir.display()
    );
}

/// Runs `train`: flags → the model kind → the library's training.
pub fn run(ctx: &Ctx, a: TrainArgs) -> Result<()> {
    match a.what {
        What::Dncnn(d) => {
            let data =
                NoisyMnistConfig::new().with_n_images(d.n_images).with_noise_std(d.noise_std).with_seed(ctx.seed);
            train_kind(ctx, dncnn_kind(&data, d.mnist.as_deref()), &d.schedule, &d.dir)
        }
        What::Mlp(m) => {
            let model_config = MlpConfig::parse(&m.widths)
                .map_err(|e| anyhow::anyhow!("--widths {}: {e}", m.widths))?
                .with_seed(ctx.seed);
            anyhow::ensure!(
                model_config.sizes[0] == 784 && model_config.classes() == 10,
                "--widths {}: MNIST needs 784 inputs and 10 classes",
                m.widths
            );
            let kind = ModelKind::Mlp { model_config, data: m.data.data(ctx.seed)? };
            train_kind(ctx, kind, &m.schedule, &m.dir)
        }
        What::Cnn(c) => {
            let model_config = CnnConfig::parse(&c.channels)
                .map_err(|e| anyhow::anyhow!("--channels {}: {e}", c.channels))?
                .with_seed(ctx.seed);
            let kind = ModelKind::Cnn { model_config, data: c.data.data(ctx.seed)? };
            train_kind(ctx, kind, &c.schedule, &c.dir)
        }
        What::Linear(l) => {
            let data = LinearData { d: l.d, depth: l.depth, samples: l.samples, seed: ctx.seed };
            let model_config = LinearNetConfig::square(l.d, l.depth).with_init_std(0.3).with_seed(ctx.seed);
            train_kind(ctx, ModelKind::Linear { model_config, data }, &l.schedule, &l.dir)
        }
    }
}
