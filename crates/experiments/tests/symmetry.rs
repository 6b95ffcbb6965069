//! The scale symmetry on the real models: the projected DnCNN run keeps its eight BatchNorm-fed
//! channels on their spheres, a model without groups runs bitwise the same whatever the choice,
//! and the pre-run drift prediction against the drift the committed paper-scale run measured.

use crate::common::*;
use hessrank_core::ParamLayout;
use hessrank_core::params::flatten_f64;
use hessrank_experiments::Quiet;
use hessrank_experiments::estimate::{EstimateSpec, PrecondChoice, estimate};
use hessrank_experiments::registry::{self, ProblemSpec};
use hessrank_rank::langevin::{LangevinRun, LangevinState, Warning};
use hessrank_rank::symmetry::{find_scale_groups, predicted_norm_growth};
use hessrank_rank::{LangevinConfig, StepSize, Symmetry};
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn spec(k_tot: usize, symmetry: Option<Symmetry>) -> EstimateSpec {
    let langevin = LangevinConfig::new().with_k_tot(k_tot).with_k_avg(k_tot / 2).with_seed(3);
    EstimateSpec {
        sigma2: vec![langevin.sigma2],
        langevin,
        precond: PrecondChoice::Default,
        params: Vec::new(),
        validate: false,
        checkpoint_every: 50,
        resume: false,
        symmetry,
    }
}

/// The DnCNN through `estimate` (the main job's checkpoint, f64, 300 iterations): by default its
/// 8 groups are found and projected, and every chain's channel norms equal θ₀'s to 1e-12 at the
/// end; with `--symmetry off` they have moved.
#[test]
fn the_projected_dncnn_keeps_every_channel_norm() {
    let device = f64_device();
    let problem = ProblemSpec::checkpoint(repo().join("models/dncnn-mnist")).load(&device).unwrap();
    let (model, _, _) = registry::load_dncnn(&repo().join("models/dncnn-mnist"), &device).unwrap();
    let theta0 = flatten_f64(&model);
    let groups = model.scale_invariant_groups();
    assert_eq!(groups.len(), 8);
    let norm = |x: &[f64], range: &std::ops::Range<usize>| x[range.clone()].iter().map(|v| v * v).sum::<f64>().sqrt();
    for (symmetry, kept) in [(None, true), (Some(Symmetry::Off), false)] {
        let root = std::env::temp_dir().join(format!("hessrank-symmetry-{}-{symmetry:?}", std::process::id()));
        let store = hessrank_experiments::store::RunStore::create(&root, "estimate").unwrap();
        let report = estimate(&spec(300, symmetry), &problem, Some(&store), &mut Quiet).unwrap();
        let config = &report.estimate.config;
        assert_eq!(config.scale_groups.len(), 8, "the groups are reported with the run's settings");
        assert_eq!(config.symmetry, symmetry.unwrap_or(Symmetry::Project));
        let state: LangevinState = hessrank_core::atomic::read_json(&store.path.join("langevin-state.json")).unwrap();
        let mut worst = 0.0f64;
        for chain in state.chain_params() {
            for (_, range) in &groups {
                worst = worst.max((norm(chain, range) / norm(&theta0, range) - 1.0).abs());
            }
        }
        println!("symmetry {symmetry:?}: largest relative change of a channel norm {worst:.3e}");
        std::fs::remove_dir_all(&root).ok();
        if kept {
            assert!(worst <= 1e-12, "{worst}");
        } else {
            assert!(worst > 1e-4, "the plain dynamics move the norms: {worst}");
        }
    }
}

/// A model without groups (the MLP classifier) runs bitwise the same with `--symmetry project`
/// and `off`.
#[test]
fn a_model_without_groups_runs_bitwise_the_same_either_way() {
    let device = f64_device();
    let problem = ProblemSpec::checkpoint(repo().join("models/mlp-mnist")).load(&device).unwrap();
    let on = estimate(&spec(60, Some(Symmetry::Project)), &problem, None, &mut Quiet).unwrap().estimate;
    let off = estimate(&spec(60, Some(Symmetry::Off)), &problem, None, &mut Quiet).unwrap().estimate;
    assert!(on.config.scale_groups.is_empty());
    assert_eq!(on.uncertainty.estimate.to_bits(), off.uncertainty.estimate.to_bits());
    let bits = |r: &hessrank_rank::RankEstimate| r.chain.iter().map(|c| c.estimate.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&on), bits(&off));
}

/// The pre-run prediction E‖w_K‖² = ‖w₀‖² + Kησ²ΣG against the committed paper-scale run
/// (`docs/dncnn-paper.json`: N = 256, K = 30,000, η = 1.5603, σ² = 1e-5, Adam's G, no projection),
/// channel by channel: within 30 % of the mean over its 4 chains of ‖w_K‖²/‖w₀‖² (5.2 to 50;
/// Adam's G varies on each channel, so the drift's radial part moves the norm too).
/// A plain run of that length is warned before it starts, naming `--symmetry project`.
#[test]
fn the_drift_prediction_bounds_the_paper_runs_measured_drift() {
    let device = f64_device();
    let dir = repo().join("models/dncnn-mnist-256");
    let (model, precond, manifest) = registry::load_dncnn(&dir, &device).unwrap();
    let registry::ModelKind::Dncnn { data, .. } = &manifest.model else { panic!("a DnCNN checkpoint") };
    let objective =
        hessrank_models::NoisyMnist::new(&hessrank_models::Mnist::bundled().unwrap(), &data.noise, &device).unwrap();
    let layout = ParamLayout::of(&model);
    let paper: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("docs/dncnn-paper.json")).unwrap()).unwrap();
    let eta = paper["estimate"]["eta"].as_f64().unwrap();
    let groups = find_scale_groups(&objective, &model).unwrap();
    assert_eq!(groups.len(), 8);
    let predicted = predicted_norm_growth(&groups, &layout, &precond.dynamics_flat(), eta, 1e-5, 30_000).unwrap();
    for (channel, (name, ratio)) in paper["scale_drift"]["channels"].as_array().unwrap().iter().zip(&predicted) {
        assert_eq!(channel["group"].as_str().unwrap(), name);
        let ratios: Vec<f64> = channel["ratios"].as_array().unwrap().iter().map(|r| r.as_f64().unwrap()).collect();
        let measured = ratios.iter().map(|r| r * r).sum::<f64>() / ratios.len() as f64;
        println!("{name}: measured ‖w_K‖²/‖w₀‖² {measured:.2} (chains ×{ratios:.2?}), predicted {:.2}", ratio * ratio);
        let p = ratio * ratio;
        assert!((p / measured - 1.0).abs() <= 0.3, "{name}: {measured} vs {p}");
    }
    // The warning, raised at setup (no step is taken).
    let config = LangevinConfig::new()
        .with_step(StepSize::Fixed(eta))
        .with_check_step(false)
        .with_k_tot(30_000)
        .with_k_avg(10_000)
        .with_scale_groups(groups)
        .with_symmetry(Symmetry::Off);
    let run = LangevinRun::new(&config, &objective, &model, &precond).unwrap();
    let warning = run.warnings().iter().find(|w| matches!(w, Warning::ScaleDriftAhead { .. })).expect("warned");
    println!("{warning}");
    assert!(warning.to_string().contains("--symmetry project"));
}

/// ONNX graphs get the same treatment: the DnCNN exported in training mode (untrained PyTorch
/// weights, whose small channel variances make BatchNorm's ε break the symmetry most: cosines up
/// to 4.3e-5) has the native model's 8 groups, the output channels of the convolution before its
/// BatchNorm under the file's initializer name, and a projected run keeps them on their spheres to
/// 1e-12; the graph with BatchNorm in inference mode (a fixed affine map, no symmetry) has none.
#[test]
fn onnx_graphs_with_training_mode_batchnorm_are_projected_too() {
    use hessrank_experiments::registry::{ModelSource, OnnxLoss, OnnxSpec};
    let fixture = |name: &str| repo().join("crates/onnx/tests/fixtures").join(name);
    let load = |name: &str, loss: OnnxLoss| {
        let f = fixture(name);
        let spec = OnnxSpec { model: f.join("model.onnx"), data: f.join("data.safetensors"), loss };
        ProblemSpec { source: ModelSource::Onnx(spec), data: None, label_smoothing: None }.load(&f64_device()).unwrap()
    };
    let dncnn = load("dncnn", OnnxLoss::Mse);
    let groups = dncnn.ops().scale_groups().unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g.group.as_str()).collect();
    println!("ONNX DnCNN groups: {names:?}");
    assert_eq!(groups.len(), 8, "{names:?}");
    // The graph is PyTorch's nn.Sequential: the convolution before the BatchNorm is module 2.
    let want: Vec<String> = (0..8).map(|c| format!("2.weight[{c}]")).collect();
    assert_eq!(names, want);
    let root = std::env::temp_dir().join(format!("hessrank-symmetry-onnx-{}", std::process::id()));
    let store = hessrank_experiments::store::RunStore::create(&root, "estimate").unwrap();
    let report = estimate(&spec(100, None), &dncnn, Some(&store), &mut Quiet).unwrap();
    assert_eq!(report.estimate.config.scale_groups.len(), 8);
    let state: LangevinState = hessrank_core::atomic::read_json(&store.path.join("langevin-state.json")).unwrap();
    let layout = dncnn.layout();
    let mut worst = 0.0f64;
    for chain in state.chain_params() {
        for g in &groups {
            let norm = g.indices(&layout).unwrap().iter().map(|&i| chain[i] * chain[i]).sum::<f64>().sqrt();
            worst = worst.max((norm / g.norm - 1.0).abs());
        }
    }
    std::fs::remove_dir_all(&root).ok();
    assert!(worst <= 1e-12, "{worst}");
    let inference = load("cnn_batchnorm_inference", OnnxLoss::CrossEntropy { label_smoothing: 0.0 });
    assert!(inference.ops().scale_groups().unwrap().is_empty());
}
