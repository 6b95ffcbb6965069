//! The one table from the library's configuration fields to this CLI's flags, and error messages
//! rendered with the flags: library errors name fields, never flags.

use hessrank_core::Error;

/// Library field → the flag that sets it.
const FLAGS: &[(&str, &str)] = &[
    ("k_avg", "--avg"),
    ("k_tot", "--iters"),
    ("sigma2", "--sigma2"),
    ("eta", "--eta"),
    ("step", "--eta"),
    ("eta auto factor c", "--eta auto:C"),
    ("chains", "--chains"),
    ("first_chain", "--first-chain"),
    ("drift", "--drift"),
    ("scheme", "--scheme"),
    ("seed", "--seed"),
    ("max_params", "--max-params"),
    ("precond", "--precond"),
    ("arch", "--arch"),
    ("data", "--data"),
    ("dtype", "--dtype"),
    ("label_smoothing", "--label-smoothing"),
    ("rename", "--rename"),
    ("n_images", "--n-images"),
    ("noise_std", "--noise-std"),
    ("params", "--params"),
    ("mlp", "--widths"),
    ("sizes", "--widths"),
    ("cnn", "--channels"),
    ("channels", "--channels"),
    ("checkpoint_every", "--checkpoint-every"),
    ("validate", "--validate"),
    ("dims", "--dims"),
    ("trials", "--trials"),
    ("protocol", "--protocol"),
    ("depth", "--depth"),
    ("us_vecs", "--us-vecs"),
    ("us_degree", "--us-degree"),
    ("us_rule", "--us-rule"),
    ("no_us", "--no-us"),
    ("sgd.lr", "--sgd-lr"),
    ("gd.lr", "--gd-lr"),
    ("gd.tol", "--gd-tol"),
    ("adam.lr", "--adam-lr"),
    ("sgd.batch_size", "--batch-size"),
    ("adam.steps", "--adam-steps"),
];

/// The flag that sets a library field, if this CLI has one.
pub fn flag(field: &str) -> Option<&'static str> {
    FLAGS.iter().find(|(f, _)| *f == field).map(|(_, flag)| *flag)
}

/// A library error in the CLI's words: configuration fields become the flags that set them.
pub fn describe(e: &Error) -> String {
    match e {
        Error::InvalidConfig { field, value, expected } => {
            format!("invalid {} = {value}: {expected}", flag(field).unwrap_or(field))
        }
        Error::SettingsMismatch { path, field, saved, given } => match flag(field) {
            Some(flag) => format!(
                "{}: the saved run has {flag} {saved}, this run {given}; use the same flags and seed (or start a new \
                 run){}",
                path.display(),
                if *field == "dtype" { " (an f32 minimum is a minimum only to f32 precision)" } else { "" }
            ),
            None => e.to_string(),
        },
        Error::Interrupted { phase: "langevin", iteration, total, resume: None } => format!(
            "interrupted at iteration {iteration} of {total}, before the averaging window had an estimate: no estimate \
             yet; continue with --resume"
        ),
        _ => e.to_string(),
    }
}

/// An error and its causes, outermost first, each library error in the CLI's words.
pub fn describe_chain(e: &anyhow::Error) -> String {
    e.chain()
        .map(|cause| match cause.downcast_ref::<Error>() {
            Some(lib) => describe(lib),
            None => cause.to_string(),
        })
        .collect::<Vec<_>>()
        .join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Field names become flags; unknown fields stay as they are.
    #[test]
    fn invalid_config_names_the_flag() {
        let e = Error::config("k_avg", 0, "≥ 1");
        assert_eq!(describe(&e), "invalid --avg = 0: ≥ 1");
        let e = Error::config("kernel", 4, "an odd size");
        assert_eq!(describe(&e), "invalid kernel = 4: an odd size");
    }
}
