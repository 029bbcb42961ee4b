#!/bin/bash
# flowtape against PyTorch on continuous-normalizing-flow training (issue 5, "Performance"), side by side.
#
# Runs build/bench/bench_cnf_speed, which trains a CNF (MLP 3->64->64->2 tanh, time concatenated, batch
# 512 of two moons, dopri5 rtol = atol = 1e-5, adjoint gradients, -mean log p(x) with a standard
# normal base, Adam) with the exact trace and with Hutchinson (Gaussian noise), and exports its data
# and initial parameters; then bench/torch_cnf.py (Debian's /usr/bin/python3 with python3-torch, its
# own dopri5 and adjoint with the same tableau, error norm, initial step and step control) runs the
# same problem. Both at the same thread count (OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = n), float64.
#
# Prints the correctness check (the initial loss of both, exact trace, must agree within 1e-6
# relative; also the first iteration's NFE and gradient norm), then one table per thread count: time
# per iteration (median), forward and backward NFE (mean over the timed iterations), time per function
# evaluation, the torch/flowtape ratios, and the target "at least 3x faster per iteration: met / NOT met".
#
# Usage: bench/compare_cnf.sh [--build DIR] [--threads "1 2"] [--quick] [--keep DIR]
set -euo pipefail

invocation="$0 $*"
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
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

exe="$build/bench/bench_cnf_speed"
python=/usr/bin/python3
[ -x "$exe" ] || { echo "compare_cnf.sh: $exe not found; build first (ninja -C $build bench/bench_cnf_speed)" >&2; exit 2; }
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
ok_all = True
for n in threads:
    ft = {r["trace"]: r for r in json.load(open(f"{out}/flowtape_{n}.json"))["results"]}
    tj = json.load(open(f"{out}/torch_{n}.json"))
    th = {r["trace"]: r for r in tj["results"]}
    c = tj["check"]
    ok_all &= c["agree"]
    print(f"threads = {n}")
    print(f"check (exact trace, initial parameters): initial loss flowtape {c['flowtape_initial_loss']:.15g}, "
          f"torch {c['torch_initial_loss']:.15g}, relative difference {c['relative_difference']:.2e} "
          f"-> {'AGREE (<= 1e-6)' if c['agree'] else 'DISAGREE (> 1e-6): the two sides compute different things'}")
    print(f"      first iteration NFE (fwd, bwd): flowtape {tuple(c['flowtape_initial_nfe'])}, torch {tuple(c['torch_initial_nfe'])}; "
          f"gradient norm flowtape {c['flowtape_initial_grad_norm']:.12g}, torch {c['torch_initial_grad_norm']:.12g} "
          f"(rel. diff {abs(c['flowtape_initial_grad_norm'] - c['torch_initial_grad_norm']) / c['torch_initial_grad_norm']:.1e})")
    print()
    print(f"{'trace':10} {'':8} {'ms/iter':>9} {'NFE fwd':>8} {'NFE bwd':>8} {'ms/eval':>8}")
    for trace in ft:
        for name, r in (("flowtape", ft[trace]), ("torch", th[trace])):
            print(f"{trace:10} {name:8} {r['median_ms']:9.2f} {r['nfe_forward']:8.1f} {r['nfe_backward']:8.1f} {r['ms_per_eval']:8.4f}")
        ri = th[trace]["median_ms"] / ft[trace]["median_ms"]
        re = th[trace]["ms_per_eval"] / ft[trace]["ms_per_eval"]
        print(f"{trace:10} {'ratio':8} {ri:8.2f}x {'':8} {'':8} {re:7.2f}x   at least 3x faster per iteration: {met(ri >= 3)}")
        print()
print("ratio = torch / flowtape (time per iteration; time per function evaluation). ms/iter: median over the timed")
print("iterations; NFE: mean over them (forward solve and adjoint backward solve, including Hairer's initial-step")
print("probe); ms/eval: median of per-iteration time / (NFE fwd + NFE bwd). Every iteration includes the Adam step.")
if not ok_all:
    sys.exit(1)
PY
