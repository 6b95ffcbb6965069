//! `train` as a library call: any registered model kind, trained into a checkpoint folder (SGD →
//! GD → L-BFGS → Adam, resumable), its manifest recording the typed kind.

use crate::observer::ExperimentObserver;
use crate::registry::ModelKind;
use burn::tensor::Device;
use hessrank_core::Result;
use hessrank_models::classification::{Classification, ClassificationBatches, Classifier};
use hessrank_models::{NoisyMnist, NoisyMnistSampler};
use hessrank_train::checkpoint::Manifest;
use hessrank_train::{TrainConfig, train as run_schedule};
use std::path::PathBuf;

/// What to train and where.
#[derive(Debug, Clone)]
pub struct TrainSpec {
    /// The model kind with its architecture and data.
    pub kind: ModelKind,
    /// The schedule.
    pub schedule: TrainConfig,
    /// The checkpoint folder (resumed when it holds an interrupted run).
    pub dir: PathBuf,
}

/// Trains `spec.kind` on `device` (an autodiff device) into `spec.dir` and returns the manifest it
/// wrote (phases, θ₀'s loss and gradient norm, G's scale).
pub fn train(spec: &TrainSpec, device: &Device, observer: &mut dyn ExperimentObserver) -> Result<Manifest<ModelKind>> {
    let (schedule, dir, kind) = (&spec.schedule, spec.dir.as_path(), spec.kind.clone());
    let mut progress = observer.training();
    let manifest = match &spec.kind {
        ModelKind::Dncnn { model_config, data } => {
            let mnist = crate::data::load_mnist(data.mnist.as_deref())?;
            let sampler = NoisyMnistSampler::new(&mnist, &data.noise, device)?;
            let full = NoisyMnist::new(&mnist, &data.noise, device)?;
            run_schedule(schedule, &sampler, &full, model_config.init(device)?, dir, kind, progress.as_mut())?.manifest
        }
        ModelKind::Mlp { model_config, data } => {
            let full = data.objective(device)?;
            classifier(schedule, full, model_config.init(device)?, data.seed, spec, progress.as_mut())?
        }
        ModelKind::Cnn { model_config, data } => {
            let full = data.objective(device)?;
            classifier(schedule, full, model_config.init(device)?, data.seed, spec, progress.as_mut())?
        }
        ModelKind::Linear { model_config, data } => {
            let objective = data.objective(device)?;
            let template = model_config.init(device)?;
            run_schedule(schedule, &objective, &objective, template, dir, kind, progress.as_mut())?.manifest
        }
    };
    Ok(manifest)
}

/// A classifier's training on its full batch `full`, minibatches shuffled from `seed`.
fn classifier<M: Classifier>(
    schedule: &TrainConfig,
    full: Classification<M>,
    template: M,
    seed: u64,
    spec: &TrainSpec,
    progress: &mut dyn hessrank_train::TrainObserver,
) -> Result<Manifest<ModelKind>> {
    let batches = ClassificationBatches::new(&full, seed);
    Ok(run_schedule(schedule, &batches, &full, template, &spec.dir, spec.kind.clone(), progress)?.manifest)
}
