//! Probing your own Burn model: a small ReLU MLP, at a minimum by construction (the targets are its
//! own outputs, so θ₀ has zero loss), its Hessian rank by Algorithm 1 beside the exact count.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig, Relu};
use burn::tensor::{Device, FloatDType, Tensor, TensorData};
use hessrank::{Hessian, Langevin};

#[derive(Module, Debug)]
struct Mlp {
    hidden: Linear,
    out: Linear,
    relu: Relu,
}

impl Mlp {
    fn new(device: &Device) -> Self {
        Mlp {
            hidden: LinearConfig::new(4, 16).init(device),
            out: LinearConfig::new(16, 2).init(device),
            relu: Relu::new(),
        }
    }
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.out.forward(self.relu.forward(self.hidden.forward(x)))
    }
}

fn main() -> hessrank::Result<()> {
    let device = hessrank::core::device::with_float_dtype(Device::flex(), FloatDType::F64)?.autodiff();
    device.seed(0); // Burn's initialisers draw from the device's generator: the same seed, the same numbers
    let model = Mlp::new(&device);
    let x = Tensor::<2>::from_data(TensorData::new((0..32).map(|i| (i as f64 * 0.7).sin()).collect(), [8, 4]), &device);
    let y = model.forward(x.clone()).detach(); // the targets are the model's outputs: θ₀ is a minimum
    let loss = |m: &Mlp| m.forward(x.clone()).sub(y.clone()).powi_scalar(2).mean();
    let rank = Langevin::new().sigma2(1e-5).k_tot(6000).k_avg(3000).chains(4).run(&loss, &model)?;
    println!("{rank}");
    println!("exact: {} eigenvalues above 1e-6 λ_max", Hessian::new(loss, &model).eigenvalues().count_above(1e-6));
    Ok(())
}
