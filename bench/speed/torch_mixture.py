#!/usr/bin/python3
"""The PyTorch side of the mixture-of-flows benchmark (see bench/speed/mixture_speed.cpp), float64.

The same model, written here from its equations: K components, each a MAF of one MADE D->H->2D
(masked linear layers F.linear(x, W * M, b), hidden degree 1 + (k mod (D-1)), natural input order,
tanh), mu = out[:, :D], alpha = out[:, D:], u = (x - mu) * exp(-alpha), over a fixed diagonal
Gaussian N(m_k, 0.1^2 I); mixture weights softmax(logits), log p(x) = logsumexp_k(log pi_k +
log p_k(x)). One epoch = per batch: loss -mean log p(x), backward, Adam step (eps 1e-7), zero_grad.
Configurations as the C++ side: images (K 5, D 784, H 1024, N 5131, batches of 4000) and toy (K 2,
D 2, H 10, N 4000, one batch). Two warm-up epochs, then the median of timed epochs.
Run with /usr/bin/python3 (Debian python3-torch) and OPENBLAS_NUM_THREADS equal to --threads.
Prints one JSON document on stdout.
"""

import argparse
import datetime
import json
import math
import platform
import statistics
import time

import torch
import torch.nn.functional as F

CONFIGS = {
    "images": dict(components=5, dim=784, hidden=1024, rows=5131, batch=4000),
    "toy": dict(components=2, dim=2, hidden=10, rows=4000, batch=4000),
}


class MaskedLinear(torch.nn.Module):
    def __init__(self, mask):
        super().__init__()
        out_features, in_features = mask.shape
        bound = math.sqrt(6.0 / (in_features + out_features))  # Glorot uniform, as TFP and flowtape
        self.weight = torch.nn.Parameter((torch.rand(out_features, in_features, dtype=torch.float64) * 2 - 1) * bound)
        self.bias = torch.nn.Parameter(torch.zeros(out_features, dtype=torch.float64))
        self.register_buffer("mask", mask.to(torch.float64))

    def forward(self, x):
        return F.linear(x, self.weight * self.mask, self.bias)


class MafComponent(torch.nn.Module):
    def __init__(self, d, h):
        super().__init__()
        inputs = torch.arange(1, d + 1)
        hidden = torch.tensor([1 + k % (d - 1) for k in range(h)]) if d > 1 else torch.zeros(h, dtype=torch.long)
        outputs = torch.cat([inputs, inputs])
        self.l1 = MaskedLinear(hidden[:, None] >= inputs[None, :])
        self.l2 = MaskedLinear(outputs[:, None] > hidden[None, :])
        self.register_buffer("base_mean", torch.rand(d, dtype=torch.float64))
        self.d = d

    def log_prob(self, x):
        out = self.l2(torch.tanh(self.l1(x)))
        mu, alpha = out[:, : self.d], out[:, self.d :]
        u = (x - mu) * torch.exp(-alpha)
        z = (u - self.base_mean) / 0.1
        log_base = -0.5 * (z * z).sum(1) - self.d * (math.log(0.1) + 0.5 * math.log(2 * math.pi))
        return log_base - alpha.sum(1)


class Mixture(torch.nn.Module):
    def __init__(self, k, d, h):
        super().__init__()
        self.components = torch.nn.ModuleList([MafComponent(d, h) for _ in range(k)])
        self.logits = torch.nn.Parameter(torch.zeros(k, dtype=torch.float64))

    def log_prob(self, x):
        joint = torch.stack([c.log_prob(x) for c in self.components], 1) + torch.log_softmax(self.logits, 0)
        return torch.logsumexp(joint, 1)


def run(name, quick):
    c = CONFIGS[name]
    torch.manual_seed(1)
    model = Mixture(c["components"], c["dim"], c["hidden"])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    x = torch.rand(c["rows"], c["dim"], dtype=torch.float64)
    batches = [x[b : b + c["batch"]] for b in range(0, c["rows"], c["batch"])]

    def epoch():
        t0 = time.perf_counter()
        for b in batches:
            loss = -model.log_prob(b).mean()
            loss.backward()
            opt.step()
            opt.zero_grad()
        return (time.perf_counter() - t0) * 1e3

    for _ in range(2):
        epoch()
    timed = 3 if quick else (101 if name == "toy" else 7)
    times = [epoch() for _ in range(timed)]
    return dict(config=name, **c, epoch_ms=statistics.median(times),
                parameters=sum(p.numel() for p in model.parameters()))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--configs", default="images,toy")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = [run(name, args.quick) for name in args.configs.split(",")]
    print(json.dumps(dict(bench="torch_mixture", date=datetime.datetime.now().isoformat(timespec="seconds"),
                          torch=torch.__version__, python=platform.python_version(), threads=args.threads,
                          results=results), indent=2))


if __name__ == "__main__":
    main()
