//! Baselines the estimator is compared with.

mod published;
mod ubaru_saad;

pub use published::{published_dos, published_dos_grid, published_gap};
pub use ubaru_saad::{
    GapRule, PUBLISHED_MARGIN, PUBLISHED_NPTS, UbaruSaad, UbaruSaadConfig, chebyshev_blowup, jackson_coefficients,
    lanczos_sigma_coefficients,
};
