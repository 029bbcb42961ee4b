#!/usr/bin/env bash
# `mpirun -n R flowtape train` as a user runs it (the MPI suite, when flowtape is built with MPI):
# with --deterministic-sum the same model from 1 (no mpirun), 2 and 3 ranks (compared through
# logprob's shortest round-trip numbers, which are equal only when the parameters are); by rank,
# a model within rounding; pieces of --flow pnf and runs of --flow mixture spread over ranks give
# the serial model; cnf, vmonf and f4f (every rank holding all the rows) give the one-process
# model with --deterministic-sum; rank 0
# alone prints and writes; a bad row in rank 1's rows stops every rank with exit 2 and one line
# naming rank 1 and the file:line; options and commands that do not run across ranks say so, as do
# ranks launched with different command lines.
#
# Usage: mpi_command_test.sh PATH_TO_FLOWTAPE
set -euo pipefail

flowtape=$1
fail() { echo "mpi-command-test: FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OPENBLAS_NUM_THREADS=1
run() { mpirun -n "$@"; }
# same_model A.json B.json DATA.csv WHAT: equal log-densities on the rows of DATA, bit for bit.
same_model() {
  "$flowtape" logprob --model "$1" --data "$3" > "$tmp/a.lp"
  "$flowtape" logprob --model "$2" --data "$3" > "$tmp/b.lp"
  cmp -s "$tmp/a.lp" "$tmp/b.lp" || fail "$4"
}
# largest_difference A.json B.json DATA.csv: the largest |log p| difference on the rows of DATA.
largest_difference() {
  "$flowtape" logprob --model "$1" --data "$3" > "$tmp/a.lp"
  "$flowtape" logprob --model "$2" --data "$3" > "$tmp/b.lp"
  paste -d, "$tmp/a.lp" "$tmp/b.lp" | awk -F, 'NR > 1 { d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d } END { printf "%.3g", m }'
}

"$flowtape" datasets two-moons --seed 3 > "$tmp/moons.csv"
# 9,224 parameters: the gradient sums go by reduce-scatter (Communicator::sum_parts_in_order).
train=(train --data "$tmp/moons.csv" --epochs 12 --layers 2 --hidden 64,64 --batch 100 --seed 4)

# Deterministic sums: the same bits from every number of ranks.
"$flowtape" "${train[@]}" --deterministic-sum --out "$tmp/one.json" --quiet > /dev/null
"$flowtape" logprob --model "$tmp/one.json" --data "$tmp/moons.csv" > "$tmp/one.lp"
for ranks in 2 3; do
  run "$ranks" "$flowtape" "${train[@]}" --deterministic-sum --out "$tmp/r$ranks.json" > "$tmp/r$ranks.out" 2> "$tmp/r$ranks.err"
  "$flowtape" logprob --model "$tmp/r$ranks.json" --data "$tmp/moons.csv" > "$tmp/r$ranks.lp"
  cmp -s "$tmp/one.lp" "$tmp/r$ranks.lp" || fail "--deterministic-sum on $ranks ranks gave another model than one process"
  # Rank 0 alone prints the summary and the progress, and leaves no temporary file.
  [[ $(grep -c '"out":' "$tmp/r$ranks.out") == 1 ]] || fail "$ranks ranks printed $(grep -c '"out":' "$tmp/r$ranks.out") summaries"
  [[ $(grep -c '^train: saved' "$tmp/r$ranks.err") == 1 ]] || fail "$ranks ranks: not one 'train: saved' line"
  grep -q "on $ranks ranks (MPI), gradients summed by block" "$tmp/r$ranks.err" || fail "$ranks ranks: no data-parallel progress line"
  ls "$tmp" | grep -q '\.tmp\.' && fail "a temporary file is left in $tmp"
  ok "--deterministic-sum: 1 and $ranks ranks give the same log-densities bit for bit"
done

# More ranks than rows in a batch (8 rows, 4 ranks, batches of 2): ranks without rows in a step
# add nothing; the one-process model.
head -9 "$tmp/moons.csv" > "$tmp/tiny.csv"
tiny=(train --data "$tmp/tiny.csv" --batch 2 --epochs 3 --layers 1 --hidden 4 --deterministic-sum --quiet)
"$flowtape" "${tiny[@]}" --out "$tmp/tiny1.json" > /dev/null
run 4 "$flowtape" "${tiny[@]}" --out "$tmp/tiny4.json" > /dev/null
same_model "$tmp/tiny1.json" "$tmp/tiny4.json" "$tmp/tiny.csv" "4 ranks on batches of 2 rows differ from one process"
ok "more ranks (4) than rows in a batch (2): the one-process model bit for bit"

# By rank: the same model up to rounding (the largest log-density difference is tiny).
"$flowtape" "${train[@]}" --out "$tmp/plain.json" --quiet > /dev/null
run 2 "$flowtape" "${train[@]}" --out "$tmp/plain2.json" --quiet > /dev/null
worst=$(largest_difference "$tmp/plain.json" "$tmp/plain2.json" "$tmp/moons.csv")
awk -v m="$worst" 'BEGIN { exit !(m < 1e-9) }' || fail "2 ranks by rank differ from one process by $worst"
ok "by rank: 2 ranks within $worst of one process"

# Piecewise: the pieces spread over 3 ranks, the serial model.
pnf=(train --flow pnf --data "$tmp/moons.csv" --k 3 --epochs 10 --layers 2 --hidden 8 --seed 2 --quiet)
"$flowtape" "${pnf[@]}" --out "$tmp/pnf1.json" > /dev/null
run 3 "$flowtape" "${pnf[@]}" --out "$tmp/pnf3.json" > /dev/null
same_model "$tmp/pnf1.json" "$tmp/pnf3.json" "$tmp/moons.csv" "pnf pieces on 3 ranks differ from the serial model"
ok "pnf: pieces on 3 ranks give the serial model bit for bit"

# Mixture: the runs spread over 2 ranks, the serial model.
mix=(train --flow mixture --components 2 --runs 3 --epochs 20 --data "$tmp/moons.csv" --seed 5 --quiet)
"$flowtape" "${mix[@]}" --out "$tmp/mix1.json" > /dev/null
run 2 "$flowtape" "${mix[@]}" --out "$tmp/mix2.json" > "$tmp/mix2.out"
same_model "$tmp/mix1.json" "$tmp/mix2.json" "$tmp/moons.csv" "mixture runs on 2 ranks differ from the serial model"
[[ $(grep -c '"out":' "$tmp/mix2.out") == 1 ]] || fail "mixture on 2 ranks: not one summary"
ok "mixture: runs on 2 ranks give the serial model bit for bit"

# The kinds whose set-up needs every row (cnf, vmonf, f4f): every rank reads all the rows and
# trains on its shard. --deterministic-sum gives the one-process model bit for bit, also with
# Hutchinson probes (restarted per step and block), batches of two sides taking turns (f4f with
# --data-left), an annealed penalty and conditional targets drawn per block.
"$flowtape" datasets half-moons --labels --seed 1 > "$tmp/labelled.csv"
cnf=(train --flow cnf --data "$tmp/labelled.csv" --labels-column label --base gmm --epochs 2 --batch 128 --seed 4
     --trace hutchinson --deterministic-sum --quiet)
"$flowtape" "${cnf[@]}" --out "$tmp/cnf1.json" > /dev/null
run 3 "$flowtape" "${cnf[@]}" --out "$tmp/cnf3.json" > /dev/null
same_model "$tmp/cnf1.json" "$tmp/cnf3.json" "$tmp/moons.csv" "cnf (Hutchinson, class base) on 3 ranks differs from one process"
ok "cnf: Hutchinson probes, --deterministic-sum on 3 ranks give the one-process model bit for bit"
# By rank the adaptive solves of a shard take other steps than those of the whole batch: the same
# model to the solver's tolerance.
cnf_exact=(train --flow cnf --data "$tmp/labelled.csv" --labels-column label --base gmm --epochs 2 --batch 128 --seed 4
           --rtol 1e-9 --atol 1e-9 --quiet)
"$flowtape" "${cnf_exact[@]}" --out "$tmp/cnfe1.json" > /dev/null
run 2 "$flowtape" "${cnf_exact[@]}" --out "$tmp/cnfe2.json" > /dev/null
worst=$(largest_difference "$tmp/cnfe1.json" "$tmp/cnfe2.json" "$tmp/moons.csv")
awk -v m="$worst" 'BEGIN { exit !(m < 1e-6) }' || fail "cnf by rank (tolerance 1e-9) differs from one process by $worst"
ok "cnf: by rank within $worst of one process (solver tolerance 1e-9)"

awk -F, 'NR > 1 && NR % 3 == 0 { $3 = "" } { print }' OFS=, "$tmp/labelled.csv" > "$tmp/semi.csv"
vmonf=(train --flow vmonf --data "$tmp/semi.csv" --labels-column label --epochs 4 --pretrain-epochs 3 --seed 4
       --deterministic-sum --quiet)
"$flowtape" "${vmonf[@]}" --out "$tmp/vm1.json" > "$tmp/vm1.out"
run 2 "$flowtape" "${vmonf[@]}" --out "$tmp/vm2.json" > "$tmp/vm2.out"
same_model "$tmp/vm1.json" "$tmp/vm2.json" "$tmp/moons.csv" "vmonf (semi-supervised) on 2 ranks differs from one process"
[[ $(grep -c '"out":' "$tmp/vm2.out") == 1 ]] || fail "vmonf on 2 ranks: not one summary"
ok "vmonf: semi-supervised, --deterministic-sum on 2 ranks give the one-process model bit for bit"

"$flowtape" datasets two-moons --seed 5 > "$tmp/moons5.csv"
"$flowtape" train --data "$tmp/moons.csv" --epochs 3 --layers 2 --hidden 8 --out "$tmp/left.json" --quiet > /dev/null
"$flowtape" train --data "$tmp/moons5.csv" --epochs 3 --layers 2 --hidden 8 --out "$tmp/right.json" --quiet > /dev/null
f4f=(train --flow f4f --base-left "$tmp/left.json" --base-right "$tmp/right.json" --data "$tmp/moons5.csv"
     --data-left "$tmp/moons.csv" --epochs 2 --layers 1 --hidden 8 --seed 2 --penalty l2 --penalty-anneal
     --deterministic-sum --quiet)
"$flowtape" "${f4f[@]}" --out "$tmp/f4f1.json" > /dev/null
run 3 "$flowtape" "${f4f[@]}" --out "$tmp/f4f3.json" > /dev/null
same_model "$tmp/f4f1.json" "$tmp/f4f3.json" "$tmp/moons.csv" "f4f (two sides, annealed penalty) on 3 ranks differs from one process"
"$flowtape" datasets four-circles -n 600 --condition rotation | sed '1s/condition/c/' > "$tmp/cond.csv"
"$flowtape" train --layers 2 --hidden 8 --epochs 2 --data "$tmp/cond.csv" --condition-column c --out "$tmp/cbase.json" --quiet > /dev/null
f4fc=(train --flow f4f --base-left "$tmp/cbase.json" --data "$tmp/cond.csv" --condition-column c --epochs 2 --layers 1
      --hidden 8 --seed 3 --deterministic-sum --quiet)
"$flowtape" "${f4fc[@]}" --out "$tmp/f4fc1.json" > /dev/null
run 2 "$flowtape" "${f4fc[@]}" --out "$tmp/f4fc2.json" > /dev/null
"$flowtape" transport --model "$tmp/f4fc1.json" --data "$tmp/cond.csv" --condition-out 0.3 > "$tmp/a.csv"
"$flowtape" transport --model "$tmp/f4fc2.json" --data "$tmp/cond.csv" --condition-out 0.3 > "$tmp/b.csv"
cmp -s "$tmp/a.csv" "$tmp/b.csv" || fail "conditional f4f on 2 ranks differs from one process"
ok "f4f: two sides with an annealed penalty (3 ranks) and conditional (2 ranks) give the one-process model bit for bit"

# --preset margarine on weighted rows: the bounds (min, max and Kish's n) from every rank's rows,
# added by block; the full batch is all the rows.
awk -F, 'NR == 1 { print $0 ",w"; next } { printf "%s,%.3f\n", $0, 0.1 + (NR * 7919 % 1000) / 1000 }' "$tmp/moons.csv" > "$tmp/weighted.csv"
marg=(train --preset margarine --data "$tmp/weighted.csv" --weights-column w --epochs 20 --seed 4 --deterministic-sum --quiet)
"$flowtape" "${marg[@]}" --out "$tmp/marg1.json" > /dev/null
run 3 "$flowtape" "${marg[@]}" --out "$tmp/marg3.json" > "$tmp/marg3.out"
same_model "$tmp/marg1.json" "$tmp/marg3.json" "$tmp/moons.csv" "--preset margarine on 3 ranks differs from one process"
grep -q '"batch":1000' "$tmp/marg3.json" || fail "--preset margarine on 3 ranks: the batch is not all 1000 rows"
ok "--preset margarine: weighted bounds across 3 ranks, the one-process model bit for bit"

# expect_failure RANKS PATTERN ARGS...: exit status 2, one 'flowtape:' line matching PATTERN, no model.
expect_failure() {
  local ranks=$1 pattern=$2 status=0
  shift 2
  run "$ranks" "$flowtape" "$@" > "$tmp/f.out" 2> "$tmp/f.err" || status=$?
  local lines
  lines=$(grep '^flowtape: ' "$tmp/f.err" | grep -v 'warning: OpenBLAS' || true)
  [[ $status != 0 ]] || fail "'mpirun -n $ranks flowtape $*' succeeded"
  [[ $(wc -l <<<"$lines") == 1 && $lines =~ $pattern ]] || fail "'mpirun -n $ranks flowtape $*': expected one line matching '$pattern', got: $lines"
  [[ ! -e $tmp/bad.json ]] || fail "a model file was written"
  ok "mpirun -n $ranks flowtape $1 ... -> $lines"
}
cp "$tmp/moons.csv" "$tmp/bad.csv"
sed -i '900s/.*/0.5,abc/' "$tmp/bad.csv"  # a row of rank 1's half
expect_failure 2 "^flowtape: rank 1: .*bad.csv:900:2: 'abc' in column 'x1' is not a number" \
  train --data "$tmp/bad.csv" --out "$tmp/bad.json" --epochs 2
expect_failure 2 "deterministic-sum is for the kinds whose rows are shared out" \
  train --flow pnf --data "$tmp/moons.csv" --out "$tmp/bad.json" --deterministic-sum
expect_failure 3 "need --sum-blocks of at least 3" train --data "$tmp/moons.csv" --out "$tmp/bad.json" --sum-blocks 2
expect_failure 2 "only train runs across MPI ranks" sample --model "$tmp/one.json" -n 3
# Ranks launched with different command lines (two programs in one mpirun): refused by every rank.
status=0
mpirun -n 1 "$flowtape" "${train[@]}" --out "$tmp/bad.json" : -n 1 "$flowtape" "${train[@]}" --seed 9 --out "$tmp/bad.json" \
  > "$tmp/f.out" 2> "$tmp/f.err" || status=$?
lines=$(grep '^flowtape: ' "$tmp/f.err" || true)
[[ $status != 0 && $(wc -l <<<"$lines") == 1 && $lines =~ "rank 1: its command line differs from rank 0's" ]] ||
  fail "ranks with different command lines: status $status, got: $lines"
[[ ! -e $tmp/bad.json ]] || fail "ranks with different command lines wrote a model file"
ok "ranks with different command lines -> $lines"
echo "mpi-command-test: all passed"
