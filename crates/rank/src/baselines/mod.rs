//! Baselines the estimator is compared with.

mod ubaru_saad;

pub use ubaru_saad::{UbaruSaad, UbaruSaadConfig, jackson_coefficients};
