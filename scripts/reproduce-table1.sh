#!/usr/bin/env bash
# The paper's Table 1 and Figure 2 under the authors' protocol (one spectrum per d, a new gauge per
# trial), 32 trials per d, depth 5, K_tot = 15,000, K_avg = 10,000, sigma^2 = 2e-5:
#   - Euler-Maruyama at the paper's eta = 1e-4, with U&S (degree 50, 300 vectors) on the same minima;
#   - Leimkuhler-Matthews with the automatic step (eta = 1/mu_max, the default), the same budget.
# d = 8 ... 64 run in f64; the sweep is then extended (--resume) to d = 128 and 256 in f32, which
# agrees with f64 at d = 64 to 1e-6 per trial and is 2-3x faster. Each row of result.json records
# its dtype. Figure 2 (both schemes and U&S) is drawn from the two runs at the end.
#   --quick   d in {8, 16, 32} only, in f64 (~3 minutes on a 2-core CPU).
# The full table takes about two hours on a 2-core CPU (d = 256: 327,680 parameters per trial,
# 32 trials batched, 30-50 minutes per scheme). A stopped part resumes: rerun this script with
# RESUME=1 and it continues the newest folders under results/table1-full/.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release
H=target/release/hessrank
root=results/table1-full
quick=false
if [[ "${1:-}" == "--quick" ]]; then
  quick=true
  shift
fi
common=(table1 --trials 32 --protocol authors)
em=(--scheme em --eta 1e-4)
lm=(--scheme lm --eta auto --no-us)

newest() { ls -td "$1"/table1-* 2>/dev/null | head -1 || true; }

# run_scheme NAME FLAGS...: d <= 64 (or <= 32) in f64, then d = 128, 256 in f32 into the same folder.
run_scheme() {
  local name=$1
  shift
  local dir
  dir=$(newest "$root/$name")
  if $quick; then
    if [[ -n "${RESUME:-}" && -n "$dir" ]]; then
      $H --out "$root/$name" "${common[@]}" --dims 8,16,32 "$@" --resume "$dir"
    else
      $H --out "$root/$name" "${common[@]}" --dims 8,16,32 "$@"
    fi
    return
  fi
  if [[ -z "${RESUME:-}" || -z "$dir" ]]; then
    $H --out "$root/$name" "${common[@]}" --dims 8,16,32,64 "$@"
    dir=$(newest "$root/$name")
  elif [[ ! -f "$dir/d64.json" ]]; then
    $H --out "$root/$name" "${common[@]}" --dims 8,16,32,64 "$@" --resume "$dir"
  fi
  $H --dtype f32 --out "$root/$name" "${common[@]}" --dims 8,16,32,64,128,256 "$@" --resume "$dir"
}

run_scheme em "${em[@]}" "$@"
run_scheme lm "${lm[@]}" "$@"
$H --out "$root" figure2 "$(newest "$root/em")" "$(newest "$root/lm")"
