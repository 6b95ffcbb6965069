//! Langevin steps on the DnCNN, whose layers run on hessrank's own kernels: the trajectory does not
//! depend on the thread count.

use crate::common::*;
use hessrank_core::params::flatten_f64;
use hessrank_core::{DiagPreconditioner, ParamLayout};
use hessrank_models::{DnCnnConfig, Mnist, NoisyMnist, NoisyMnistConfig};
use hessrank_rank::langevin::LangevinRun;
use hessrank_rank::{LangevinConfig, StepSize};

/// On 20 images the weight gradients' image chunks (8, 8, 4), the per-image convolutions and the
/// per-channel BatchNorm sums all split across threads; three steps give the same losses and the
/// same parameters, bit for bit, on one thread and on two.
#[test]
fn dncnn_steps_are_bitwise_the_same_on_one_thread_and_on_two() {
    let trajectory = || {
        let device = f64_device();
        let mnist = Mnist::bundled().unwrap();
        let objective = NoisyMnist::new(&mnist, &NoisyMnistConfig::new().with_n_images(20), &device).unwrap();
        let net = DnCnnConfig::new().init(&device).unwrap();
        let g = DiagPreconditioner::identity(&ParamLayout::of(&net), &device);
        let config = LangevinConfig::new()
            .with_chains(1)
            .with_sigma2(2e-5)
            .with_step(StepSize::Fixed(1e-4))
            .with_k_tot(3)
            .with_k_avg(1)
            .with_check_step(false)
            .with_seed(5);
        let mut run = LangevinRun::new(&config, &objective, &net, &g).unwrap();
        let losses: Vec<u64> = (0..3).flat_map(|_| run.step().unwrap()).map(f64::to_bits).collect();
        let theta: Vec<u64> = flatten_f64(run.models().next().unwrap()).iter().map(|v| v.to_bits()).collect();
        (losses, theta)
    };
    let on_pool =
        |threads: usize| rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(trajectory);
    let one = on_pool(1);
    assert_eq!((one.0.len(), one.1.len()), (3, 753));
    assert!(on_pool(2) == one, "the DnCNN trajectory depends on the thread count");
}
