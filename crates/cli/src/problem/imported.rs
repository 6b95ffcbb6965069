//! Problems from an architecture with weights trained elsewhere (`--arch`, `--weights`), and a
//! problem's batch replaced by a file (`--data`).

use super::*;

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

/// θ₀ from a weights file of architecture `arch`, on the default MNIST batch until `--data` replaces it.
pub(super) fn load_imported(arch: &str, weights: &Path, import: &ImportArgs, device: &Device) -> Result<Loaded> {
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
    let (model, report) = hessrank_models::load_dncnn(weights, &import.options(Vec::new()), device)?;
    println!("weights: {}", report.summary());
    Ok(model)
}

/// `loaded` with its batch replaced by the one in `data`.
pub(super) fn with_data(loaded: Loaded, data: &Path, device: &Device) -> Result<Loaded> {
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
