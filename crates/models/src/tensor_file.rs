//! Named tensors in a safetensors file, read to the host with their shapes and checked by key: the
//! fixed batch a loss is computed on (`--data`), and the files the tests and exports write.
//!
//! The `safetensors` crate does the format; this adds what a measurement needs on top: errors that
//! name the file and the key with the expected shape or dtype, f32/f64 and integer decoding, and
//! atomic writes.

use hessrank_core::atomic::write_atomic;
use hessrank_core::{Error, Result, TensorProblem};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One tensor's values on the host.
#[derive(Debug, Clone, PartialEq)]
pub enum HostValues {
    /// A float tensor (f16/bf16/f32/f64 in the file), widened to f64.
    Float(Vec<f64>),
    /// An integer tensor (any width in the file), widened to i64.
    Int(Vec<i64>),
}

/// One named tensor: shape, the file's dtype and the values.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    /// Its shape.
    pub shape: Vec<usize>,
    /// The file's dtype, e.g. `"F32"`.
    pub dtype: String,
    /// The values, row-major.
    pub values: HostValues,
}

/// Every tensor of a safetensors file.
#[derive(Debug, Clone)]
pub struct TensorFile {
    /// The file read.
    pub path: PathBuf,
    /// The tensors by key.
    pub tensors: BTreeMap<String, HostTensor>,
}

fn decode(view: &TensorView<'_>) -> Option<HostValues> {
    let b = view.data();
    let floats = |n: usize, f: &dyn Fn(&[u8]) -> f64| HostValues::Float(b.chunks_exact(n).map(f).collect());
    let ints = |n: usize, f: &dyn Fn(&[u8]) -> i64| HostValues::Int(b.chunks_exact(n).map(f).collect());
    Some(match view.dtype() {
        Dtype::F64 => floats(8, &|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))),
        Dtype::F32 => floats(4, &|c| f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64),
        Dtype::F16 => floats(2, &|c| half_to_f64(u16::from_le_bytes([c[0], c[1]]))),
        Dtype::BF16 => floats(2, &|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16) as f64),
        Dtype::I64 => ints(8, &|c| i64::from_le_bytes(c.try_into().expect("8 bytes"))),
        Dtype::I32 => ints(4, &|c| i32::from_le_bytes(c.try_into().expect("4 bytes")) as i64),
        Dtype::I16 => ints(2, &|c| i16::from_le_bytes([c[0], c[1]]) as i64),
        Dtype::I8 => ints(1, &|c| c[0] as i8 as i64),
        Dtype::U8 => ints(1, &|c| c[0] as i64),
        Dtype::U32 => ints(4, &|c| u32::from_le_bytes(c.try_into().expect("4 bytes")) as i64),
        Dtype::U64 => ints(8, &|c| u64::from_le_bytes(c.try_into().expect("8 bytes")) as i64),
        _ => return None,
    })
}

/// IEEE half precision to f64 (the `half` crate is not a dependency for one conversion).
fn half_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as f64;
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

impl TensorFile {
    /// Reads every tensor of `path`; a file that is not valid safetensors is an error naming it.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(path, &bytes)
    }

    /// Parses safetensors `bytes` (`path` names them in errors).
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self> {
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| Error::format(path, format!("not a valid safetensors file: {e}")))?;
        let mut tensors = BTreeMap::new();
        for (key, view) in st.tensors() {
            let values = decode(&view).ok_or_else(|| Error::Tensor {
                path: path.into(),
                key: key.clone(),
                problem: TensorProblem::Dtype {
                    expected: "a float or integer type".into(),
                    found: format!("{:?}", view.dtype()),
                },
            })?;
            tensors
                .insert(key, HostTensor { shape: view.shape().to_vec(), dtype: format!("{:?}", view.dtype()), values });
        }
        Ok(Self { path: path.into(), tensors })
    }

    fn get(&self, key: &str, expected: &[Option<usize>]) -> Result<&HostTensor> {
        let shape_of = |s: &[Option<usize>]| s.iter().map(|d| d.unwrap_or(0)).collect::<Vec<_>>();
        let t = self.tensors.get(key).ok_or_else(|| Error::Tensor {
            path: self.path.clone(),
            key: key.into(),
            problem: TensorProblem::Missing { expected: shape_of(expected) },
        })?;
        let fits =
            t.shape.len() == expected.len() && t.shape.iter().zip(expected).all(|(a, e)| e.is_none_or(|e| e == *a));
        if !fits {
            // Free dimensions are reported as the found size, so the message shows only what must change.
            let want = expected.iter().zip(t.shape.iter().chain(std::iter::repeat(&0))).map(|(e, f)| e.unwrap_or(*f));
            return Err(Error::Tensor {
                path: self.path.clone(),
                key: key.into(),
                problem: TensorProblem::Shape { expected: want.collect(), found: t.shape.clone() },
            });
        }
        Ok(t)
    }

    /// The float tensor `key`, whose shape must match `expected` (`None`: any size): its shape and
    /// values. Integer tensors, NaNs and infinities are errors naming the key.
    pub fn float(&self, key: &str, expected: &[Option<usize>]) -> Result<(Vec<usize>, Vec<f64>)> {
        let t = self.get(key, expected)?;
        let HostValues::Float(v) = &t.values else {
            return Err(self.dtype_error(key, "F32 or F64", &t.dtype));
        };
        if let Some((index, value)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
            return Err(Error::Tensor {
                path: self.path.clone(),
                key: key.into(),
                problem: TensorProblem::NonFinite { index, value: *value },
            });
        }
        Ok((t.shape.clone(), v.clone()))
    }

    /// The integer tensor `key` (shape as in [`TensorFile::float`]), every entry in `0..bound`.
    pub fn int(&self, key: &str, expected: &[Option<usize>], bound: i64) -> Result<(Vec<usize>, Vec<i64>)> {
        let t = self.get(key, expected)?;
        let HostValues::Int(v) = &t.values else {
            return Err(self.dtype_error(key, "an integer type (class labels)", &t.dtype));
        };
        if let Some((index, value)) = v.iter().enumerate().find(|(_, x)| !(0..bound).contains(*x)) {
            return Err(Error::Tensor {
                path: self.path.clone(),
                key: key.into(),
                problem: TensorProblem::OutOfRange { index, value: *value, allowed: format!("0..{bound}") },
            });
        }
        Ok((t.shape.clone(), v.clone()))
    }

    fn dtype_error(&self, key: &str, expected: &str, found: &str) -> Error {
        Error::Tensor {
            path: self.path.clone(),
            key: key.into(),
            problem: TensorProblem::Dtype { expected: expected.into(), found: found.into() },
        }
    }
}

/// A tensor to write: key, shape, values and the file dtype.
#[derive(Debug, Clone)]
pub struct NamedTensor {
    /// The key.
    pub key: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its values.
    pub values: HostValues,
    /// For floats: write as f32 (else f64). Integers are written as i64.
    pub as_f32: bool,
}

impl NamedTensor {
    /// A float tensor written in f64 (or f32 with `as_f32`).
    pub fn float(key: impl Into<String>, shape: Vec<usize>, values: Vec<f64>, as_f32: bool) -> Self {
        Self { key: key.into(), shape, values: HostValues::Float(values), as_f32 }
    }

    /// An integer tensor written as i64.
    pub fn int(key: impl Into<String>, shape: Vec<usize>, values: Vec<i64>) -> Self {
        Self { key: key.into(), shape, values: HostValues::Int(values), as_f32: false }
    }

    fn bytes(&self) -> (Dtype, Vec<u8>) {
        match &self.values {
            HostValues::Float(v) if self.as_f32 => {
                (Dtype::F32, v.iter().flat_map(|x| (*x as f32).to_le_bytes()).collect())
            }
            HostValues::Float(v) => (Dtype::F64, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
            HostValues::Int(v) => (Dtype::I64, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        }
    }
}

/// The safetensors encoding of `tensors`.
pub fn to_safetensors_bytes(tensors: &[NamedTensor]) -> Result<Vec<u8>> {
    let encoded: Vec<(String, Vec<usize>, Dtype, Vec<u8>)> = tensors
        .iter()
        .map(|t| {
            let (dtype, bytes) = t.bytes();
            (t.key.clone(), t.shape.clone(), dtype, bytes)
        })
        .collect();
    let views = encoded
        .iter()
        .map(|(k, shape, dtype, bytes)| {
            TensorView::new(*dtype, shape.clone(), bytes).map(|v| (k.clone(), v)).map_err(|e| Error::Shape {
                what: format!("tensor {k}"),
                expected: format!("{shape:?}"),
                found: e.to_string(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, None).map_err(|e| Error::Encoding { what: "safetensors", message: e.to_string() })
}

/// Writes `tensors` to `path` as safetensors, atomically.
pub fn write_safetensors(path: &Path, tensors: &[NamedTensor]) -> Result<()> {
    write_atomic(path, &to_safetensors_bytes(tensors)?)
}
