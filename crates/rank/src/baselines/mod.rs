//! Baselines the estimator is compared with.

mod ubaru_saad;

pub use ubaru_saad::{
    GapRule, PUBLISHED_MARGIN, PUBLISHED_NPTS, UbaruSaad, UbaruSaadConfig, chebyshev_blowup, jackson_coefficients,
    lanczos_sigma_coefficients, published_dos, published_dos_grid, published_gap,
};
