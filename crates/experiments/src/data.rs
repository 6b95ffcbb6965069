//! The MNIST digits an experiment draws its batch from, and the data settings as a checkpoint's
//! manifest records them.

use hessrank_core::Result;
use hessrank_models::{Mnist, NoisyMnistConfig};
use std::path::Path;

/// The MNIST digits: the standard release in `dir` (the 60,000 training images), else the bundled
/// 10,000.
pub fn load_mnist(dir: Option<&Path>) -> Result<Mnist> {
    match dir {
        Some(d) => Mnist::load_standard(d),
        None => Mnist::bundled(),
    }
}

/// The data settings as a checkpoint's manifest records them, with the MNIST folder when it is not
/// the bundled one: a checkpoint is reused only for the same record.
pub fn data_record(data: &NoisyMnistConfig, mnist: Option<&Path>) -> serde_json::Value {
    let mut v = serde_json::to_value(data).unwrap_or_default();
    if let (Some(d), Some(map)) = (mnist, v.as_object_mut()) {
        map.insert("mnist".into(), serde_json::json!(d));
    }
    v
}
