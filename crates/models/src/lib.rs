//! The models hessrank measures: the paper's deep linear network (with its random global minima and
//! closed-form Hessian), the 753-parameter DnCNN MNIST denoiser, a ReLU MLP and a small CNN
//! classifier, the real MNIST digits shipped in `datasets/mnist`, and the deterministic full-batch
//! objectives over fixed data.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod classification;
pub mod cnn;
pub mod denoise;
pub mod dncnn;
pub mod linear;
mod minibatch;
pub mod mlp;
pub mod mnist;
pub mod tensor_file;
pub mod weights;

pub use classification::{Classification, Classifier, FrozenClassification};
pub use cnn::{Cnn, CnnConfig};
pub use denoise::{FrozenNoisyMnist, NoisyBatch, NoisyMnist, NoisyMnistConfig, NoisyMnistSampler};
pub use dncnn::{DnCnn, DnCnnConfig, load_dncnn};
pub use linear::{
    ClosedFormHessian, EigenbasisHessian, GlobalMinimum, LinearNet, LinearNetConfig, PopulationObjective,
    SampleObjective,
};
pub use mlp::{Mlp, MlpConfig};
pub use mnist::Mnist;
pub use weights::{WeightsOptions, WeightsReport, load_weights};
