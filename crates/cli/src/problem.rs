//! The problems the CLI knows, rebuilt from a checkpoint's manifest or from an architecture with
//! weights trained elsewhere (`--arch`, `--weights`, `--data`): the model template, the fixed
//! objective and, for ReLU networks, the objective with θ₀'s activation pattern frozen (for
//! finite-difference curvature).

use anyhow::{Context, Result, bail, ensure};
use burn::store::ModuleSnapshot;
use burn::tensor::Device;
use hessrank_core::DiagPreconditioner;
use hessrank_core::ParamLayout;
use hessrank_models::classification::{Classification, Classifier, FrozenClassification};
use hessrank_models::{
    Cnn, CnnConfig, DnCnn, DnCnnConfig, FrozenNoisyMnist, GlobalMinimum, LinearNet, LinearNetConfig, Mlp, MlpConfig,
    NoisyMnist, NoisyMnistConfig, SampleObjective,
};
use hessrank_models::{WeightsOptions, load_weights};
use hessrank_train::checkpoint::{Checkpoint, Manifest};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A model trained elsewhere: its architecture, its weights and the batch its loss is computed on.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ImportArgs {
    /// Architecture of `--weights`: `dncnn` (the paper's 753-parameter DnCNN; a PyTorch
    /// `nn.Sequential(Conv2d, ReLU, Conv2d, BatchNorm2d, ReLU, Conv2d)` state_dict loads as it is),
    /// `mlp:784-64-10` (`nn.Sequential(Linear, ReLU, …)`) or `cnn:4-8` (`nn.Sequential(Conv2d(3×3,
    /// padding 1), ReLU, AvgPool2d(2), …, Flatten, Linear)`).
    #[arg(long, requires = "weights")]
    pub arch: Option<String>,
    /// Weights trained elsewhere (.safetensors, or PyTorch .pt/.pth), loaded instead of the checkpoint.
    #[arg(long, requires = "arch")]
    pub weights: Option<PathBuf>,
    /// The fixed batch the loss is computed on (.safetensors; DnCNN: `noisy` and `clean`, each
    /// [N, 1, 28, 28]), instead of the checkpoint's (or, with --weights, the default MNIST batch).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Rename the keys of --weights, REGEX=REPLACEMENT (regex syntax; `$1` for groups); repeatable,
    /// applied in order before the architecture's own PyTorch layout.
    #[arg(long = "rename", value_parser = parse_rename)]
    pub renames: Vec<(String, String)>,
    /// Load the tensors that match and leave the rest at their initial values (reported).
    #[arg(long)]
    pub allow_partial: bool,
    /// Classifiers: the label smoothing ε of the cross-entropy probed (PyTorch's
    /// `label_smoothing`), instead of the checkpoint's (or 0 for --weights).
    #[arg(long)]
    pub label_smoothing: Option<f64>,
}

impl ImportArgs {
    /// The load options: the user's renames first, then the architecture's own PyTorch layout.
    /// The weights options: the user's renames, then `arch_renames`.
    pub fn options(&self, arch_renames: Vec<(String, String)>) -> WeightsOptions {
        WeightsOptions { allow_partial: self.allow_partial, ..Default::default() }
            .with_renames(self.renames.iter().cloned())
            .with_renames(arch_renames)
    }
}

/// One `--rename REGEX=REPLACEMENT`.
pub fn parse_rename(s: &str) -> Result<(String, String), String> {
    let (from, to) = s.split_once('=').ok_or_else(|| format!("invalid --rename {s:?}: expected REGEX=REPLACEMENT"))?;
    regex::Regex::new(from).map_err(|e| format!("invalid --rename {s:?}: {from:?} is not a regex ({e})"))?;
    Ok((from.to_string(), to.to_string()))
}

/// The data of `train linear`: x ~ N(0, I), y = T x with T of a random global minimum.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinearData {
    /// Dimension d.
    pub d: usize,
    /// Depth M.
    pub depth: usize,
    /// Samples n.
    pub samples: usize,
    /// Seed of T and of the samples.
    pub seed: u64,
}

impl LinearData {
    /// The sample objective on `device`.
    pub fn objective(&self, device: &Device) -> Result<SampleObjective> {
        let min = GlobalMinimum::random(self.d, self.depth, self.seed)?;
        Ok(SampleObjective::regression(&min.t, self.samples, self.seed, device))
    }
}

/// The data of `train mlp` and `train cnn`: N MNIST digits (pixels / 255, flattened) with their
/// labels, and the label smoothing of the loss.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClassifierData {
    /// Digits N.
    pub n_images: usize,
    /// Seed of the subset.
    pub seed: u64,
    /// The standard MNIST release folder, when not the bundled digits.
    #[serde(default)]
    pub mnist: Option<PathBuf>,
    /// Label smoothing ε of the cross-entropy (0: plain).
    #[serde(default)]
    pub label_smoothing: f64,
}

impl ClassifierData {
    /// N of the default batch for imported classifier weights.
    pub const DEFAULT_N: usize = 256;

    /// The fixed cross-entropy objective on `device`.
    pub fn objective<M>(&self, device: &Device) -> Result<Classification<M>> {
        let mnist = hessrank_experiments::data::load_mnist(self.mnist.as_deref())?;
        Ok(Classification::mnist(&mnist, self.n_images, self.seed, device)?
            .with_label_smoothing(self.label_smoothing)?)
    }
}

/// The shapes of a loaded classifier's weight matrices and kernels, in order.
fn weight_shapes<M: burn::module::Module>(model: &M) -> Vec<Vec<usize>> {
    ParamLayout::of(model).specs.iter().filter(|s| s.shape.len() >= 2).map(|s| s.shape.clone()).collect()
}

/// The widths of a loaded MLP, from its layers' shapes.
fn mlp_config_of(model: &Mlp) -> MlpConfig {
    let weights = weight_shapes(model);
    let mut sizes: Vec<usize> = weights.iter().map(|s| s[0]).collect();
    sizes.extend(weights.last().map(|s| s[1]));
    MlpConfig::new(sizes)
}

/// The stages of a loaded CNN, from its kernels' shapes; the input side is the one whose poolings
/// leave the head's input (a side that is a multiple of 2^stages, 28 for MNIST).
fn cnn_config_of(model: &Cnn) -> CnnConfig {
    let weights = weight_shapes(model);
    let channels: Vec<usize> = weights.iter().filter(|s| s.len() == 4).map(|s| s[0]).collect();
    let head = weights.iter().find(|s| s.len() == 2).cloned().unwrap_or_default();
    let (features, classes) = (head.first().copied().unwrap_or(0), head.get(1).copied().unwrap_or(0));
    let last = channels.last().copied().unwrap_or(1).max(1);
    let final_side = ((features / last) as f64).sqrt().round() as usize;
    CnnConfig::new(channels.clone()).with_classes(classes).with_side(final_side << channels.len())
}

/// The batch of an imported classifier with `features` inputs and `classes` classes, from `--data`
/// (else the default MNIST batch), with the label smoothing of `--label-smoothing` (else 0).
fn classifier_batch<M>(
    data: Option<&Path>,
    features: usize,
    classes: usize,
    import: &ImportArgs,
    device: &Device,
) -> Result<Classification<M>> {
    let batch = match data {
        Some(data) => Classification::from_file(data, features, classes, device)?,
        None => {
            ensure!(
                features == 784 && classes == 10,
                "without --data the default batch is MNIST (784 inputs, 10 classes), but this classifier has \
                 {features} inputs and {classes} classes"
            );
            println!(
                "data: no --data given, so the default batch: {} bundled MNIST digits, seed 0",
                ClassifierData::DEFAULT_N
            );
            Classification::mnist(&hessrank_experiments::data::load_mnist(None)?, ClassifierData::DEFAULT_N, 0, device)?
        }
    };
    let smoothing = import.label_smoothing.unwrap_or(0.0);
    if smoothing != 0.0 {
        println!("loss: cross-entropy with label smoothing ε = {smoothing}");
    }
    batch.with_label_smoothing(smoothing).map_err(|e| anyhow::anyhow!("--label-smoothing: {e}"))
}

/// A checkpointed problem (one value per command; the size difference does not matter).
#[allow(clippy::large_enum_variant)]
pub enum Problem {
    /// The DnCNN on fixed noisy MNIST.
    Dncnn {
        /// θ₀.
        model: DnCnn,
        /// The fixed objective.
        objective: NoisyMnist,
        /// The objective with θ₀'s ReLU pattern frozen.
        frozen: FrozenNoisyMnist,
    },
    /// A ReLU MLP classifier on labelled inputs (cross-entropy).
    Mlp {
        /// θ₀.
        model: Mlp,
        /// The fixed objective.
        objective: Classification<Mlp>,
        /// The objective with θ₀'s ReLU pattern frozen.
        frozen: FrozenClassification<Mlp>,
    },
    /// A small ReLU CNN classifier on labelled images (cross-entropy).
    Cnn {
        /// θ₀.
        model: Cnn,
        /// The fixed objective.
        objective: Classification<Cnn>,
        /// The objective with θ₀'s ReLU pattern frozen.
        frozen: FrozenClassification<Cnn>,
    },
    /// A deep linear net on regression data.
    Linear {
        /// θ₀.
        model: LinearNet,
        /// The sample objective.
        objective: SampleObjective,
    },
}

/// A loaded problem.
pub struct Loaded {
    /// Model and objective.
    pub problem: Problem,
    /// Adam's preconditioner (`None` for weights trained elsewhere: the file holds no Adam state).
    pub precond: Option<DiagPreconditioner>,
    /// The checkpoint's manifest (`None` for imported weights).
    pub manifest: Option<Manifest>,
    /// Where θ₀ and the data came from, in words (for the summary and the run's config).
    pub origin: String,
}

impl Loaded {
    /// A problem loaded from the checkpoint in `dir`.
    fn checkpoint(problem: Problem, precond: DiagPreconditioner, manifest: Manifest, dir: &Path) -> Self {
        Loaded { problem, precond: Some(precond), manifest: Some(manifest), origin: dir.display().to_string() }
    }

    /// The trainable parameters of θ₀.
    pub fn layout(&self) -> ParamLayout {
        match &self.problem {
            Problem::Dncnn { model, .. } => ParamLayout::of(model),
            Problem::Mlp { model, .. } => ParamLayout::of(model),
            Problem::Cnn { model, .. } => ParamLayout::of(model),
            Problem::Linear { model, .. } => ParamLayout::of(model),
        }
    }
}

/// Loads the problem a command names: `--arch`/`--weights` if given, else the checkpoint in `dir`;
/// `--data` replaces the batch. Progress and conversions are printed.
pub fn load_source(dir: &Path, import: &ImportArgs, device: &Device) -> Result<Loaded> {
    let mut loaded = match (&import.arch, &import.weights) {
        (Some(arch), Some(weights)) => load_imported(arch, weights, import, device)?,
        _ => {
            ensure!(
                import.renames.is_empty() && !import.allow_partial,
                "--rename and --allow-partial apply to --weights"
            );
            load(dir, import.label_smoothing, device)?
        }
    };
    if let Some(data) = &import.data {
        loaded = with_data(loaded, data, device)?;
    }
    if let Some(e) = import.label_smoothing {
        ensure!(
            matches!(loaded.problem, Problem::Mlp { .. } | Problem::Cnn { .. }),
            "--label-smoothing {e}: only the classifiers (mlp, cnn) have a cross-entropy to smooth"
        );
    }
    Ok(loaded)
}

/// θ₀ from a weights file of architecture `arch`, on the default MNIST batch until `--data` replaces it.
fn load_imported(arch: &str, weights: &Path, import: &ImportArgs, device: &Device) -> Result<Loaded> {
    match arch {
        "dncnn" => {
            let model = import_dncnn(weights, import, device)?;
            let objective = match &import.data {
                Some(data) => NoisyMnist::from_file(data, device)?,
                None => {
                    let data = NoisyMnistConfig::new();
                    println!(
                        "data: no --data given, so the default batch: {} bundled MNIST images, noise std {}, seed {}",
                        data.n_images, data.noise_std, data.seed
                    );
                    NoisyMnist::new(&hessrank_experiments::data::load_mnist(None)?, &data, device)?
                }
            };
            let frozen = objective.frozen_at(&model);
            Ok(Loaded {
                problem: Problem::Dncnn { model, objective, frozen },
                precond: None,
                manifest: None,
                origin: format!("{} (--arch dncnn)", weights.display()),
            })
        }
        other if other.starts_with("mlp:") => {
            let cfg = MlpConfig::parse(&other["mlp:".len()..])?;
            let (model, objective, frozen) = import_classifier(
                cfg.init(device)?,
                cfg.pytorch_sequential_renames(),
                (cfg.sizes[0], cfg.classes()),
                weights,
                import,
                device,
            )
            .with_context(|| format!("--arch {other}"))?;
            let origin = format!("{} (--arch {other})", weights.display());
            Ok(Loaded { problem: Problem::Mlp { model, objective, frozen }, precond: None, manifest: None, origin })
        }
        other if other.starts_with("cnn:") => {
            let cfg = CnnConfig::parse(&other["cnn:".len()..])?;
            let (model, objective, frozen) = import_classifier(
                cfg.init(device)?,
                cfg.pytorch_sequential_renames(),
                (cfg.side * cfg.side, cfg.classes),
                weights,
                import,
                device,
            )
            .with_context(|| format!("--arch {other}"))?;
            let origin = format!("{} (--arch {other})", weights.display());
            Ok(Loaded { problem: Problem::Cnn { model, objective, frozen }, precond: None, manifest: None, origin })
        }
        other => bail!(
            "unknown --arch {other:?}: expected dncnn, mlp:WIDTHS (e.g. mlp:784-64-10) or cnn:CHANNELS (e.g. cnn:4-8)"
        ),
    }
}

/// A classifier trained elsewhere: `template` with the tensors of `weights` (the architecture's
/// PyTorch `renames` after the user's), on its batch of `(features, classes)`, and that objective
/// with θ₀'s ReLU pattern frozen.
fn import_classifier<M: Classifier + ModuleSnapshot>(
    template: M,
    renames: Vec<(String, String)>,
    (features, classes): (usize, usize),
    weights: &Path,
    import: &ImportArgs,
    device: &Device,
) -> Result<(M, Classification<M>, FrozenClassification<M>)> {
    let (model, report) = load_weights(template, weights, &import.options(renames))?;
    println!("weights: {}", report.summary());
    let objective = classifier_batch(import.data.as_deref(), features, classes, import, device)?;
    let frozen = objective.frozen_at(&model);
    Ok((model, objective, frozen))
}

/// The DnCNN in `weights` (trained elsewhere: `--arch dncnn --weights`) on `device`, with the
/// load report printed.
pub fn import_dncnn(weights: &Path, import: &ImportArgs, device: &Device) -> Result<DnCnn> {
    let cfg = DnCnnConfig::new();
    let (model, report) = load_weights(cfg.init(device)?, weights, &import.options(cfg.pytorch_sequential_renames()))?;
    println!("weights: {}", report.summary());
    Ok(model)
}

/// `loaded` with its batch replaced by the one in `data`.
fn with_data(loaded: Loaded, data: &Path, device: &Device) -> Result<Loaded> {
    let Loaded { problem, precond, manifest, origin } = loaded;
    match problem {
        Problem::Dncnn { model, objective, .. } => {
            let objective = match &objective.source {
                Some(src) if src == data => objective,
                _ => NoisyMnist::from_file(data, device)?,
            };
            println!(
                "data: {} ({} images, noise std {:.3} as measured)",
                data.display(),
                objective.config.n_images,
                objective.config.noise_std
            );
            let frozen = objective.frozen_at(&model);
            let origin = format!("{origin} on {}", data.display());
            Ok(Loaded { problem: Problem::Dncnn { model, objective, frozen }, precond, manifest, origin })
        }
        Problem::Mlp { model, objective, .. } => {
            let cfg = mlp_config_of(&model);
            let (objective, origin) = replace_batch(objective, data, cfg.sizes[0], cfg.classes(), origin, device)?;
            let frozen = objective.frozen_at(&model);
            Ok(Loaded { problem: Problem::Mlp { model, objective, frozen }, precond, manifest, origin })
        }
        Problem::Cnn { model, objective, .. } => {
            let cfg = cnn_config_of(&model);
            let (objective, origin) = replace_batch(objective, data, cfg.side * cfg.side, cfg.classes, origin, device)?;
            let frozen = objective.frozen_at(&model);
            Ok(Loaded { problem: Problem::Cnn { model, objective, frozen }, precond, manifest, origin })
        }
        Problem::Linear { .. } => {
            bail!("--data {}: the linear net's data are drawn from its seed, not read from a file", data.display())
        }
    }
}

/// A classifier's batch replaced by the one in `data` (the loss keeps its label smoothing).
fn replace_batch<M>(
    objective: Classification<M>,
    data: &Path,
    features: usize,
    classes: usize,
    origin: String,
    device: &Device,
) -> Result<(Classification<M>, String)> {
    let objective = match &objective.source {
        Some(src) if src == data => objective,
        _ => Classification::from_file(data, features, classes, device)?
            .with_label_smoothing(objective.label_smoothing)?,
    };
    println!("data: {} ({} labelled inputs)", data.display(), objective.len());
    Ok((objective, format!("{origin} on {}", data.display())))
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

fn field<T: serde::de::DeserializeOwned>(v: &serde_json::Value, what: &str, dir: &Path) -> Result<T> {
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

/// Calls `$body` with `$model`, `$objective` and `$curvature` bound for any problem.
#[macro_export]
macro_rules! with_problem {
    ($problem:expr, |$model:ident, $objective:ident, $curvature:ident| $body:expr) => {
        match $problem {
            $crate::problem::Problem::Dncnn { model: $model, objective: $objective, frozen: $curvature } => $body,
            $crate::problem::Problem::Mlp { model: $model, objective: $objective, frozen: $curvature } => $body,
            $crate::problem::Problem::Cnn { model: $model, objective: $objective, frozen: $curvature } => $body,
            $crate::problem::Problem::Linear { model: $model, objective: $objective } => {
                let $curvature = $objective;
                $body
            }
        }
    };
}
