#!/usr/bin/env bash
# Tests of the data and model subcommands as a user runs them: datasets (shape, header, determinism
# by seed), then train → sample → logprob → kl → plot end to end on a small two-moons file for a
# MAF and a coupling spline flow, and the one-line errors with exit status 2 for bad input.
# Sizes and epochs are tiny: this checks the plumbing, not the quality of the fits (test/flows does).
#
# Usage: cli_test.sh PATH_TO_FLOWTAPE
set -euo pipefail

flowtape=$1
fail() { echo "cli-test: FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# expect_usage_error ARGS...: exit status 2, exactly one stderr line "flowtape: ...", no stdout.
expect_usage_error() {
  local out err status=0
  out=$("$flowtape" "$@" 2>"$tmp/err") || status=$?
  err=$(<"$tmp/err")
  [[ $status == 2 ]] || fail "'flowtape $*' exited with $status, expected 2 (stderr: $err)"
  [[ $(wc -l <<<"$err") == 1 && $err == "flowtape: "* ]] || fail "'flowtape $*' printed, expected one 'flowtape: ' line: $err"
  [[ -z $out ]] || fail "'flowtape $*' wrote to stdout on error: $out"
  ok "flowtape $* -> $err"
}

# rows FILE: number of lines after the header.
rows() { echo $(($(wc -l <"$1") - 1)); }

# ---- datasets ----
"$flowtape" datasets two-moons -n 400 --seed 3 >"$tmp/moons.csv"
[[ $(head -1 "$tmp/moons.csv") == "x0,x1" ]] || fail "datasets header is '$(head -1 "$tmp/moons.csv")'"
[[ $(rows "$tmp/moons.csv") == 400 ]] || fail "datasets wrote $(rows "$tmp/moons.csv") rows, expected 400"
awk -F, 'NR > 1 && (NF != 2 || $1 !~ /^-?[0-9.e+-]+$/ || $2 !~ /^-?[0-9.e+-]+$/) { exit 1 }' "$tmp/moons.csv" ||
  fail "datasets rows are not two numbers"
cmp -s "$tmp/moons.csv" <("$flowtape" datasets two-moons -n 400 --seed 3) || fail "datasets differs for the same seed"
! cmp -s "$tmp/moons.csv" <("$flowtape" datasets two-moons -n 400 --seed 4) || fail "datasets is the same for seeds 3 and 4"
ok "datasets two-moons: header x0,x1, 400 rows of 2 numbers, same seed same rows, other seed other rows"

"$flowtape" datasets circle-of-gaussians -n 50 --labels >"$tmp/cog.csv"
[[ $(head -1 "$tmp/cog.csv") == "x0,x1,label" ]] || fail "datasets --labels header is '$(head -1 "$tmp/cog.csv")'"
awk -F, 'NR > 1 && (NF != 3 || $3 !~ /^[0-7]$/) { exit 1 }' "$tmp/cog.csv" || fail "labels are not 0..7"
ok "datasets circle-of-gaussians --labels: label column in 0..7"

# ---- train → sample → logprob → kl → plot, for two flow kinds ----
for flow in maf nsf-coupling; do
  model="$tmp/$flow.json"
  "$flowtape" train --flow "$flow" --data "$tmp/moons.csv" --out "$model" --layers 2 --hidden 16,16 --epochs 5 \
    --batch 100 --seed 1 --quiet >"$tmp/summary.json" 2>"$tmp/train.err"
  [[ ! -s "$tmp/train.err" ]] || fail "train --quiet wrote to stderr: $(<"$tmp/train.err")"
  # The summary is printed with one "key": value per line; the model file is compact JSON.
  field() { sed -n "s/^ *\"$1\": \(.*\),\{0,1\}\$/\1/p" "$2" | sed 's/,$//'; }
  epochs=$(field epochs "$tmp/summary.json")
  best=$(field best_epoch "$tmp/summary.json")
  params=$(field parameters "$tmp/summary.json")
  loss=$(field best_val_loss "$tmp/summary.json")
  seconds=$(field seconds "$tmp/summary.json")
  [[ $epochs =~ ^[1-5]$ && $best =~ ^[1-5]$ && $best -le $epochs && $params =~ ^[1-9][0-9]*$ ]] ||
    fail "$flow: train summary: epochs '$epochs', best epoch '$best', parameters '$params'"
  [[ $loss =~ ^-?[0-9] && $seconds =~ ^[0-9] ]] || fail "$flow: train summary: loss '$loss', seconds '$seconds'"
  grep -q '"format":"flowtape-model"' "$model" && grep -q '"extra":{"columns":\["x0","x1"\]' "$model" ||
    fail "$flow: the model file does not store the data columns"
  ok "$flow: train summary has epochs/best epoch/loss/seconds/parameters; model file stores the columns"

  "$flowtape" sample --model "$model" -n 123 --seed 5 >"$tmp/s1.csv"
  [[ $(head -1 "$tmp/s1.csv") == "x0,x1" && $(rows "$tmp/s1.csv") == 123 ]] || fail "$flow: sample shape/header"
  cmp -s "$tmp/s1.csv" <("$flowtape" sample --model "$model" -n 123 --seed 5) || fail "$flow: sample not deterministic"
  ok "$flow: sample writes 123 rows under x0,x1, the same for the same seed"

  "$flowtape" logprob --model "$model" --data "$tmp/moons.csv" >"$tmp/lp.csv"
  [[ $(head -1 "$tmp/lp.csv") == logp && $(rows "$tmp/lp.csv") == 400 ]] || fail "$flow: logprob shape/header"
  # The labelled file has the model's columns plus a label: they are picked by name, same values.
  "$flowtape" datasets two-moons -n 400 --seed 3 | sed '1s/$/,label/; 2,$s/$/,0/' >"$tmp/moons_labelled.csv"
  cmp -s "$tmp/lp.csv" <("$flowtape" logprob --model "$model" --data "$tmp/moons_labelled.csv") ||
    fail "$flow: logprob differs when the file has an extra column"
  ok "$flow: logprob writes one logp per row; extra columns are ignored by name"

  "$flowtape" kl --model "$model" --target two-moons -n 500 --seed 2 >"$tmp/kl.json"
  # Two estimator objects, each with value, error and estimator; eq. 16 estimates a KL (>= 0) and an
  # untrained flow is far from the moons, so its value is positive.
  [[ $(field n "$tmp/kl.json") == 500 && $(field seed "$tmp/kl.json") == 2 &&
     $(field target "$tmp/kl.json") == '"two-moons"' ]] || fail "$flow: kl JSON lacks n, seed or target"
  [[ $(grep -c '"error": [0-9]' "$tmp/kl.json") == 2 && $(grep -c '"estimator": "' "$tmp/kl.json") == 2 ]] ||
    fail "$flow: kl JSON lacks the two estimates with errors"
  grep -q '"kl_self_normalised": {' "$tmp/kl.json" || fail "$flow: kl JSON lacks kl_self_normalised"
  kl=$(sed -n '/"kl": {/,/}/s/^ *"value": \(.*\)$/\1/p' "$tmp/kl.json")
  [[ $kl =~ ^[0-9]+\.?[0-9]*(e[-+]?[0-9]+)?$ ]] || fail "$flow: the eq. 16 KL is '$kl', expected a positive number"
  ok "$flow: kl prints both estimators with errors, n and seed"

  "$flowtape" plot --model "$model" --data "$tmp/moons.csv" --out "$tmp/$flow.png" --grid 40 --quiet
  [[ $(head -c 8 "$tmp/$flow.png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "$flow: not a PNG"
  "$flowtape" plot --model "$model" --out "$tmp/$flow.svg" --grid 40 --samples 200 --quiet
  head -1 "$tmp/$flow.svg" | grep -q '^<?xml' && grep -q '<svg' "$tmp/$flow.svg" || fail "$flow: not an SVG"
  [[ $(tail -c 7 "$tmp/$flow.svg") == '</svg>' ]] || fail "$flow: the SVG is cut short"
  if command -v xmllint >/dev/null; then xmllint --noout "$tmp/$flow.svg" || fail "$flow: the SVG is not well-formed XML"; fi
  ! ls "$tmp"/*.tmp.* >/dev/null 2>&1 || fail "$flow: plot left a temporary file"
  ok "$flow: plot writes a PNG (signature) and a well-formed SVG"
done

# ---- errors: one line, exit status 2 ----
printf 'x0,x1\n1,2\n3\n' >"$tmp/ragged.csv"
printf '{"format": "flowtape-model", "version": 1, "model": ' >"$tmp/corrupt.json"
printf 'a,b,c\n' >"$tmp/three.csv"
for i in $(seq 1 30); do echo "$i,$((i * 7 % 11)),$((i * 3 % 5))" >>"$tmp/three.csv"; done
"$flowtape" train --flow maf --data "$tmp/three.csv" --out "$tmp/three.json" --layers 1 --hidden 4 --epochs 1 --quiet >/dev/null

expect_usage_error datasets two-moons -n 0
expect_usage_error datasets no-such-set -n 5
expect_usage_error datasets two-moons -n -3
expect_usage_error train --flow maf --data "$tmp/missing.csv" --out "$tmp/m.json"
expect_usage_error train --flow maf --data "$tmp/ragged.csv" --out "$tmp/m.json"
expect_usage_error train --flow glow --data "$tmp/moons.csv" --out "$tmp/m.json"
expect_usage_error train --flow maf --data "$tmp/moons.csv" --out "$tmp/no/such/dir/m.json"
expect_usage_error train --flow maf --data "$tmp/moons.csv" --out "$tmp/m.json" --hidden 16,x
[[ ! -e "$tmp/m.json" ]] || fail "a failed train left a model file"
expect_usage_error sample --model "$tmp/missing.json" -n 5
expect_usage_error sample --model "$tmp/corrupt.json" -n 5
expect_usage_error sample --model "$tmp/maf.json" -n 0
expect_usage_error logprob --model "$tmp/maf.json" --data "$tmp/ragged.csv"
expect_usage_error logprob --model "$tmp/maf.json" --data "$tmp/three.csv"
expect_usage_error kl --model "$tmp/maf.json" --target no-such-target
expect_usage_error kl --model "$tmp/three.json" --target two-moons
expect_usage_error plot --model "$tmp/three.json" --out "$tmp/three.png"
expect_usage_error plot --model "$tmp/corrupt.json" --out "$tmp/c.png"
expect_usage_error plot --model "$tmp/maf.json" --out "$tmp/fig.jpg"
expect_usage_error plot --model "$tmp/maf.json" --out "$tmp/fig.png" --range=4,-4
[[ ! -e "$tmp/three.png" && ! -e "$tmp/fig.png" ]] || fail "a failed plot left an image"

echo "cli-test: all passed"
