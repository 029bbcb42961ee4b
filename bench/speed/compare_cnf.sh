#!/bin/bash
# flowtape against PyTorch on continuous-normalizing-flow training (issue 5, "Performance"), side by side.
#
# Runs build/bench/speed/bench_cnf_speed, which trains a CNF (MLP 3->64->64->2 tanh, time concatenated, batch
# 512 of two moons, dopri5 rtol = atol = 1e-5, adjoint gradients, -mean log p(x) with a standard
# normal base, Adam) with the exact trace (the library's: the closed form for this MLP), the exact
# trace by tangent passes, and Hutchinson (Gaussian noise), and exports its data, initial parameters
# and noise; then bench/speed/torch_cnf.py (Debian's /usr/bin/python3 with python3-torch, its own dopri5 and
# adjoint with the same tableau, error norm, initial step and step control) runs the same problem
# with the exact trace by autograd VJPs (the natural PyTorch way), the same closed form, and
# Hutchinson with the same noise. Both at the same thread count (OPENBLAS_NUM_THREADS = OMP_NUM_THREADS
# = n), float64, the same OpenBLAS (its kernels as chosen at load time; OPENBLAS_CORETYPE in the
# environment reaches both sides).
#
# Prints the correctness check for every compared pair (the first iteration's loss and gradient norm
# must agree within 1e-6 relative, and its NFE exactly), then one table per thread count: time per
# iteration (median), forward and backward NFE (mean over the timed iterations), time per function
# evaluation, and the torch/flowtape ratios of four comparisons (flowtape closed form vs torch
# autograd, vs torch closed form; flowtape tangents vs torch autograd; Hutchinson vs Hutchinson),
# each with the target "at least 3x faster per iteration: met / NOT met".
#
# Usage: bench/speed/compare_cnf.sh [--build DIR] [--threads "1 2"] [--quick] [--keep DIR]
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
        *) echo "compare_cnf.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done

exe="$build/bench/speed/bench_cnf_speed"
python=/usr/bin/python3
[ -x "$exe" ] || { echo "compare_cnf.sh: $exe not found; build first (ninja -C $build bench/speed/bench_cnf_speed)" >&2; exit 2; }
"$python" -c 'import torch' 2>/dev/null || { echo "compare_cnf.sh: $python cannot import torch" >&2; exit 2; }

if [ -n "$keep" ]; then mkdir -p "$keep"; out=$(cd "$keep" && pwd); else out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; fi

echo "command: $invocation"
echo "date:    $(date '+%Y-%m-%d %H:%M:%S %Z')"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores; load before $(cut -d' ' -f1-3 /proc/loadavg)"
echo "torch:   $("$python" -c 'import torch; print(torch.__version__)'), python $("$python" -c 'import platform; print(platform.python_version())')"

for n in $threads; do
    OPENBLAS_NUM_THREADS=$n OMP_NUM_THREADS=$n "$exe" --threads "$n" --export "$out/problem_$n.json" \
        --json "$out/flowtape_$n.json" $quick > "$out/flowtape_$n.txt"
    OPENBLAS_NUM_THREADS=$n OMP_NUM_THREADS=$n "$python" "$here/torch_cnf.py" --problem "$out/problem_$n.json" \
        --threads "$n" $quick > "$out/torch_$n.json"
done
grep -m1 '^versions' "$out/flowtape_${threads%% *}.txt" || true
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

"$python" - "$out" $threads <<'PY'
import json, sys
out, threads = sys.argv[1], sys.argv[2:]
met = lambda ok: "met" if ok else "NOT met"
rel = lambda a, b: abs(a - b) / max(abs(b), 1e-300)
# (label, flowtape trace, torch trace): what each side computes is in cnf_speed.cpp and torch_cnf.py.
pairs = [
    ("exact: flowtape closed form vs torch autograd VJPs", "exact", "exact"),
    ("exact: flowtape closed form vs torch closed form", "exact", "exact-closed"),
    ("exact: flowtape tangents vs torch autograd VJPs", "exact-tangent", "exact"),
    ("hutchinson vs hutchinson (the same noise)", "hutchinson", "hutchinson"),
]
ok_all = True
summary = []
for n in threads:
    ft = {r["trace"]: r for r in json.load(open(f"{out}/flowtape_{n}.json"))["results"]}
    th = {r["trace"]: r for r in json.load(open(f"{out}/torch_{n}.json"))["results"]}
    print(f"threads = {n}")
    print("check, first iteration from the initial parameters (loss within 1e-6 relative, same NFE, gradient norm")
    print("within 1e-6 relative):")
    checked = set()
    for _, f_name, t_name in pairs:
        if (f_name, t_name) in checked:
            continue
        checked.add((f_name, t_name))
        a, b = ft[f_name], th[t_name]
        dl = rel(a["initial_loss"], b["initial_loss"])
        dg = rel(a["initial_grad_norm"], b["initial_grad_norm"])
        nfe_a = (a["initial_nfe_forward"], a["initial_nfe_backward"])
        nfe_b = (b["initial_nfe_forward"], b["initial_nfe_backward"])
        agree = dl <= 1e-6 and dg <= 1e-6 and nfe_a == nfe_b
        ok_all &= agree
        print(f"  flowtape {f_name:13} / torch {t_name:12}: loss {a['initial_loss']:.15g} / {b['initial_loss']:.15g} "
              f"(rel. diff {dl:.1e}), NFE {nfe_a} / {nfe_b}, gradient norm {a['initial_grad_norm']:.12g} / "
              f"{b['initial_grad_norm']:.12g} (rel. diff {dg:.1e}) -> {'AGREE' if agree else 'DISAGREE: the two sides compute different things'}")
    print()
    print(f"{'side':26} {'ms/iter':>9} {'NFE fwd':>8} {'NFE bwd':>8} {'ms/eval':>8}")
    rows = [("flowtape " + k, ft[k]) for k in ft] + [("torch " + k, th[k]) for k in th]
    for name, r in rows:
        print(f"{name:26} {r['median_ms']:9.2f} {r['nfe_forward']:8.1f} {r['nfe_backward']:8.1f} {r['ms_per_eval']:8.4f}")
    print()
    print(f"{'ratio (torch / flowtape)':52} {'per iter':>9} {'per eval':>9}   at least 3x faster per iteration")
    for label, f_name, t_name in pairs:
        ri = th[t_name]["median_ms"] / ft[f_name]["median_ms"]
        re = th[t_name]["ms_per_eval"] / ft[f_name]["ms_per_eval"]
        print(f"{label:52} {ri:8.2f}x {re:8.2f}x   {met(ri >= 3)}")
    print()
print("ratio = torch / flowtape (time per iteration; time per function evaluation). ms/iter: median over the timed")
print("iterations; NFE: mean over them (forward solve and adjoint backward solve, including Hairer's initial-step")
print("probe); ms/eval: median of per-iteration time / (NFE fwd + NFE bwd). Every iteration includes the Adam step.")
print("flowtape exact = the library's exact trace (for this MLP the closed form); exact-tangent = D tangent passes.")
if not ok_all:
    sys.exit(1)
PY
