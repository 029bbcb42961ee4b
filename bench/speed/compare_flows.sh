#!/bin/bash
# flowtape against PyTorch on whole flows (MAF, RealNVP, autoregressive spline), side by side.
#
# For each thread count n, runs build/bench/speed/bench_flows_throughput and then bench/speed/torch_flows.py
# (Debian's /usr/bin/python3 with python3-torch), both with OPENBLAS_NUM_THREADS=n and n threads,
# float64, same architectures, loss, optimizer and timing method. For n > 1 torch runs a second time
# with a 1-thread OpenMP pool (it contends with OpenBLAS's threads) and each torch figure is the faster. Prints one table: training
# throughput at batch 128 and 1024 with torch/flowtape ratios and flowtape's step time over the
# gemm floor, and log_prob / sampling of 10^4 points with ratios, each target marked met / NOT met:
#   batch 128: flowtape >= 4x torch throughput;  batch 1024: step <= 1.2x the gemm floor (the step's own
#   gemm calls timed alone at their shapes; the square-dgemm-rate floor is printed beside it);
#   log_prob and sampling of 10^4 points: >= 3x faster than torch.
#
# Usage: bench/speed/compare_flows.sh [--build DIR] [--threads "1 2"] [--quick] [--keep DIR]
set -euo pipefail

invocation="$0 $*"
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$(dirname "$here")")
build="$root/build"
threads="1"
quick=""
keep=""
while [ $# -gt 0 ]; do
    case "$1" in
        --build) build=$(cd "$2" && pwd); shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        --quick) quick="--quick"; shift ;;
        --keep) keep="$2"; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "compare_flows.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done

exe="$build/bench/speed/bench_flows_throughput"
python=/usr/bin/python3
[ -x "$exe" ] || { echo "compare_flows.sh: $exe not found; build first (ninja -C $build)" >&2; exit 2; }
"$python" -c 'import torch' 2>/dev/null || { echo "compare_flows.sh: $python cannot import torch" >&2; exit 2; }

if [ -n "$keep" ]; then mkdir -p "$keep"; out=$(cd "$keep" && pwd); else out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; fi

echo "command: $invocation"
echo "date:    $(date '+%Y-%m-%d %H:%M:%S %Z')"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "torch:   $("$python" -c 'import torch; print(torch.__version__)'), python $("$python" -c 'import platform; print(platform.python_version())')"

for n in $threads; do
    OPENBLAS_NUM_THREADS=$n "$exe" --threads "$n" --json "$out/flowtape_$n.json" $quick > "$out/flowtape_$n.txt"
    OPENBLAS_NUM_THREADS=$n "$python" "$here/torch_flows.py" --threads "$n" $quick > "$out/torch_$n.json"
    if [ "$n" -gt 1 ]; then  # torch's OpenMP pool and OpenBLAS's threads contend: also try a 1-thread pool
        OPENBLAS_NUM_THREADS=$n "$python" "$here/torch_flows.py" --threads "$n" --intra-op-threads 1 $quick > "$out/torch_${n}_intra1.json"
    fi
done
grep -m1 '^versions' "$out/flowtape_${threads%% *}.txt" || true
echo

"$python" - "$out" $threads <<'PY'
import json, sys
out, threads = sys.argv[1], sys.argv[2:]
met = lambda ok: "met" if ok else "NOT met"
for n in threads:
    ft = {r["flow"]: r for r in json.load(open(f"{out}/flowtape_{n}.json"))["results"]}
    th = {r["flow"]: r for r in json.load(open(f"{out}/torch_{n}.json"))["results"]}
    try:  # for n > 1, keep torch's faster figure of the two pool settings
        alt = {r["flow"]: r for r in json.load(open(f"{out}/torch_{n}_intra1.json"))["results"]}
        for flow, r in th.items():
            a = alt[flow]
            for b, c in zip(r["batches"], a["batches"]):
                if c["samples_per_s"] > b["samples_per_s"]:
                    b.update(c)
            for op in ("log_prob_ms", "sample_ms"):
                r[op] = min(r[op], a[op])
    except FileNotFoundError:
        pass
    gf = next(iter(ft.values()))["gemm_gflops"]
    print(f"threads = {n}   (square dgemm 512: {gf:.2f} GFLOP/s)")
    print(f"{'flow':8} {'batch':>5} {'flowtape/s':>11} {'torch/s':>9} {'ratio':>6} {'ceil':>5} {'step ms':>8} "
          f"{'floor ms':>8} {'xfloor':>6} {'gemm ms':>8} {'xgemm':>5}  target")
    for flow in ft:
        for fb, tb in zip(ft[flow]["batches"], th[flow]["batches"]):
            ratio = fb["samples_per_s"] / tb["samples_per_s"]
            torch_ms = fb["batch"] / tb["samples_per_s"] * 1e3
            ceiling = torch_ms / fb["gemm_ms"]
            xf = fb["step_ms"] / fb["floor_ms"]
            xg = fb["step_ms"] / fb["gemm_ms"]
            target = (f">=4x torch: {met(ratio >= 4)}" if fb["batch"] == 128
                      else f"<=1.2x gemm: {met(xg <= 1.2)}")
            print(f"{flow:8} {fb['batch']:5d} {fb['samples_per_s']:11.0f} {tb['samples_per_s']:9.0f} {ratio:6.2f} "
                  f"{ceiling:5.2f} {fb['step_ms']:8.3f} {fb['floor_ms']:8.3f} {xf:6.2f} {fb['gemm_ms']:8.3f} {xg:5.2f}  {target}")
    print(f"\n{'flow':8} {'op (1e4 pts)':12} {'flowtape ms':>11} {'torch ms':>9} {'ratio':>6} {'ceil':>5} "
          f"{'floor ms':>8} {'gemm ms':>8}  target")
    for flow in ft:
        for op in ("log_prob", "sample"):
            a, b = ft[flow][f"{op}_ms"], th[flow][f"{op}_ms"]
            g = ft[flow][op + "_gemm_ms"]
            print(f"{flow:8} {op:12} {a:11.3f} {b:9.3f} {b / a:6.2f} {b / g:5.2f} {ft[flow][op + '_floor_ms']:8.3f} "
                  f"{g:8.3f}  >=3x: {met(b / a >= 3)}")
    print()
print("ratio = torch time / flowtape time (throughput ratio for training)")
print("ceil  = torch time / the time of flowtape's gemm calls alone: the ratio a flowtape that spent nothing but")
print("        its dense products would reach; a target above it cannot be met with this BLAS")
print("floor = dense FLOPs / square-dgemm rate; gemm = the step's own gemm calls timed alone at their shapes")
print("xfloor, xgemm = flowtape step / floor, / gemm (the 1.2x target is judged on xgemm: the measured rate at the step's shapes)")
PY
