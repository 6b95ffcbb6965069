//! The three-phase schedule with resumable checkpoints.
//!
//! θ₀ is the result of GD on the fixed objective; Adam then runs on a **copy** of θ₀ so that the
//! point whose Hessian is measured stays the GD minimum, and only Adam's second moment is kept (as
//! G). A resumable state is written after every SGD epoch and every `checkpoint_every` GD/Adam steps
//! into `<out>/resume/`; calling [`train`] again on the same folder continues from it and ends with
//! the same parameters as an uninterrupted run (the minibatch noise depends only on (seed, epoch)).

use crate::adam::AdamState;
use crate::checkpoint::{BURN_VERSION, Checkpoint, Manifest, PhaseLog, load_module, save_module};
use crate::config::TrainConfig;
use burn::module::Module;
use hessrank_core::atomic::{read_json, write_json_atomic};
use hessrank_core::params::{HostParams, flatten_f64, map_trainable, params_of, unflatten_f64};
use hessrank_core::{
    DiagPreconditioner, Error, Minibatches, Objective, ParamLayout, ParamTensors, Result, value_and_grad,
};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// Receives training progress (the trainer never prints).
pub trait TrainObserver {
    /// After each step of `phase` (`step` of `total`); return `false` to stop (the run ends with
    /// [`Error::Interrupted`] and resumes from its last checkpoint).
    fn step(&mut self, _phase: &str, _step: usize, _total: usize, _loss: f64, _grad_norm: f64) -> bool {
        true
    }
}

impl TrainObserver for () {}

fn interrupted(out: &Path, phase: &'static str, iteration: usize, total: usize) -> Error {
    Error::Interrupted { phase, iteration, total, resume: Some(out.join("resume")) }
}

/// A finished training: θ₀, G and the manifest (also written to the output folder); `K` is the
/// model description the manifest records.
pub struct TrainOutcome<M, K> {
    /// θ₀, the GD minimum.
    pub model: M,
    /// G from Adam's second moment.
    pub precond: DiagPreconditioner,
    /// What was done.
    pub manifest: Manifest<K>,
}

/// Where a resumable run stands.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Position {
    Sgd { next_epoch: usize },
    Gd { next_step: usize },
    Lbfgs,
    Adam { next_step: usize, t: usize },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ResumeState {
    position: Position,
    phases: Vec<PhaseLog>,
    sgd_steps: usize,
    elapsed_s: f64,
    config: TrainConfig,
}

fn save_tensors(path: &Path, kind: &str, layout: &ParamLayout, t: &ParamTensors) -> Result<()> {
    write_json_atomic(path, &HostParams::capture(kind, layout, t))
}

fn load_tensors(path: &Path, layout: &ParamLayout, device: &burn::tensor::Device) -> Result<ParamTensors> {
    let host: HostParams = read_json(path)?;
    host.to_tensors(layout, device, &path.display().to_string())
}

/// Trains `model` on `batches` (SGD) and `full` (GD, Adam), writing the checkpoint into `out`.
/// Resumes from `out/resume/` when it holds a state of the same schedule. `model_kind` describes
/// the model and its data; the manifest records it (see [`Manifest`]).
pub fn train<B, F, K>(
    config: &TrainConfig,
    batches: &B,
    full: &F,
    model: B::Model,
    out: &Path,
    model_kind: K,
    observer: &mut dyn TrainObserver,
) -> Result<TrainOutcome<B::Model, K>>
where
    B: Minibatches,
    F: Objective<Model = B::Model>,
    B::Model: Clone,
    K: Serialize,
{
    config.validate()?;
    let start = Instant::now();
    let layout = ParamLayout::of(&model);
    let device = params_of(&model)
        .tensors
        .first()
        .map(|t| t.device())
        .ok_or_else(|| Error::config("model", "no trainable parameters", "a model on an autodiff device"))?;
    let resume_dir = out.join("resume");
    std::fs::create_dir_all(&resume_dir).map_err(|e| Error::io(&resume_dir, e))?;
    let state_path = resume_dir.join("state.json");

    let mut model = model;
    let mut velocity = ParamTensors::full(&layout, 0.0, &device);
    let mut adam = AdamState::new(&layout, &device);
    let mut adam_model: Option<B::Model> = None;
    let mut state = ResumeState {
        position: Position::Sgd { next_epoch: 0 },
        phases: Vec::new(),
        sgd_steps: 0,
        elapsed_s: 0.0,
        config: config.clone(),
    };
    if state_path.is_file() {
        let saved: ResumeState = read_json(&state_path)?;
        if serde_json::to_value(&saved.config).ok() == serde_json::to_value(config).ok() {
            model = load_module(model, &resume_dir.join("model.bpk"))?;
            match &saved.position {
                Position::Sgd { .. } => velocity = load_tensors(&resume_dir.join("velocity.json"), &layout, &device)?,
                Position::Gd { .. } | Position::Lbfgs => {}
                Position::Adam { t, .. } => {
                    adam_model = Some(load_module(model.clone(), &resume_dir.join("adam_model.bpk"))?);
                    adam.m = load_tensors(&resume_dir.join("adam_m.json"), &layout, &device)?;
                    adam.v = load_tensors(&resume_dir.join("adam_v.json"), &layout, &device)?;
                    adam.t = *t;
                }
            }
            state = saved;
        }
    }
    let elapsed0 = state.elapsed_s;
    let checkpoint = |state: &mut ResumeState, model: &B::Model, extra: &dyn Fn() -> Result<()>| -> Result<()> {
        state.elapsed_s = elapsed0 + start.elapsed().as_secs_f64();
        save_module(model, &resume_dir.join("model.bpk"))?;
        extra()?;
        write_json_atomic(&state_path, state)
    };

    // Phase 1: SGD with momentum, fresh noise every epoch.
    if let Position::Sgd { next_epoch } = state.position {
        let t0 = Instant::now();
        let mut last = f64::NAN;
        for epoch in next_epoch..config.sgd.epochs {
            for batch in batches.epoch(epoch as u64, config.sgd.batch_size) {
                let vg = value_and_grad(&batch, &model);
                if !vg.loss.is_finite() {
                    return Err(Error::Diverged {
                        phase: "sgd",
                        iteration: epoch,
                        chain: None,
                        loss: vg.loss,
                        bound: f64::INFINITY,
                        eta: config.sgd.lr,
                        eta_mu_max: None,
                    });
                }
                velocity = velocity.zip(&vg.grads, |v, g| v.mul_scalar(config.sgd.momentum).add(g));
                model = map_trainable(model, |i, t| t.sub(velocity.tensors[i].clone().mul_scalar(config.sgd.lr)));
                state.sgd_steps += 1;
                last = vg.loss;
                if !observer.step("sgd", epoch + 1, config.sgd.epochs, vg.loss, f64::NAN) {
                    return Err(interrupted(out, "sgd", epoch, config.sgd.epochs));
                }
            }
            state.position = Position::Sgd { next_epoch: epoch + 1 };
            let v = velocity.clone();
            checkpoint(&mut state, &model, &|| {
                save_tensors(&resume_dir.join("velocity.json"), "sgd-velocity", &layout, &v)
            })?;
        }
        state.phases.push(PhaseLog {
            phase: "sgd".into(),
            steps: state.sgd_steps,
            final_loss: last,
            final_grad_norm: None,
            stop: "epochs".into(),
            wall_s: t0.elapsed().as_secs_f64(),
        });
        state.position = Position::Gd { next_step: 0 };
        checkpoint(&mut state, &model, &|| Ok(()))?;
    }

    // Phase 2: full-batch GD on the fixed objective.
    if let Position::Gd { next_step } = state.position {
        let t0 = Instant::now();
        let mut step = next_step;
        let (loss, gnorm, stop) = loop {
            let vg = value_and_grad(full, &model);
            let gnorm = vg.grads.sq_norm().sqrt();
            if !observer.step("gd", step, config.gd.max_steps, vg.loss, gnorm) {
                return Err(interrupted(out, "gd", step, config.gd.max_steps));
            }
            if !vg.loss.is_finite() {
                return Err(Error::Diverged {
                    phase: "gd",
                    iteration: step,
                    chain: None,
                    loss: vg.loss,
                    bound: f64::INFINITY,
                    eta: config.gd.lr,
                    eta_mu_max: None,
                });
            }
            if gnorm <= config.gd.tol {
                break (vg.loss, gnorm, "tolerance");
            }
            if step >= config.gd.max_steps {
                break (vg.loss, gnorm, "step limit");
            }
            model = map_trainable(model, |i, t| t.sub(vg.grads.tensors[i].clone().mul_scalar(config.gd.lr)));
            step += 1;
            if step.is_multiple_of(config.checkpoint_every) {
                state.position = Position::Gd { next_step: step };
                checkpoint(&mut state, &model, &|| Ok(()))?;
            }
        };
        state.phases.push(PhaseLog {
            phase: "gd".into(),
            steps: step,
            final_loss: loss,
            final_grad_norm: Some(gnorm),
            stop: stop.into(),
            wall_s: t0.elapsed().as_secs_f64(),
        });
        state.position = Position::Lbfgs;
        checkpoint(&mut state, &model, &|| Ok(()))?;
    }

    // Phase 2b: optional L-BFGS finish on the fixed objective.
    if let Position::Lbfgs = state.position {
        if config.gd.lbfgs_steps > 0 {
            let t0 = Instant::now();
            let mut current = model.clone();
            let mut stopped = false;
            let (x, loss, gnorm) = crate::lbfgs::minimize(
                |x| match unflatten_f64(current.clone(), x) {
                    Ok(m) => {
                        let vg = value_and_grad(full, &m);
                        (vg.loss, vg.grads.to_flat())
                    }
                    Err(_) => (f64::NAN, vec![0.0; x.len()]),
                },
                flatten_f64(&model),
                config.gd.lbfgs_steps,
                config.gd.tol,
                20,
                |it, loss, gnorm| {
                    let go = observer.step("lbfgs", it + 1, config.gd.lbfgs_steps, loss, gnorm);
                    stopped |= !go;
                    go
                },
            );
            if stopped {
                return Err(interrupted(out, "lbfgs", 0, config.gd.lbfgs_steps));
            }
            current = unflatten_f64(current, &x)?;
            model = current;
            let last = (loss, gnorm);
            state.phases.push(PhaseLog {
                phase: "lbfgs".into(),
                steps: config.gd.lbfgs_steps,
                final_loss: last.0,
                final_grad_norm: Some(last.1),
                stop: if last.1 <= config.gd.tol { "tolerance".into() } else { "step limit".into() },
                wall_s: t0.elapsed().as_secs_f64(),
            });
        }
        state.position = Position::Adam { next_step: 0, t: 0 };
        adam_model = Some(model.clone());
        let am = model.clone();
        let a = adam.clone();
        checkpoint(&mut state, &model, &|| save_adam(&resume_dir, &am, &a, &layout))?;
    }

    // Phase 3: Adam on a copy of θ₀, for its second moment.
    let Position::Adam { next_step, .. } = state.position else { unreachable!("phases run in order") };
    let t0 = Instant::now();
    let mut copy = adam_model.unwrap_or_else(|| model.clone());
    let mut last = (f64::NAN, f64::NAN);
    for step in next_step..config.adam.steps {
        let vg = value_and_grad(full, &copy);
        let gnorm = vg.grads.sq_norm().sqrt();
        last = (vg.loss, gnorm);
        if !observer.step("adam", step + 1, config.adam.steps, vg.loss, gnorm) {
            return Err(interrupted(out, "adam", step, config.adam.steps));
        }
        copy = adam.step(copy, &vg.grads, &config.adam);
        if (step + 1).is_multiple_of(config.checkpoint_every) && step + 1 < config.adam.steps {
            state.position = Position::Adam { next_step: step + 1, t: adam.t };
            let (c, a) = (copy.clone(), adam.clone());
            checkpoint(&mut state, &model, &|| save_adam(&resume_dir, &c, &a, &layout))?;
        }
    }
    state.phases.push(PhaseLog {
        phase: "adam".into(),
        steps: config.adam.steps,
        final_loss: last.0,
        final_grad_norm: Some(last.1),
        stop: "steps".into(),
        wall_s: t0.elapsed().as_secs_f64(),
    });

    let (precond, scale) = adam.preconditioner(&layout, &config.adam, config.precond_scale)?;
    let vg = value_and_grad(full, &model);
    let manifest = Manifest {
        model: model_kind,
        train_config: config.clone(),
        layout: layout.clone(),
        final_loss: vg.loss,
        final_grad_norm: vg.grads.sq_norm().sqrt(),
        precond_scale: scale,
        phases: state.phases.clone(),
        burn_version: BURN_VERSION.into(),
        hessrank_version: env!("CARGO_PKG_VERSION").into(),
        dtype: format!("{:?}", device.settings().float_dtype),
        wall_s: elapsed0 + start.elapsed().as_secs_f64(),
    };
    Checkpoint::save(out, &model, &precond, &manifest)?;
    std::fs::remove_dir_all(&resume_dir).map_err(|e| Error::io(&resume_dir, e))?;
    Ok(TrainOutcome { model, precond, manifest })
}

fn save_adam<M: Module>(dir: &Path, copy: &M, adam: &AdamState, layout: &ParamLayout) -> Result<()> {
    save_module(copy, &dir.join("adam_model.bpk"))?;
    save_tensors(&dir.join("adam_m.json"), "adam-m", layout, &adam.m)?;
    save_tensors(&dir.join("adam_v.json"), "adam-v", layout, &adam.v)
}
