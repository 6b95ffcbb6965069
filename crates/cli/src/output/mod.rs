//! Files, plots and printed summaries of the experiments' reports.

pub mod dncnn;
pub mod figure1;
pub mod table1;
pub mod threshold;
