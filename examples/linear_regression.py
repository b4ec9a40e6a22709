"""Fit y = 3x + 2 from noisy data by gradient descent: eagerly with ef.GradientTape, then with the
whole training step compiled by ef.function (forward and backward in one graph), then with the
whole loop compiled (ef.fori_loop around ef.grad). Prints the fitted w, b and the speed-ups.

    python examples/linear_regression.py
"""
import time
import warnings

import numpy as np

import eagerflow as ef

# Numba notes when a gradient's matmul reads a transposed operand; the result is right
warnings.filterwarnings("ignore", message=".*faster on contiguous arrays")

rng = np.random.default_rng(0)
N, STEPS, LR = 1000, 500, 0.1
x = rng.uniform(-1.0, 1.0, N)
y = 3.0 * x + 2.0 + 0.1 * rng.normal(size=N)


def loss_fn(w, b, x, y):
    return np.mean((w * x + b - y) ** 2)


# 1. Eager: Variables, a GradientTape per step, SGD by hand.
w, b = ef.Variable(0.0, name="w"), ef.Variable(0.0, name="b")
t0 = time.perf_counter()
for step in range(STEPS):
    with ef.GradientTape() as tape:
        loss = loss_fn(w, b, x, y)
    gw, gb = tape.gradient(loss, [w, b])
    w.assign_sub(LR * gw)
    b.assign_sub(LR * gb)
eager_s = (time.perf_counter() - t0) / STEPS
print(f"eager (GradientTape)        w = {float(w.numpy()):.4f}  b = {float(b.numpy()):.4f}  "
      f"loss = {float(loss):.5f}  {eager_s * 1e6:8.1f} µs/step")

# 2. The same step, compiled: the tape records into the traced graph, the Variables are updated
#    in place after each call.
w.assign(0.0)
b.assign(0.0)


@ef.function
def train_step(x, y):
    with ef.GradientTape() as tape:
        loss = loss_fn(w, b, x, y)
    gw, gb = tape.gradient(loss, [w, b])
    w.assign_sub(LR * gw)
    b.assign_sub(LR * gb)
    return loss


train_step(x, y)                      # trace + compile once
w.assign(0.0)
b.assign(0.0)
t0 = time.perf_counter()
for step in range(STEPS):
    loss = train_step(x, y)
step_s = (time.perf_counter() - t0) / STEPS
print(f"compiled step (ef.function) w = {float(w.numpy()):.4f}  b = {float(b.numpy()):.4f}  "
      f"loss = {float(loss):.5f}  {step_s * 1e6:8.1f} µs/step  ({eager_s / step_s:.0f}x)")


# 3. The whole loop compiled: ef.grad inside an ef.fori_loop body, one call for all steps.
def sgd_step(i, wb):
    gw, gb = ef.grad(loss_fn, argnums=(0, 1))(wb[0], wb[1], x, y)
    return wb[0] - LR * gw, wb[1] - LR * gb


@ef.function
def train(w, b, steps):
    return ef.fori_loop(0, steps, sgd_step, (w, b))


train(0.0, 0.0, 1)                    # trace + compile once
t0 = time.perf_counter()
wf, bf = train(0.0, 0.0, STEPS)
loop_s = (time.perf_counter() - t0) / STEPS
print(f"compiled loop (fori_loop)   w = {float(wf):.4f}  b = {float(bf):.4f}  "
      f"{'':16s}{loop_s * 1e6:8.1f} µs/step  ({eager_s / loop_s:.0f}x)")
assert abs(wf - 3.0) < 0.05 and abs(bf - 2.0) < 0.05
