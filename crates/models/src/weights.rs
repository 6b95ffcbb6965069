//! Weights trained elsewhere: a PyTorch `state_dict` saved as safetensors or `.pt`, loaded into one
//! of hessrank's models by burn-store, with every missing, unused, mis-shaped or non-finite tensor
//! reported by its key.
//!
//! burn-store does the reading, the PyTorch-to-Burn conventions (BatchNorm's `weight`/`bias` are
//! Burn's `gamma`/`beta`) and the key remapping; this module adds the strictness a measurement
//! needs (nothing loads partially unless asked), the cast to the run's dtype, and a report.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::store::{
    ApplyError, ApplyResult, KeyRemapper, ModuleSnapshot, ModuleStore, PyTorchToBurnAdapter, PytorchStore,
    SafetensorsStore,
};
use burn::tensor::{DType, Tensor};
use hessrank_core::{Error, ParamLayout, Result, TensorProblem};
use regex::Regex;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// PyTorch buffers with no counterpart in a Burn module (BatchNorm's step counter): skipped and
/// listed in the report, never an error.
const IGNORED_SUFFIXES: &[&str] = &["num_batches_tracked"];

/// How a weights file maps onto the model.
#[derive(Debug, Clone, Default)]
pub struct WeightsOptions {
    /// Key renames `(regex, replacement)`, applied in order to every key of the file before it is
    /// matched to a module path (replacement syntax of the `regex` crate: `$1`, `${name}`).
    pub renames: Vec<(String, String)>,
    /// Load what matches and leave the rest of the model at its template values (otherwise any
    /// missing or unused tensor is an error).
    pub allow_partial: bool,
}

impl WeightsOptions {
    /// Adds renames after the ones already set.
    pub fn with_renames(mut self, renames: impl IntoIterator<Item = (String, String)>) -> Self {
        self.renames.extend(renames);
        self
    }
}

/// What a load did.
#[derive(Debug, Clone, Serialize)]
pub struct WeightsReport {
    /// The file read.
    pub file: PathBuf,
    /// The format, `safetensors` or `pytorch`.
    pub format: &'static str,
    /// Module paths that received a tensor.
    pub applied: Vec<String>,
    /// Module paths left at the template's values (only with `allow_partial`).
    pub missing: Vec<String>,
    /// File keys no module path took (only with `allow_partial`, besides the ignored ones).
    pub unused: Vec<String>,
    /// File keys skipped by design (PyTorch's `num_batches_tracked`).
    pub ignored: Vec<String>,
    /// The float dtypes found in the file, e.g. `["F64"]`.
    pub file_dtypes: Vec<String>,
    /// The dtype the weights were cast to (the device's).
    pub loaded_as: String,
}

impl WeightsReport {
    /// One line: what loaded, and any conversion or partial load.
    pub fn summary(&self) -> String {
        let mut s = format!("{}: {} tensors loaded ({})", self.file.display(), self.applied.len(), self.format);
        let converted: Vec<_> = self.file_dtypes.iter().filter(|d| **d != self.loaded_as).cloned().collect();
        if !converted.is_empty() {
            s += &format!(", converted {} → {}", converted.join("/"), self.loaded_as);
        }
        if !self.ignored.is_empty() {
            s += &format!(", {} skipped ({})", self.ignored.len(), IGNORED_SUFFIXES.join(", "));
        }
        if !self.missing.is_empty() || !self.unused.is_empty() {
            s += &format!(
                ", PARTIAL: {} left at their initial values, {} unused in the file",
                self.missing.len(),
                self.unused.len()
            );
        }
        s
    }
}

/// The two file formats burn-store reads.
enum Store {
    Safetensors(SafetensorsStore),
    Pytorch(PytorchStore),
}

impl Store {
    fn open(file: &Path) -> Result<(Self, &'static str)> {
        let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        match ext.as_str() {
            // Keys as the file has them: no renumbering of Sequential indices behind the renames' back.
            "safetensors" => {
                Ok((Store::Safetensors(SafetensorsStore::from_file(file).map_indices_contiguous(false)), "safetensors"))
            }
            "pt" | "pth" | "bin" => {
                Ok((Store::Pytorch(PytorchStore::from_file(file).map_indices_contiguous(false)), "pytorch"))
            }
            other => Err(Error::format(
                file,
                format!("unknown weights format {other:?}: expected .safetensors, or .pt/.pth (PyTorch)"),
            )),
        }
    }

    /// Renames, PyTorch's conventions (the `.pt` store always applies them), and a structured
    /// result instead of the store's own errors.
    fn configured(self, remapper: KeyRemapper) -> Self {
        match self {
            Store::Safetensors(s) => Store::Safetensors(
                s.remap(remapper).with_from_adapter(PyTorchToBurnAdapter).validate(false).allow_partial(true),
            ),
            Store::Pytorch(s) => Store::Pytorch(s.remap(remapper).validate(false).allow_partial(true)),
        }
    }

    /// Every tensor of the file (after renaming): key, shape, dtype.
    fn tensors(&mut self, file: &Path) -> Result<Vec<(String, Vec<usize>, DType)>> {
        let read = |e: String| Error::format(file, format!("cannot read the weights: {e}"));
        let all = match self {
            Store::Safetensors(s) => s.get_all_tensors().map_err(|e| read(e.to_string()))?,
            Store::Pytorch(s) => s.get_all_tensors().map_err(|e| read(e.to_string()))?,
        };
        Ok(all.values().map(|t| (t.name.clone(), t.shape.to_vec(), t.dtype)).collect())
    }

    fn apply<M: ModuleSnapshot>(&mut self, model: &mut M, file: &Path) -> Result<ApplyResult> {
        let read = |e: String| Error::format(file, format!("cannot load the weights: {e}"));
        match self {
            Store::Safetensors(s) => s.apply_to(model).map_err(|e| read(e.to_string())),
            Store::Pytorch(s) => s.apply_to(model).map_err(|e| read(e.to_string())),
        }
    }
}

/// The file's key for a renamed key, for messages that must name what the user can find in the file.
fn original_key(renamed: &str, keys: &[(String, String)]) -> String {
    keys.iter().find(|(new, _)| new == renamed).map(|(_, old)| old.clone()).unwrap_or_else(|| renamed.to_string())
}

/// Compiles the renames, naming a bad pattern.
fn remapper(renames: &[(String, String)]) -> Result<(KeyRemapper, Vec<(Regex, String)>)> {
    let mut compiled = Vec::new();
    for (pattern, replacement) in renames {
        let re =
            Regex::new(pattern).map_err(|e| Error::config("rename", pattern, format!("a regular expression ({e})")))?;
        compiled.push((re, replacement.clone()));
    }
    Ok((KeyRemapper::from_compiled_patterns(compiled.clone()), compiled))
}

/// `key` renamed as burn-store renames it: every matching pattern in turn.
fn rename(key: &str, patterns: &[(Regex, String)]) -> String {
    patterns.iter().fold(key.to_string(), |k, (re, rep)| re.replace_all(&k, rep.as_str()).into_owned())
}

/// Loads the weights in `file` (`.safetensors` or `.pt`/`.pth`) into `template`, the model built from
/// its configuration on the run's device. Floats are cast to the device's dtype; the trainable
/// parameters keep their layout. Errors name the file and the key: a tensor the model needs and the
/// file lacks, one the file has and nothing uses (unless `options.allow_partial`), one of the
/// wrong shape or dtype, and one holding a NaN or an infinity.
pub fn load_weights<M: Module + ModuleSnapshot>(
    template: M,
    file: &Path,
    options: &WeightsOptions,
) -> Result<(M, WeightsReport)> {
    if !file.is_file() {
        return Err(Error::io(file, std::io::Error::new(std::io::ErrorKind::NotFound, "no such weights file")));
    }
    let layout = ParamLayout::of(&template);
    let cast: DType = template_device_dtype(&template);
    let (store, format) = Store::open(file)?;
    let (remap, patterns) = remapper(&options.renames)?;
    let mut store = store.configured(remap);
    let tensors = store.tensors(file)?;
    // The file's own names, for messages (the store already renamed them).
    let (mut plain, _) = Store::open(file)?;
    let originals: Vec<(String, String)> =
        plain.tensors(file)?.into_iter().map(|(k, _, _)| (rename(&k, &patterns), k)).collect();
    let mut file_dtypes: Vec<String> =
        tensors.iter().filter(|t| t.2.is_float()).map(|t| format!("{:?}", t.2)).collect();
    file_dtypes.sort();
    file_dtypes.dedup();

    let mut model = template;
    let result = store.apply(&mut model, file)?;
    let key = |renamed: &str| original_key(renamed, &originals);
    if let Some(e) = result.errors.first() {
        return Err(match e {
            ApplyError::ShapeMismatch { path, expected, found } => Error::Tensor {
                path: file.into(),
                key: key(path),
                problem: TensorProblem::Shape { expected: expected.to_vec(), found: found.to_vec() },
            },
            ApplyError::DTypeMismatch { path, expected, found } => Error::Tensor {
                path: file.into(),
                key: key(path),
                problem: TensorProblem::Dtype { expected: format!("{expected:?}"), found: format!("{found:?}") },
            },
            ApplyError::AdapterError { path, message } | ApplyError::LoadError { path, message } => {
                Error::format(file, format!("tensor {:?}: {message}", key(path)))
            }
        });
    }
    let (ignored, unused): (Vec<String>, Vec<String>) =
        result.unused.iter().map(|k| key(k)).partition(|k| IGNORED_SUFFIXES.iter().any(|s| k.ends_with(s)));
    // Running statistics are buffers, not parameters of the loss: only parameters must be present.
    let missing: Vec<String> = result.missing.iter().map(|(p, _)| p.clone()).collect();
    let trainable_missing: Vec<&String> =
        missing.iter().filter(|p| layout.specs.iter().any(|s| &s.path == *p)).collect();
    if !options.allow_partial {
        if let Some(p) = trainable_missing.first() {
            let expected = layout.specs.iter().find(|s| &s.path == *p).map(|s| s.shape.clone()).unwrap_or_default();
            return Err(Error::Tensor {
                path: file.into(),
                key: (*p).clone(),
                problem: TensorProblem::Missing { expected },
            });
        }
        if let Some(k) = unused.first() {
            let shape =
                tensors.iter().find(|t| original_key(&t.0, &originals) == *k).map(|t| t.1.clone()).unwrap_or_default();
            return Err(Error::Tensor { path: file.into(), key: k.clone(), problem: TensorProblem::Unused { shape } });
        }
    }
    let model = cast_floats(model, cast);
    let loaded = ParamLayout::of(&model);
    layout.check_same(&loaded, &format!("{}: the loaded model's parameters", file.display()))?;
    if let Some((path, index, value)) = first_non_finite(&model) {
        return Err(Error::Tensor {
            path: file.into(),
            key: key(&path),
            problem: TensorProblem::NonFinite { index, value },
        });
    }
    let report = WeightsReport {
        file: file.into(),
        format,
        applied: result.applied.clone(),
        missing,
        unused,
        ignored,
        file_dtypes,
        loaded_as: format!("{cast:?}"),
    };
    Ok((model, report))
}

/// Every float tensor of `model` in `dtype` (a loaded tensor keeps the file's dtype), trainable
/// parameters kept as gradient-requiring leaves.
fn cast_floats<M: Module>(model: M, dtype: DType) -> M {
    struct Cast(DType);
    impl ModuleMapper for Cast {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let dtype = self.0;
            let trainable = param.is_require_grad();
            param.map(|t| {
                if t.dtype() == dtype {
                    t
                } else if trainable {
                    Tensor::from_inner(t.inner().cast(dtype)).require_grad()
                } else {
                    t.cast(dtype)
                }
            })
        }
    }
    model.map(&mut Cast(dtype))
}

/// The float dtype of the template's device (what the loaded weights are cast to).
fn template_device_dtype<M: Module>(model: &M) -> DType {
    struct V(Option<DType>);
    impl ModuleVisitor for V {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if self.0.is_none() {
                self.0 = Some(param.val().dtype());
            }
        }
    }
    let mut v = V(None);
    model.visit(&mut v);
    v.0.unwrap_or(DType::F32)
}

/// The first non-finite value among all float tensors of `model` (parameters and buffers): path,
/// flat index, value.
fn first_non_finite<M: Module>(model: &M) -> Option<(String, usize, f64)> {
    struct V {
        stack: Vec<String>,
        found: Option<(String, usize, f64)>,
    }
    impl ModuleVisitor for V {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.stack.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.stack.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if self.found.is_some() {
                return;
            }
            let data = param.val().into_data();
            if let Some((i, v)) = data.iter::<f64>().enumerate().find(|(_, v)| !v.is_finite()) {
                self.found = Some((self.stack.join("."), i, v));
            }
        }
    }
    let mut v = V { stack: Vec::new(), found: None };
    model.visit(&mut v);
    v.found
}
