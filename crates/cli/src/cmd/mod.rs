//! One module per subcommand.

pub mod baseline;
pub mod dncnn;
pub mod estimate;
pub mod figure1;
pub mod matrix_rank;
pub mod spectrum;
pub mod table1;
pub mod train;

use crate::Ctx;
use hessrank_rank::{LangevinConfig, Scheme, StepSize};

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

/// Langevin settings shared by the commands that run Algorithm 1.
#[derive(clap::Args, Debug, Clone)]
pub struct LangevinArgs {
    /// Step size: auto, auto:C (η = C/μ_max) or a number.
    #[arg(long, value_parser = parse_eta, default_value = "auto", allow_hyphen_values = true)]
    pub eta: StepSize,
    /// Noise power σ².
    #[arg(long, default_value_t = 1e-5, allow_hyphen_values = true)]
    pub sigma2: f64,
    /// Total iterations K_tot.
    #[arg(long, default_value_t = 2000)]
    pub iters: usize,
    /// Iterations averaged at the end, K_avg.
    #[arg(long, default_value_t = 1000)]
    pub avg: usize,
    /// Independent chains.
    #[arg(long, default_value_t = 1)]
    pub chains: usize,
    /// Discretisation: lm (Leimkuhler–Matthews) or em (Euler–Maruyama, the paper's).
    #[arg(long, value_parser = parse_scheme, default_value = "lm")]
    pub scheme: Scheme,
    /// Subtract the drift of a noise-free companion chain.
    #[arg(long)]
    pub drift: bool,
}

impl LangevinArgs {
    /// The configuration, validated (errors name the flag).
    pub fn config(&self, ctx: &Ctx) -> anyhow::Result<LangevinConfig> {
        let c = LangevinConfig::new()
            .with_step(self.eta)
            .with_sigma2(self.sigma2)
            .with_k_tot(self.iters)
            .with_k_avg(self.avg)
            .with_chains(self.chains)
            .with_scheme(self.scheme)
            .with_drift_correction(self.drift)
            .with_seed(ctx.seed)
            .with_record_stride((self.iters / 2000).max(1));
        c.validate().map_err(|e| anyhow::anyhow!("{}", flag_names(&e.to_string())))?;
        Ok(c)
    }
}

/// Rewrites configuration field names as the flags that set them.
pub fn flag_names(msg: &str) -> String {
    msg.replace("invalid k_avg", "invalid --avg")
        .replace("invalid k_tot", "invalid --iters")
        .replace("invalid sigma2", "invalid --sigma2")
        .replace("invalid eta", "invalid --eta")
        .replace("invalid chains", "invalid --chains")
}

/// Prints a rank estimate in one line.
pub fn summary_line(r: &hessrank_rank::RankEstimate) -> String {
    format!(
        "estimated rank {:.1} ± {:.1} (95 % CI {:.1}–{:.1}; η = {:.3e}{}; {} gradient evaluations, {:.1} s{})",
        r.estimate,
        r.stderr,
        r.ci95[0],
        r.ci95[1],
        r.eta,
        r.eta_mu_max.map(|x| format!(", η μ_max = {x:.2}")).unwrap_or_default(),
        r.grad_evals,
        r.wall_s,
        if r.partial { ", PARTIAL: interrupted" } else { "" }
    )
}
