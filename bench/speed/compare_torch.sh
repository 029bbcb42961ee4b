#!/bin/bash
# flowtape against PyTorch on one MADE training step, side by side in one run.
#
# For each thread count n, runs flowtape's bench_made_step and then bench/speed/torch_made_step.py (with
# Debian's /usr/bin/python3 and its python3-torch), both with OPENBLAS_NUM_THREADS=n and n threads
# of their own, float64, same model, loss, optimizer and batches. For n > 1 torch runs a second time
# with a one-thread pool of its own (its OpenMP pool and OpenBLAS's threads contend for the cores
# otherwise), and the faster torch figure is the one compared. Then prints one table: flowtape ms,
# torch ms and torch/flowtape per batch and thread count, with the targets (>= 3x at batch 128,
# >= 2x at 1024 and 4096) marked met or not met, plus the machine, versions, date and load.
#
# Usage: bench/speed/compare_torch.sh [--build DIR] [--threads "1 2"] [--quick] [--phases] [--keep DIR]
#   --build DIR   the Meson build directory holding bench/speed/bench_made_step (default: build)
#   --threads     the thread counts to compare (default: "1 2")
#   --quick       fewer repetitions (a smoke run; figures are noisier)
#   --phases      also time the phases of a step (forward, backward, Adam, ...) on both sides
#   --keep DIR    keep the raw outputs (JSON and flowtape's own table) in DIR
set -euo pipefail

invocation="$0 $*"
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$(dirname "$here")")
build="$root/build"
threads="1 2"
quick=""
phases=""
keep=""
flowtape_status=0
while [ $# -gt 0 ]; do
    case "$1" in
        --build) build=$(cd "$2" && pwd); shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        --quick) quick="--quick"; shift ;;
        --phases) phases="--phases"; shift ;;
        --keep) keep="$2"; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "compare_torch.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done

exe="$build/bench/speed/bench_made_step"
python=/usr/bin/python3
if [ ! -x "$exe" ]; then
    echo "compare_torch.sh: $exe not found; build first (ninja -C $build)" >&2
    exit 2
fi
if ! "$python" -c 'import torch' 2>/dev/null; then
    echo "compare_torch.sh: $python cannot import torch (Debian: apt-get install python3-torch)" >&2
    exit 2
fi

if [ -n "$keep" ]; then
    mkdir -p "$keep"
    out=$(cd "$keep" && pwd)
else
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
fi

echo "command: $invocation"
if commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null); then
    [ -n "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ] && commit="$commit + uncommitted changes"
    echo "source:  flowtape $commit"
fi
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $threads; do
    echo "-- $n thread(s): flowtape" >&2
    # bench_made_step exits 1 when a warm step allocated on the tape: note it, keep comparing.
    OPENBLAS_NUM_THREADS=$n OMP_NUM_THREADS=$n "$exe" --threads "$n" $quick $phases --json "$out/flowtape_$n.json" \
        > "$out/flowtape_$n.txt" || flowtape_status=$?
    echo "-- $n thread(s): torch" >&2
    OPENBLAS_NUM_THREADS=$n OMP_NUM_THREADS=$n "$python" "$here/torch_made_step.py" --threads "$n" $quick $phases \
        > "$out/torch_$n.json"
    if [ "$n" -gt 1 ]; then
        # torch's OpenMP pool and OpenBLAS's pthreads pool contend for the cores when both have n > 1
        # threads; torch with a one-thread pool of its own (gemm still on n threads) is often faster.
        echo "-- $n thread(s): torch, intra-op pool of 1 thread" >&2
        OPENBLAS_NUM_THREADS=$n OMP_NUM_THREADS=1 "$python" "$here/torch_made_step.py" --threads "$n" \
            --intra-op-threads 1 $quick $phases > "$out/torch_${n}_intra1.json"
    fi
done
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo

"$python" - "$out" $threads <<'EOF'
import json, os, sys

out, threads = sys.argv[1], sys.argv[2:]
load = lambda name: json.load(open(f"{out}/{name}.json"))
flowtape = [load(f"flowtape_{n}") for n in threads]
torch = [load(f"torch_{n}") for n in threads]
torch_intra1 = [load(f"torch_{n}_intra1") if os.path.exists(f"{out}/torch_{n}_intra1.json") else None for n in threads]
f0, t0 = flowtape[0], torch[0]
print(f"date:     {f0['date']}")
print(f"machine:  {f0['cpu']}, {f0['cores']} logical cores")
print(f"flowtape: xtensor {f0['xtensor']}, xtensor-blas {f0['xtensor_blas']}, OpenBLAS {f0['openblas']}")
print(f"torch:    {t0['torch']} (Python {t0['python']}), float64, its float64 gemm through the same OpenBLAS")
print()

def target(batch):
    return 3.0 if batch <= 128 else 2.0

header = (f"{'batch':>6} {'threads':>7} {'flowtape ms':>12} {'gemm ms':>8} {'step/gemm':>10} {'torch ms':>9} "
          f"{'torch* ms':>10} {'torch/flowtape':>15} {'ceiling':>8}  target")
print(header)
print("-" * len(header))
for fj, tj, tij in zip(flowtape, torch, torch_intra1):
    by_batch = {r["batch"]: r for r in tj["results"]}
    intra_by_batch = {r["batch"]: r for r in tij["results"]} if tij else {}
    for r in fj["results"]:
        t = by_batch[r["batch"]]["step_ms"]
        ti = intra_by_batch[r["batch"]]["step_ms"] if r["batch"] in intra_by_batch else None
        best = min(t, ti) if ti is not None else t
        speedup = best / r["step_ms"]
        ceiling = best / r["gemm_ms"]
        goal = target(r["batch"])
        verdict = "met" if speedup >= goal else "NOT met"
        ti_text = f"{ti:>10.4f}" if ti is not None else f"{'-':>10}"
        print(f"{r['batch']:>6} {r['threads']:>7} {r['step_ms']:>12.4f} {r['gemm_ms']:>8.4f} {r['ratio']:>10.2f} "
              f"{t:>9.4f} {ti_text} {speedup:>14.2f}x {ceiling:>7.2f}x  >= {goal:.0f}x: {verdict}")
print()
print("flowtape ms, torch ms: median single-step time (forward, backward, Adam, zero_grad), same threads")
print("  for OpenBLAS and for torch's own pool. torch* ms: torch with a 1-thread pool of its own, OpenBLAS")
print("  on n threads (the two pools contend for the cores otherwise).")
print("torch/flowtape: the faster of torch and torch* over flowtape; the target is judged on it.")
print("gemm ms: flowtape's gemm calls alone; step/gemm: flowtape step / gemm (target <= 1.4 at batch 1024).")
print("ceiling: the same torch time / gemm ms, the speed-up flowtape would show if its step cost nothing")
print("  but its gemm calls (torch makes the same 8 gemm calls through the same OpenBLAS).")
if "phases_ms" in flowtape[0]["results"][0]:
    print()
    print("phases of a step, median ms of each (forward includes the loss; flowtape's reset is in its total):")
    names = ["forward", "backward", "adam.step", "zero_grad"]
    print(f"{'batch':>6} {'threads':>7} {'':>9}" + "".join(f" {n:>10}" for n in names))
    for fj, tj, tij in zip(flowtape, torch, torch_intra1):
        sides = [("flowtape", fj), ("torch", tj)] + ([("torch*", tij)] if tij else [])
        for r in fj["results"]:
            for label, side in sides:
                row = next(x for x in side["results"] if x["batch"] == r["batch"])
                print(f"{r['batch']:>6} {r['threads']:>7} {label:>9}" + "".join(f" {row['phases_ms'][n]:>10.4f}" for n in names))
for fj in flowtape:
    bad = [r for r in fj["results"] if r["warm_allocations"] != 0]
    if bad:
        print("WARNING: flowtape warm steps allocated on the tape:", [(r["batch"], r["threads"]) for r in bad])
EOF
if [ "$flowtape_status" -ne 0 ]; then
    echo "compare_torch.sh: bench_made_step exited with status $flowtape_status (see above)" >&2
    exit "$flowtape_status"
fi
