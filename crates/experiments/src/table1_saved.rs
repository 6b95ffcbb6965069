//! A finished `table1` run read back from its folder, for figures that combine several runs (both
//! schemes and U&S in one Figure 2).

use crate::table1::Table1Row;
use hessrank_core::atomic::read_json;
use hessrank_core::{Error, Result};
use hessrank_rank::{Scheme, StepSize};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// One `table1` run's rows and the settings that name it.
#[derive(Debug, Clone)]
pub struct SavedTable1 {
    /// The run's folder.
    pub dir: PathBuf,
    /// Its scheme.
    pub scheme: Scheme,
    /// Its step rule.
    pub step: StepSize,
    /// One row per finished d.
    pub rows: Vec<Table1Row>,
}

#[derive(Deserialize)]
struct SavedSpec {
    langevin: SavedLangevin,
}

#[derive(Deserialize)]
struct SavedLangevin {
    scheme: Scheme,
    step: StepSize,
}

#[derive(Deserialize)]
struct SavedReport {
    table: Vec<Table1Row>,
    partial: bool,
}

impl SavedTable1 {
    /// Reads `dir/config.json` and `dir/result.json`; a run that stopped early is an error naming it.
    pub fn read(dir: &Path) -> Result<Self> {
        let spec: SavedSpec = read_json(&dir.join("config.json"))?;
        let result_path = dir.join("result.json");
        let report: SavedReport = read_json(&result_path)?;
        if report.partial {
            return Err(Error::format(&result_path, "a partial run (finish it with `table1 --resume` first)"));
        }
        Ok(Self { dir: dir.to_path_buf(), scheme: spec.langevin.scheme, step: spec.langevin.step, rows: report.table })
    }

    /// "EM, η = 0.0001" or "LM, η = 1/μ_max".
    pub fn label(&self) -> String {
        let scheme = match self.scheme {
            Scheme::EulerMaruyama => "EM",
            Scheme::LeimkuhlerMatthews => "LM",
        };
        match self.step {
            StepSize::Fixed(eta) => format!("{scheme}, η = {eta}"),
            StepSize::Auto { c } => format!("{scheme}, η = {c}/μ_max"),
        }
    }
}
