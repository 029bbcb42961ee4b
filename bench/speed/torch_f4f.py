#!/usr/bin/python3
"""The PyTorch side of bench/speed/compare_f4f.sh: one flows-for-flows training step, float64, D = 2.

The model of `flowtape bench f4f` (see bench/speed/f4f_speed.cpp), written here from its equations
with the spline and the plain MADE of torch_flows.py (bound 4 instead of 3):
  bases     two frozen flows of 4 x autoregressive rational-quadratic spline (8 bins on [-4, 4],
            identity tails, MADE 2->128->128->46, ReLU), a reversal between layers, N(0, I).
  top flow  4 x the same spline with a residual MADE: a masked layer 2->128, two blocks
            h <- h + M2(relu(M1(relu(h)))), relu, the masked output layer 128->46 (starting at zero:
            the identity map); a reversal after every layer (four, composing to the identity).
Steps, each on a batch of 128 rows: "right" = loss -mean[log p_left(S(y)) + log|det dS/dy|] (S
one pass); "left" = -mean[log p_right(S^-1(x)) + log|det dS^-1/dx|] (S^-1 in D passes); then
backward, Adam step over the top flow's parameters (the bases need no gradient), zero_grad.
Median of single steps after a warm-up. Prints one JSON document on stdout.
"""

import argparse
import datetime
import json
import math
import os
import platform
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_flows as tf  # noqa: E402

tf.BOUND = 4.0  # the bench's tail bound (the spline reads the module's value at each call)
D = tf.D
BINS = 8
HIDDEN = 128


class ResidualMade(torch.nn.Module):
    """Natural ordering; hidden degrees 1 + (k mod (D-1)); output column j*D + i is output j of input i."""

    def __init__(self, d, width, blocks, per_input):
        super().__init__()
        inputs = torch.tensor(list(range(1, d + 1)))
        hidden = torch.tensor([1 + k % (d - 1) for k in range(width)])
        outputs = torch.tensor([int(inputs[c % d]) for c in range(per_input * d)])
        ge = lambda above, below: (above[:, None] >= below[None, :]).to(torch.float64)
        self.first = tf.MaskedLinear(ge(hidden, inputs))
        self.blocks = torch.nn.ModuleList(
            torch.nn.ModuleList([tf.MaskedLinear(ge(hidden, hidden)), tf.MaskedLinear(ge(hidden, hidden))])
            for _ in range(blocks))
        self.last = tf.MaskedLinear((outputs[:, None] > hidden[None, :]).to(torch.float64))
        with torch.no_grad():
            self.last.weight.zero_()
            self.last.bias.zero_()

    def forward(self, x):
        h = self.first(x)
        for m1, m2 in self.blocks:
            h = h + m2(torch.relu(m1(torch.relu(h))))
        return self.last(torch.relu(h))


class TopSpline(tf.SplineAR):
    def __init__(self):
        super().__init__(BINS)
        self.made = ResidualMade(D, HIDDEN, 2, 3 * BINS - 1)


class Chain(torch.nn.Module):
    def __init__(self, transforms):
        super().__init__()
        self.transforms = torch.nn.ModuleList(transforms)

    def forward(self, x):
        total = x.new_zeros(x.shape[0])
        for t in self.transforms:
            x, ld = t(x)
            total = total + ld
        return x, total

    def inverse(self, z):
        total = z.new_zeros(z.shape[0])
        for t in reversed(self.transforms):
            z, ld = t.inverse(z)
            total = total + ld
        return z, total


def make_base():
    base = tf.Flow(tf.interleave([tf.SplineAR(BINS) for _ in range(4)]))
    for p in base.parameters():
        p.requires_grad_(False)
    return base


def make_top():
    layers = []
    for _ in range(4):
        layers += [TopSpline(), tf.Reverse()]
    return Chain(layers)


def run(direction, threads, quick):
    torch.set_num_threads(threads)
    torch.manual_seed(20240501)
    left, right = make_base(), make_base()
    top = make_top()
    opt = torch.optim.Adam(top.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(20240501)
    rows = tf.make_data(128, generator)
    last = [0.0]

    def step():
        if direction == "right":
            moved, ld = top(rows)
            lp = left.log_prob(moved) + ld
        else:
            moved, ld = top.inverse(rows)
            lp = right.log_prob(moved) + ld
        loss = -lp.mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        last[0] = float(loss.detach())

    step()
    first = last[0]
    ms = tf.median_ms(step, 0.3 if quick else 2.0, 20)
    trainable = sum(p.numel() for p in top.parameters())
    return {"direction": direction, "step_ms": ms, "first_loss": first, "trainable_parameters": trainable}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_default_dtype(torch.float64)
    results = [run(d, args.threads, args.quick) for d in ("right", "left")]
    json.dump({
        "bench": "torch f4f step",
        "command": " ".join([sys.executable] + sys.argv),
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"),
        "cpu": tf.cpu_model(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": args.threads,
        "batch": 128,
        "results": results,
    }, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
