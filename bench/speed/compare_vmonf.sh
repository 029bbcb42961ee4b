#!/bin/bash
# flowtape against PyTorch on one ELBO training step of the variational mixture of flows (issue 13,
# "Targets"): K = 5 RealNVPs (4 couplings, [32, 32]) and a [64, 64] classifier on a batch of 256
# 2-D rows, float64, side by side in one run.
#
# Runs build/bench/speed/bench_vmonf_speed (vmonf_speed.cpp) and bench/speed/torch_vmonf.py (the same
# model from its equations, Debian's /usr/bin/python3 with python3-torch) at the same thread count
# (OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = n). Prints per thread count the median step of each side
# and the ratio torch / flowtape with the target "at least 2x: met / NOT met".
#
# Usage: bench/speed/compare_vmonf.sh [--build DIR] [--threads "1 2"] [--quick]
set -euo pipefail

script=compare_vmonf.sh
program=bench_vmonf_speed
source "$(dirname "$0")/compare_common.sh"
compare_setup "$@"

for n in $threads; do
    OPENBLAS_NUM_THREADS=$n OMP_NUM_THREADS=$n "$exe" $quick > "$out/flowtape_$n.json"
    OPENBLAS_NUM_THREADS=$n OMP_NUM_THREADS=$n "$python" "$here/torch_vmonf.py" --threads "$n" $quick > "$out/torch_$n.json"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

"$python" - "$out" $threads <<'PY'
import json, sys
out, threads = sys.argv[1], sys.argv[2:]
print(f"{'threads':>7} {'flowtape ms':>12} {'torch ms':>10} {'torch/flowtape':>15} {'parameters':>11}")
for n in threads:
    a = json.load(open(f"{out}/flowtape_{n}.json"))
    b = json.load(open(f"{out}/torch_{n}.json"))
    ratio = b["step_ms"] / a["step_ms"]
    same = "" if a["parameters"] == b["parameters"] else f"  (parameters differ: torch {b['parameters']})"
    print(f"{n:>7} {a['step_ms']:12.3f} {b['step_ms']:10.3f} {ratio:14.2f}x {a['parameters']:>11}   at least 2x: "
          f"{'met' if ratio >= 2 else 'NOT met'}{same}")
print(f"\nflowtape: {a['versions']}")
print("ms: median ELBO step (loss at T = 2, backward, Adam step, zero_grad) on a batch of 256 rows.")
PY
