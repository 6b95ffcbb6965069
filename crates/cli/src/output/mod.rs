//! Files, plots and printed summaries of the commands' and experiments' results.

pub mod dncnn;
pub mod estimate;
pub mod figure1;
pub mod spectrum;
pub mod sweep;
pub mod table1;
pub mod threshold;

use anyhow::Result;
use hessrank_experiments::store::RunStore;

/// Writes the result of a run stopped before its averaging window: marked partial, no estimate.
pub fn write_interrupted(dir: &RunStore) -> Result<()> {
    dir.write_interrupted()?;
    println!("the state is saved: continue with --resume {}", dir.path.display());
    Ok(())
}
