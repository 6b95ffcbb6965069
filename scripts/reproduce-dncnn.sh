#!/usr/bin/env bash
# The DnCNN experiment (Figure 3): the 753-parameter denoiser on N noisy MNIST digits (noise std 1),
# Adam's preconditioner, Algorithm 1 (LM, eta = 1/mu_max, control-variate drift correction) on the
# real loss and, paired, on the frozen-activation objective; the exact Hessian by finite
# differences in f64, the published U&S, Figure 3, the validation panel and the threshold curve.
# Default (N = 32, --iters auto up to 4,000 iterations, loads models/dncnn-mnist): ~2 minutes on a
# 2-core CPU. The 8 BatchNorm-fed channels move on the spheres of their θ0 norms (--symmetry project,
# the default; --symmetry off for the plain dynamics).
#   --paper   the paper's scale: N = 256 images (the largest batch whose f64 Hessian by finite
#             differences takes minutes, not hours, on a CPU), K_tot = 30,000, K_avg = 10,000,
#             sigma2 = 1e-5, Adam's G, 4 real + 4 frozen chains in f32 (the Hessian in f64 first,
#             saved and read back). Loads models/dncnn-mnist-256. About 80 minutes on 2 cores; it
#             saves its state every 500 iterations: rerun with --resume results/paper-256/dncnn-*
#             to continue. Extra flags go to `dncnn` (e.g. --mnist DIR for the full MNIST release).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--paper" ]]; then
  shift
  out=results/paper-256
  mkdir -p "$out"
  cargo build --release
  if [[ ! -f "$out/hessian.npy" ]]; then
    target/release/hessrank --quiet --out "$out" spectrum --model models/dncnn-mnist-256 --save-hessian "$out/hessian.npy"
  fi
  target/release/hessrank --dtype f32 --out "$out" dncnn --dir models/dncnn-mnist-256 --n-images 256 \
    --iters 30000 --avg 10000 --chains 4 --hessian "$out/hessian.npy" "$@"
else
  cargo run --release -- dncnn "$@"
fi
