#!/usr/bin/python3
"""The PyTorch side of the VMoNF step benchmark (see bench/speed/vmonf_speed.cpp), float64, D = 2.

The same model, written from its equations: K = 5 RealNVP flows of 4 affine couplings (the
Coupling of torch_flows.py with MLP 1->32->32->2, ReLU, log s = 3 tanh(r / 3), roles swapped every
other layer) over N(0, I), a uniform prior, a classifier 2->64->64->5 (ReLU). One step on a batch of
256 rows: loss = -mean_x sum_c q(c|x) (log p(x|c) + log p(c) - log q(c|x)) with
q = softmax(g(x) / T), T = 2 (the paper's eq. (1)), backward, one Adam step over every parameter,
zero_grad. Median of single steps after a warm-up.
Run with /usr/bin/python3 (Debian python3-torch) and OPENBLAS_NUM_THREADS equal to --threads.
Prints one JSON document on stdout.
"""

import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_flows import Coupling, Flow, median_ms  # noqa: E402

K, BATCH, T = 5, 256, 2.0


class Vmonf(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.flows = torch.nn.ModuleList(Flow([Coupling(k % 2 == 1, (32, 32)) for k in range(4)]) for _ in range(K))
        self.classifier = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64),
                                              torch.nn.ReLU(), torch.nn.Linear(64, K))

    def elbo(self, x, temperature):
        joint = torch.stack([f.log_prob(x) for f in self.flows], 1) - math.log(K)
        log_q = torch.log_softmax(self.classifier(x) / temperature, 1)
        return (log_q.exp() * (joint - log_q)).sum(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(args.threads)
    torch.manual_seed(20240501)
    model = Vmonf()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(BATCH, 2)

    def step():
        loss = -model.elbo(x, T).mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    ms = median_ms(step, 0.3 if args.quick else 2.0, 20)
    print(json.dumps({"bench": "torch_vmonf", "torch": torch.__version__, "threads": args.threads,
                      "parameters": sum(p.numel() for p in model.parameters()), "step_ms": ms}, indent=2))


if __name__ == "__main__":
    main()
