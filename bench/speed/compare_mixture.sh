#!/bin/bash
# flowtape against PyTorch on one training epoch of the mixtures-of-flows paper's model (issue 12,
# "Performance"), side by side in one run.
#
# Runs build/bench/speed/bench_mixture_speed (the flowtape side: mixture_speed.cpp) and
# bench/speed/torch_mixture.py (the same model written from its equations in PyTorch, float64) at
# the same thread count (OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = n, the same OpenBLAS), for two
# configurations: images (K 5 MAFs of MADE 784→1024→1568, MNIST5's 5131 rows in batches of 4000)
# and toy (K 2, MADE 2→10→4, 4000 rows, one batch). Prints per configuration the median epoch of
# each side, the ratio torch / flowtape with the target "at least 2x: met / NOT met", and the step
# against its own matrix products (epoch / gemm, target "within 1.3x").
#
# Usage: bench/speed/compare_mixture.sh [--build DIR] [--threads "1 2"] [--quick]
set -euo pipefail

script=compare_mixture.sh
program=bench_mixture_speed
source "$(dirname "$0")/compare_common.sh"
compare_setup "$@"

for n in $threads; do
    OPENBLAS_NUM_THREADS=$n OMP_NUM_THREADS=$n "$exe" $quick > "$out/flowtape_$n.json"
    OPENBLAS_NUM_THREADS=$n OMP_NUM_THREADS=$n "$python" "$here/torch_mixture.py" --threads "$n" $quick > "$out/torch_$n.json"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

"$python" - "$out" $threads <<'PY'
import json, sys
out, threads = sys.argv[1], sys.argv[2:]
met = lambda ok: "met" if ok else "NOT met"
for n in threads:
    ft_doc = json.load(open(f"{out}/flowtape_{n}.json"))
    print(f"threads = {n}; flowtape {ft_doc.get('versions', '')}")
    ft = {r["config"]: r for r in ft_doc["results"]}
    th = {r["config"]: r for r in json.load(open(f"{out}/torch_{n}.json"))["results"]}
    print(f"{'config':8} {'flowtape ms':>12} {'torch ms':>10} {'torch/flowtape':>15} {'gemm ms':>9} {'dense gemm ms':>14} {'epoch/gemm':>11}")
    for name in ft:
        a, b = ft[name], th[name]
        ratio = b["epoch_ms"] / a["epoch_ms"]
        own = a["epoch_ms"] / a["gemm_ms"] if a["gemm_ms"] > 0 else float("nan")
        print(f"{name:8} {a['epoch_ms']:12.1f} {b['epoch_ms']:10.1f} {ratio:14.2f}x {a['gemm_ms']:9.1f} {a['dense_gemm_ms']:14.1f} {own:10.2f}x"
              f"   at least 2x: {met(ratio >= 2)}; within 1.3x of its products: {met(own <= 1.3)}")
    print()
print("ms: median epoch (every batch: loss, backward, Adam step). gemm ms: the epoch's matrix products alone at the")
print("step's shapes, through the tiled products the step uses; dense gemm ms: the same products dense.")
PY
