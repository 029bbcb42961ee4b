#!/usr/bin/env bash
# install-consumer: checks that another Meson project can use flowtape, both ways the README shows,
# with the consumer in examples/consumer/ (f(x) = sum(tanh(x W)) and its gradient):
#   (a) installed: `meson install` into a staging directory, then the consumer finds flowtape through
#       pkg-config (PKG_CONFIG_PATH into the stage, PKG_CONFIG_SYSROOT_DIR = the stage);
#   (b) as a subproject: subprojects/flowtape is a link to the source tree.
# Each consumer's printed gradient must equal the analytic value computed here, and README.md must show
# the consumer's two files exactly as they are.
#
# Usage: consumer_test.sh SOURCE_ROOT BUILD_ROOT (the build is already made; it is not rebuilt).
set -euo pipefail

src=$(readlink -f "$1")
build=$(readlink -f "$2")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/flowtape-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

say() { echo "install-consumer: $*" >&2; }
fail() { say "FAIL: $*"; exit 1; }

# The analytic gradient of f(x) = Σⱼ tanh((x W)ⱼ) at the x and W of gradient.cpp:
# ∂f/∂xₖ = Σⱼ Wₖⱼ (1 − tanh²((x W)ⱼ)).
expected_gradient() {
  awk 'function tanh(z) { return (exp(2 * z) - 1) / (exp(2 * z) + 1) }
    BEGIN {
      x1 = 0.5; x2 = -1.0
      w11 = 1; w12 = 2; w21 = 3; w22 = -1
      d1 = 1 - tanh(x1 * w11 + x2 * w21) ^ 2
      d2 = 1 - tanh(x1 * w12 + x2 * w22) ^ 2
      printf "%.17g %.17g\n", w11 * d1 + w12 * d2, w21 * d1 + w22 * d2
    }'
}

# check_gradient OUTPUT: the "df/dx = a b" line must match the analytic gradient to 1e-12.
check_gradient() {
  local got
  got=$(sed -n 's/^df\/dx = //p' <<<"$1")
  [[ -n "$got" ]] || fail "no 'df/dx = ...' line in the consumer's output: $1"
  awk -v got="$got" -v want="$(expected_gradient)" 'BEGIN {
      n = split(got, g, " "); split(want, w, " ")
      if (n != 2) exit 1
      for (i = 1; i <= 2; i++) { d = g[i] - w[i]; if (d < 0) d = -d; if (d > 1e-12) exit 1 }
    }' || fail "gradient '$got' differs from the analytic '$(expected_gradient)'"
  say "gradient $got matches the analytic value"
}

# quietly CMD...: runs CMD with its output in a log, shown only if it fails.
quietly() {
  local log=$tmp/log
  "$@" >"$log" 2>&1 || { cat "$log" >&2; fail "command failed: $*"; }
}

# ---- the README shows exactly the consumer's files ----
# Each file of examples/consumer/ must equal one fenced code block of README.md.
awk -v dir="$tmp" '/^```/ { if (inside) { inside = 0; close(out) } else { inside = 1; out = dir "/readme-block-" ++n }; next }
  inside { print > out }' "$src/README.md"
for file in gradient.cpp meson.build; do
  found=0
  for block in "$tmp"/readme-block-*; do
    if cmp -s "$block" "$src/examples/consumer/$file"; then found=1; fi
  done
  ((found)) || fail "README.md has no code block equal to examples/consumer/$file"
done
say "README.md shows examples/consumer/gradient.cpp and meson.build as they are"

# ---- (a) installed, found by pkg-config ----
stage=$tmp/stage
say "meson install --destdir $stage"
quietly meson install -C "$build" --destdir "$stage" --no-rebuild --quiet
pc=$(find "$stage" -name flowtape.pc -print -quit)
[[ -n "$pc" ]] || fail "meson install put no flowtape.pc under $stage"
lib=$(find "$stage" -name 'libflowtape.so*' -print -quit)
[[ -n "$lib" ]] || fail "meson install put no libflowtape.so under $stage"

say "consumer against the installed copy"
export PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$stage
quietly meson setup "$tmp/installed" "$src/examples/consumer" --wrap-mode=nofallback
quietly ninja -C "$tmp/installed"
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
check_gradient "$(LD_LIBRARY_PATH=$(dirname "$lib") "$tmp/installed/gradient")"

# ---- (b) as a subproject ----
# This compiles the whole library again, the costly part of the test, so: without optimisation or
# debug information (buildtype plain), its cheapest form, and in a directory kept in the build tree
# (BUILD_ROOT/install-test/), so that a second run recompiles only what changed. The consumer's
# files are copied with their times, so unchanged files do not count as changed. (A unity build
# would halve the first build but breaks whenever two .cpp files define the same internal name.)
say "consumer with flowtape as a subproject"
keep=$build/install-test
mkdir -p "$keep/consumer/subprojects"
cp -p "$src/examples/consumer/gradient.cpp" "$src/examples/consumer/meson.build" "$keep/consumer/"
ln -sfn "$src" "$keep/consumer/subprojects/flowtape"
if [[ -f "$keep/build/meson-private/coredata.dat" ]]; then
  quietly meson setup --reconfigure "$keep/build" "$keep/consumer"
else
  rm -rf "$keep/build"
  quietly meson setup "$keep/build" "$keep/consumer" --force-fallback-for=flowtape \
    -Dflowtape:tests=false -Dflowtape:benches=false -Dbuildtype=plain
fi
quietly ninja -C "$keep/build"
check_gradient "$("$keep/build/gradient")"
