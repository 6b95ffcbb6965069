//! Per-parameter values on disk, keyed by parameter path (a reloaded module gets fresh `ParamId`s):
//! the preconditioner and the optimizer moments are saved this way.

use crate::params::{ParamLayout, ParamTensors};
use crate::{Error, Result};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// Per-parameter values saved on disk keyed by path (a reloaded module gets fresh `ParamId`s).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostParams {
    /// What the values are (e.g. `"adam-preconditioner"`), checked on load.
    pub kind: String,
    /// One entry per parameter.
    pub entries: Vec<HostParam>,
}

/// One parameter's values on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostParam {
    /// Dotted module path.
    pub path: String,
    /// Shape of the parameter.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub values: Vec<f64>,
}

impl HostParams {
    /// Captures `tensors` under `layout`.
    pub fn capture(kind: &str, layout: &ParamLayout, tensors: &ParamTensors) -> Self {
        let entries = layout
            .specs
            .iter()
            .zip(tensors.to_host())
            .map(|(s, values)| HostParam { path: s.path.clone(), shape: s.shape.clone(), values })
            .collect();
        Self { kind: kind.into(), entries }
    }

    /// Tensors for `layout`, matched by path; names the missing, extra or mis-shaped parameter.
    pub fn to_tensors(&self, layout: &ParamLayout, device: &Device, source: &str) -> Result<ParamTensors> {
        let mut values = Vec::with_capacity(layout.specs.len());
        for spec in &layout.specs {
            let Some(e) = self.entries.iter().find(|e| e.path == spec.path) else {
                return Err(Error::format(source, format!("no values for parameter {} {:?}", spec.path, spec.shape)));
            };
            if e.shape != spec.shape || e.values.len() != spec.numel() {
                return Err(Error::format(
                    source,
                    format!(
                        "parameter {}: shape {:?} with {} values, the model has {:?}",
                        spec.path,
                        e.shape,
                        e.values.len(),
                        spec.shape
                    ),
                ));
            }
            values.push(e.values.clone());
        }
        if let Some(extra) = self.entries.iter().find(|e| !layout.specs.iter().any(|s| s.path == e.path)) {
            return Err(Error::format(
                source,
                format!("parameter {} is not in the model (another architecture?)", extra.path),
            ));
        }
        ParamTensors::from_host(layout, &values, device)
    }
}
