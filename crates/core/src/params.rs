//! Per-parameter tensor maps: the layout of a module's trainable parameters, tensors in that layout
//! (gradients, preconditioners, noise), the update-as-[`ModuleMapper`] pattern, and a flat host
//! `Vec<f64>` view for ground truths.
//!
//! Parameters are identified by their **path** (`"layers.1.weight"`) and visit order, never by
//! `ParamId`: a module reloaded from disk gets fresh ids. A parameter is *trainable* when it requires
//! a gradient on an autodiff device; BatchNorm running statistics are visited by Burn but are not
//! parameters of the loss, and are skipped.

pub use crate::host_params::{HostParam, HostParams};
use crate::{Error, Result};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Gradients;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// One trainable parameter: its path in the module and its shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamSpec {
    /// Dotted module path, e.g. `"mid.0.conv.weight"`.
    pub path: String,
    /// Shape of the parameter tensor.
    pub shape: Vec<usize>,
}

impl ParamSpec {
    /// Number of scalars in the parameter.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// The trainable parameters of a module, in Burn's visit order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamLayout {
    /// One entry per trainable parameter.
    pub specs: Vec<ParamSpec>,
}

impl ParamLayout {
    /// The layout of `model`'s trainable parameters (the model must be on an autodiff device).
    pub fn of<M: Module>(model: &M) -> Self {
        let mut v = LayoutVisitor { path: PathStack::default(), specs: Vec::new() };
        model.visit(&mut v);
        Self { specs: v.specs }
    }

    /// Total number of trainable scalars.
    pub fn numel(&self) -> usize {
        self.specs.iter().map(ParamSpec::numel).sum()
    }

    /// Which parameters the path globs select (`*` any run of characters, dots included; `?` one
    /// character; e.g. `mid.*`, `first.weight`), in layout order. A glob that matches nothing is an
    /// error naming it and the paths there are.
    pub fn select(&self, globs: &[String]) -> Result<Vec<bool>> {
        let mut keep = vec![false; self.specs.len()];
        for glob in globs {
            let pattern = format!("^{}$", regex::escape(glob).replace(r"\*", ".*").replace(r"\?", "."));
            let re = regex::Regex::new(&pattern).map_err(|e| Error::config("params", glob, e.to_string()))?;
            let mut any = false;
            for (k, spec) in keep.iter_mut().zip(&self.specs) {
                if re.is_match(&spec.path) {
                    *k = true;
                    any = true;
                }
            }
            if !any {
                let paths: Vec<&str> = self.specs.iter().map(|s| s.path.as_str()).collect();
                return Err(Error::config(
                    "params",
                    glob,
                    format!("a glob over the parameter paths: {}", paths.join(", ")),
                ));
            }
        }
        Ok(keep)
    }

    /// The layers, in order of first appearance, each with the glob that selects it: a top-level
    /// module (`first.*` for `first.weight`), or one element of a top-level list of modules
    /// (`layers.1.*` for `layers.1.weight`, `mid.0.*` for `mid.0.conv.weight`), so that a
    /// network built as a `Vec` of layers is split layer by layer rather than read as one block.
    pub fn layer_blocks(&self) -> Vec<(String, String)> {
        let mut blocks: Vec<(String, String)> = Vec::new();
        for spec in &self.specs {
            let parts: Vec<&str> = spec.path.split('.').collect();
            let indexed = parts.len() > 2 && parts[1].parse::<usize>().is_ok();
            let name = if indexed { format!("{}.{}", parts[0], parts[1]) } else { parts[0].to_string() };
            let glob = if name == spec.path { name.clone() } else { format!("{name}.*") };
            if !blocks.iter().any(|(n, _)| *n == name) {
                blocks.push((name, glob));
            }
        }
        blocks
    }

    /// The layers of a flat parameter list named like PyTorch's state_dict (an ONNX graph's
    /// initializers): each parameter's path up to its last dot is its layer (`layer1.0.conv1` for
    /// `layer1.0.conv1.weight`), in order of first appearance, each with the exact paths it holds
    /// (so a layer never takes the parameters of a deeper one: `fc.sub.weight` is not `fc`'s).
    pub fn prefix_layers(&self) -> Vec<(String, Vec<String>)> {
        let mut layers: Vec<(String, Vec<String>)> = Vec::new();
        for spec in &self.specs {
            let name = spec.path.rsplit_once('.').map_or(spec.path.as_str(), |(prefix, _)| prefix).to_string();
            match layers.iter_mut().find(|(n, _)| *n == name) {
                Some((_, paths)) => paths.push(spec.path.clone()),
                None => layers.push((name, vec![spec.path.clone()])),
            }
        }
        layers
    }

    /// Checks that `other` has the same paths and shapes, naming the first difference.
    pub fn check_same(&self, other: &ParamLayout, what: &str) -> Result<()> {
        if self == other {
            return Ok(());
        }
        let describe =
            |l: &ParamLayout| l.specs.iter().map(|s| format!("{}{:?}", s.path, s.shape)).collect::<Vec<_>>().join(", ");
        Err(Error::Shape { what: what.into(), expected: describe(self), found: describe(other) })
    }
}

/// The module path, tracked through `enter_module`/`exit_module`.
#[derive(Default)]
struct PathStack(Vec<String>);

impl PathStack {
    fn enter(&mut self, name: &str) {
        self.0.push(name.to_string());
    }
    fn exit(&mut self) {
        self.0.pop();
    }
    fn leaf(&self) -> String {
        self.0.join(".")
    }
}

struct LayoutVisitor {
    path: PathStack,
    specs: Vec<ParamSpec>,
}

impl ModuleVisitor for LayoutVisitor {
    fn enter_module(&mut self, name: &str, _container: &str) {
        self.path.enter(name);
    }
    fn exit_module(&mut self, _name: &str, _container: &str) {
        self.path.exit();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if param.is_require_grad() {
            self.specs.push(ParamSpec { path: self.path.leaf(), shape: param.shape().dims::<D>().to_vec() });
        }
    }
}

/// One flattened (rank-1) tensor per trainable parameter, in layout order.
///
/// The tensors live on a plain (non-autodiff) device: they are data, not graph nodes.
#[derive(Debug, Clone)]
pub struct ParamTensors {
    /// Flattened tensors, one per parameter.
    pub tensors: Vec<Tensor<1>>,
}

impl ParamTensors {
    /// A tensor per parameter filled with `value`.
    pub fn full(layout: &ParamLayout, value: f64, device: &Device) -> Self {
        let tensors = layout.specs.iter().map(|s| Tensor::full([s.numel()], value, device)).collect();
        Self { tensors }
    }

    /// Tensors from host values (one `Vec` per parameter, layout order), checking sizes.
    pub fn from_host(layout: &ParamLayout, values: &[Vec<f64>], device: &Device) -> Result<Self> {
        if values.len() != layout.specs.len() {
            return Err(Error::Shape {
                what: "per-parameter values".into(),
                expected: format!("{} parameters", layout.specs.len()),
                found: format!("{}", values.len()),
            });
        }
        let mut tensors = Vec::with_capacity(values.len());
        for (spec, v) in layout.specs.iter().zip(values) {
            if v.len() != spec.numel() {
                return Err(Error::Shape {
                    what: format!("parameter {}", spec.path),
                    expected: format!("{:?} = {} values", spec.shape, spec.numel()),
                    found: format!("{} values", v.len()),
                });
            }
            tensors.push(Tensor::from_data(TensorData::new(v.clone(), [v.len()]), device));
        }
        Ok(Self { tensors })
    }

    /// Tensors from one flat host vector in layout order.
    pub fn from_flat(layout: &ParamLayout, flat: &[f64], device: &Device) -> Result<Self> {
        if flat.len() != layout.numel() {
            return Err(Error::Shape {
                what: "flat parameter vector".into(),
                expected: format!("{} values", layout.numel()),
                found: format!("{}", flat.len()),
            });
        }
        let mut at = 0;
        let parts: Vec<Vec<f64>> = layout
            .specs
            .iter()
            .map(|s| {
                let p = flat[at..at + s.numel()].to_vec();
                at += s.numel();
                p
            })
            .collect();
        Self::from_host(layout, &parts, device)
    }

    /// The values on the host, one `Vec` per parameter.
    pub fn to_host(&self) -> Vec<Vec<f64>> {
        self.tensors.iter().map(|t| t.to_data().iter::<f64>().collect()).collect()
    }

    /// The values on the host as one flat vector in layout order.
    pub fn to_flat(&self) -> Vec<f64> {
        self.to_host().into_iter().flatten().collect()
    }

    /// Applies `f` to every tensor.
    pub fn map(&self, mut f: impl FnMut(Tensor<1>) -> Tensor<1>) -> Self {
        Self { tensors: self.tensors.iter().cloned().map(&mut f).collect() }
    }

    /// Combines two maps tensor by tensor.
    pub fn zip(&self, other: &Self, mut f: impl FnMut(Tensor<1>, Tensor<1>) -> Tensor<1>) -> Self {
        let tensors = self.tensors.iter().zip(&other.tensors).map(|(a, b)| f(a.clone(), b.clone())).collect();
        Self { tensors }
    }

    /// Σ over all parameters of the squared entries (summed on the device, one host read).
    pub fn sq_norm(&self) -> f64 {
        let total = self.tensors.iter().map(|t| t.clone().powi_scalar(2).sum()).reduce(|a, b| a.add(b));
        total.map(|t| t.into_data().iter::<f64>().sum::<f64>()).unwrap_or(0.0)
    }
}

/// Gradients of every trainable parameter of `model` from a backward pass, in layout order
/// (zeros for a trainable parameter the loss does not touch).
pub fn gradients_of<M: Module>(model: &M, grads: &Gradients) -> ParamTensors {
    struct GradVisitor<'a> {
        grads: &'a Gradients,
        out: Vec<Tensor<1>>,
    }
    impl ModuleVisitor for GradVisitor<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if !param.is_require_grad() {
                return;
            }
            let n = param.shape().num_elements();
            let g = match param.val().grad(self.grads) {
                Some(g) => g.reshape([n]),
                None => Tensor::zeros([n], &param.val().inner().device()),
            };
            self.out.push(g);
        }
    }
    let mut v = GradVisitor { grads, out: Vec::new() };
    model.visit(&mut v);
    ParamTensors { tensors: v.out }
}

/// Rewrites every trainable parameter: `f(index, flat_value)` returns the new flattened value.
///
/// This is the update-as-[`ModuleMapper`] pattern: the value leaves the autodiff graph
/// (`inner`), is computed on the plain device, and re-enters as a fresh leaf that requires a gradient
/// (without `require_grad` the next backward would silently return no gradient for it). `ParamId`s
/// are kept. BatchNorm running statistics are left untouched.
pub fn map_trainable<M: Module>(model: M, f: impl FnMut(usize, Tensor<1>) -> Tensor<1>) -> M {
    struct Mapper<F> {
        f: F,
        index: usize,
    }
    impl<F: FnMut(usize, Tensor<1>) -> Tensor<1>> ModuleMapper for Mapper<F> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            if !param.is_require_grad() {
                return param;
            }
            let index = self.index;
            self.index += 1;
            let f = &mut self.f;
            param.map(|t| {
                let dims = t.shape().dims::<D>();
                let n: usize = dims.iter().product();
                let new = f(index, t.inner().reshape([n])).reshape(dims);
                Tensor::from_inner(new).require_grad()
            })
        }
    }
    model.map(&mut Mapper { f, index: 0 })
}

/// The trainable parameters of `model` as plain (non-autodiff) flattened tensors, layout order.
pub fn params_of<M: Module>(model: &M) -> ParamTensors {
    struct V(Vec<Tensor<1>>);
    impl ModuleVisitor for V {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if param.is_require_grad() {
                let n = param.shape().num_elements();
                self.0.push(param.val().inner().reshape([n]));
            }
        }
    }
    let mut v = V(Vec::new());
    model.visit(&mut v);
    ParamTensors { tensors: v.0 }
}

/// Replaces the trainable parameters of `model` with `values` (layout order, flattened).
pub fn set_params<M: Module>(model: M, values: &ParamTensors) -> Result<M> {
    let layout = ParamLayout::of(&model);
    if values.tensors.len() != layout.specs.len() {
        return Err(Error::Shape {
            what: "parameter tensors".into(),
            expected: format!("{} parameters", layout.specs.len()),
            found: format!("{}", values.tensors.len()),
        });
    }
    for (spec, t) in layout.specs.iter().zip(&values.tensors) {
        if t.shape().num_elements() != spec.numel() {
            return Err(Error::Shape {
                what: format!("parameter {}", spec.path),
                expected: format!("{} values", spec.numel()),
                found: format!("{}", t.shape().num_elements()),
            });
        }
    }
    Ok(map_trainable(model, |i, _| values.tensors[i].clone()))
}

/// The trainable parameters of `model` as one host vector of `f64`, in layout order.
pub fn flatten_f64<M: Module>(model: &M) -> Vec<f64> {
    params_of(model).to_flat()
}

/// A copy of `model` whose trainable parameters are `flat` (layout order). The values are cast to
/// the device's dtype.
pub fn unflatten_f64<M: Module>(model: M, flat: &[f64]) -> Result<M> {
    let layout = ParamLayout::of(&model);
    let Some(device) = params_of(&model).tensors.first().map(|t| t.device()) else {
        return Err(Error::config("model", "no trainable parameters", "a model on an autodiff device"));
    };
    let values = ParamTensors::from_flat(&layout, flat, &device)?;
    set_params(model, &values)
}
