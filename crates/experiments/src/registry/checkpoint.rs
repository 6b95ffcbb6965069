//! Problems rebuilt from a checkpoint folder: its manifest names the kind, the kind builds the
//! template and the objective, the checkpoint fills in θ₀ and G.

use super::{ModelKind, Problem, batch};
use burn::tensor::Device;
use hessrank_core::{DiagPreconditioner, Error, Result};
use hessrank_models::DnCnn;
use hessrank_models::classification::Classifier;
use hessrank_train::checkpoint::{Checkpoint, Manifest};
use std::path::Path;

/// The manifest of the checkpoint in `dir`, typed (an unknown kind or a missing field is an error
/// naming `manifest.json` and the field).
pub fn manifest(dir: &Path) -> Result<Manifest<ModelKind>> {
    Checkpoint::manifest(dir)
}

/// θ₀ and G of the checkpoint in `dir` for `template`, with the manifest.
pub fn load_model<M: burn::module::Module>(
    dir: &Path,
    template: M,
    device: &Device,
) -> Result<(M, DiagPreconditioner, Manifest<ModelKind>)> {
    Checkpoint::load(dir, template, &device.clone().inner())
}

/// The DnCNN of the checkpoint in `dir` (its architecture from the manifest) with G: the one
/// loader of checkpointed DnCNN weights.
pub fn load_dncnn(dir: &Path, device: &Device) -> Result<(DnCnn, DiagPreconditioner, Manifest<ModelKind>)> {
    let found = manifest(dir)?;
    let ModelKind::Dncnn { model_config, .. } = &found.model else {
        return Err(Error::format(
            dir.join("manifest.json"),
            format!("model_kind is {:?}, expected \"dncnn\"", found.model.name()),
        ));
    };
    load_model(dir, model_config.init(device)?, device)
}

/// The problem of the checkpoint in `dir` on `device` (an autodiff device), on the batch in
/// `data` when given; a classifier's loss takes `label_smoothing` when given (noted when it
/// differs from the trained one).
pub fn from_checkpoint(
    dir: &Path,
    data: Option<&Path>,
    label_smoothing: Option<f64>,
    device: &Device,
) -> Result<Problem<'static>> {
    let mut kind = manifest(dir)?.model;
    let mut notes = Vec::new();
    let origin = match data {
        Some(file) => format!("{} on {}", dir.display(), file.display()),
        None => dir.display().to_string(),
    };
    if let Some(e) = label_smoothing {
        match &mut kind {
            ModelKind::Mlp { data, .. } | ModelKind::Cnn { data, .. } => {
                if e != data.label_smoothing {
                    notes.push(format!(
                        "label smoothing: the loss probed uses ε = {e}, not the {} it was trained with",
                        data.label_smoothing
                    ));
                }
                data.label_smoothing = e;
            }
            other => return Err(no_smoothing(other, e)),
        }
    }
    let problem = match &kind {
        ModelKind::Dncnn { model_config, data: d } => {
            let (model, precond, _) = load_model(dir, model_config.init(device)?, device)?;
            let objective = batch::noisy_mnist(data, d, false, device, &mut notes)?;
            let frozen = objective.frozen_at(&model);
            Problem::new(model, objective, Some(frozen), origin).with_precond(precond)
        }
        ModelKind::Mlp { model_config, data: d } => {
            let shape = (model_config.sizes[0], model_config.classes());
            classifier(dir, model_config.init(device)?, (d, shape, data), origin, device, &mut notes)?
        }
        ModelKind::Cnn { model_config, data: d } => {
            let shape = (model_config.side * model_config.side, model_config.classes);
            classifier(dir, model_config.init(device)?, (d, shape, data), origin, device, &mut notes)?
        }
        ModelKind::Linear { model_config, data: d } => {
            if let Some(file) = data {
                return Err(Error::config(
                    "data",
                    file.display(),
                    "none: the linear net's data are drawn from its seed, not read from a file",
                ));
            }
            let (model, precond, _) = load_model(dir, model_config.init(device)?, device)?;
            Problem::smooth(model, d.objective(device)?, origin).with_precond(precond)
        }
    };
    let mut problem = problem.with_kind(kind);
    problem.notes = notes;
    Ok(problem)
}

/// The error for label smoothing on a kind without a cross-entropy.
pub(super) fn no_smoothing(kind: &ModelKind, e: f64) -> Error {
    Error::config(
        "label_smoothing",
        e,
        format!("none for a {} model: only the classifiers (mlp, cnn) have a cross-entropy to smooth", kind.name()),
    )
}

/// The batch settings, its `(features, classes)` and the user's batch file of a classifier.
type ClassifierBatch<'a> = (&'a super::ClassifierData, (usize, usize), Option<&'a Path>);

/// A classifier checkpoint in `dir` of `template`'s architecture, with its objective and frozen
/// objective.
fn classifier<M: Classifier + 'static>(
    dir: &Path,
    template: M,
    (data, shape, file): ClassifierBatch<'_>,
    origin: String,
    device: &Device,
    notes: &mut Vec<String>,
) -> Result<Problem<'static>> {
    let (model, precond, _) = load_model(dir, template, device)?;
    let objective = batch::labelled::<M>(file, data, shape, false, device, notes)?;
    let frozen = objective.frozen_at(&model);
    Ok(Problem::new(model, objective, Some(frozen), origin).with_precond(precond))
}
