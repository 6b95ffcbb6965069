//! One module per subcommand.

pub mod baseline;
pub mod dncnn;
pub mod estimate;
pub mod figure1;
pub mod figure2;
pub mod matrix_rank;
pub mod merge;
pub mod schedule;
pub mod spectrum;
pub mod table1;
pub mod train;
pub mod train_args;

pub use crate::args::{LangevinArgs, ResumeArgs, UsArgs, parse_eta, parse_scheme, parse_us_rule, summary_line};
