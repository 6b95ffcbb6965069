#!/usr/bin/env bash
# The paper's Table 1 and Figure 2: 100 trials per d in {8, 16, 32, 64, 128, 256}, depth 5, EM,
# eta = 1e-4, sigma^2 = 2e-5, K_tot = 15,000, K_avg = 10,000, and U&S (degree 50, 300 vectors) on the
# closed-form Hessian with the same matrix-vector budget.
#   --quick   d in {8, 16, 32}, 32 trials (~3 minutes on a 2-core CPU), then the LM scheme with the
#             automatic step (eta = 1.5/mu_max) on the same sizes: the tables in docs/.
# Trials follow the authors' protocol (one spectrum per d, a new gauge P per trial); add
# --protocol fresh for a new spectrum per trial.
# Expected run time of the full table on a 2-core CPU: many hours (d = 256 alone is 327,680
# parameters per trial, and U&S needs 15,000 structured products per trial); use a GPU build
# (--features wgpu, --backend wgpu --dtype f32) for d >= 128.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--quick" ]]; then
  shift
  cargo run --release -- table1 --dims 8,16,32 --trials 32 "$@"
  cargo run --release -- table1 --dims 8,16,32 --trials 32 --scheme lm --eta auto:1.5 --no-us "$@"
else
  cargo run --release -- table1 "$@"
fi
