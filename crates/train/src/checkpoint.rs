//! Checkpoints: the model (burnpack), the preconditioner keyed by parameter path (a reloaded module
//! gets fresh ParamIds) and `manifest.json`, each written atomically into `models/<name>/`.

use crate::config::TrainConfig;
use burn::module::Module;
use burn::tensor::Device;
use hessrank_core::atomic::{read_json, write_json_atomic};
use hessrank_core::{DiagPreconditioner, Error, ParamLayout, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Burn's version, pinned in the workspace `Cargo.toml`.
pub const BURN_VERSION: &str = "0.22.1";

/// What one training phase did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseLog {
    /// `"sgd"`, `"gd"` or `"adam"`.
    pub phase: String,
    /// Steps (SGD: minibatch steps) taken.
    pub steps: usize,
    /// Loss at the end of the phase (SGD: the last minibatch's; GD/Adam: the full objective's).
    pub final_loss: f64,
    /// ‖∇L‖ of the full objective at the end (GD and Adam; SGD does not compute it).
    pub final_grad_norm: Option<f64>,
    /// Why the phase stopped (`"epochs"`, `"tolerance"`, `"step limit"`, `"steps"`).
    pub stop: String,
    /// Seconds spent.
    pub wall_s: f64,
}

/// Everything needed to reproduce and trust a checkpoint.
///
/// `K` describes the model and its data (the model registry's typed kind: `model_kind`,
/// `model_config` and `data` in the JSON); it is flattened into the manifest, so the training
/// crate never needs to know the models.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest<K> {
    /// Which model, its configuration and its data, as the caller's typed description.
    #[serde(flatten)]
    pub model: K,
    /// The training schedule.
    pub train_config: TrainConfig,
    /// The trainable parameters (paths and shapes).
    pub layout: ParamLayout,
    /// Loss of the full objective at θ₀.
    pub final_loss: f64,
    /// ‖∇L(θ₀)‖ of the full objective.
    pub final_grad_norm: f64,
    /// The scale s in G = s/(√v̂ + ε) that was applied.
    pub precond_scale: f64,
    /// One entry per phase.
    pub phases: Vec<PhaseLog>,
    /// Burn's version.
    pub burn_version: String,
    /// hessrank's version.
    pub hessrank_version: String,
    /// The device's float dtype during training.
    pub dtype: String,
    /// Total seconds.
    pub wall_s: f64,
}

/// Saves a module as burnpack, atomically (temporary file, then rename).
pub fn save_module<M: Module>(model: &M, path: &Path) -> Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    model.clone().save_file(&tmp).map_err(|e| Error::format(&tmp, format!("cannot write the model: {e}")))?;
    // burnpack's writer may add its extension: find what it wrote.
    let written = if tmp.exists() { tmp.clone() } else { tmp.with_extension("bpk") };
    if let Ok(f) = std::fs::File::open(&written) {
        let _ = f.sync_all();
    }
    std::fs::rename(&written, path).map_err(|e| Error::io(path, e))
}

/// Loads a burnpack record into `template` (built from the same configuration), naming the file on
/// a mismatch of architecture or dtype.
pub fn load_module<M: Module>(template: M, path: &Path) -> Result<M> {
    if !path.is_file() {
        return Err(Error::format(path, "no model file (expected a burnpack written by training)"));
    }
    let record = burn::store::ModuleRecord::load(path)
        .map_err(|e| Error::format(path, format!("cannot read the model: {e}")))?
        // A checkpoint keeps the dtype it was trained in; the run's dtype wins (burnpack would
        // otherwise hand an f32 run f64 tensors).
        .cast_to_module_dtype();
    template
        .try_load_record(record)
        .map_err(|e| Error::format(path, format!("cannot load into this architecture: {e}")))
}

/// A trained model with its preconditioner and manifest.
pub struct Checkpoint;

impl Checkpoint {
    /// The folder's model file.
    pub fn model_path(dir: &Path) -> PathBuf {
        dir.join("model.bpk")
    }

    /// The folder's preconditioner file.
    pub fn precond_path(dir: &Path) -> PathBuf {
        dir.join("preconditioner.json")
    }

    /// The folder's manifest.
    pub fn manifest_path(dir: &Path) -> PathBuf {
        dir.join("manifest.json")
    }

    /// Writes the three files atomically into `dir` (created if needed); the manifest last, so a
    /// folder with a manifest is complete.
    pub fn save<M: Module, K: Serialize>(
        dir: &Path,
        model: &M,
        precond: &DiagPreconditioner,
        manifest: &Manifest<K>,
    ) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        save_module(model, &Self::model_path(dir))?;
        precond.save(&Self::precond_path(dir))?;
        write_json_atomic(&Self::manifest_path(dir), manifest)
    }

    /// Reads the manifest only (an unreadable or unknown model description is an error naming
    /// the file and the field).
    pub fn manifest<K: DeserializeOwned>(dir: &Path) -> Result<Manifest<K>> {
        let path = Self::manifest_path(dir);
        if !path.is_file() {
            return Err(Error::format(dir, "not a checkpoint folder: no manifest.json"));
        }
        read_json(&path)
    }

    /// Loads the model into `template` and the preconditioner for its layout (on `device`, the
    /// plain device of the model's tensors).
    pub fn load<M: Module, K: DeserializeOwned>(
        dir: &Path,
        template: M,
        device: &Device,
    ) -> Result<(M, DiagPreconditioner, Manifest<K>)> {
        let manifest = Self::manifest(dir)?;
        let run_dtype = format!("{:?}", device.settings().float_dtype);
        // An f64 minimum rounds to an f32 one; an f32 minimum is not one to f64 precision (its
        // gradient in f64 is of f32 rounding size, which Langevin dynamics would see as drift).
        if manifest.dtype == "F32" && run_dtype == "F64" {
            return Err(Error::SettingsMismatch {
                path: dir.to_path_buf(),
                field: "dtype",
                saved: manifest.dtype.clone(),
                given: run_dtype,
            });
        }
        let model = load_module(template, &Self::model_path(dir))?;
        let layout = ParamLayout::of(&model);
        manifest.layout.check_same(&layout, &format!("{} (manifest) vs the model", dir.display()))?;
        let precond = DiagPreconditioner::load(&Self::precond_path(dir), &layout, device)?;
        Ok((model, precond, manifest))
    }
}
