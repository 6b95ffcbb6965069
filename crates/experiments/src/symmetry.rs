//! A run's scale symmetry: the loss's scale-invariant groups at θ₀, and whether the dynamics move
//! them on their spheres (the default) or plainly, said in words before the run.

use crate::observer::ExperimentObserver;
use hessrank_rank::symmetry::ScaleGroup;
use hessrank_rank::{LangevinConfig, Symmetry};

/// `config` with the groups found at θ₀ and the choice (`None`: the default, projection wherever
/// there are groups), after telling `observer` what will happen to them: the groups projected,
/// the dead ones left out, or that the projection a user asked for has nothing to act on. (A plain
/// run whose groups are predicted to drift is warned by the run itself, before it starts.)
pub fn with_scale_groups(
    config: LangevinConfig,
    choice: Option<Symmetry>,
    groups: Vec<ScaleGroup>,
    observer: &mut dyn ExperimentObserver,
) -> LangevinConfig {
    let symmetry = choice.unwrap_or(Symmetry::Project);
    let (dead, live): (Vec<&ScaleGroup>, Vec<&ScaleGroup>) = groups.iter().partition(|g| g.is_dead());
    match (symmetry, live.first(), live.last()) {
        (Symmetry::Project, Some(first), Some(last)) => observer.note(&format!(
            "scale symmetry: {} scale-invariant group{} ({}{}) move on the sphere of their θ₀ norm \
             (--symmetry off for the plain dynamics)",
            live.len(),
            if live.len() == 1 { "" } else { "s" },
            first.group,
            if live.len() > 1 { format!(" … {}", last.group) } else { String::new() },
        )),
        (Symmetry::Project, None, _) if choice.is_some() => observer.note(
            "--symmetry project: the loss has no live scale-invariant group at θ₀, so the dynamics are the plain ones",
        ),
        _ => {}
    }
    for g in dead {
        observer.note(&format!("scale symmetry: {} has ‖w₀‖ = 0 (a dead slice): left out of the projection", g.group));
    }
    config.with_scale_groups(groups).with_symmetry(symmetry)
}
