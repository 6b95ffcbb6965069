//! Our Adam (which exposes its second moment) follows Burn's `Adam` to f32 rounding.

use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, FloatDType};
use hessrank_core::device::with_float_dtype;
use hessrank_core::params::flatten_f64;
use hessrank_core::{Objective, ParamLayout, value_and_grad};
use hessrank_models::{GlobalMinimum, LinearNetConfig};
use hessrank_train::{AdamPhase, AdamState};

#[test]
#[allow(deprecated)]
fn our_adam_matches_burns_adam_over_five_steps() {
    // ndarray (deprecated in Burn 0.22, still our reference backend), not flex: this binary's other tests hold flex at f64, and a device keeps one
    // float dtype per process.
    let device = with_float_dtype(Device::ndarray(), FloatDType::F32).unwrap().autodiff();
    // A smooth objective (the linear net's population loss away from its minimum): on a ReLU
    // network, Adam's normalisation of near-zero gradients amplifies f32 rounding into kinks.
    let min = GlobalMinimum::random(6, 3, 1).unwrap();
    let objective = min.objective(&device);
    let start = LinearNetConfig::square(6, 3).with_init_std(0.5).with_seed(3).init(&device).unwrap();
    let cfg = AdamPhase::new().with_lr(1e-2);

    let mut ours = start.clone();
    let mut state = AdamState::new(&ParamLayout::of(&ours), &device);
    let mut theirs = start.clone();
    let mut optim = AdamConfig::new().with_epsilon(cfg.epsilon as f32).init();
    for step in 0..5 {
        let g = value_and_grad(&objective, &ours).grads;
        ours = state.step(ours, &g, &cfg);
        let loss = objective.loss(&theirs).sum();
        let grads = GradientsParams::from_grads(loss.backward(), &theirs);
        theirs = optim.step(cfg.lr, theirs, grads);
        let (a, b) = (flatten_f64(&ours), flatten_f64(&theirs));
        let err = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
        let scale = b.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        assert!(err <= 1e-6 * scale, "step {step}: max |θ_ours − θ_burn| = {err:e} (scale {scale})");
    }
    // Ours exposes the moments: v̂ > 0 wherever a gradient flowed.
    let v = state.v_hat(cfg.beta2).to_flat();
    assert!(v.iter().all(|x| *x > 0.0) && v.len() == 3 * 36);
}
