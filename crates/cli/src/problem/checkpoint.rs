//! Problems rebuilt from a checkpoint's manifest.

use super::*;

/// The manifest entry `v` (named `what`) of the checkpoint in `dir` as a `T`, naming both when it does not parse.
pub(super) fn field<T: serde::de::DeserializeOwned>(v: &serde_json::Value, what: &str, dir: &Path) -> Result<T> {
    serde_json::from_value(v.clone())
        .with_context(|| format!("{}: manifest.json has an unreadable {what}", dir.display()))
}

/// Loads the checkpoint in `dir` onto `device`; a classifier's loss takes `label_smoothing` when
/// given.
pub fn load(dir: &Path, label_smoothing: Option<f64>, device: &Device) -> Result<Loaded> {
    let manifest = Checkpoint::manifest(dir)?;
    let plain = device.clone().inner();
    match manifest.model_kind.as_str() {
        "dncnn" => {
            let cfg: DnCnnConfig = field(&manifest.model_config, "model_config", dir)?;
            let data: NoisyMnistConfig = field(&manifest.data, "data", dir)?;
            let (model, precond, manifest) = Checkpoint::load(dir, cfg.init(device)?, &plain)?;
            let mnist_dir = manifest.data.get("mnist").and_then(|v| v.as_str()).map(std::path::PathBuf::from);
            let mnist = hessrank_experiments::data::load_mnist(mnist_dir.as_deref())?;
            let objective = NoisyMnist::new(&mnist, &data, device)?;
            let frozen = objective.frozen_at(&model);
            Ok(Loaded::checkpoint(Problem::Dncnn { model, objective, frozen }, precond, manifest, dir))
        }
        "mlp" => {
            let cfg: MlpConfig = field(&manifest.model_config, "model_config", dir)?;
            let (model, objective, frozen, precond, manifest) =
                classifier_checkpoint(dir, cfg.init(device)?, &manifest, label_smoothing, device)?;
            Ok(Loaded::checkpoint(Problem::Mlp { model, objective, frozen }, precond, manifest, dir))
        }
        "cnn" => {
            let cfg: CnnConfig = field(&manifest.model_config, "model_config", dir)?;
            let (model, objective, frozen, precond, manifest) =
                classifier_checkpoint(dir, cfg.init(device)?, &manifest, label_smoothing, device)?;
            Ok(Loaded::checkpoint(Problem::Cnn { model, objective, frozen }, precond, manifest, dir))
        }
        "linear" => {
            let cfg: LinearNetConfig = field(&manifest.model_config, "model_config", dir)?;
            let data: LinearData = field(&manifest.data, "data", dir)?;
            let (model, precond, manifest) = Checkpoint::load(dir, cfg.init(device)?, &plain)?;
            let objective = data.objective(device)?;
            Ok(Loaded::checkpoint(Problem::Linear { model, objective }, precond, manifest, dir))
        }
        other => {
            bail!(
                "{}: unknown model kind {other:?} in manifest.json (expected dncnn, mlp, cnn or linear)",
                dir.display()
            )
        }
    }
}

/// θ₀ and G of the classifier checkpoint in `dir` (`template` of its configuration), its objective
/// and that objective with θ₀'s ReLU pattern frozen.
#[allow(clippy::type_complexity)]
fn classifier_checkpoint<M: Classifier>(
    dir: &Path,
    template: M,
    manifest: &Manifest,
    label_smoothing: Option<f64>,
    device: &Device,
) -> Result<(M, Classification<M>, FrozenClassification<M>, DiagPreconditioner, Manifest)> {
    let data: ClassifierData = field(&manifest.data, "data", dir)?;
    let (model, precond, manifest) = Checkpoint::load(dir, template, &device.clone().inner())?;
    let objective = classifier_objective(&data, label_smoothing, device)?;
    let frozen = objective.frozen_at(&model);
    Ok((model, objective, frozen, precond, manifest))
}

/// A classifier checkpoint's objective, with `--label-smoothing` in place of the trained ε when
/// given (said aloud).
fn classifier_objective<M>(
    data: &ClassifierData,
    label_smoothing: Option<f64>,
    device: &Device,
) -> Result<Classification<M>> {
    let mut data = data.clone();
    if let Some(e) = label_smoothing.filter(|e| *e != data.label_smoothing) {
        println!(
            "--label-smoothing {e}: the loss probed uses ε = {e}, not the {} it was trained with",
            data.label_smoothing
        );
        data.label_smoothing = e;
    }
    data.objective(device).map_err(|e| anyhow::anyhow!("--label-smoothing: {e}"))
}
