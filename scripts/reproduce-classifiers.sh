#!/usr/bin/env bash
# The classifiers beyond the paper, probed end to end: a ReLU MLP (784-4-10, 3,190 parameters) and
# a small CNN (4-8 channels, 4,266 parameters) on N = 256 MNIST digits with softmax cross-entropy
# and label smoothing 0.1 (without it, a network that separates its batch has no minimum). Each
# checkpoint in models/ is trained if missing (SGD -> GD -> L-BFGS -> Adam for G); then the exact
# spectrum, Algorithm 1 at sigma2 = 1e-5 and 1e-6 (the CNN: 1e-5) with paired frozen chains checked
# against the discrete theory on the exact Hessian (--validate), and the rank of every layer's
# diagonal block (--per-layer). About 30 minutes on 2 cores; MODELS=cnn (or mlp) runs one.
# Results in results/classifiers/ (the committed copies: docs/classifiers/).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release
hr=target/release/hessrank
out=results/classifiers
train_flags=(--n-images 256 --label-smoothing 0.1 --sgd-epochs 40 --gd-steps 500 --lbfgs-steps 3000)
# The CNN's gradient at N = 256 costs ~30× the MLP's, so it runs one σ² and half the iterations.
declare -A est_flags=(
  [mlp]="--iters 4000 --avg 2000 --chains 4 --sigma2 1e-5,1e-6"
  [cnn]="--iters 2000 --avg 1000 --chains 4 --sigma2 1e-5"
)
# Seed 2: seed 0 left 2 of the 4 hidden units dead (G = s/ε on their weights, so the noise revives
# them and the loss drops below L(θ₀)); seed 2 leaves none dead.
[[ -f models/mlp-mnist/manifest.json ]] || $hr --seed 2 train mlp --widths 784-4-10 "${train_flags[@]}" --dir models/mlp-mnist
[[ -f models/cnn-mnist/manifest.json ]] || $hr train cnn --channels 4-8 "${train_flags[@]}" --dir models/cnn-mnist
for m in ${MODELS:-mlp cnn}; do
  read -r -a flags <<<"${est_flags[$m]}"
  $hr --quiet --out "$out/$m" spectrum --model "models/$m-mnist"
  $hr --quiet --out "$out/$m" estimate --model "models/$m-mnist" "${flags[@]}" --validate
  $hr --quiet --out "$out/$m" estimate --model "models/$m-mnist" "${flags[@]:0:6}" --per-layer
done
