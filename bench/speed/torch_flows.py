#!/usr/bin/python3
"""The PyTorch side of the flows benchmark (see bench/speed/flows_throughput.cpp), float64, D = 2.

The same three flows, written here from their equations:
  maf      5 x MAF layer: MADE 2->128->128->4 (masked linear, hidden degree 1 + (k mod (D-1)), ReLU),
           mu = out[:, :D], log s = 3 tanh(out[:, D:] / 3), z = (x - mu) * s; reversal between layers;
           inverse in D passes.
  realnvp  8 x affine coupling: even columns kept, odd changed (roles swapped every other layer),
           MLP 1->128->128->2 (ReLU) gives t and raw r, log s = 3 tanh(r / 3), z_B = x_B * s + t.
  nsf      4 x autoregressive rational-quadratic spline, 8 bins on [-3, 3] with identity tails,
           MADE 2->128->128->46 (output j*D + i = parameter j of coordinate i: 8 widths, 8 heights,
           7 interior derivatives; softmax widths/heights with minimum 1e-3, softplus derivatives + 1e-3,
           boundary derivatives 1); reversal between layers; inverse in D passes.
Base N(0, I). Training step: loss -mean log p(x), backward, Adam step, zero_grad. log_prob and
sampling of 10^4 points under torch.no_grad(). Median of single calls after a warm-up.
Run with /usr/bin/python3 (Debian python3-torch) and OPENBLAS_NUM_THREADS equal to --threads
(float64 products go to Debian's pthreads OpenBLAS, which reads it; torch.set_num_threads sets only
torch's OpenMP pool, --intra-op-threads sets that pool apart: with both pools > 1 they contend).
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
import torch.nn.functional as F

D = 2
BOUND = 3.0
MIN_W = MIN_H = MIN_D = 1e-3


class MaskedLinear(torch.nn.Linear):
    def __init__(self, mask):
        super().__init__(mask.shape[1], mask.shape[0])
        self.register_buffer("mask", mask)

    def forward(self, x):
        return F.linear(x, self.weight * self.mask, self.bias)


class Made(torch.nn.Module):
    """Natural ordering; output column j*D + i is output j of input i."""

    def __init__(self, d, hidden, per_input):
        super().__init__()
        units = [list(range(1, d + 1))] + [[1 + k % (d - 1) for k in range(h)] for h in hidden]
        units.append([units[0][c % d] for c in range(per_input * d)])
        layers = []
        for k in range(len(units) - 1):
            below, above = torch.tensor(units[k]), torch.tensor(units[k + 1])
            strict = k + 2 == len(units)
            mask = (above[:, None] > below[None, :]) if strict else (above[:, None] >= below[None, :])
            layers.append(MaskedLinear(mask.to(torch.float64)))
        with torch.no_grad():
            layers[-1].weight.mul_(1e-2)
            layers[-1].bias.zero_()
        self.layers = torch.nn.ModuleList(layers)

    def forward(self, x):
        h = x
        for layer in self.layers[:-1]:
            h = torch.relu(layer(h))
        return self.layers[-1](h)


def bounded(r):
    return BOUND * torch.tanh(r / BOUND)


class MafLayer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.made = Made(D, [128, 128], 2)

    def forward(self, x):
        out = self.made(x)
        log_s = bounded(out[:, D:])
        return (x - out[:, :D]) * torch.exp(log_s), log_s.sum(1)

    def inverse(self, z):
        x = torch.zeros_like(z)
        for _ in range(D):
            out = self.made(x)
            log_s = bounded(out[:, D:])
            x = z * torch.exp(-log_s) + out[:, :D]
        return x, -log_s.sum(1)


class Coupling(torch.nn.Module):
    def __init__(self, flip, hidden=(128, 128)):
        super().__init__()
        self.keep, self.change = (1, 0) if flip else (0, 1)
        sizes, layers = [1, *hidden], []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        self.net = torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-1], 2))
        with torch.no_grad():
            self.net[-1].weight.mul_(1e-2)
            self.net[-1].bias.zero_()

    def forward(self, x):
        xa, xb = x[:, self.keep:self.keep + 1], x[:, self.change:self.change + 1]
        out = self.net(xa)
        log_s = bounded(out[:, 1:2])
        zb = xb * torch.exp(log_s) + out[:, 0:1]
        z = torch.cat([xa, zb], 1) if self.keep == 0 else torch.cat([zb, xa], 1)
        return z, log_s.sum(1)

    def inverse(self, z):
        za, zb = z[:, self.keep:self.keep + 1], z[:, self.change:self.change + 1]
        out = self.net(za)
        log_s = bounded(out[:, 1:2])
        xb = (zb - out[:, 0:1]) * torch.exp(-log_s)
        x = torch.cat([za, xb], 1) if self.keep == 0 else torch.cat([xb, za], 1)
        return x, -log_s.sum(1)


def knots(raw, minimum):
    k = raw.shape[-1]
    w = minimum + (1 - k * minimum) * torch.softmax(raw, -1)
    c = F.pad(torch.cumsum(w, -1), (1, 0))
    c = 2 * BOUND * c - BOUND
    c = torch.cat([torch.full_like(c[..., :1], -BOUND), c[..., 1:-1], torch.full_like(c[..., :1], BOUND)], -1)
    return c, c[..., 1:] - c[..., :-1]


def rq_spline(x, raw, k, inverse):
    """Elementwise RQ spline on [-B, B], identity outside; returns (y, log|dy/dx| or log|dx/dy|)."""
    cw, widths = knots(raw[..., :k], MIN_W)
    ch, heights = knots(raw[..., k:2 * k], MIN_H)
    inner = MIN_D + F.softplus(raw[..., 2 * k:])
    ones = torch.ones_like(inner[..., :1])
    derivs = torch.cat([ones, inner, ones], -1)
    inside = (x >= -BOUND) & (x <= BOUND)
    xc = x.clamp(-BOUND, BOUND)
    edges = ch if inverse else cw
    idx = (torch.searchsorted(edges[..., 1:-1].contiguous(), xc[..., None], right=True)).clamp(0, k - 1)
    g = lambda t: t.gather(-1, idx)[..., 0]
    xk, w, yk, h, d0, d1 = g(cw), g(widths), g(ch), g(heights), g(derivs[..., :-1]), g(derivs[..., 1:])
    s = h / w
    delta = d1 + d0 - 2 * s
    if not inverse:
        xi = (xc - xk) / w
        t = xi * (1 - xi)
        den = s + delta * t
        y = yk + h * (s * xi * xi + d0 * t) / den
        dydx = s * s * (d1 * xi * xi + 2 * s * t + d0 * (1 - xi) ** 2) / (den * den)
        return torch.where(inside, y, x), torch.where(inside, torch.log(dydx), torch.zeros_like(x))
    dy = xc - yk
    a = h * (s - d0) + dy * delta
    b = h * d0 - dy * delta
    c = -s * dy
    xi = 2 * c / (-b - torch.sqrt(b * b - 4 * a * c))
    out = xk + xi * w
    t = xi * (1 - xi)
    den = s + delta * t
    dydx = s * s * (d1 * xi * xi + 2 * s * t + d0 * (1 - xi) ** 2) / (den * den)
    return torch.where(inside, out, x), torch.where(inside, -torch.log(dydx), torch.zeros_like(x))


class SplineAR(torch.nn.Module):
    def __init__(self, bins):
        super().__init__()
        self.k = bins
        self.made = Made(D, [128, 128], 3 * bins - 1)

    def params(self, x):
        out = self.made(x)  # column j*D + i -> (N, D, P)
        return out.view(x.shape[0], 3 * self.k - 1, D).transpose(1, 2)

    def forward(self, x):
        y, ld = rq_spline(x, self.params(x), self.k, False)
        return y, ld.sum(1)

    def inverse(self, z):
        x = torch.zeros_like(z)
        for _ in range(D):
            x, ld = rq_spline(z, self.params(x), self.k, True)
        return x, ld.sum(1)


class Reverse(torch.nn.Module):
    def forward(self, x):
        return x.flip(1), x.new_zeros(x.shape[0])

    def inverse(self, z):
        return z.flip(1), z.new_zeros(z.shape[0])


class Flow(torch.nn.Module):
    def __init__(self, transforms):
        super().__init__()
        self.transforms = torch.nn.ModuleList(transforms)

    def log_prob(self, x):
        total = x.new_zeros(x.shape[0])
        for t in self.transforms:
            x, ld = t(x)
            total = total + ld
        return total - 0.5 * (x * x).sum(1) - 0.5 * D * math.log(2 * math.pi)

    def sample(self, n):
        z = torch.randn(n, D)
        for t in reversed(self.transforms):
            z, _ = t.inverse(z)
        return z


def interleave(layers):
    out = []
    for k, layer in enumerate(layers):
        if k:
            out.append(Reverse())
        out.append(layer)
    return out


def build(kind):
    if kind == "maf":
        return Flow(interleave([MafLayer() for _ in range(5)]))
    if kind == "realnvp":
        return Flow([Coupling(k % 2 == 1) for k in range(8)])
    if kind == "nsf":
        return Flow(interleave([SplineAR(8) for _ in range(4)]))
    raise ValueError(kind)


def make_data(n, generator):
    x = torch.randn(n, 2, generator=generator)
    x[:, 1] = 0.8 * x[:, 0] + 0.6 * x[:, 1] + 0.5
    return x


def median_ms(call, seconds, min_reps):
    start = time.perf_counter()
    warm = 0
    while warm < 3 or time.perf_counter() - start < 0.1 * seconds:
        call()
        warm += 1
    estimate = (time.perf_counter() - start) / warm
    reps = max(min_reps, min(100000, int(seconds / estimate)))
    ms = []
    for _ in range(reps):
        t0 = time.perf_counter()
        call()
        ms.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ms)


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def run(kind, threads, intra_op_threads, quick):
    torch.set_num_threads(intra_op_threads)
    seconds = 0.3 if quick else 1.5
    generator = torch.Generator().manual_seed(20240501)
    result = {"flow": kind, "threads": threads, "intra_op_threads": intra_op_threads, "batches": []}
    for batch in (128, 1024):
        torch.manual_seed(20240501)
        flow = build(kind)
        opt = torch.optim.Adam(flow.parameters(), lr=1e-3)
        x = make_data(batch, generator)
        last = [0.0]

        def step():
            loss = -flow.log_prob(x).mean()
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            last[0] = loss.detach()

        step()
        if batch == 128:
            result["first_loss"] = float(last[0])
        ms = median_ms(step, seconds, 20)
        result["batches"].append({"batch": batch, "step_ms": ms, "samples_per_s": batch / (ms * 1e-3)})
        result["last_loss"] = float(last[0])
    flow = build(kind)
    x = make_data(10000, generator)
    with torch.no_grad():
        result["log_prob_ms"] = median_ms(lambda: flow.log_prob(x), seconds, 10)
        result["sample_ms"] = median_ms(lambda: flow.sample(10000), seconds, 10)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1")
    parser.add_argument("--flows", default="maf,realnvp,nsf")
    parser.add_argument("--intra-op-threads", type=int, default=None,
                        help="torch.set_num_threads value (default: the --threads value)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_default_dtype(torch.float64)
    intra = lambda t: args.intra_op_threads if args.intra_op_threads is not None else int(t)
    results = [run(kind, int(t), intra(t), args.quick) for t in args.threads.split(",") for kind in args.flows.split(",")]
    json.dump({
        "bench": "torch flows",
        "command": " ".join([sys.executable] + sys.argv),
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS", "(unset)"),
        "results": results,
    }, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
