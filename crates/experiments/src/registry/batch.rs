//! The batch a problem's loss is computed on: the kind's own, the default one for weights trained
//! elsewhere, or a file the user gives; each choice is noted for the front end.

use super::ClassifierData;
use burn::tensor::Device;
use hessrank_core::{Error, Result};
use hessrank_models::classification::Classification;
use hessrank_models::{NoisyMnist, NoisyMnistConfig};
use std::path::Path;

/// The DnCNN's batch: `file` when given, else `default` (the checkpoint's draw, or the default
/// draw for imported weights, said in `notes` when `announce`).
pub fn noisy_mnist(
    file: Option<&Path>,
    default: &super::DncnnData,
    announce: bool,
    device: &Device,
    notes: &mut Vec<String>,
) -> Result<NoisyMnist> {
    match file {
        Some(file) => {
            let objective = NoisyMnist::from_file(file, device)?;
            notes.push(format!(
                "data: {} ({} images, noise std {:.3} as measured)",
                file.display(),
                objective.config.n_images,
                objective.config.noise_std
            ));
            Ok(objective)
        }
        None => {
            let d: &NoisyMnistConfig = &default.noise;
            if announce {
                notes.push(format!(
                    "data: no data file given, so the default batch: {} bundled MNIST images, noise std {}, seed {}",
                    d.n_images, d.noise_std, d.seed
                ));
            }
            NoisyMnist::new(&crate::data::load_mnist(default.mnist.as_deref())?, d, device)
        }
    }
}

/// A classifier's batch of `(features, classes)`: `file` when given, else `default` (said in
/// `notes` when `announce`), with label smoothing `smoothing`.
pub fn labelled<M>(
    file: Option<&Path>,
    default: &ClassifierData,
    (features, classes): (usize, usize),
    announce: bool,
    device: &Device,
    notes: &mut Vec<String>,
) -> Result<Classification<M>> {
    let batch = match file {
        Some(file) => {
            let batch = Classification::from_file(file, features, classes, device)?;
            notes.push(format!("data: {} ({} labelled inputs)", file.display(), batch.len()));
            batch
        }
        None => {
            if features != 784 || classes != 10 {
                return Err(Error::config(
                    "data",
                    format!("none, for a classifier of {features} inputs and {classes} classes"),
                    "a data file: the default batch is MNIST (784 inputs, 10 classes)",
                ));
            }
            if announce {
                notes.push(format!(
                    "data: no data file given, so the default batch: {} bundled MNIST digits, seed {}",
                    default.n_images, default.seed
                ));
            }
            let mnist = crate::data::load_mnist(default.mnist.as_deref())?;
            Classification::mnist(&mnist, default.n_images, default.seed, device)?
        }
    };
    batch.with_label_smoothing(default.label_smoothing)
}
