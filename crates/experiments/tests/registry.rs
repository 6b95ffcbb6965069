//! The model registry: manifests parse into typed kinds (the ones committed under `models/`
//! included), bad manifests are refused naming the file and the field, and a checkpoint rebuilds
//! the problem training left.

use crate::common::*;
use hessrank_core::{Error, value_and_grad};
use hessrank_experiments::registry::{self, ModelKind, ProblemSpec};
use std::path::{Path, PathBuf};

fn repo_models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hessrank-registry-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Every checkpoint committed so far (written before the registry was typed) parses into its kind
/// with the configuration and data it was trained with.
#[test]
fn committed_manifests_load_as_typed_kinds() {
    let m = registry::manifest(&repo_models().join("dncnn-mnist")).unwrap();
    let ModelKind::Dncnn { model_config, data } = &m.model else { panic!("{:?}", m.model) };
    assert_eq!((model_config.features, model_config.depth), (8, 3));
    assert_eq!((data.noise.n_images, data.noise.noise_std, data.mnist.clone()), (32, 1.0, None));
    let m = registry::manifest(&repo_models().join("mlp-mnist")).unwrap();
    let ModelKind::Mlp { model_config, data } = &m.model else { panic!("{:?}", m.model) };
    assert_eq!(model_config.sizes, vec![784, 4, 10]);
    assert_eq!((data.n_images, data.seed, data.label_smoothing), (256, 2, 0.1));
    let m = registry::manifest(&repo_models().join("cnn-mnist")).unwrap();
    assert!(matches!(&m.model, ModelKind::Cnn { model_config, .. } if model_config.channels == vec![4, 8]));
}

/// The manifest of `dir` with `edit` applied to its JSON.
fn edited(name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let dir = scratch(name);
    let src = repo_models().join("mlp-mnist/manifest.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(src).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(dir.join("manifest.json"), serde_json::to_vec(&v).unwrap()).unwrap();
    dir
}

/// An unknown kind, a missing field and a mistyped field are each one line naming manifest.json
/// and what is wrong.
#[test]
fn bad_manifests_name_the_file_and_the_field() {
    type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;
    let cases: [(&str, Edit, &str); 4] = [
        ("unknown", Box::new(|v| v["model_kind"] = "resnet".into()), "unknown variant `resnet`"),
        ("no-kind", Box::new(|v| drop(v.as_object_mut().unwrap().remove("model_kind"))), "missing field `model_kind`"),
        (
            "no-images",
            Box::new(|v| drop(v["data"].as_object_mut().unwrap().remove("n_images"))),
            "missing field `n_images`",
        ),
        ("typed", Box::new(|v| v["data"]["seed"] = "two".into()), "invalid type"),
    ];
    for (name, edit, what) in cases {
        let dir = edited(name, edit);
        let err = registry::manifest(&dir).expect_err(name);
        let text = err.to_string();
        assert!(matches!(&err, Error::Json { path, .. } if path.ends_with("manifest.json")), "{name}: {text}");
        assert!(text.contains(what) && !text.contains('\n'), "{name}: {text}");
        let Err(err) = ProblemSpec::checkpoint(&dir).load(&f64_device()) else { panic!("{name} loads") };
        assert!(err.to_string().contains(what), "{name}: {err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// The committed DnCNN checkpoint rebuilds θ₀ at the loss and gradient norm its manifest records,
/// with Adam's G and a frozen objective that agrees with the real one at θ₀.
#[test]
fn a_checkpoint_rebuilds_the_trained_problem() {
    let dir = repo_models().join("dncnn-mnist");
    let device = f64_device();
    let problem = ProblemSpec::checkpoint(&dir).load(&device).unwrap();
    let manifest = registry::manifest(&dir).unwrap();
    assert!(problem.has_frozen() && problem.precond.is_some());
    assert_eq!(problem.layout().numel(), 753);
    let (model, _, _) = registry::load_dncnn(&dir, &device).unwrap();
    let ModelKind::Dncnn { data, .. } = &manifest.model else { panic!() };
    let objective =
        hessrank_models::NoisyMnist::new(&hessrank_models::Mnist::bundled().unwrap(), &data.noise, &device).unwrap();
    let vg = value_and_grad(&objective, &model);
    assert!(
        (vg.loss - manifest.final_loss).abs() <= 1e-12 * manifest.final_loss,
        "{} vs {}",
        vg.loss,
        manifest.final_loss
    );
    let g = vg.grads.sq_norm().sqrt();
    assert!(
        (g - manifest.final_grad_norm).abs() <= 1e-3 * manifest.final_grad_norm + 1e-12,
        "{g} vs {}",
        manifest.final_grad_norm
    );
    // The DnCNN's loss is a mean squared error: label smoothing is refused, naming the field.
    let err = registry::from_checkpoint(&dir, None, Some(0.1), &device).err().expect("the DnCNN has no smoothing");
    assert!(matches!(err, Error::InvalidConfig { field: "label_smoothing", .. }), "{err}");
}

/// A model kind the registry does not ship: a module of one vector parameter w with the loss
/// ½ Σ λ_i w_i², whose Hessian diag(λ) has rank 12 (8 of the 20 λ are zero).
#[derive(burn::module::Module, Debug)]
struct Toy {
    w: burn::module::Param<burn::tensor::Tensor<1>>,
}

/// The toy loss with its curvatures.
struct ToyLoss {
    lambda: burn::tensor::Tensor<1>,
}

impl hessrank_core::Objective for ToyLoss {
    type Model = Toy;

    fn loss(&self, model: &Toy) -> burn::tensor::Tensor<1> {
        let w = model.w.val();
        (w.clone() * w * self.lambda.clone()).sum().mul_scalar(0.5)
    }
}

/// A toy kind joins `estimate` through `Problem` alone (no command knows its type), and the
/// library's estimate matches the discrete theory on its exact spectrum within 3 SE.
#[test]
fn a_toy_model_kind_runs_estimate_through_the_registry_alone() {
    use burn::tensor::{Tensor, TensorData};
    use hessrank_experiments::Quiet;
    use hessrank_experiments::estimate::{EstimateSpec, PrecondChoice, estimate};
    use hessrank_experiments::registry::Problem;
    use hessrank_rank::theory::DiscreteTheory;
    use hessrank_rank::{LangevinConfig, StepSize};
    let device = f64_device();
    let lambda: Vec<f64> = (0..20).map(|i| if i < 12 { 0.5 + i as f64 * 0.25 } else { 0.0 }).collect();
    let w = Tensor::<1>::from_data(TensorData::new(vec![0.0f64; 20], [20]), &device).require_grad();
    let model = Toy { w: burn::module::Param::from_tensor(w) };
    let objective = ToyLoss { lambda: Tensor::from_data(TensorData::new(lambda.clone(), [20]), &device) };
    let problem = Problem::smooth(model, objective, "toy");
    assert_eq!((problem.layout().numel(), problem.has_frozen()), (20, false));
    let langevin = LangevinConfig::new().with_step(StepSize::Fixed(0.2)).with_k_tot(3000).with_k_avg(2000).with_seed(5);
    let spec = EstimateSpec {
        sigma2: vec![langevin.sigma2],
        langevin,
        precond: PrecondChoice::Default,
        params: Vec::new(),
        validate: false,
        checkpoint_every: 1,
        resume: false,
        symmetry: None,
    };
    let report = estimate(&spec, &problem, None, &mut Quiet).unwrap();
    let r = &report.estimate;
    let c = &spec.langevin;
    let theory = DiscreteTheory { mu: lambda.clone(), eta: 0.2, sigma2: c.sigma2, scheme: c.scheme }
        .expected_estimate(c.k_tot, c.k_avg);
    println!("toy: {r}; theory {theory:.3}");
    assert_eq!(report.precond, "identity");
    assert!(
        (r.uncertainty.estimate - theory).abs() <= 3.0 * r.uncertainty.stderr,
        "{} ± {} vs theory {theory}",
        r.uncertainty.estimate,
        r.uncertainty.stderr
    );
    assert!((theory - 12.0).abs() < 0.1, "the theory at this length counts the 12 modes: {theory}");
    // A block of the parameters is the rank of that block of H, through the same call.
    let err = estimate(&EstimateSpec { params: vec!["v".into()], ..spec.clone() }, &problem, None, &mut Quiet);
    assert!(matches!(err, Err(Error::InvalidConfig { field: "params", .. })), "a glob matching nothing is named");
}

/// Scale-invariant groups found numerically at θ₀: exactly the DnCNN's 8 BatchNorm-fed output
/// channels of `mid.0.conv.weight` (the groups the model declares, entry for entry), and none on
/// the MLP and CNN classifiers or on a deep linear net.
#[test]
fn detection_finds_exactly_the_dncnns_eight_groups_and_none_elsewhere() {
    use hessrank_rank::symmetry::find_scale_groups;
    let device = f64_device();
    let dir = repo_models().join("dncnn-mnist");
    let (model, _, manifest) = registry::load_dncnn(&dir, &device).unwrap();
    let ModelKind::Dncnn { data, .. } = &manifest.model else { panic!() };
    let objective =
        hessrank_models::NoisyMnist::new(&hessrank_models::Mnist::bundled().unwrap(), &data.noise, &device).unwrap();
    let found = find_scale_groups(&objective, &model).unwrap();
    let declared = model.scale_invariant_groups();
    let names: Vec<&str> = found.iter().map(|g| g.group.as_str()).collect();
    println!("DnCNN groups: {names:?}");
    assert_eq!(found.len(), 8, "{names:?}");
    for (g, (name, range)) in found.iter().zip(&declared) {
        assert_eq!(&g.group, name);
        assert_eq!(g.indices(&hessrank_core::ParamLayout::of(&model)).unwrap(), range.clone().collect::<Vec<_>>());
        assert!(g.norm > 0.0);
    }
    // Through the registry's Problem, as for any model: the same 8 on the DnCNN, none on the
    // classifiers (ReLU's rescaling symmetry moves two layers against each other, not one group).
    for (kind, want) in [("dncnn-mnist", 8), ("mlp-mnist", 0), ("cnn-mnist", 0)] {
        let problem = ProblemSpec::checkpoint(repo_models().join(kind)).load(&device).unwrap();
        let groups = problem.ops().scale_groups().unwrap();
        assert_eq!(groups.len(), want, "{kind}: {:?}", groups.iter().map(|g| &g.group).collect::<Vec<_>>());
    }
    let min = hessrank_models::GlobalMinimum::random(4, 3, 2).unwrap();
    let net = min.net(&device);
    let objective = hessrank_models::SampleObjective::regression(&min.t, 64, 2, &device);
    assert!(find_scale_groups(&objective, &net).unwrap().is_empty(), "the linear net has no scale symmetry");
}
