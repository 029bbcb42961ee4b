# What the side-by-side scripts beside PyTorch share (sourced, not run): the options --build DIR,
# --threads "1 2", --quick and --help (the script's header comment), the checks that the benchmark
# program is built and that Debian's python can import torch, and the header lines (command, date,
# machine, torch). The sourcing script sets `script` (its name) and `program` (the executable under
# build/bench/speed/) and calls compare_setup "$@"; afterwards $build, $threads, $quick, $exe,
# $python, $here and $out (a temporary folder removed at exit) are set.

compare_setup() {
    invocation="$0 $*"
    here=$(cd "$(dirname "$0")" && pwd)
    local root
    root=$(dirname "$(dirname "$here")")
    build="$root/build"
    threads="1"
    quick=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --build) build=$(cd "$2" && pwd); shift 2 ;;
            --threads) threads="$2"; shift 2 ;;
            --quick) quick="--quick"; shift ;;
            -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
            *) echo "$script: unknown option '$1' (see --help)" >&2; exit 2 ;;
        esac
    done
    exe="$build/bench/speed/$program"
    python=/usr/bin/python3
    [ -x "$exe" ] || { echo "$script: $exe not found; build first (ninja -C $build bench/speed/$program)" >&2; exit 2; }
    "$python" -c 'import torch' 2>/dev/null || { echo "$script: $python cannot import torch" >&2; exit 2; }
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
    echo "command: $invocation"
    echo "date:    $(date '+%Y-%m-%d %H:%M:%S %Z')"
    echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores; load before $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "torch:   $("$python" -c 'import torch; print(torch.__version__)'), python $("$python" -c 'import platform; print(platform.python_version())')"
}
