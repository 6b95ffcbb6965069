#!/usr/bin/env python3
"""Per-channel norms of the convolution that feeds BatchNorm in a DnCNN Langevin run.

BatchNorm makes the loss invariant to the scale of each output channel of the convolution before
it, so those directions are exactly flat at θ₀ and the Langevin noise random-walks along them: each
channel's norm grows roughly as sqrt(‖w_c‖² + fan_in · K · η σ² G), and the curvature of the layer
falls as 1/‖w_c‖². This prints the norms of the noise-free companion chain (which stays near θ₀) and
of every noisy chain at the end of a run, from its saved state.

Usage: scripts/bn-channel-norms.py RESULTS_DIR [CHECKPOINT_DIR]
  RESULTS_DIR     a dncnn run folder holding langevin-state.json (and langevin-state-frozen.json)
  CHECKPOINT_DIR  the checkpoint it started from, for the parameter layout (default
                  models/dncnn-mnist-256)
"""
import json
import math
import sys
from pathlib import Path


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    run = Path(sys.argv[1])
    checkpoint = Path(sys.argv[2] if len(sys.argv) > 2 else "models/dncnn-mnist-256")
    specs = json.loads((checkpoint / "manifest.json").read_text())["layout"]["specs"]
    offset, conv = 0, None
    for s in specs:
        n = math.prod(s["shape"])
        if s["path"].endswith("conv.weight"):
            conv = (s["path"], offset, s["shape"])
            break
        offset += n
    if conv is None:
        sys.exit(f"{checkpoint}/manifest.json: no convolution feeding a BatchNorm (no '*.conv.weight')")
    path, start, shape = conv
    channels, fan_in = shape[0], math.prod(shape[1:])

    def norms(params):
        w = params[start : start + channels * fan_in]
        return " ".join(f"{math.sqrt(sum(x * x for x in w[c * fan_in : (c + 1) * fan_in])):6.3f}" for c in range(channels))

    files = [run / n for n in ["langevin-state.json", "langevin-state-frozen.json"] if (run / n).exists()]
    if not files:
        sys.exit(f"{run}: no langevin-state.json (a dncnn run folder saves it every --checkpoint-every steps)")
    print(f"per-channel norms of {path} ({channels} channels × {fan_in} weights)")
    for f in files:
        name = f.name
        state = json.loads(f.read_text())
        print(f"{name} at k = {state['k']}:")
        print(f"  companion (no noise) {norms(state['companion']['params'])}")
        for i, r in enumerate(state["replicas"]):
            print(f"  chain {i}              {norms(r['params'])}")


if __name__ == "__main__":
    main()
