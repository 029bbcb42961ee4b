#!/usr/bin/env bash
# Tests of the flowtape command as a user runs it: --version, the one-line error and exit status 2 on
# bad usage, and `flowtape demo`, whose fit must come within 0.01 nats of the Gaussian's entropy
# (its printed gap, the held-out KL estimate, below 0.01) with an entropy row equal to the exact value.
#
# Usage: command_test.sh PATH_TO_FLOWTAPE
set -euo pipefail

flowtape=$1
fail() { echo "command-test: FAIL: $*" >&2; exit 1; }

# expect_usage_error ARGS...: exit status 2 and exactly one stderr line "flowtape: ...".
expect_usage_error() {
  local err status=0
  err=$("$flowtape" "$@" 2>&1 >/dev/null) || status=$?
  [[ $status == 2 ]] || fail "'flowtape $*' exited with $status, expected 2"
  [[ $(wc -l <<<"$err") == 1 && $err == "flowtape: "* ]] || fail "'flowtape $*' printed, expected one 'flowtape: ' line: $err"
  echo "ok: flowtape $* -> $err"
}

version=$("$flowtape" --version)
[[ $version =~ ^flowtape\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "--version printed '$version'"
echo "ok: --version -> $version"

expect_usage_error
expect_usage_error no-such-command
expect_usage_error demo --epochs 0
expect_usage_error demo --seed abc
expect_usage_error demo --no-such-option

out=$("$flowtape" demo --quiet --seed 7)
echo "$out"
# ½ log det(2πe Σ) for Σ = [[1, 0.8], [0.8, 1]]: log(2πe) + ½ log 0.36.
awk '
  /^ *entropy/ { entropy = $NF; seen++ }
  /^ *gap/ { gap = $NF; seen++ }
  END {
    exact = log(2 * 3.14159265358979324 * exp(1)) + 0.5 * log(0.36)
    if (seen != 2) { print "missing entropy or gap row"; exit 1 }
    if (entropy - exact > 1e-5 || exact - entropy > 1e-5) { print "entropy " entropy " is not " exact; exit 1 }
    if (!(gap < 0.01)) { print "gap " gap " is not below 0.01 nats"; exit 1 }
    if (!(gap > -0.002)) { print "gap " gap " is negative beyond noise (a KL divergence is >= 0)"; exit 1 }
  }' <<<"$out" >&2 || fail "flowtape demo did not reach the entropy"
echo "ok: flowtape demo reaches the entropy"
