//! The MNIST digits an experiment draws its batch from.

use hessrank_core::Result;
use hessrank_models::Mnist;
use std::path::Path;

/// The MNIST digits: the standard release in `dir` (the 60,000 training images), else the bundled
/// 10,000.
pub fn load_mnist(dir: Option<&Path>) -> Result<Mnist> {
    match dir {
        Some(d) => Mnist::load_standard(d),
        None => Mnist::bundled(),
    }
}
