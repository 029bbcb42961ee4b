#!/bin/bash
# flowtape against PyTorch on one flows-for-flows training step (issue 14, "Targets"): a top chain
# of 4 autoregressive spline layers (residual MADE, two blocks of 128) over two frozen spline base
# flows, a batch of 128 2-D rows, float64, side by side in one run; right rows (S, one pass) and
# left rows (S^-1, D passes).
#
# Runs build/bench/speed/bench_f4f_speed (f4f_speed.cpp) and bench/speed/torch_f4f.py (the same
# model from its equations, Debian's /usr/bin/python3 with python3-torch) at the same thread count
# (OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = n). Prints per thread count and direction the median
# step of each side and the ratio torch / flowtape with the target "at least 2x: met / NOT met".
#
# Usage: bench/speed/compare_f4f.sh [--build DIR] [--threads "1 2"] [--quick]
set -euo pipefail

script=compare_f4f.sh
program=bench_f4f_speed
source "$(dirname "$0")/compare_common.sh"
compare_setup "$@"

for n in $threads; do
    OPENBLAS_NUM_THREADS=$n OMP_NUM_THREADS=$n "$exe" $quick > "$out/flowtape_$n.json"
    OPENBLAS_NUM_THREADS=$n OMP_NUM_THREADS=$n "$python" "$here/torch_f4f.py" --threads "$n" $quick > "$out/torch_$n.json"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

"$python" - "$out" $threads <<'PY'
import json, sys
out, threads = sys.argv[1], sys.argv[2:]
print(f"{'threads':>7} {'rows':>6} {'flowtape ms':>12} {'torch ms':>10} {'torch/flowtape':>15} {'parameters':>11}")
for n in threads:
    a = json.load(open(f"{out}/flowtape_{n}.json"))
    b = json.load(open(f"{out}/torch_{n}.json"))
    for sa, sb in zip(a["results"], b["results"]):
        ratio = sb["step_ms"] / sa["step_ms"]
        same = "" if a["trainable_parameters"] == sb["trainable_parameters"] else f"  (parameters differ: torch {sb['trainable_parameters']})"
        print(f"{n:>7} {sa['direction']:>6} {sa['step_ms']:12.3f} {sb['step_ms']:10.3f} {ratio:14.2f}x "
              f"{a['trainable_parameters']:>11}   at least 2x: {'met' if ratio >= 2 else 'NOT met'}{same}")
print(f"\nflowtape: {a['versions']}")
print("ms: median training step (top chain + frozen base log-density, backward, Adam over the top chain, zero_grad),")
print("batch 128; right = S(y) in one pass, left = S^-1(x) in D = 2 passes.")
PY
