//! The flags several commands share (Algorithm 1's settings, saving and resuming, the U&S
//! baseline's settings), their parsers, and the one-line summary of an estimate.

use crate::Ctx;
use hessrank_rank::langevin::AdaptiveLength;
use hessrank_rank::{DriftCorrection, LangevinConfig, Scheme, StepSize};

/// The run length: adaptive (`auto`) or a fixed number of iterations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Iters {
    /// Stages that double until a plateau, the resolution asked for, or the budget.
    Auto,
    /// K_tot iterations.
    Fixed(usize),
}

/// `--iters`: auto or a positive number.
pub fn parse_iters(s: &str) -> Result<Iters, String> {
    match s {
        "auto" => Ok(Iters::Auto),
        _ => match s.parse::<usize>() {
            Ok(n) if n > 0 => Ok(Iters::Fixed(n)),
            _ => Err(format!("invalid --iters {s:?}: use auto or a number of iterations > 0")),
        },
    }
}

/// A positive finite number (`what` names the flag).
fn positive(s: &str, what: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("invalid {what} {s:?}: a finite number > 0")),
    }
}

/// `--precision`: a fraction (0.01) or a percentage (1%).
pub fn parse_precision(s: &str) -> Result<f64, String> {
    match s.trim().strip_suffix('%') {
        Some(p) => positive(p, "--precision").map(|p| p / 100.0),
        None => positive(s, "--precision"),
    }
}

/// `--resolve`: an eigenvalue μ* > 0.
pub fn parse_resolve(s: &str) -> Result<f64, String> {
    positive(s, "--resolve")
}

/// `--max-time`: seconds, or with a suffix s, m or h.
pub fn parse_duration(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let (number, scale) = match s.chars().last() {
        Some('s') => (&s[..s.len() - 1], 1.0),
        Some('m') => (&s[..s.len() - 1], 60.0),
        Some('h') => (&s[..s.len() - 1], 3600.0),
        _ => (s, 1.0),
    };
    positive(number, "--max-time").map(|v| v * scale)
}

/// η given as `auto`, `auto:C` (η = C/μ_max) or a positive number.
pub fn parse_eta(s: &str) -> Result<StepSize, String> {
    let bad = || format!("invalid --eta {s:?}: use auto, auto:C with 0 < C < 2, or a number > 0");
    if s == "auto" {
        return Ok(StepSize::Auto { c: 1.0 });
    }
    if let Some(c) = s.strip_prefix("auto:") {
        let c: f64 = c.parse().map_err(|_| bad())?;
        return if c > 0.0 && c < 2.0 { Ok(StepSize::Auto { c }) } else { Err(bad()) };
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(StepSize::Fixed(v)),
        _ => Err(bad()),
    }
}

/// The scheme flag.
pub fn parse_scheme(s: &str) -> Result<Scheme, String> {
    s.parse::<Scheme>().map_err(|e| format!("invalid --scheme: {e}"))
}

/// The symmetry flag: project or off.
pub fn parse_symmetry(s: &str) -> Result<hessrank_rank::Symmetry, String> {
    s.parse::<hessrank_rank::Symmetry>().map_err(|e| format!("invalid --symmetry: {e}"))
}

/// The drift flag: none, plain or cv.
pub fn parse_drift(s: &str) -> Result<DriftCorrection, String> {
    s.parse::<DriftCorrection>().map_err(|e| format!("invalid --drift: {e}"))
}

/// The U&S threshold rule: published or first-minimum.
pub fn parse_us_rule(s: &str) -> Result<hessrank_rank::baselines::GapRule, String> {
    s.parse().map_err(|e| format!("invalid --us-rule: {e}"))
}

/// One σ² entry: a finite number > 0, named when it is not.
pub fn parse_sigma2(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("invalid --sigma2 entry {s:?}: each σ² must be a finite number > 0")),
    }
}

/// Langevin settings shared by the commands that run Algorithm 1.
#[derive(clap::Args, Debug, Clone)]
pub struct LangevinArgs {
    /// Step size: auto, auto:C (η = C/μ_max) or a number.
    #[arg(long, value_parser = parse_eta, default_value = "auto", allow_hyphen_values = true)]
    pub eta: StepSize,
    /// Noise power σ² (default 1e-5); a comma-separated list runs a sweep where the command
    /// supports one.
    #[arg(long, value_delimiter = ',', value_parser = parse_sigma2, allow_hyphen_values = true)]
    pub sigma2: Vec<f64>,
    /// Run length: auto (the default: stages that double the run, each averaged over its last
    /// half, until the estimate reaches a plateau, --resolve is met, or --max-iters/--max-time)
    /// or a fixed number of iterations K_tot.
    #[arg(long, value_parser = parse_iters)]
    pub iters: Option<Iters>,
    /// Iterations averaged at the end of a fixed --iters N, K_avg (default: N/2).
    #[arg(long)]
    pub avg: Option<usize>,
    /// With --iters auto: the plateau's tolerance and the interval's target half-width, relative
    /// to the estimate (default 1%; `0.01` or `1%`).
    #[arg(long, value_parser = parse_precision)]
    pub precision: Option<f64>,
    /// With --iters auto: stop once every mode of G^½HG^½ above this eigenvalue μ* has
    /// equilibrated (1/(2ηk) ≤ μ*/10 over the window).
    #[arg(long, value_parser = parse_resolve)]
    pub resolve: Option<f64>,
    /// With --iters auto: the longest run (default 64,000; dncnn: 4,000).
    #[arg(long)]
    pub max_iters: Option<usize>,
    /// With --iters auto: the most time, in seconds or with a suffix (90s, 10m, 2h); no stage
    /// starts that would pass it at the time per iteration so far.
    #[arg(long, value_parser = parse_duration)]
    pub max_time: Option<f64>,
    /// Independent chains (default 4; their spread gives the error bar).
    #[arg(long)]
    pub chains: Option<usize>,
    /// Index of this run's first chain (chain c draws noise stream first-chain + c of the seed):
    /// runs of one seed over disjoint chain ranges can be merged.
    #[arg(long, default_value_t = 0)]
    pub first_chain: u64,
    /// Discretisation: lm (Leimkuhler–Matthews) or em (Euler–Maruyama, the paper's).
    #[arg(long, value_parser = parse_scheme, default_value = "lm")]
    pub scheme: Scheme,
    /// Drift correction by a noise-free companion chain: none, plain (subtract its loss) or cv
    /// (also subtract the cross term ∇L(θ̄)ᵀ(θ − θ̄), far less noisy); `--drift` alone means cv
    /// (default: none; dncnn: cv).
    #[arg(long, value_parser = parse_drift, num_args = 0..=1, default_missing_value = "cv")]
    pub drift: Option<DriftCorrection>,
}

/// Saving and resuming long runs, shared by `estimate`, `dncnn` and `table1`.
#[derive(clap::Args, Debug, Clone)]
pub struct ResumeArgs {
    /// Save the running Langevin state (langevin-state*.json in the run folder) every this many
    /// iterations.
    #[arg(long, default_value_t = 500)]
    pub checkpoint_every: usize,
    /// Continue the run saved in this results folder (same flags and seed), writing its results
    /// there.
    #[arg(long)]
    pub resume: Option<std::path::PathBuf>,
}

/// The Ubaru–Saad baseline's settings, shared by `dncnn` and `table1` (degree × vectors is its
/// matrix-vector budget; the paper: 50 × 300).
#[derive(clap::Args, Debug, Clone)]
pub struct UsArgs {
    /// U&S probe vectors.
    #[arg(long, default_value_t = 300)]
    pub us_vecs: usize,
    /// U&S polynomial degree.
    #[arg(long, default_value_t = 50)]
    pub us_degree: usize,
    /// U&S threshold rule: published (Ubaru and Saad's code, the paper's baseline) or first-minimum.
    #[arg(long, value_parser = parse_us_rule, default_value = "published")]
    pub us_rule: hessrank_rank::baselines::GapRule,
}

impl UsArgs {
    /// U&S's configuration with `seed`.
    pub fn config(&self, seed: u64) -> hessrank_rank::baselines::UbaruSaadConfig {
        hessrank_rank::baselines::UbaruSaadConfig {
            gap_rule: self.us_rule,
            degree: self.us_degree,
            nvecs: self.us_vecs,
            seed,
            ..Default::default()
        }
    }
}

impl LangevinArgs {
    /// The configuration of a command that takes one σ², validated (errors name the flag): the
    /// library's defaults with the adaptive length.
    pub fn config(&self, ctx: &Ctx) -> anyhow::Result<LangevinConfig> {
        anyhow::ensure!(
            self.sigma2.len() <= 1,
            "--sigma2 takes one value here (got {}); the σ² sweep is on estimate and dncnn",
            self.sigma2.len()
        );
        self.config_with(ctx, Self::adaptive_base())
    }

    /// The library's defaults with the default adaptive length (`estimate`, `matrix-rank`).
    pub fn adaptive_base() -> LangevinConfig {
        LangevinConfig::new().adaptive_from(AdaptiveLength::default())
    }

    /// The adaptive length the flags ask for over `base`'s (`None`: a fixed length).
    fn adaptive(&self, base: &LangevinConfig) -> anyhow::Result<Option<AdaptiveLength>> {
        let adaptive = match self.iters {
            Some(Iters::Auto) => Some(base.adaptive.unwrap_or_default()),
            Some(Iters::Fixed(_)) => None,
            None => base.adaptive,
        };
        let tuned = [
            ("--precision", self.precision.is_some()),
            ("--resolve", self.resolve.is_some()),
            ("--max-iters", self.max_iters.is_some()),
            ("--max-time", self.max_time.is_some()),
        ];
        match adaptive {
            None => {
                if let Some((flag, _)) = tuned.iter().find(|(_, given)| *given) {
                    anyhow::bail!(
                        "{flag} sets the adaptive run length: use it with --iters auto, not a fixed --iters N"
                    );
                }
                Ok(None)
            }
            Some(a) => {
                anyhow::ensure!(
                    self.avg.is_none(),
                    "--avg sets the window of a fixed --iters N; with --iters auto each stage averages over its last half"
                );
                let max_iters = self.max_iters.unwrap_or(a.max_iters);
                Ok(Some(AdaptiveLength {
                    precision: self.precision.unwrap_or(a.precision),
                    resolve: self.resolve.or(a.resolve),
                    max_iters,
                    max_time_s: self.max_time.or(a.max_time_s),
                    // A budget below the first stage is the first and only stage.
                    first: a.first.min(max_iters),
                }))
            }
        }
    }

    /// Every σ² given, or the default one.
    pub fn sigma2s(&self) -> Vec<f64> {
        if self.sigma2.is_empty() { vec![LangevinConfig::new().sigma2] } else { self.sigma2.clone() }
    }

    /// The flags given, over `base` (the library's defaults, or a command's own), at the first
    /// σ² given: the one builder of every command's configuration, validated (errors name the flag).
    pub fn config_with(&self, ctx: &Ctx, base: LangevinConfig) -> anyhow::Result<LangevinConfig> {
        let adaptive = self.adaptive(&base)?;
        let k_tot = match self.iters {
            Some(Iters::Fixed(n)) => n,
            _ => base.k_tot,
        };
        let c = LangevinConfig {
            step: self.eta,
            sigma2: self.sigma2.first().copied().unwrap_or(base.sigma2),
            k_tot,
            k_avg: self.avg.unwrap_or(if adaptive.is_none() && self.iters.is_some() { k_tot / 2 } else { base.k_avg }),
            chains: self.chains.unwrap_or(base.chains),
            scheme: self.scheme,
            first_chain: self.first_chain,
            drift: self.drift.unwrap_or(base.drift),
            seed: ctx.seed,
            ..base
        };
        let c = match adaptive {
            Some(a) => c.adaptive_from(a),
            None => c.with_adaptive(None),
        };
        c.validate()?;
        Ok(c)
    }
}

/// Prints a rank estimate in one line.
pub fn summary_line(r: &hessrank_rank::RankEstimate) -> String {
    format!(
        "estimated rank {:.1} ± {:.1} (95 % CI {:.1}–{:.1}; {} chains, R̂ {:.3}, ESS {:.0}; η = {:.3e}{}; {} gradient \
         evaluations, {:.1} s{})",
        r.uncertainty.estimate,
        r.uncertainty.stderr,
        r.uncertainty.ci95[0],
        r.uncertainty.ci95[1],
        r.chain.len(),
        r.uncertainty.r_hat,
        r.uncertainty.ess,
        r.eta,
        r.eta_mu_max.map(|x| format!(", η μ_max = {x:.2}")).unwrap_or_default(),
        r.grad_evals,
        r.wall_s,
        if r.partial { ", PARTIAL: interrupted" } else { "" }
    )
}
