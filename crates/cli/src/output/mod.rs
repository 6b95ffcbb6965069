//! Files, plots and printed summaries of the commands' and experiments' results.

pub mod dncnn;
pub mod figure1;
pub mod spectrum;
pub mod sweep;
pub mod table1;
pub mod threshold;

use crate::records::Interrupted;
use crate::run_dir::RunDir;
use anyhow::Result;

/// The file of an estimate's per-chain window traces (what `merge` pools).
pub const WINDOW_TRACES: &str = "window-traces.json";

/// Writes the result of a run stopped before its averaging window: marked partial, no estimate.
pub fn write_interrupted(dir: &RunDir) -> Result<()> {
    dir.json("result.json", &Interrupted { partial: true, estimate: None })?;
    println!("the state is saved: continue with --resume {}", dir.path.display());
    Ok(())
}
