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

/// Whether `w` is worth printing for `r`: an adaptive run's report already says whether the
/// estimate is still rising (no plateau) and what it counts, so its "still rising" note is not
/// repeated.
pub fn shows(r: &hessrank_rank::RankEstimate, w: &hessrank_rank::langevin::Warning) -> bool {
    !(r.adaptive.is_some() && matches!(w, hessrank_rank::langevin::Warning::StillRising { .. }))
}

/// Prints how an adaptive run ended (a plateau, the resolution asked for, or the budget), then
/// its notes and warnings.
pub fn print_run(r: &hessrank_rank::RankEstimate) {
    if let Some(a) = &r.adaptive {
        println!("run length: {a}");
    }
    let shown: Vec<_> = r.warnings.iter().filter(|w| shows(r, w)).cloned().collect();
    print_warnings(&shown);
}

/// Writes the result of a run stopped before its averaging window: marked partial, no estimate.
pub fn write_interrupted(dir: &RunStore) -> Result<()> {
    dir.write_interrupted()?;
    println!("the state is saved: continue with --resume {}", dir.path.display());
    Ok(())
}
