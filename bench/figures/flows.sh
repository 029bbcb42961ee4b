#!/bin/bash
# The learned densities of flowtape's flows, drawn next to their training data (issue 3, "Pictures").
#
# For each target of Stimper et al. 2022 (two moons, circle of Gaussians, two rings) draws 10^4
# points with `flowtape datasets`, trains each flow kind on them with `flowtape train` (the command's
# defaults: 5 layers of 2x128 conditioners, 8 bins for the splines, Adam 1e-3, batch 256, early
# stopping with patience 2% of the epochs, 20% validation), then for each model:
#   - `flowtape plot` draws its density on [-4, 4]^2 next to the training points (PNG),
#   - `flowtape kl` estimates D(q || p) against the target's exact density (JSON).
# It prints a Markdown table of the KL estimates and the training time, and writes the PNGs and a
# log into the output directory (by default bench/figures/flows/, beside this script: the figures
# bench/RESULTS.md shows). Everything is seeded (--seed), so a rerun gives the same figures.
#
# Usage: bench/figures/flows.sh [--build DIR] [--out DIR] [--epochs E] [--seed S] [--flows "maf realnvp nsf nsf-coupling"]
set -euo pipefail
invocation="$0 $*"
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$(dirname "$here")")
build="$root/build"
out="$here/flows"
epochs=1000
seed=1
flows="maf realnvp nsf nsf-coupling"
targets="two-moons circle-of-gaussians two-rings"
while [ $# -gt 0 ]; do
    case "$1" in
        --build) build=$(cd "$2" && pwd); shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --epochs) epochs="$2"; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        --flows) flows="$2"; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "flows.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
exe="$build/app/flowtape"
[ -x "$exe" ] || { echo "flows.sh: $exe not found; build first (ninja -C $build)" >&2; exit 2; }
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "command: $invocation"
echo "date:    $(date '+%Y-%m-%d %H:%M:%S %Z')"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "flowtape: $("$exe" --version 2>/dev/null || echo unknown)"
echo
echo "| target | flow | KL (normalised) | KL (self-normalised) | epochs | train s | figure |"
echo "|---|---|---|---|---|---|---|"
for target in $targets; do
    "$exe" datasets "$target" -n 10000 --seed "$seed" > "$work/$target.csv"
    for flow in $flows; do
        model="$work/$target-$flow.json"
        "$exe" train --flow "$flow" --data "$work/$target.csv" --out "$model" --epochs "$epochs" \
            --seed "$seed" --quiet > "$work/report.json" 2> "$work/train.log" || { cat "$work/train.log" >&2; exit 1; }
        "$exe" plot --model "$model" --data "$work/$target.csv" --out "$out/$target-$flow.png" --quiet
        "$exe" kl --model "$model" --target "$target" -n 10000 --seed "$seed" > "$work/kl.json"
        /usr/bin/python3 - "$work/kl.json" "$work/report.json" "$target" "$flow" "$target-$flow.png" <<'PY'
import json, sys
kl_path, report_path, target, flow, figure = sys.argv[1:]
kl, report = json.load(open(kl_path)), json.load(open(report_path))
fmt = lambda e: f"{e['value']:.4f} ± {e['error']:.4f}"
print(f"| {target} | {flow} | {fmt(kl['kl'])} | {fmt(kl['kl_self_normalised'])} | {report['epochs']} "
      f"| {report['seconds']:.1f} | {figure} |")
PY
    done
done
