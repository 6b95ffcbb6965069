//! The paper's experiments as library functions: [`figure1`], [`table1`] and [`dncnn`].
//!
//! Each takes a typed spec, a device and an [`ExperimentObserver`], and returns a typed,
//! serialisable report; front ends (the CLI) draw, write and print it. The experiments never print:
//! milestones, progress bars and stop requests go through the observer.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod curvature;
pub mod data;
pub mod dncnn;
pub mod estimate;
pub mod figure1;
pub mod merge;
pub mod observer;
pub mod paired;
pub mod registry;
pub mod store;
pub mod sweep;
pub mod symmetry;
pub mod table1;
pub mod table1_saved;
pub mod train;

pub use observer::{ExperimentObserver, PersistentTrace, Quiet};
