//! θ₀, G and the batch of the DnCNN experiment: weights trained elsewhere (G = I), a checkpoint
//! trained for the same data settings, or a new training run into the checkpoint folder.

use super::{DncnnSpec, Theta0Record, Theta0Source};
use crate::data::load_mnist;
use crate::observer::ExperimentObserver;
use crate::registry::{self, DncnnData, ModelKind};
use burn::tensor::Device;
use hessrank_core::{DiagPreconditioner, Error, ParamLayout, Result, value_and_grad};
use hessrank_models::{DnCnn, DnCnnConfig, Mnist, NoisyMnist, NoisyMnistConfig, load_dncnn};

/// θ₀ with its preconditioner and batch, and where they came from.
pub struct Theta0 {
    /// The model at θ₀.
    pub model: DnCnn,
    /// G.
    pub precond: DiagPreconditioner,
    /// The fixed batch.
    pub objective: NoisyMnist,
    /// θ₀ as the run records it.
    pub record: Theta0Record,
    /// The training schedule of the checkpoint (null for imported weights).
    pub training: serde_json::Value,
}

/// Whether the checkpoint in `dir` was trained for `spec`'s data settings.
pub fn checkpoint_matches(spec: &DncnnSpec, dir: &std::path::Path) -> bool {
    let wanted = DncnnData { noise: spec.data.clone(), mnist: spec.mnist.clone() };
    registry::manifest(dir)
        .map(|m| matches!(&m.model, ModelKind::Dncnn { data, .. } if data.same_batch(&wanted)))
        .unwrap_or(false)
}

/// The DnCNN of `spec`'s θ₀ on `device`: the imported weights, else the checkpoint (which must
/// exist by then).
pub fn model_on(spec: &DncnnSpec, device: &Device, observer: &mut dyn ExperimentObserver) -> Result<DnCnn> {
    match &spec.theta0 {
        Theta0Source::Weights { file, options, .. } => {
            let (model, report) = load_dncnn(file, options, device)?;
            observer.note(&format!("weights: {}", report.summary()));
            Ok(model)
        }
        Theta0Source::Checkpoint { dir, .. } => Ok(registry::load_dncnn(dir, device)?.0),
    }
}

/// The fixed batch on `device`: the batch file of imported weights, else the data settings.
pub fn batch_on(spec: &DncnnSpec, mnist: &Mnist, device: &Device) -> Result<NoisyMnist> {
    match &spec.theta0 {
        Theta0Source::Weights { data: Some(file), .. } => NoisyMnist::from_file(file, device),
        _ => NoisyMnist::new(mnist, &spec.data, device),
    }
}

/// θ₀, G and the batch on `device` (an autodiff device), training the checkpoint first when it is
/// missing, trained for other data, or to be retrained.
pub fn theta0(
    spec: &DncnnSpec,
    mnist: &Mnist,
    device: &Device,
    observer: &mut dyn ExperimentObserver,
) -> Result<Theta0> {
    let plain = device.clone().inner();
    match &spec.theta0 {
        Theta0Source::Weights { file, data, .. } => {
            let model = model_on(spec, device, observer)?;
            let objective = batch_on(spec, mnist, device)?;
            let vg = value_and_grad(&objective, &model);
            observer.note(&format!("G = I: {} holds no Adam state to take the preconditioner from", file.display()));
            let precond = DiagPreconditioner::identity(&ParamLayout::of(&model), &plain);
            let record = Theta0Record {
                loss: vg.loss,
                grad_norm: vg.grads.sq_norm().sqrt(),
                source: serde_json::json!({"weights": file, "data": data}),
                precond: "identity",
            };
            Ok(Theta0 { model, precond, objective, record, training: serde_json::Value::Null })
        }
        Theta0Source::Checkpoint { dir, retrain, schedule } => {
            let (model, precond, manifest) = if checkpoint_matches(spec, dir) && !retrain {
                observer.note(&format!("loading {}", dir.display()));
                registry::load_dncnn(dir, device)?
            } else {
                observer.note(&format!(
                    "training into {} (N = {}, noise std {})",
                    dir.display(),
                    spec.data.n_images,
                    spec.data.noise_std
                ));
                let kind = dncnn_kind(&spec.data, spec.mnist.as_deref());
                let train = crate::train::TrainSpec { kind, schedule: schedule.clone(), dir: dir.clone() };
                crate::train::train(&train, device, observer)?;
                registry::load_dncnn(dir, device)?
            };
            let objective = batch_on(spec, mnist, device)?;
            let record = Theta0Record {
                loss: manifest.final_loss,
                grad_norm: manifest.final_grad_norm,
                source: serde_json::json!({"checkpoint": dir}),
                precond: "adam",
            };
            let training = serde_json::to_value(&manifest.train_config)
                .map_err(|source| Error::Json { path: dir.join("manifest.json"), source })?;
            Ok(Theta0 { model, precond, objective, record, training })
        }
    }
}

/// The DnCNN's model kind for the batch `data` (initialised from `data.seed`), drawn from the
/// standard MNIST release in `mnist_dir` or the bundled digits.
pub fn dncnn_kind(data: &NoisyMnistConfig, mnist_dir: Option<&std::path::Path>) -> ModelKind {
    ModelKind::Dncnn {
        model_config: DnCnnConfig::new().with_seed(data.seed),
        data: DncnnData { noise: data.clone(), mnist: mnist_dir.map(std::path::PathBuf::from) },
    }
}

/// The MNIST digits of `spec`.
pub fn mnist_of(spec: &DncnnSpec) -> Result<Mnist> {
    load_mnist(spec.mnist.as_deref())
}
