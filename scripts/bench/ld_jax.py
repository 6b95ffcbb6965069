#!/usr/bin/env python3
"""The JAX side of scripts/bench/compare-pytorch: the Langevin iteration that ld_timing and
ld_pytorch.py time, as one jax.jit-compiled step, and one JSON line.

    ld_jax.py linear SIZE f32|f64 [ITERS]   deep linear net, depth 5, population loss
    ld_jax.py dncnn SIZE f32|f64 [ITERS]    753-parameter DnCNN on SIZE noisy images

The step is jax.jit over jax.value_and_grad of the loss, the Leimkuhler–Matthews update
θ ← θ − η∇L + √η σ (ξ_k + ξ_{k+1})/2 (G = I) and fresh jax.random noise; the scalar loss is read back
to the host each step, as hessrank records it. Compilation happens in the untimed warm-up steps.
XLA's CPU thread count is not settable per process: pin the process (taskset) to limit it.
"""
import json
import math
import sys

from bench_timing import time_steps


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    model, size, dt = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    import jax

    if dt == "f64":
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    dtype = {"f32": jnp.float32, "f64": jnp.float64}[dt]
    key = jax.random.PRNGKey(1)
    keys = iter(jax.random.split(key, 16))
    eta, sigma2 = 1e-5, 1e-5
    b = 0.5 * math.sqrt(eta * sigma2)

    if model == "linear":
        d = size
        params = [jnp.eye(d, dtype=dtype) + 0.1 * jax.random.normal(next(keys), (d, d), dtype) for _ in range(5)]
        x = jax.random.normal(next(keys), (d, 2 * d), dtype)
        sx = x @ x.T / (2 * d)
        syx = jax.random.normal(next(keys), (d, d), dtype) @ sx

        def loss_of(ps):
            a = ps[0]
            for w in ps[1:]:
                a = w @ a
            return ((a @ sx) * a).sum() - 2.0 * (a * syx).sum()

    elif model == "dncnn":
        n = size

        def conv_init(k, c_out, c_in):
            bound = 1.0 / math.sqrt(c_in * 9)
            kw, kb = jax.random.split(k)
            return (jax.random.uniform(kw, (c_out, c_in, 3, 3), dtype, -bound, bound),
                    jax.random.uniform(kb, (c_out,), dtype, -bound, bound))

        w1, b1 = conv_init(next(keys), 8, 1)
        w2, b2 = conv_init(next(keys), 8, 8)
        w3, b3 = conv_init(next(keys), 1, 8)
        params = [w1, b1, w2, b2, jnp.ones(8, dtype), jnp.zeros(8, dtype), w3, b3]
        assert sum(p.size for p in params) == 753
        clean = jax.random.uniform(next(keys), (n, 1, 28, 28), dtype)
        noisy = clean + jax.random.normal(next(keys), clean.shape, dtype)

        def conv(h, w, bias):
            y = jax.lax.conv_general_dilated(h, w, (1, 1), "SAME", dimension_numbers=("NCHW", "OIHW", "NCHW"))
            return y + bias[None, :, None, None]

        def loss_of(ps):
            w1, b1, w2, b2, gamma, beta, w3, b3 = ps
            h = jax.nn.relu(conv(noisy, w1, b1))
            h = conv(h, w2, b2)
            mean = h.mean(axis=(0, 2, 3), keepdims=True)
            var = h.var(axis=(0, 2, 3), keepdims=True)
            h = (h - mean) / jnp.sqrt(var + 1e-5) * gamma[None, :, None, None] + beta[None, :, None, None]
            h = jax.nn.relu(h)
            return ((noisy - conv(h, w3, b3) - clean) ** 2).mean()

    else:
        sys.exit(__doc__)

    value_and_grad = jax.value_and_grad(loss_of)

    @jax.jit
    def update(ps, xi_prev, k):
        loss, grads = value_and_grad(ps)
        k, sub = jax.random.split(k)
        subs = jax.random.split(sub, len(ps))
        xi = [jax.random.normal(s, p.shape, p.dtype) for s, p in zip(subs, ps)]
        new = [p - eta * g + b * (xp + x) for p, g, xp, x in zip(ps, grads, xi_prev, xi)]
        return new, xi, loss, k

    state = [params, [jnp.zeros_like(p) for p in params], next(keys)]

    def step():
        state[0], state[1], loss, state[2] = update(*state)
        return float(loss)

    default = {"linear": 100 if size >= 128 else 300, "dncnn": 10 if size >= 1024 else 30}[model]
    iters = int(sys.argv[4]) if len(sys.argv) > 4 else default
    median, low = time_steps(step, iters)
    print(json.dumps({"impl": "jax", "model": model, "size": size, "dtype": dt, "jax": jax.__version__,
                      "iters": iters, "median_s": median, "min_s": low}))


if __name__ == "__main__":
    main()
