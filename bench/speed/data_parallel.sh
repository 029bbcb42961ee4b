#!/usr/bin/env bash
# What data-parallel training costs and gains (issue 16): `flowtape train` of one MAF on the same
# file, timed in one run, as one process (plain sums; deterministic sums with 12 and 24 blocks)
# and under mpirun on 2 ranks (by rank; deterministic, 12 blocks). Prints each time and its ratio
# to the plain one-process run. Every variant trains the same epochs on the same rows; only
# where the sums happen differs. Uses build/app/flowtape; needs openmpi-bin. The time of one
# gradient sum against the parameter count: `mpirun -n R build/bench/speed/bench_reduce_speed`
# (docs/scaling.md).
#
# Usage: bench/speed/data_parallel.sh [--build DIR] [--rows N] [--epochs E] [--batch B] [--hidden H]
set -euo pipefail
invocation="$0 $*"
here=$(cd "$(dirname "$0")" && pwd)
build="$(dirname "$(dirname "$here")")/build"
rows=20000 epochs=20 batch=256 hidden=128,128
while [ $# -gt 0 ]; do
    case "$1" in
        --build) build=$(cd "$2" && pwd); shift 2 ;;
        --rows) rows=$2; shift 2 ;;
        --epochs) epochs=$2; shift 2 ;;
        --batch) batch=$2; shift 2 ;;
        --hidden) hidden=$2; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "data_parallel.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
flowtape="$build/app/flowtape"
[ -x "$flowtape" ] || { echo "data_parallel.sh: $flowtape not found; build first" >&2; exit 2; }
command -v mpirun > /dev/null || { echo "data_parallel.sh: mpirun not found (apt-get install openmpi-bin)" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
export OPENBLAS_NUM_THREADS=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "command: $invocation"
echo "date:    $(date '+%Y-%m-%d %H:%M:%S %Z')"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores; load before $(cut -d' ' -f1-3 /proc/loadavg)"
echo "mpi:     $(mpirun --version | head -1)"
"$flowtape" datasets two-moons -n "$rows" --seed 1 > "$out/data.csv"
echo "data:    two-moons, $(($(wc -l < "$out/data.csv") - 1)) rows; maf, 5 layers of hidden $hidden, batch $batch, $epochs epochs, patience off"
args=(train --data "$out/data.csv" --hidden "$hidden" --batch "$batch" --epochs "$epochs" --patience "$epochs" --quiet)
base=""
time_it() {  # NAME COMMAND...
    local name=$1 start end
    shift
    start=$(date +%s.%N)
    "$@" > /dev/null
    end=$(date +%s.%N)
    local t
    t=$(echo "$end - $start" | bc -l)
    [ -n "$base" ] || base=$t
    printf '%-34s %8.2f s  %5.2fx\n' "$name" "$t" "$(echo "$t / $base" | bc -l)"
}
printf '%-34s %10s  %6s\n' "variant" "time" "ratio"
time_it "1 process, plain" "$flowtape" "${args[@]}" --out "$out/a.json"
time_it "1 process, deterministic, 12" "$flowtape" "${args[@]}" --deterministic-sum --out "$out/b.json"
time_it "1 process, deterministic, 24" "$flowtape" "${args[@]}" --deterministic-sum --sum-blocks 24 --out "$out/c.json"
time_it "2 ranks, by rank" mpirun -n 2 "$flowtape" "${args[@]}" --out "$out/d.json"
time_it "2 ranks, deterministic, 12" mpirun -n 2 "$flowtape" "${args[@]}" --deterministic-sum --out "$out/e.json"
echo "load after $(cut -d' ' -f1-3 /proc/loadavg)"
