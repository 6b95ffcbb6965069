//! Values flowing through the interpreter: float tensors of any rank on the device (Burn's tensors
//! carry their rank in the type, so [`DynTensor`] holds one of ranks 1–6 and rank 0 as a flagged
//! rank 1), and small integer tensors on the host (shapes, axes, indices), which only ever feed
//! shape computations and are never differentiated.

use burn::tensor::{Device, Tensor, TensorData};

/// Highest tensor rank the interpreter runs.
pub const MAX_RANK: usize = 6;

/// A float tensor of rank 1 to 6.
#[derive(Debug, Clone)]
pub enum DynTensor {
    /// Rank 1.
    R1(Tensor<1>),
    /// Rank 2.
    R2(Tensor<2>),
    /// Rank 3.
    R3(Tensor<3>),
    /// Rank 4.
    R4(Tensor<4>),
    /// Rank 5.
    R5(Tensor<5>),
    /// Rank 6.
    R6(Tensor<6>),
}

/// Applies an expression generic over the rank to each variant, rewrapping the result.
#[macro_export]
#[doc(hidden)]
macro_rules! each_rank {
    ($x:expr, $t:ident => $e:expr) => {
        match $x {
            $crate::value::DynTensor::R1($t) => $crate::value::DynTensor::R1($e),
            $crate::value::DynTensor::R2($t) => $crate::value::DynTensor::R2($e),
            $crate::value::DynTensor::R3($t) => $crate::value::DynTensor::R3($e),
            $crate::value::DynTensor::R4($t) => $crate::value::DynTensor::R4($e),
            $crate::value::DynTensor::R5($t) => $crate::value::DynTensor::R5($e),
            $crate::value::DynTensor::R6($t) => $crate::value::DynTensor::R6($e),
        }
    };
}

/// Applies an expression generic over the rank to each variant, returning its value as it is.
#[macro_export]
#[doc(hidden)]
macro_rules! with_rank {
    ($x:expr, $t:ident => $e:expr) => {
        match $x {
            $crate::value::DynTensor::R1($t) => $e,
            $crate::value::DynTensor::R2($t) => $e,
            $crate::value::DynTensor::R3($t) => $e,
            $crate::value::DynTensor::R4($t) => $e,
            $crate::value::DynTensor::R5($t) => $e,
            $crate::value::DynTensor::R6($t) => $e,
        }
    };
}

/// `dims` as an array of rank `D` (the caller knows the lengths agree).
pub fn dims_array<const D: usize>(dims: &[usize]) -> [usize; D] {
    dims.try_into().unwrap_or_else(|_| panic!("shape {dims:?} used at rank {D}"))
}

impl DynTensor {
    /// The tensor's rank.
    pub fn rank(&self) -> usize {
        with_rank!(self, t => t.dims().len())
    }

    /// The tensor's shape.
    pub fn dims(&self) -> Vec<usize> {
        with_rank!(self, t => t.dims().to_vec())
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.dims().iter().product()
    }

    /// The tensor as rank `D` (it must have that rank).
    pub fn into_rank<const D: usize>(self) -> Tensor<D> {
        with_rank!(self, t => { let dims = t.dims().to_vec(); t.reshape::<D, _>(dims_array::<D>(&dims)) })
    }

    /// The tensor flattened to rank 1.
    pub fn flatten(self) -> Tensor<1> {
        let n = self.numel();
        with_rank!(self, t => t.reshape([n]))
    }

    /// A flat tensor reshaped to `shape` (rank 0 becomes rank 1 of one element).
    pub fn from_flat(flat: Tensor<1>, shape: &[usize]) -> Self {
        match shape.len() {
            0 => DynTensor::R1(flat.reshape([1])),
            1 => DynTensor::R1(flat.reshape(dims_array::<1>(shape))),
            2 => DynTensor::R2(flat.reshape(dims_array::<2>(shape))),
            3 => DynTensor::R3(flat.reshape(dims_array::<3>(shape))),
            4 => DynTensor::R4(flat.reshape(dims_array::<4>(shape))),
            5 => DynTensor::R5(flat.reshape(dims_array::<5>(shape))),
            6 => DynTensor::R6(flat.reshape(dims_array::<6>(shape))),
            r => panic!("rank {r} exceeds {MAX_RANK} (checked when the graph is loaded)"),
        }
    }

    /// The same elements in `shape`.
    pub fn reshape(self, shape: &[usize]) -> Self {
        if self.dims() == shape {
            return self;
        }
        Self::from_flat(self.flatten(), shape)
    }

    /// Host values to a device tensor of the device's float dtype.
    pub fn from_host(values: Vec<f64>, shape: &[usize], device: &Device) -> Self {
        let n = values.len();
        Self::from_flat(Tensor::from_data(TensorData::new(values, [n]), device), shape)
    }

    /// The tensor with leading axes of length 1 added up to `rank`.
    pub fn lift(self, rank: usize) -> Self {
        let dims = self.dims();
        if dims.len() >= rank {
            return self;
        }
        let mut shape = vec![1; rank - dims.len()];
        shape.extend(dims);
        self.reshape(&shape)
    }

    /// Detached from the autodiff graph (a constant of the run).
    pub fn detach(self) -> Self {
        each_rank!(self, t => t.detach())
    }
}

/// A value in the interpreter: a float tensor with its logical rank, or a host integer tensor.
// Tensors are handles; a value is moved a few times per node, so boxing the larger variant
// would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Value {
    /// A float tensor on the device; `scalar` marks ONNX rank 0 (held as rank 1 of one element).
    Float {
        /// The tensor.
        t: DynTensor,
        /// Whether its ONNX rank is 0.
        scalar: bool,
    },
    /// Integers on the host (shapes, axes, indices), row-major.
    Int {
        /// Shape (empty for a scalar).
        shape: Vec<usize>,
        /// Values.
        data: Vec<i64>,
    },
}

impl Value {
    /// A float value of the tensor's own rank.
    pub fn float(t: DynTensor) -> Self {
        Value::Float { t, scalar: false }
    }

    /// Its logical shape (empty for rank 0).
    pub fn shape(&self) -> Vec<usize> {
        match self {
            Value::Float { scalar: true, .. } => Vec::new(),
            Value::Float { t, .. } => t.dims(),
            Value::Int { shape, .. } => shape.clone(),
        }
    }
}
