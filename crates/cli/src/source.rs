//! The flags that say which problem a command probes (`--model`, `--arch`, `--weights`, `--onnx`,
//! `--loss`, `--data`, `--rename`, `--allow-partial`, `--label-smoothing`), turned into the registry's spec; loading
//! is the library's (`hessrank_experiments::registry`), this file only parses and prints.

use anyhow::{Result, ensure};
use burn::tensor::Device;
use hessrank_experiments::registry::{Arch, ImportSpec, ModelSource, OnnxLoss, OnnxSpec, Problem, ProblemSpec};
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
    /// Any network exported to ONNX (`torch.onnx.export(model, x, FILE, dynamo=False,
    /// do_constant_folding=False)`): its float initializers are θ₀, named as in the file. Needs
    /// `--data` (one tensor per graph input by name, plus `targets`) and `--loss`; G = I.
    #[arg(long, conflicts_with_all = ["arch", "weights", "renames", "allow_partial"], requires_all = ["data", "loss"])]
    pub onnx: Option<PathBuf>,
    /// With --onnx, the loss of the graph's output: `mse` (PyTorch's F.mse_loss against
    /// `targets`), `cross-entropy` (F.cross_entropy of logits [N, C]; `targets` integer labels [N]
    /// or probabilities [N, C]) or `graph` (the graph's single output is the loss).
    #[arg(long, requires = "onnx", value_parser = parse_loss)]
    pub loss: Option<OnnxLoss>,
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
    /// The registry's spec: `--arch`/`--weights` if given, else the checkpoint in `dir`.
    pub fn spec(&self, dir: &Path) -> Result<ProblemSpec> {
        if let Some(model) = &self.onnx {
            let (Some(data), Some(loss)) = (&self.data, self.loss) else {
                anyhow::bail!("--onnx needs --data FILE.safetensors and --loss mse|cross-entropy|graph")
            };
            let source = ModelSource::Onnx(OnnxSpec { model: model.clone(), data: data.clone(), loss });
            return Ok(ProblemSpec { source, data: None, label_smoothing: self.label_smoothing });
        }
        let source = match (&self.arch, &self.weights) {
            (Some(arch), Some(weights)) => {
                let arch: Arch = arch.parse().map_err(|e| match e {
                    hessrank_core::Error::InvalidConfig { field: "arch", .. } => anyhow::anyhow!(
                        "unknown --arch {arch:?}: expected dncnn, mlp:WIDTHS (e.g. mlp:784-64-10) or cnn:CHANNELS (e.g. cnn:4-8)"
                    ),
                    other => anyhow::anyhow!("--arch {arch}: {}", crate::flags::describe(&other)),
                })?;
                ModelSource::Weights(ImportSpec {
                    arch,
                    weights: weights.clone(),
                    renames: self.renames.clone(),
                    allow_partial: self.allow_partial,
                })
            }
            _ => {
                ensure!(
                    self.renames.is_empty() && !self.allow_partial,
                    "--rename and --allow-partial apply to --weights"
                );
                ModelSource::Checkpoint(dir.to_path_buf())
            }
        };
        Ok(ProblemSpec { source, data: self.data.clone(), label_smoothing: self.label_smoothing })
    }
}

/// One `--loss`.
fn parse_loss(s: &str) -> Result<OnnxLoss, String> {
    s.parse()
}

/// One `--rename REGEX=REPLACEMENT`.
pub fn parse_rename(s: &str) -> Result<(String, String), String> {
    let (from, to) = s.split_once('=').ok_or_else(|| format!("invalid --rename {s:?}: expected REGEX=REPLACEMENT"))?;
    regex::Regex::new(from).map_err(|e| format!("invalid --rename {s:?}: {from:?} is not a regex ({e})"))?;
    Ok((from.to_string(), to.to_string()))
}

/// Loads the problem of `spec` on `device`, printing what loading decided.
pub fn load(spec: &ProblemSpec, device: &Device) -> Result<Problem<'static>> {
    let what = match &spec.source {
        ModelSource::Checkpoint(dir) => dir.display().to_string(),
        ModelSource::Weights(i) => format!("--weights {}", i.weights.display()),
        ModelSource::Onnx(o) => format!("--onnx {}", o.model.display()),
    };
    let problem = spec.load(device).map_err(|e| match e {
        hessrank_core::Error::InvalidConfig { field: "label_smoothing", value, expected } => {
            anyhow::anyhow!("--label-smoothing {value}: {expected}")
        }
        e => anyhow::Error::from(e).context(format!("loading {what}")),
    })?;
    for note in &problem.notes {
        println!("{note}");
    }
    Ok(problem)
}
