#!/usr/bin/python3
"""The PyTorch side of the MADE training-step benchmark (see bench/speed/made_step.cpp).

The same model and step as flowtape's bench_made_step, in float64: a MADE 2->128->128->4 with
masked linear layers (hidden degree 1 + (k mod (D-1)), masks applied as weight * mask in forward,
ReLU), the MAF Gaussian negative log-likelihood
    mu = out[:, :D], alpha = out[:, D:], u = (x - mu) * exp(-alpha),
    loss = mean over rows of sum_i (u_i^2 / 2 + alpha_i) + (D/2) log 2 pi,
and one step = forward, backward, Adam step, zero_grad. Each figure is the median of single-step
timings after a warm-up, with the number of steps sized to fill about 0.7 s (0.15 s with --quick);
--phases adds the median of each phase of a step, timed one by one.

Run with Debian's interpreter (/usr/bin/python3, which has python3-torch), and set
OPENBLAS_NUM_THREADS to the thread count as well: torch.set_num_threads sets torch's own (OpenMP)
pool, and float64 matrix products go to Debian's OpenBLAS (the pthreads build), which reads its
thread count from the environment. --intra-op-threads sets torch's pool apart from --threads (the
two pools contend for the cores when both have more than one thread; see bench/RESULTS.md).
Prints one JSON document on stdout.
"""

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import sys
import time

import torch


def degrees(d, hidden):
    """Degrees of each layer of units, input first: inputs 1..D, hidden 1 + (k mod (D-1)), outputs m(i)."""
    layers = [list(range(1, d + 1))]
    for h in hidden:
        layers.append([1 + k % (d - 1) if d > 1 else 0 for k in range(h)])
    return layers


class MaskedLinear(torch.nn.Linear):
    """y = x (W * M)^T + b, with M a fixed 0/1 (out x in) mask multiplied in at every forward."""

    def __init__(self, mask):
        out_features, in_features = mask.shape
        super().__init__(in_features, out_features)
        self.register_buffer("mask", mask)

    def forward(self, x):
        return torch.nn.functional.linear(x, self.weight * self.mask, self.bias)


class Made(torch.nn.Module):
    """MADE with natural ordering; output column j*D + i is the j-th output for input i."""

    def __init__(self, d, hidden, outputs_per_input):
        super().__init__()
        units = degrees(d, hidden)
        units.append([units[0][col % d] for col in range(outputs_per_input * d)])
        layers = []
        for k in range(len(units) - 1):
            strict = k + 2 == len(units)  # the output layer sees strictly smaller degrees
            below = torch.tensor(units[k])
            above = torch.tensor(units[k + 1])
            mask = (above[:, None] > below[None, :]) if strict else (above[:, None] >= below[None, :])
            layers.append(MaskedLinear(mask.to(torch.get_default_dtype())))
        self.layers = torch.nn.ModuleList(layers)

    def forward(self, x):
        h = x
        for layer in self.layers[:-1]:
            h = torch.relu(layer(h))
        return self.layers[-1](h)


def make_batch(n, generator):
    x = torch.randn(n, 2, generator=generator)
    x[:, 1] = 0.8 * x[:, 0] + 0.6 * x[:, 1] + 1.0
    return x


PHASES = ("forward", "backward", "adam.step", "zero_grad")


def train_step(model, optimizer, x, mark=None):
    """One step; `mark(k)` (for --phases) is called as phase k of PHASES ends."""
    d = x.shape[1]
    out = model(x)
    mu, alpha = out[:, :d], out[:, d:]
    u = (x - mu) * torch.exp(-alpha)
    loss = (0.5 * u.square() + alpha).sum(dim=1).mean() + 0.5 * d * math.log(2 * math.pi)
    if mark:
        mark(0)
    loss.backward()
    if mark:
        mark(1)
    optimizer.step()
    if mark:
        mark(2)
    optimizer.zero_grad(set_to_none=True)
    if mark:
        mark(3)
    return loss.detach()


def time_phases(model, optimizer, x, reps):
    """The median time of each phase of a step over `reps` steps, in ms."""
    ms = [[] for _ in PHASES]
    for _ in range(reps):
        last = [time.perf_counter()]

        def mark(k):
            now = time.perf_counter()
            ms[k].append((now - last[0]) * 1e3)
            last[0] = now

        train_step(model, optimizer, x, mark)
    return {name: statistics.median(v) for name, v in zip(PHASES, ms)}


def time_calls(call, seconds, min_reps):
    """Warm up, estimate one call, then the median (and min) of enough single calls to fill `seconds`."""
    start = time.perf_counter()
    warm = 0
    while warm < 3 or time.perf_counter() - start < 0.1 * seconds:
        call()
        warm += 1
    estimate = (time.perf_counter() - start) / warm
    reps = max(min_reps, min(200000, int(seconds / estimate)))
    ms = []
    for _ in range(reps):
        t0 = time.perf_counter()
        call()
        ms.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ms), min(ms), reps


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run(batch, threads, intra_op_threads, quick, phases):
    torch.set_num_threads(intra_op_threads)
    torch.manual_seed(20240501)
    generator = torch.Generator().manual_seed(20240501)
    model = Made(2, [128, 128], 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = make_batch(batch, generator)
    first_loss = float(train_step(model, optimizer, x))
    last = [first_loss]

    def call():
        last[0] = train_step(model, optimizer, x)

    median, fastest, reps = time_calls(call, 0.15 if quick else 0.7, 10 if quick else 30)
    result = {
        "batch": batch,
        "threads": threads,
        "intra_op_threads": intra_op_threads,
        "step_ms": median,
        "step_min_ms": fastest,
        "step_reps": reps,
        "samples_per_s": batch / (median * 1e-3),
        "first_loss": first_loss,
        "last_loss": float(last[0]),
    }
    if phases:
        result["phases_ms"] = time_phases(model, optimizer, x, max(10 if quick else 30, reps // 2))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="128,1024,4096")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--intra-op-threads", type=int, default=None,
                        help="torch.set_num_threads value (default: the --threads value)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--phases", action="store_true", help="also time forward, backward, Adam and zero_grad apart")
    args = parser.parse_args()
    torch.set_default_dtype(torch.float64)
    results = []
    for threads in [int(t) for t in args.threads.split(",")]:
        for batch in [int(b) for b in args.batches.split(",")]:
            intra = args.intra_op_threads if args.intra_op_threads is not None else threads
            results.append(run(batch, threads, intra, args.quick, args.phases))
    json.dump(
        {
            "bench": "torch made_step",
            "command": " ".join([sys.executable] + sys.argv),
            "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"),
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS", "(unset)"),
            "results": results,
        },
        sys.stdout,
        indent=2,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
