#!/usr/bin/env python3
"""The PyTorch side of scripts/bench/compare-pytorch: times the Langevin iteration that
crates/rank/examples/ld_timing.rs times in hessrank, and prints one JSON line.

    ld_pytorch.py linear SIZE f32|f64 THREADS [ITERS [DEVICE]] [--compile]   deep linear net, depth 5
    ld_pytorch.py dncnn SIZE f32|f64 THREADS [ITERS [DEVICE]] [--compile]    753-parameter DnCNN, SIZE images
    ld_pytorch.py dgemm SIZE f32|f64 THREADS                 SIZE^3 matrix product rate (GFLOP/s)

The iteration (eager, "pytorch") is the paper authors' autograd formulation: loss,
torch.autograd.grad, an in-place update θ ← θ − η∇L + √η σ (ξ_k + ξ_{k+1})/2 (Leimkuhler–Matthews,
G = I), fresh Gaussian noise, and the scalar loss read back to the host (hessrank records it too).
With --compile ("torch.compile") the whole step is one compiled function: torch.compile(fullgraph=True)
over torch.func.grad_and_value of a functional loss, with the update and the noise inside; the
compilation happens in the untimed warm-up steps.
"""
import json
import math
import sys

import torch

from bench_timing import time_steps


def langevin(params, loss_fn, eta=1e-5, sigma2=1e-5):
    b = 0.5 * math.sqrt(eta * sigma2)
    xi_prev = [torch.randn_like(p) for p in params]

    def step():
        loss = loss_fn()
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for i, (p, g) in enumerate(zip(params, grads)):
                xi = torch.randn_like(p)
                p.add_(g, alpha=-eta)
                p.add_(xi_prev[i] + xi, alpha=b)
                xi_prev[i] = xi
        return loss.item()

    return step


def langevin_compiled(params, loss_of, eta=1e-5, sigma2=1e-5):
    """The same iteration as `langevin`, compiled whole: `loss_of(params)` is a pure function."""
    b = 0.5 * math.sqrt(eta * sigma2)
    value_and_grad = torch.func.grad_and_value(loss_of)

    @torch.compile(fullgraph=True)
    def update(ps, xi_prev):
        grads, loss = value_and_grad(ps)
        xi = [torch.randn_like(p) for p in ps]
        new = [p - eta * g + b * (xp + x) for p, g, xp, x in zip(ps, grads, xi_prev, xi)]
        return new, xi, loss

    state = [[p.detach() for p in params], [torch.randn_like(p) for p in params]]

    def step():
        state[0], state[1], loss = update(state[0], state[1])
        return loss.item()

    return step


def linear(d, dtype, device, compiled=False):
    torch.manual_seed(1)
    params = [
        (torch.eye(d, dtype=dtype) + 0.1 * torch.randn(d, d, dtype=dtype)).to(device).requires_grad_()
        for _ in range(5)
    ]
    x = torch.randn(d, 2 * d, dtype=dtype, device=device)
    sx = x @ x.T / (2 * d)
    syx = torch.randn(d, d, dtype=dtype, device=device) @ sx

    def loss_of(ps):
        a = ps[0]
        for w in ps[1:]:
            a = w @ a
        return ((a @ sx) * a).sum() - 2.0 * (a * syx).sum()

    if compiled:
        return langevin_compiled(params, loss_of)
    return langevin(params, lambda: loss_of(params))


def dncnn(n, dtype, device, compiled=False):
    torch.manual_seed(1)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(8, 8, 3, padding=1),
        torch.nn.BatchNorm2d(8),
        torch.nn.ReLU(),
        torch.nn.Conv2d(8, 1, 3, padding=1),
    ).to(dtype=dtype, device=device)
    params = list(net.parameters())
    assert sum(p.numel() for p in params) == 753
    clean = torch.rand(n, 1, 28, 28, dtype=dtype, device=device)
    noisy = clean + torch.randn_like(clean)

    def loss():
        return ((noisy - net(noisy) - clean) ** 2).mean()

    def loss_of(ps):
        # The same network as `net`, written functionally (BatchNorm on batch statistics, as in
        # training mode, without the running averages, which do not enter the loss).
        w1, b1, w2, b2, gamma, beta, w3, b3 = ps
        f = torch.nn.functional
        h = f.relu(f.conv2d(noisy, w1, b1, padding=1))
        h = f.batch_norm(f.conv2d(h, w2, b2, padding=1), None, None, gamma, beta, training=True, eps=1e-5)
        h = f.relu(h)
        return ((noisy - f.conv2d(h, w3, b3, padding=1) - clean) ** 2).mean()

    if compiled:
        with torch.no_grad():
            assert torch.allclose(loss_of(params), loss()), "the functional DnCNN equals the module"
        return langevin_compiled(params, loss_of)
    return langevin(params, loss)


def main():
    compiled = "--compile" in sys.argv
    argv = [a for a in sys.argv if a != "--compile"]
    if len(argv) < 5:
        sys.exit(__doc__)
    model, size, dt, threads = argv[1], int(argv[2]), argv[3], int(argv[4])
    dtype = {"f32": torch.float32, "f64": torch.float64}[dt]
    torch.set_num_threads(threads)
    out = {"impl": "torch.compile" if compiled else "pytorch", "model": model, "size": size, "dtype": dt, "threads": threads,
           "torch": torch.__version__}
    if model == "dgemm":
        a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
        median, low = time_steps(lambda: torch.mm(a, b), 200)
        out.update(median_s=median, min_s=low, gflops=2 * size**3 / median / 1e9)
    else:
        default = {"linear": 100 if size >= 128 else 300, "dncnn": 10 if size >= 1024 else 30}[model]
        iters = int(argv[5]) if len(argv) > 5 else default
        device = argv[6] if len(argv) > 6 else "cpu"
        out["device"] = device
        step = {"linear": linear, "dncnn": dncnn}[model](size, dtype, device, compiled)
        median, low = time_steps(step, iters)
        out.update(iters=iters, median_s=median, min_s=low)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
