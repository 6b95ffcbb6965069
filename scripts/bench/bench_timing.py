"""The timing both Python peers share (ld_pytorch.py, ld_jax.py): the median and minimum seconds of
`iters` single steps after `iters // 5 + 3` untimed warm-up steps (compilation happens there)."""
import time


def time_steps(step, iters):
    for _ in range(iters // 5 + 3):
        step()
    t = []
    for _ in range(iters):
        s = time.perf_counter()
        step()
        t.append(time.perf_counter() - s)
    t.sort()
    return t[len(t) // 2], t[0]
