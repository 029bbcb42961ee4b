#!/usr/bin/python3
"""The PyTorch side of the CNF training benchmark (see bench/speed/cnf_speed.cpp), float64, D = 2.

The same computation as flowtape's ContinuousFlow, written here from the equations of docs/cnf.md and
docs/ode.md (torchdiffeq is not packaged in Debian, so the solver and the adjoint are ours):

  dynamics   f(z, t) = tanh(tanh([z, t] W1 + b1) W2 + b2) W3 + b3, W1 3x64, W2 64x64, W3 64x2 (in x out)
  state      [z, Delta] (N x 3), d/dt [z, Delta] = [f, -Tr(df/dz)] from t = 0 to T = 1, [x, 0] at t = 0;
             the trace in one of three ways:
               exact         D vector-Jacobian products of f by autograd, as FFJORD (the natural PyTorch way)
               exact-closed  the closed form flowtape uses for MLP dynamics (flows/continuous/cnf_dynamics.cpp,
                             Note [the closed-form trace of MLP dynamics]): with d_k = 1 - h_k^2,
                             Tr = rowsum((d1 K) * d2), K = W2 * (W3 W1z)^T, W1z the rows of W1 for z;
                             plain tensor ops, so the adjoint needs first-order autograd only
               hutchinson    eps^T (df/dz) eps by one VJP, eps ~ N(0, I) drawn once per iteration: the
                             problem file's draws (flowtape's), so both sides integrate the same thing
  loss       -mean(log N(z(T); 0, I) - Delta(T))
  solver     Dormand-Prince 5(4) with flowtape's tableau, Hairer's RMS error norm over the whole state,
             Hairer's initial step, step control (safety 0.9, factors 0.2..10, no growth after a
             rejection, last step stretched within 1% of t1) and its evaluation counting
  gradients  the adjoint method (Chen et al. 2018, Algorithm 1): the state [s, a, a_theta, a_t] packed
             into one vector (flowtape's layout) and solved from T back to 0 by the same dopri5 at the
             same tolerances; each evaluation is one torch.autograd.grad vector-Jacobian product of the
             augmented dynamics (for exact and hutchinson the trace's VJPs are recorded with
             create_graph=True, so the trace's graph is differentiated)
  optimizer  torch.optim.Adam(lr from the problem file), then zero_grad

The problem file (written by bench_cnf_speed --export) holds the data, the initial parameters, the
Hutchinson noise and flowtape's first loss, NFE and gradient norm per trace; bench/speed/compare_cnf.sh checks
this script's first iteration of each configuration (initial_* below) against flowtape's, so the two
sides are known to compute the same thing.

Run with /usr/bin/python3 and OPENBLAS_NUM_THREADS equal to --threads. Prints one JSON document on
stdout. Usage: torch_cnf.py --problem FILE [--threads N] [--quick] [--trace NAME ...]
"""

import argparse
import datetime
import json
import math
import platform
import statistics
import time

import torch

# Dormand-Prince 5(4): nodes c, stages a, and e = b - b_hat (the error weights), as in ode/tableau.hpp.
C = [0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0]
A = [
    [],
    [1 / 5],
    [3 / 40, 9 / 40],
    [44 / 45, -56 / 15, 32 / 9],
    [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
    [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
    [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
]
B = [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0]
B_HAT = [5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40]
E = [b - bh for b, bh in zip(B, B_HAT)]
EPS = 2.220446049250313e-16


class Dopri5:
    """Adaptive Dormand-Prince with flowtape's controller (ode/dopri5.cpp, docs/ode.md)."""

    def __init__(self, rtol, atol, max_steps=10000, safety=0.9, min_factor=0.2, max_factor=10.0):
        self.rtol, self.atol, self.max_steps = rtol, atol, max_steps
        self.safety, self.min_factor, self.max_factor = safety, min_factor, max_factor

    def scaled_norm(self, x, y):
        return math.sqrt(torch.mean((x / (self.atol + self.rtol * y.abs())) ** 2).item())

    def initial_step(self, f, t0, t1, z, f0):
        # Hairer, Norsett & Wanner I, II.4.
        direction = 1.0 if t1 > t0 else -1.0
        d0, d1 = self.scaled_norm(z, z), self.scaled_norm(f0, z)
        h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
        h0 = min(h0, abs(t1 - t0))
        f1 = f(t0 + direction * h0, z + (direction * h0) * f0)
        d2 = self.scaled_norm(f1 - f0, z) / h0
        dmax = max(d1, d2)
        h1 = max(1e-6, h0 * 1e-3) if dmax <= 1e-15 else (0.01 / dmax) ** (1 / 5)
        return min(100 * h0, h1)

    def error_norm(self, k, z, z_new, h):
        e = torch.zeros_like(z)
        for ej, kj in zip(E, k):
            if ej != 0:
                e.add_(kj, alpha=ej)
        scale = self.atol + self.rtol * torch.maximum(z.abs(), z_new.abs())
        return math.sqrt(torch.mean((h * e / scale) ** 2).item())

    def solve(self, f, z, t0, t1):
        """z(t1) from z(t0) and the number of evaluations of f."""
        nfe = 0
        direction = 1.0 if t1 > t0 else -1.0
        k = [None] * 7
        k[0] = f(t0, z)
        h = self.initial_step(f, t0, t1, z, k[0])
        nfe += 2
        h = direction * h
        t, steps, just_rejected = t0, 0, False
        while direction * (t1 - t) > 0:
            if steps >= self.max_steps:
                raise RuntimeError(f"dopri5: reached max_steps = {self.max_steps} at t = {t:g}")
            min_h = max(16 * EPS * abs(t), 1e-290)
            if abs(h) < min_h:
                raise RuntimeError(f"dopri5: step size {h:g} fell below the minimum {min_h:g} at t = {t:g}")
            last = direction * (t + 1.01 * h - t1) >= 0
            if last:
                h = t1 - t
            z_new = None
            for i in range(1, 7):
                stage = z.clone()
                for j, aij in enumerate(A[i]):
                    if aij != 0:
                        stage.add_(k[j], alpha=h * aij)
                if i == 6:
                    z_new = stage
                k[i] = f(t + C[i] * h, stage)
                nfe += 1
            err = self.error_norm(k, z, z_new, h)
            steps += 1
            if err <= 1:
                t = t1 if last else t + h
                z = z_new
                k[0] = k[6]  # FSAL
            factor = self.max_factor if err == 0 else self.safety * err ** (-1 / 5)
            upper = 1.0 if (just_rejected or err > 1) else self.max_factor
            factor = min(max(factor, self.min_factor), upper)
            just_rejected = err > 1
            h = direction * abs(h) * factor
        return z, nfe


class Cnf:
    """The MLP dynamics, the augmented [f, -trace] dynamics and one adjoint training iteration."""

    def __init__(self, problem, trace):
        names = sorted({k.rsplit(".", 1)[0] for k in problem["parameters"]}, key=lambda n: int(n.rsplit(".", 1)[1]))
        self.params = []  # flowtape's order: layer 0 weight, bias, layer 1 weight, bias, ...
        for layer in names:
            for what in ("weight", "bias"):
                value = torch.tensor(problem["parameters"][f"{layer}.{what}"], dtype=torch.float64)
                self.params.append(torch.nn.Parameter(value))
        self.x = torch.tensor(problem["data"], dtype=torch.float64)
        self.n, self.d = self.x.shape
        self.ones = torch.ones(self.n, 1, dtype=torch.float64)
        self.T = problem["T"]
        self.solver = Dopri5(problem["rtol"], problem["atol"])
        self.trace = trace
        self.noises = [torch.tensor(e, dtype=torch.float64) for e in problem["hutchinson_noise"]]
        self.iterations = 0
        self.noise = None
        self.optimizer = torch.optim.Adam(self.params, lr=problem["lr"])

    def velocity(self, t, z):
        time_column = self.ones * t  # t a float or a 0-dim tensor (then dL/dt flows through it)
        h = torch.cat([z, time_column], 1)
        layers = len(self.params) // 2
        for k in range(layers):
            h = torch.addmm(self.params[2 * k + 1], h, self.params[2 * k])
            if k + 1 < layers:
                h = torch.tanh(h)
        return h

    def velocity_and_closed_trace(self, t, z):
        """f and Tr(df/dz) in closed form, for two hidden tanh layers (see the module docstring)."""
        w1, b1, w2, b2, w3, b3 = self.params
        h1 = torch.tanh(torch.addmm(b1, torch.cat([z, self.ones * t], 1), w1))
        h2 = torch.tanh(torch.addmm(b2, h1, w2))
        f = torch.addmm(b3, h2, w3)
        k = w2 * (w3 @ w1[: self.d]).t()
        return f, ((1 - h1 * h1) @ k * (1 - h2 * h2)).sum(1)

    def augmented(self, t, s, create_graph):
        """d/dt [z, Delta] = [f, -Tr(df/dz)]; for the VJP traces s must require grad (its z part is differentiated)."""
        z = s[:, : self.d]
        if self.trace == "exact-closed":
            f, tr = self.velocity_and_closed_trace(t, z)
            return torch.cat([f, -tr[:, None]], 1)
        f = self.velocity(t, z)
        if self.trace == "exact":
            tr = torch.zeros(self.n, dtype=torch.float64)
            for i in range(self.d):
                g = torch.autograd.grad(f[:, i].sum(), z, create_graph=create_graph, retain_graph=True)[0]
                tr = tr + g[:, i]
        else:
            g = torch.autograd.grad(f, z, self.noise, create_graph=create_graph)[0]
            tr = (g * self.noise).sum(1)
        return torch.cat([f, -tr[:, None]], 1)

    def forward_rhs(self, t, s):
        if self.trace == "exact-closed":  # no autograd at all
            with torch.no_grad():
                return self.augmented(t, s, create_graph=False)
        with torch.enable_grad():
            s = s.detach().requires_grad_(True)
            return self.augmented(t, s, create_graph=False).detach()

    def loss_of(self, s1):
        z, delta = s1[:, : self.d], s1[:, self.d]
        log_pz = -0.5 * (z * z).sum(1) - 0.5 * self.d * math.log(2 * math.pi)
        return -(log_pz - delta).mean()

    def vjp(self, t, s, a):
        """f_aug(t, s) and a . d f_aug / d(s, t, theta)."""
        with torch.enable_grad():
            s = s.detach().requires_grad_(True)
            tt = torch.tensor(t, dtype=torch.float64, requires_grad=True)
            out = self.augmented(tt, s, create_graph=True)
            grads = torch.autograd.grad(out, [s, tt] + self.params, a, allow_unused=True)
        grads = [torch.zeros_like(p) if g is None else g for g, p in zip(grads, [s, tt] + self.params)]
        return out.detach(), grads

    def iteration(self):
        """One training iteration: loss, adjoint gradients, Adam step. Returns (loss, nfe fwd, nfe bwd, |grad|)."""
        if self.trace == "hutchinson":
            self.noise = self.noises[self.iterations]
        self.iterations += 1
        s0 = torch.cat([self.x, torch.zeros(self.n, 1, dtype=torch.float64)], 1)
        with torch.no_grad():
            s1, nfe_forward = self.solver.solve(self.forward_rhs, s0, 0.0, self.T)
        s1 = s1.detach().requires_grad_(True)
        with torch.enable_grad():
            loss = self.loss_of(s1)
            grad_s1 = torch.autograd.grad(loss, s1)[0]

        # The adjoint: y = [s, a, a_theta, a_t] from T back to 0, a_t(T) = -dL/dT = -a(T) . f_aug(T, s(T)).
        m = s1.numel()
        sizes = [p.numel() for p in self.params]
        grad_t1 = (grad_s1 * self.forward_rhs(self.T, s1)).sum()  # one plain evaluation, not counted (as flowtape)
        y = torch.cat([s1.detach().reshape(-1), grad_s1.reshape(-1), torch.zeros(sum(sizes), dtype=torch.float64),
                       (-grad_t1).reshape(1)])

        def adjoint_rhs(t, y):
            s, a = y[:m].view_as(s1), y[m : 2 * m].view_as(s1)
            out, g = self.vjp(t, s, a)
            return torch.cat([out.reshape(-1), -g[0].reshape(-1)] + [-gp.reshape(-1) for gp in g[2:]] +
                             [-g[1].reshape(1)])

        with torch.no_grad():
            y0, nfe_backward = self.solver.solve(adjoint_rhs, y, self.T, 0.0)
        offset = 2 * m
        for p, size in zip(self.params, sizes):
            p.grad = y0[offset : offset + size].view_as(p).clone()
            offset += size
        grad_norm = math.sqrt(sum(float((p.grad * p.grad).sum()) for p in self.params))
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=False)
        return loss.item(), nfe_forward, nfe_backward, grad_norm


def run(problem, trace, quick):
    cnf = Cnf(problem, trace)
    warm, timed = (1, 5) if quick else (3, 15)
    iters = []
    first = None
    for k in range(warm + timed):
        t0 = time.perf_counter()
        loss, nf, nb, gn = cnf.iteration()
        ms = (time.perf_counter() - t0) * 1e3
        if k == 0:
            first = {"loss": loss, "nfe_forward": nf, "nfe_backward": nb, "grad_norm": gn}
        if k >= warm:
            iters.append({"ms": ms, "nfe_forward": nf, "nfe_backward": nb, "loss": loss})
    return {
        "trace": trace,
        "median_ms": statistics.median(i["ms"] for i in iters),
        "nfe_forward": statistics.mean(i["nfe_forward"] for i in iters),
        "nfe_backward": statistics.mean(i["nfe_backward"] for i in iters),
        "ms_per_eval": statistics.median(i["ms"] / (i["nfe_forward"] + i["nfe_backward"]) for i in iters),
        "initial_loss": first["loss"],
        "initial_nfe_forward": first["nfe_forward"],
        "initial_nfe_backward": first["nfe_backward"],
        "initial_grad_norm": first["grad_norm"],
        "iterations": iters,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", required=True, help="JSON written by bench_cnf_speed --export")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--trace", nargs="+", default=["exact", "exact-closed", "hutchinson"],
                        choices=["exact", "exact-closed", "hutchinson"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_default_dtype(torch.float64)
    with open(args.problem) as f:
        problem = json.load(f)
    results = [run(problem, trace, args.quick) for trace in args.trace]
    out = {
        "bench": "torch cnf",
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": args.threads,
        "results": results,
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
