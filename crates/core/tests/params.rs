//! Parameter maps, flatten/unflatten, the update mapper and the preconditioner, on a small module
//! with a BatchNorm (whose running statistics must not count as parameters).
// Device::ndarray() is deprecated in Burn 0.22 in favour of flex; the tests keep it as the reference CPU backend.
#![allow(deprecated)]

use burn::module::{Module, Param};
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::tensor::{Device, FloatDType, Tensor, TensorData};
use hessrank_core::device::with_float_dtype;
use hessrank_core::params::{HostParams, flatten_f64, map_trainable, unflatten_f64};
use hessrank_core::{DiagPreconditioner, Error, Objective, ParamLayout, ParamTensors, value_and_grad};

#[derive(Module, Debug)]
struct Tiny {
    w: Param<Tensor<2>>,
    b: Param<Tensor<1>>,
    bn: BatchNorm,
}

fn device() -> Device {
    with_float_dtype(Device::ndarray(), FloatDType::F64).unwrap().autodiff()
}

fn tiny(device: &Device) -> Tiny {
    let w = Tensor::from_data(TensorData::new(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3]), device);
    let b = Tensor::from_data(TensorData::new(vec![0.5, -0.5], [2]), device);
    Tiny { w: Param::from_tensor(w), b: Param::from_tensor(b), bn: BatchNormConfig::new(2).init(device) }
}

/// L = Σ_ij (x W^T + b)_ij² / 2 with BatchNorm-free output plus Σ γ² (so γ has a gradient, β not).
struct Quad {
    x: Tensor<2>,
}

impl Objective for Quad {
    type Model = Tiny;
    fn loss(&self, m: &Tiny) -> Tensor<1> {
        let y = self.x.clone().matmul(m.w.val().transpose()).add(m.b.val().unsqueeze_dim(0));
        y.powi_scalar(2).sum().div_scalar(2.0).add(m.bn.gamma.val().powi_scalar(2).sum())
    }
}

#[test]
fn layout_skips_running_statistics_and_names_paths() {
    let d = device();
    let m = tiny(&d);
    let layout = ParamLayout::of(&m);
    let paths: Vec<&str> = layout.specs.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, ["w", "b", "bn.gamma", "bn.beta"]);
    assert_eq!(layout.numel(), 6 + 2 + 2 + 2);
    assert_eq!(m.num_params(), 12 + 4, "Burn also counts running mean and variance");
}

#[test]
fn flatten_unflatten_round_trip_is_bit_exact_and_checks_length() {
    let d = device();
    let m = tiny(&d);
    let flat = flatten_f64(&m);
    assert_eq!(flat, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 0.5, -0.5, 1.0, 1.0, 0.0, 0.0]);
    let shifted: Vec<f64> = flat.iter().map(|x| x + 0.25).collect();
    let m2 = unflatten_f64(m.clone(), &shifted).unwrap();
    assert_eq!(flatten_f64(&m2), shifted);
    let err = unflatten_f64(m, &flat[..5]).unwrap_err();
    assert!(matches!(&err, Error::Shape { expected, found, .. } if expected == "12 values" && found == "5"), "{err}");
}

#[test]
fn gradients_match_the_closed_form_and_survive_the_update_mapper() {
    let d = device();
    let x = Tensor::from_data(TensorData::new(vec![1.0, 0.0, -1.0, 2.0, 1.0, 0.0], [2, 3]), &d);
    let obj = Quad { x: x.clone() };
    let m = tiny(&d);
    let check = |m: &Tiny| {
        let vg = value_and_grad(&obj, m);
        // dL/dW = Yᵀ X, dL/db = Σ_rows Y, dL/dγ = 2γ, dL/dβ = 0 with Y = X Wᵀ + b.
        let flat = flatten_f64(m);
        let (w, b) = (&flat[0..6], &flat[6..8]);
        let xs = [[1.0, 0.0, -1.0], [2.0, 1.0, 0.0]];
        let y: Vec<[f64; 2]> =
            xs.iter().map(|r| [0, 1].map(|o| (0..3).map(|k| r[k] * w[o * 3 + k]).sum::<f64>() + b[o])).collect();
        let mut expected = vec![0.0; 12];
        for o in 0..2 {
            for k in 0..3 {
                expected[o * 3 + k] = y.iter().zip(&xs).map(|(yr, xr)| yr[o] * xr[k]).sum();
            }
            expected[6 + o] = y.iter().map(|yr| yr[o]).sum();
            expected[8 + o] = 2.0 * flat[8 + o];
        }
        let got = vg.grads.to_flat();
        for (g, e) in got.iter().zip(&expected) {
            assert!((g - e).abs() < 1e-12, "{got:?} vs {expected:?}");
        }
    };
    check(&m);
    // One gradient step through the mapper; the next backward must still see every parameter.
    let vg = value_and_grad(&obj, &m);
    let stepped = map_trainable(m, |i, t| t.sub(vg.grads.tensors[i].clone().mul_scalar(0.01)));
    check(&stepped);
}

#[test]
fn preconditioner_round_trips_by_path_and_rejects_bad_entries() {
    let d = device();
    let m = tiny(&d);
    let layout = ParamLayout::of(&m);
    let plain = Device::ndarray();
    let values: Vec<Vec<f64>> =
        layout.specs.iter().map(|s| (1..=s.numel()).map(|i| i as f64 * 0.5).collect()).collect();
    let g = DiagPreconditioner::new(&layout, ParamTensors::from_host(&layout, &values, &plain).unwrap()).unwrap();
    let sqrt = g.sqrt_g().to_flat();
    assert!(g.to_flat().iter().zip(&sqrt).all(|(a, s)| (s * s - a).abs() < 1e-12));

    let dir = std::env::temp_dir().join(format!("hessrank-precond-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("g.json");
    g.save(&path).unwrap();
    let back = DiagPreconditioner::load(&path, &layout, &plain).unwrap();
    assert_eq!(back.to_flat(), g.to_flat());

    for bad in [0.0, -1.0, f64::NAN] {
        let mut v = values.clone();
        v[1][1] = bad;
        let err = DiagPreconditioner::new(&layout, ParamTensors::from_host(&layout, &v, &plain).unwrap()).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidConfig { field: "preconditioner", value, .. } if value.ends_with("at b[1]")),
            "{err}"
        );
    }
    // A file for another architecture names the parameter it lacks.
    let mut host: HostParams = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    host.entries[0].path = "conv.weight".into();
    std::fs::write(&path, serde_json::to_vec(&host).unwrap()).unwrap();
    let err = DiagPreconditioner::load(&path, &layout, &plain).unwrap_err();
    assert!(
        matches!(&err, Error::Format { path: p, problem } if p.ends_with("g.json") && problem.starts_with("no values for parameter w ")),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A block restricts the dynamics by a mask: G keeps every entry positive (its invariant), and the
/// operator the dynamics use, M G M, is G on the selected parameters and 0 on the rest.
#[test]
fn a_block_masks_the_dynamics_and_leaves_g_positive() {
    let d = device();
    let layout = ParamLayout::of(&tiny(&d));
    let plain = Device::ndarray();
    let values: Vec<Vec<f64>> =
        layout.specs.iter().map(|s| (1..=s.numel()).map(|i| i as f64 * 0.25).collect()).collect();
    let g = DiagPreconditioner::new(&layout, ParamTensors::from_host(&layout, &values, &plain).unwrap()).unwrap();
    let keep: Vec<bool> = (0..layout.specs.len()).map(|i| i % 2 == 0).collect();
    let block = g.restricted(&keep).unwrap();
    assert_eq!(block.to_flat(), g.to_flat(), "G is untouched");
    assert!(block.to_flat().iter().all(|v| *v > 0.0));
    assert_eq!(block.moving(), Some(keep.as_slice()));
    let want: Vec<f64> =
        values.iter().zip(&keep).flat_map(|(v, k)| v.iter().map(move |x| if *k { *x } else { 0.0 })).collect();
    assert_eq!(block.dynamics_flat(), want);
    let sqrt: Vec<f64> = block.dynamics_sqrt_g().to_flat();
    assert!(sqrt.iter().zip(&want).all(|(s, w)| (s * s - w).abs() < 1e-12));
    // Without a block the dynamics use G itself; an empty block is refused.
    assert_eq!(g.dynamics_flat(), g.to_flat());
    let none = vec![false; keep.len()];
    assert!(matches!(g.restricted(&none), Err(Error::InvalidConfig { field: "params", .. })));
}

#[test]
fn layer_blocks_split_lists_of_modules_layer_by_layer() {
    let spec = |path: &str| hessrank_core::params::ParamSpec { path: path.into(), shape: vec![2] };
    let layout = ParamLayout {
        specs: [
            "first.weight",
            "first.bias",
            "mid.0.conv.weight",
            "mid.0.bn.gamma",
            "mid.1.conv.weight",
            "last.weight",
        ]
        .into_iter()
        .chain(["layers.0.weight", "layers.1.bias", "w", "bn.gamma", "convs.10.weight"])
        .map(spec)
        .collect(),
    };
    let blocks = layout.layer_blocks();
    let want = [
        ("first", "first.*"),
        ("mid.0", "mid.0.*"),
        ("mid.1", "mid.1.*"),
        ("last", "last.*"),
        ("layers.0", "layers.0.*"),
        ("layers.1", "layers.1.*"),
        ("w", "w"),
        ("bn", "bn.*"),
        ("convs.10", "convs.10.*"),
    ];
    assert_eq!(blocks, want.map(|(a, b)| (a.to_string(), b.to_string())));
    // Each glob selects exactly its own parameters.
    for (name, glob) in &blocks {
        let keep = layout.select(std::slice::from_ref(glob)).unwrap();
        for (s, k) in layout.specs.iter().zip(keep) {
            let own = s.path == *name || s.path.starts_with(&format!("{name}."));
            assert_eq!(k, own, "{glob} on {}", s.path);
        }
    }
}
