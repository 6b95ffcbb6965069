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

/// Prints an estimate's notes (what its numbers mean) on stdout and its warnings on stderr.
pub fn print_warnings(warnings: &[hessrank_rank::langevin::Warning]) {
    for w in warnings {
        if w.is_note() {
            println!("note: {w}");
        } else {
            eprintln!("warning: {w}");
        }
    }
}

/// Writes the result of a run stopped before its averaging window: marked partial, no estimate.
pub fn write_interrupted(dir: &RunStore) -> Result<()> {
    dir.write_interrupted()?;
    println!("the state is saved: continue with --resume {}", dir.path.display());
    Ok(())
}
