//! The parameters of an ONNX graph as a Burn [`Module`]: one tensor per floating-point
//! initializer, of its own rank, visited under its initializer name (`fc1.weight`), so every
//! tool that walks a module (the parameter layout, `--params` globs, per-layer blocks, the
//! Langevin update) sees PyTorch's state_dict keys.
//!
//! `#[derive(Module)]` needs fields known at compile time; a graph's parameters are known when
//! the file is read, so the trait is implemented here by hand, each method delegating to Burn's
//! own implementation for `Param<Tensor<D>>`.

use crate::value::DynTensor;
use burn::module::{Devices, Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use std::sync::Arc;

/// One parameter tensor of rank 1 to 6.
#[derive(Debug, Clone)]
pub enum DynParam {
    /// Rank 1.
    R1(Param<Tensor<1>>),
    /// Rank 2.
    R2(Param<Tensor<2>>),
    /// Rank 3.
    R3(Param<Tensor<3>>),
    /// Rank 4.
    R4(Param<Tensor<4>>),
    /// Rank 5.
    R5(Param<Tensor<5>>),
    /// Rank 6.
    R6(Param<Tensor<6>>),
}

macro_rules! each_param {
    ($x:expr, $p:ident => $e:expr) => {
        match $x {
            DynParam::R1($p) => DynParam::R1($e),
            DynParam::R2($p) => DynParam::R2($e),
            DynParam::R3($p) => DynParam::R3($e),
            DynParam::R4($p) => DynParam::R4($e),
            DynParam::R5($p) => DynParam::R5($e),
            DynParam::R6($p) => DynParam::R6($e),
        }
    };
}

macro_rules! with_param {
    ($x:expr, $p:ident => $e:expr) => {
        match $x {
            DynParam::R1($p) => $e,
            DynParam::R2($p) => $e,
            DynParam::R3($p) => $e,
            DynParam::R4($p) => $e,
            DynParam::R5($p) => $e,
            DynParam::R6($p) => $e,
        }
    };
}

impl DynParam {
    /// A trainable parameter holding `t`.
    pub fn new(t: DynTensor) -> Self {
        match t {
            DynTensor::R1(t) => DynParam::R1(Param::from_tensor(t)),
            DynTensor::R2(t) => DynParam::R2(Param::from_tensor(t)),
            DynTensor::R3(t) => DynParam::R3(Param::from_tensor(t)),
            DynTensor::R4(t) => DynParam::R4(Param::from_tensor(t)),
            DynTensor::R5(t) => DynParam::R5(Param::from_tensor(t)),
            DynTensor::R6(t) => DynParam::R6(Param::from_tensor(t)),
        }
    }

    /// Its current value (attached to the autodiff graph).
    pub fn val(&self) -> DynTensor {
        match self {
            DynParam::R1(p) => DynTensor::R1(p.val()),
            DynParam::R2(p) => DynTensor::R2(p.val()),
            DynParam::R3(p) => DynTensor::R3(p.val()),
            DynParam::R4(p) => DynTensor::R4(p.val()),
            DynParam::R5(p) => DynTensor::R5(p.val()),
            DynParam::R6(p) => DynTensor::R6(p.val()),
        }
    }
}

/// The parameters of a graph, by initializer name, in initializer order.
#[derive(Debug, Clone)]
pub struct OnnxParams {
    names: Arc<[String]>,
    params: Vec<DynParam>,
}

impl OnnxParams {
    /// Parameters named `names` holding `values` (the same length).
    pub fn new(names: Vec<String>, values: Vec<DynTensor>) -> Self {
        assert_eq!(names.len(), values.len(), "one name per parameter");
        OnnxParams { names: names.into(), params: values.into_iter().map(DynParam::new).collect() }
    }

    /// The parameter names (initializer names).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The current values, in order.
    pub fn values(&self) -> impl Iterator<Item = (&str, DynTensor)> {
        self.names.iter().map(String::as_str).zip(self.params.iter().map(DynParam::val))
    }
}

impl Module for OnnxParams {
    fn collect_devices(&self, mut devices: Devices) -> Devices {
        for p in &self.params {
            devices = with_param!(p, q => Module::collect_devices(q, devices));
        }
        devices
    }

    fn fork(self, device: &Device) -> Self {
        let params = self.params.into_iter().map(|p| each_param!(p, q => Module::fork(q, device))).collect();
        OnnxParams { names: self.names, params }
    }

    fn to_device(self, device: &Device) -> Self {
        let params = self.params.into_iter().map(|p| each_param!(p, q => Module::to_device(q, device))).collect();
        OnnxParams { names: self.names, params }
    }

    fn train(self) -> Self {
        let params = self.params.into_iter().map(|p| each_param!(p, q => Module::train(q))).collect();
        OnnxParams { names: self.names, params }
    }

    fn valid(&self) -> Self {
        let params = self.params.iter().map(|p| each_param!(p, q => Module::valid(q))).collect();
        OnnxParams { names: self.names.clone(), params }
    }

    fn materialize(self) -> Self {
        let params = self.params.into_iter().map(|p| each_param!(p, q => Module::materialize(q))).collect();
        OnnxParams { names: self.names, params }
    }

    fn visit<V: ModuleVisitor>(&self, visitor: &mut V) {
        for (name, p) in self.names.iter().zip(&self.params) {
            visitor.enter_module(name, "OnnxParams");
            with_param!(p, q => Module::visit(q, visitor));
            visitor.exit_module(name, "OnnxParams");
        }
    }

    fn map<M: ModuleMapper>(self, mapper: &mut M) -> Self {
        let names = self.names.clone();
        let params = names
            .iter()
            .zip(self.params)
            .map(|(name, p)| {
                mapper.enter_module(name, "OnnxParams");
                let q = each_param!(p, q => Module::map(q, mapper));
                mapper.exit_module(name, "OnnxParams");
                q
            })
            .collect();
        OnnxParams { names, params }
    }
}
