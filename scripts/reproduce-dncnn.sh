#!/usr/bin/env bash
# The DnCNN experiment (Figure 3): the 753-parameter denoiser on N noisy MNIST digits (noise std 1),
# Adam's preconditioner, Algorithm 1 (LM, eta = 1/mu_max, drift-corrected), the exact Hessian by
# finite differences in f64, U&S, Figure 3 and the validation panel.
# Default (N = 32, 1,500 iterations, loads models/dncnn-mnist): ~2.5 minutes on a 2-core CPU.
#   --paper   N = 256 images, 30,000 iterations averaged over the last 10,000, retrained:
#             several hours on a 2-core CPU (a GPU build helps).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--paper" ]]; then
  shift
  cargo run --release -- dncnn --dir models/dncnn-mnist-256 --n-images 256 --iters 30000 --avg 10000 "$@"
else
  cargo run --release -- dncnn "$@"
fi
