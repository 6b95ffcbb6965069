//! θ₀, G and the batch of the DnCNN experiment: weights trained elsewhere (G = I), a checkpoint
//! trained for the same data settings, or a new training run into the checkpoint folder.

use super::{DncnnSpec, Theta0Record, Theta0Source};
use crate::data::{data_record, load_mnist};
use crate::observer::ExperimentObserver;
use burn::tensor::Device;
use hessrank_core::{DiagPreconditioner, Error, ParamLayout, Result, value_and_grad};
use hessrank_models::{DnCnn, DnCnnConfig, Mnist, NoisyMnist, NoisyMnistConfig, NoisyMnistSampler, load_dncnn};
use hessrank_train::checkpoint::Checkpoint;
use hessrank_train::{RunInfo, train};

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
    let record = data_record(&spec.data, spec.mnist.as_deref());
    Checkpoint::manifest(dir).map(|m| m.model_kind == "dncnn" && m.data == record).unwrap_or(false)
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
        Theta0Source::Checkpoint { dir, .. } => {
            let template = DnCnnConfig::new().with_seed(spec.seed).init(device)?;
            Ok(Checkpoint::load(dir, template, &device.clone().inner())?.0)
        }
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
                let template = DnCnnConfig::new().with_seed(spec.seed).init(device)?;
                Checkpoint::load(dir, template, &plain)?
            } else {
                observer.note(&format!(
                    "training into {} (N = {}, noise std {})",
                    dir.display(),
                    spec.data.n_images,
                    spec.data.noise_std
                ));
                let out = train_dncnn(&spec.data, mnist, spec.mnist.as_deref(), dir, schedule, device, observer)?;
                (out.model, out.precond, out.manifest)
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

/// Trains the DnCNN (initialised from `data.seed`) on the batch `data` draws from `mnist` (the
/// standard release in `mnist_dir`, or the bundled digits) into the checkpoint folder `dir`: SGD →
/// GD → L-BFGS → Adam, resumed from `dir` when a run there was interrupted.
pub fn train_dncnn(
    data: &NoisyMnistConfig,
    mnist: &Mnist,
    mnist_dir: Option<&std::path::Path>,
    dir: &std::path::Path,
    schedule: &hessrank_train::TrainConfig,
    device: &Device,
    observer: &mut dyn ExperimentObserver,
) -> Result<hessrank_train::TrainOutcome<DnCnn>> {
    let sampler = NoisyMnistSampler::new(mnist, data, device)?;
    let full = NoisyMnist::new(mnist, data, device)?;
    let model_cfg = DnCnnConfig::new().with_seed(data.seed);
    let info = RunInfo {
        model_kind: "dncnn".into(),
        model_config: serde_json::to_value(&model_cfg).unwrap_or_default(),
        data: data_record(data, mnist_dir),
    };
    let mut progress = observer.training();
    train(schedule, &sampler, &full, model_cfg.init(device)?, dir, info, progress.as_mut())
}

/// The MNIST digits of `spec`.
pub fn mnist_of(spec: &DncnnSpec) -> Result<Mnist> {
    load_mnist(spec.mnist.as_deref())
}
