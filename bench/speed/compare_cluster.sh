#!/bin/bash
# flowtape against scikit-learn on k-means and the silhouette, side by side in one run.
#
# For each thread count n, runs bench_cluster_speed and then bench/speed/sklearn_cluster.py (Debian's
# /usr/bin/python3 with python3-sklearn) on the same 10⁵ points of the circle of Gaussians, both with
# OMP_NUM_THREADS=n and OPENBLAS_NUM_THREADS=n. Tasks: k-means k = 8 with n_init = 1 and 10, the
# silhouette on a 10⁴ subsample, the exact silhouette on 2·10⁴ points. Prints one table of medians
# with sklearn/flowtape (> 1: flowtape faster), then the command, machine, versions and date.
#
# Usage: bench/speed/compare_cluster.sh [--build DIR] [--threads "1 2"] [--reps 3]
set -euo pipefail

invocation="$0 $*"
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$(dirname "$here")")
build="$root/build"
threads="1 2"
reps=3
while [ $# -gt 0 ]; do
    case "$1" in
        --build) build=$(cd "$2" && pwd); shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        --reps) reps="$2"; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "compare_cluster.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
bench="$build/bench/speed/bench_cluster_speed"
[ -x "$bench" ] || { echo "compare_cluster.sh: $bench not found (meson setup with -Dbenches=true, then ninja)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for n in $threads; do
    export OMP_NUM_THREADS=$n OPENBLAS_NUM_THREADS=$n
    "$bench" --reps "$reps" --write-data "$tmp/points.csv" > "$tmp/flowtape_$n.txt"
    /usr/bin/python3 "$here/sklearn_cluster.py" "$tmp/points.csv" --reps "$reps" > "$tmp/sklearn_$n.txt"
done

printf '%-8s %-22s %12s %12s %10s   %-12s %-12s\n' threads task "flowtape s" "sklearn s" "skl/ft" "ft value" "skl value"
for n in $threads; do
    while read -r who task secs value; do
        [ "$who" = flowtape ] || continue
        read -r _ _ ssecs svalue < <(grep "^sklearn $task " "$tmp/sklearn_$n.txt")
        ratio=$(awk -v a="$ssecs" -v b="$secs" 'BEGIN { printf "%.2f", a / b }')
        printf '%-8s %-22s %12s %12s %10s   %-12s %-12s\n' "$n" "$task" "$secs" "$ssecs" "$ratio" "$value" "$svalue"
    done < "$tmp/flowtape_$n.txt"
done
echo
echo "command: $invocation (medians of $reps runs)"
grep '^# machine' "$tmp/flowtape_${threads%% *}.txt" | sed 's/^# //'
echo "cores: $(nproc), load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "compiler: $(c++ --version | head -1); OpenBLAS: $(dpkg-query -W -f '${Version}' libopenblas0-pthread 2>/dev/null || echo '?')"
grep '^# sklearn' "$tmp/sklearn_${threads%% *}.txt" | sed 's/^# //'
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
