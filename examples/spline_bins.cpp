// A rational-quadratic spline (flows/transforms/spline.hpp, docs/splines.md), bin by bin. From K = 4 random
// raw widths, heights and K − 1 interior derivatives we place the knots by hand, following the
// formulas in spline.hpp (softmax fractions with a minimum, cumulative sums from −B, slopes
// m_d + softplus, slope 1 at ±B), and print them. Then rational_quadratic_spline maps a grid of x
// on [−B − 1, B + 1]: for each x we print its bin (from searchsorted on the knots), y and dy/dx (the
// exponential of the log-determinant). The program checks that y is strictly increasing, that the
// spline passes through every knot with the knot's slope from both sides (continuity of y and
// dy/dx), and that outside [−B, B] it is the identity, y = x with dy/dx = 1. Returns 1 otherwise.
#include <cmath>
#include <cstdio>

#include "core/random.hpp"
#include "flows/transforms/spline.hpp"

using namespace flowtape;

constexpr std::size_t K = 4;
const SplineOptions options{.tail_bound = 2.0};  // B = 2, the default minimums 1e-3

// Knot positions −B = x_0 < … < x_K = B from raw sizes: fractions m + (1 − K m) softmax(raw).
std::vector<real> knots(const Array& raw, real minimum) {
    real total = 0;
    for (real r : raw) total += std::exp(r);
    std::vector<real> x{-options.tail_bound};
    for (std::size_t k = 0; k + 1 < K; ++k)
        x.push_back(x.back() + 2 * options.tail_bound * (minimum + (1 - K * minimum) * std::exp(raw(0, k)) / total));
    x.push_back(options.tail_bound);  // pinned exactly, as the library does
    return x;
}

// y and dy/dx at each point of xs (N×1): the same raw row is the spline of every point.
std::pair<Array, Array> spline(const Array& xs, const Array& rw, const Array& rh, const Array& rd) {
    Tape tape;
    NoGrad no_grad(tape);  // values only
    const std::size_t n = xs.shape()[0];
    const auto rows = [&](const Array& raw) { return tape.constant(Array(xt::broadcast(raw, {n, raw.shape()[1]}))); };
    const SplineResult r = rational_quadratic_spline(tape.constant(xs), rows(rw), rows(rh), rows(rd), false, options);
    return {r.out.value(), xt::exp(r.logdet.value())};
}

int main() {
    Rng rng(3);
    const Array raw_w = rng.normal_array(1, K), raw_h = rng.normal_array(1, K), raw_d = rng.normal_array(1, K - 1);
    const std::vector<real> xk = knots(raw_w, options.min_bin_width), yk = knots(raw_h, options.min_bin_height);
    std::vector<real> dk{1.0};
    for (std::size_t k = 0; k + 1 < K; ++k) dk.push_back(options.min_derivative + std::log1p(std::exp(raw_d(0, k))));
    dk.push_back(1.0);
    std::printf("knot   x_k        y_k        d_k\n");
    for (std::size_t k = 0; k <= K; ++k) std::printf("%4zu %+.6f  %+.6f  %.6f\n", k, xk[k], yk[k], dk[k]);

    bool ok = true;
    // The knots: each x_k, and a point 1e-9 to either side of it.
    const real eps = 1e-9;
    Array at = Array::from_shape({3 * (K + 1), 1});
    for (std::size_t k = 0; k <= K; ++k) at(3 * k, 0) = xk[k] - eps, at(3 * k + 1, 0) = xk[k], at(3 * k + 2, 0) = xk[k] + eps;
    const auto [ya, da] = spline(at, raw_w, raw_h, raw_d);
    for (std::size_t k = 0; k <= K; ++k)
        for (std::size_t s = 0; s < 3; ++s) {
            ok &= std::abs(ya(3 * k + s, 0) - yk[k]) <= 1e-12 + 2 * dk[k] * eps;  // y is continuous through y_k
            ok &= std::abs(da(3 * k + s, 0) - dk[k]) <= 1e-6 * dk[k];       // and so is its slope
        }

    // A grid across the whole line, tails included.
    const std::size_t n = 25;
    const Array grid = xt::reshape_view(xt::linspace<real>(-options.tail_bound - 1, options.tail_bound + 1, n), {n, std::size_t(1)});
    const auto [y, dydx] = spline(grid, raw_w, raw_h, raw_d);
    const IndexArray bin = searchsorted(Array{{xk[0], xk[1], xk[2], xk[3], xk[4]}}, grid);
    std::printf("\n    x      bin        y         dy/dx\n");
    for (std::size_t i = 0; i < n; ++i) {
        const real x = grid(i, 0);
        const bool tail = std::abs(x) > options.tail_bound;
        std::printf("%+6.2f   %-5s  %+.6f  %.6f\n", x, tail ? "tail" : std::to_string(bin(i, 0)).c_str(), y(i, 0), dydx(i, 0));
        ok &= dydx(i, 0) > 0 && (i == 0 || y(i, 0) > y(i - 1, 0));  // strictly increasing
        if (tail) ok &= y(i, 0) == x && dydx(i, 0) == 1;             // the identity outside [−B, B]
    }
    std::printf(ok ? "monotone, continuous at the knots, identity tails\n" : "FAILED\n");
    return ok ? 0 : 1;
}
