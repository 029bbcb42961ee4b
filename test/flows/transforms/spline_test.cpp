// Tests of the rational-quadratic spline (flows/transforms/spline.hpp) and the spline transforms
// (flows/transforms/nsf.hpp). Suite `spline`: identity at zero parameters, continuity and monotonicity at the
// knots, the ends and tails, round trips, the log-determinant against finite differences, gradient
// checks, no NaN at extreme inputs and parameters, and agreement with an independent plain-double
// reference written below (scalar loops; its inverse by bisection, not by the quadratic). Suite
// `nsf`: the transforms' structure, start and configs (the round trips, Jacobians and gradient
// checks of the transforms are in transform_properties_test.cpp).
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <nlohmann/json.hpp>

#include "flowtape.hpp"

using namespace flowtape;

namespace {

// ---- the reference: one element's spline in plain doubles ----

struct RefSpline {
    std::vector<double> x, y, d;  // K + 1 knots and derivatives
    double bound;
};

double ref_softplus(double r) { return std::max(r, 0.0) + std::log1p(std::exp(-std::abs(r))); }

// Knot positions from K raw sizes: the softmax, the minimum, the running sum, the pinned ends.
std::vector<double> ref_knots(const double* raw, std::size_t k, double minimum, double bound) {
    double top = raw[0];
    for (std::size_t j = 1; j < k; ++j) top = std::max(top, raw[j]);
    double total = 0;
    for (std::size_t j = 0; j < k; ++j) total += std::exp(raw[j] - top);
    std::vector<double> knots(k + 1);
    knots[0] = -bound;
    double running = 0;
    for (std::size_t j = 1; j < k; ++j) {
        running += minimum + (1 - minimum * k) * std::exp(raw[j - 1] - top) / total;
        knots[j] = -bound + 2 * bound * running;
    }
    knots[k] = bound;
    return knots;
}

RefSpline ref_spline(const double* raw_w, const double* raw_h, const double* raw_d, std::size_t k,
                     const SplineOptions& o) {
    RefSpline s{ref_knots(raw_w, k, o.min_bin_width, o.tail_bound), ref_knots(raw_h, k, o.min_bin_height, o.tail_bound),
                std::vector<double>(k + 1, 1.0), o.tail_bound};
    for (std::size_t j = 1; j < k; ++j) s.d[j] = o.min_derivative + ref_softplus(raw_d[j - 1]);
    return s;
}

struct RefValue {
    double y, logdet;
};

RefValue ref_forward(const RefSpline& s, double x) {
    if (x < -s.bound || x > s.bound) return {x, 0.0};
    const std::size_t k_bins = s.x.size() - 1;
    std::size_t k = 0;
    while (k + 1 < k_bins && s.x[k + 1] <= x) ++k;
    const double w = s.x[k + 1] - s.x[k], h = s.y[k + 1] - s.y[k], slope = h / w;
    const double xi = (x - s.x[k]) / w, t = xi * (1 - xi);
    const double den = slope + (s.d[k + 1] + s.d[k] - 2 * slope) * t;
    const double y = s.y[k] + h * (slope * xi * xi + s.d[k] * t) / den;
    const double dydx = slope * slope * (s.d[k + 1] * xi * xi + 2 * slope * t + s.d[k] * (1 - xi) * (1 - xi)) / (den * den);
    return {y, std::log(dydx)};
}

// The inverse by bisection on the monotone forward map: independent of the quadratic.
RefValue ref_inverse(const RefSpline& s, double y) {
    if (y < -s.bound || y > s.bound) return {y, 0.0};
    double lo = -s.bound, hi = s.bound;
    for (int it = 0; it < 200 && lo < hi; ++it) {
        const double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi) break;
        (ref_forward(s, mid).y < y ? lo : hi) = mid;
    }
    const double x = 0.5 * (lo + hi);
    return {x, -ref_forward(s, x).logdet};
}

// ---- evaluating the library's spline ----

struct Raw {
    Array w, h, d;  // N×(D·K), N×(D·K), N×(D·(K−1))
};

Raw random_raw(Rng& rng, std::size_t n, std::size_t dim, std::size_t k, real scale) {
    return {rng.normal_array(n, dim * k) * scale, rng.normal_array(n, dim * k) * scale,
            rng.normal_array(n, dim * (k - 1)) * scale};
}

Raw constant_raw(std::size_t n, std::size_t dim, std::size_t k, real w, real h, real d) {
    return {xt::zeros<real>({n, dim * k}) + w, xt::zeros<real>({n, dim * k}) + h,
            xt::zeros<real>({n, dim * (k - 1)}) + d};
}

std::size_t bins_of(const Raw& r, std::size_t dim) { return r.w.shape()[1] / dim; }

// The reference spline of element (row, col) of an N×D input.
RefSpline ref_of(const Raw& r, std::size_t row, std::size_t col, std::size_t dim, const SplineOptions& o) {
    const std::size_t k = bins_of(r, dim);
    return ref_spline(&r.w(row, col * k), &r.h(row, col * k), &r.d(row, col * (k - 1)), k, o);
}

struct Eval {
    Array out, logdet;
};

Eval run(const Array& x, const Raw& r, bool inverse, const SplineOptions& o = {}) {
    Tape t;
    NoGrad no_grad(t);
    const SplineResult s =
        rational_quadratic_spline(t.constant(x), t.constant(r.w), t.constant(r.h), t.constant(r.d), inverse, o);
    return {s.out.value(), s.logdet.value()};
}

// A 1×n row holding `values`.
Array row_of(const std::vector<real>& values) {
    Array a = Array::from_shape({1, values.size()});
    std::copy(values.begin(), values.end(), a.begin());
    return a;
}

// The raw parameters of one element repeated for every column of a 1×n input.
Raw repeat_columns(const Raw& one, std::size_t n) {
    const std::size_t k = one.w.shape()[1];
    Raw r{Array::from_shape({1, n * k}), Array::from_shape({1, n * k}), Array::from_shape({1, n * (k - 1)})};
    for (std::size_t c = 0; c < n; ++c) {
        std::copy(one.w.begin(), one.w.end(), r.w.begin() + c * k);
        std::copy(one.h.begin(), one.h.end(), r.h.begin() + c * k);
        std::copy(one.d.begin(), one.d.end(), r.d.begin() + c * (k - 1));
    }
    return r;
}

// Distance from v to the nearest of `knots`.
double distance_to_knots(const std::vector<double>& knots, double v) {
    double best = INFINITY;
    for (double k : knots) best = std::min(best, std::abs(v - k));
    return best;
}

bool all_finite(const Array& a) {
    return std::all_of(a.begin(), a.end(), [](real v) { return std::isfinite(v); });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(spline)

BOOST_AUTO_TEST_CASE(identity_raw_derivative_gives_slope_one) {
    for (real m : {1e-3, 1e-2, 0.5}) {
        SplineOptions o;
        o.min_derivative = m;
        BOOST_TEST(std::abs(m + ref_softplus(identity_raw_derivative(o)) - 1.0) < 1e-15);
    }
}

// Equal widths and heights and unit derivatives: y = ξ-linear in every bin, so y = x and log|dy/dx| = 0.
BOOST_AUTO_TEST_CASE(identity_at_zero_raw_parameters) {
    for (std::size_t k : {2u, 5u, 8u}) {
        for (real bound : {1.0, 3.0}) {
            SplineOptions o;
            o.tail_bound = bound;
            std::vector<real> xs;
            for (int j = -40; j <= 40; ++j) xs.push_back(bound * j / 20.0);  // ±2B: interval, knots, ends and tails
            const Array x = row_of(xs);
            const Raw raw = constant_raw(1, xs.size(), k, 0, 0, identity_raw_derivative(o));
            for (bool inverse : {false, true}) {
                const Eval e = run(x, raw, inverse, o);
                BOOST_TEST(xt::amax(xt::abs(e.out - x))() < 1e-14, "K " << k << " B " << bound << " inverse " << inverse);
                BOOST_TEST(xt::amax(xt::abs(e.logdet))() < 1e-14);
            }
        }
    }
}

// Against the plain-double reference: random parameters, inputs partly in the tails.
BOOST_AUTO_TEST_CASE(matches_the_reference_implementation) {
    Rng rng(11);
    for (std::size_t k : {2u, 3u, 8u}) {
        for (real bound : {1.0, 3.0}) {
            SplineOptions o;
            o.tail_bound = bound;
            const std::size_t n = 20, dim = 3;
            const Raw raw = random_raw(rng, n, dim, k, 2.0);
            const Array x = rng.normal_array(n, dim) * 2.0;
            const Eval f = run(x, raw, false, o);
            const Eval b = run(x, raw, true, o);  // x read as y values
            double worst_f = 0, worst_ld = 0, worst_b = 0, worst_bld = 0;
            for (std::size_t r = 0; r < n; ++r) {
                for (std::size_t c = 0; c < dim; ++c) {
                    const RefSpline s = ref_of(raw, r, c, dim, o);
                    const RefValue fwd = ref_forward(s, x(r, c)), inv = ref_inverse(s, x(r, c));
                    worst_f = std::max(worst_f, std::abs(f.out(r, c) - fwd.y));
                    worst_ld = std::max(worst_ld, std::abs(f.logdet(r, c) - fwd.logdet));
                    worst_b = std::max(worst_b, std::abs(b.out(r, c) - inv.y));
                    worst_bld = std::max(worst_bld, std::abs(b.logdet(r, c) - inv.logdet));
                }
            }
            BOOST_TEST_CONTEXT("K " << k << " B " << bound) {
                BOOST_TEST(worst_f < 1e-13);
                BOOST_TEST(worst_ld < 1e-12);
                BOOST_TEST(worst_b < 1e-12);  // bisection converges to the last ulp; the slopes are ≥ 1e-3
                BOOST_TEST(worst_bld < 1e-9);
            }
        }
    }
}

// y and dy/dx are continuous at every knot, including the ends where the tails join. At each knot,
// values at knot ± ε for ε = 10⁻⁹ and 10⁻⁸: the difference quotient of y over [knot − ε, knot + ε]
// is the knot's derivative d_k (a jump J in y would add J/2ε), and the change of slope across the
// knot shrinks with ε, as it does for a C¹ function (a jump in the slope would stay). At the knot
// itself the value is y_k and the slope d_k (to the rounding of the knot's position times the
// spline's curvature, which reaches ~10³ in narrow bins).
BOOST_AUTO_TEST_CASE(continuous_at_every_knot) {
    Rng rng(12);
    const SplineOptions o;
    for (std::size_t k : {2u, 4u, 10u}) {
        const Raw one = random_raw(rng, 1, 1, k, 2.0);
        const RefSpline s = ref_of(one, 0, 0, 1, o);
        const real eps = 1e-9;
        std::vector<real> xs;
        for (std::size_t j = 0; j <= k; ++j)
            for (real offset : {-10 * eps, -eps, 0.0, eps, 10 * eps}) xs.push_back(s.x[j] + offset);
        const Eval e = run(row_of(xs), repeat_columns(one, xs.size()), false, o);
        const auto slope = [&](std::size_t c) { return std::exp(e.logdet(0, c)); };
        for (std::size_t j = 0; j <= k; ++j) {
            BOOST_TEST_CONTEXT("K " << k << " knot " << j << " d " << s.d[j]) {
                const std::size_t far_left = 5 * j, left = far_left + 1, at = far_left + 2, right = far_left + 3,
                                  far_right = far_left + 4;
                BOOST_TEST(std::abs(e.out(0, at) - s.y[j]) < 1e-14);
                BOOST_TEST(std::abs(slope(at) - s.d[j]) < 1e-10 * s.d[j]);
                BOOST_TEST(std::abs((e.out(0, right) - e.out(0, left)) / (2 * eps) - s.d[j]) < 1e-5 * std::max(1.0, s.d[j]));
                const real near = std::abs(slope(right) - slope(left)), far = std::abs(slope(far_right) - slope(far_left));
                BOOST_TEST(near <= 0.2 * far + 1e-12, "slope change " << near << " at ε, " << far << " at 10ε");
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(strictly_increasing_on_a_fine_grid) {
    Rng rng(13);
    for (std::size_t k : {3u, 8u}) {
        for (real scale : {1.0, 4.0}) {
            SplineOptions o;
            std::vector<real> xs;
            for (int j = 0; j <= 8000; ++j) xs.push_back(-4.0 + j * 1e-3);  // [−B − 1, B + 1]
            const Raw one = random_raw(rng, 1, 1, k, scale);
            const Eval e = run(row_of(xs), repeat_columns(one, xs.size()), false, o);
            std::size_t bad = 0;
            for (std::size_t j = 1; j < xs.size(); ++j) bad += e.out(0, j) > e.out(0, j - 1) ? 0 : 1;
            BOOST_TEST(bad == 0u, "K " << k << " scale " << scale);
            BOOST_TEST(all_finite(e.logdet));
        }
    }
}

BOOST_AUTO_TEST_CASE(ends_map_to_ends_and_tails_are_the_identity) {
    Rng rng(14);
    for (real bound : {1.0, 3.0}) {
        SplineOptions o;
        o.tail_bound = bound;
        const Raw one = random_raw(rng, 1, 1, 6, 3.0);
        const std::vector<real> tails{-1e3, -bound - 10, -bound - 0.5, -bound - 1e-9,
                                      bound + 1e-9, bound + 0.5, bound + 10, 1e3};
        for (bool inverse : {false, true}) {
            const Eval ends = run(row_of({-bound, bound}), repeat_columns(one, 2), inverse, o);
            // −B is the start of bin 0 (ξ = 0): exact. B ends the last bin, y_{K−1} + h·s/s: a few ulps.
            BOOST_TEST(ends.out(0, 0) == -bound);
            BOOST_TEST(std::abs(ends.out(0, 1) - bound) <= 4 * std::numeric_limits<real>::epsilon() * bound);
            const Eval t = run(row_of(tails), repeat_columns(one, tails.size()), inverse, o);
            for (std::size_t j = 0; j < tails.size(); ++j) {
                BOOST_TEST(t.out(0, j) == tails[j]);
                BOOST_TEST(t.logdet(0, j) == 0.0);
            }
        }
    }
}

// inverse(forward(x)) = x with opposite log-determinants, for random points, points exactly at
// knots, the ends and the tails; and forward(inverse(y)) = y.
BOOST_AUTO_TEST_CASE(inverse_undoes_forward) {
    Rng rng(15);
    for (std::size_t k : {2u, 5u, 8u}) {
        SplineOptions o;
        const Raw one = random_raw(rng, 1, 1, k, 2.5);
        const RefSpline s = ref_of(one, 0, 0, 1, o);
        std::vector<real> xs = {-3.0, 3.0, -7.0, 7.0, -1e3, 1e3};
        for (std::size_t j = 0; j <= k; ++j) xs.push_back(s.x[j]);
        for (int j = 0; j < 50; ++j) xs.push_back(4 * rng.normal());
        const Array x = row_of(xs);
        const Raw raw = repeat_columns(one, xs.size());
        const Eval f = run(x, raw, false, o);
        const Eval b = run(f.out, raw, true, o);
        BOOST_TEST(xt::amax(xt::abs(b.out - x))() < 1e-9, "K " << k);
        BOOST_TEST(xt::amax(xt::abs(b.logdet + f.logdet))() < 1e-9);
        // The other way, including y exactly at the y-knots.
        std::vector<real> ys = xs;
        for (std::size_t j = 0; j <= k; ++j) ys.push_back(s.y[j]);
        const Array y = row_of(ys);
        const Raw raw_y = repeat_columns(one, ys.size());
        const Eval bi = run(y, raw_y, true, o);
        const Eval fo = run(bi.out, raw_y, false, o);
        BOOST_TEST(xt::amax(xt::abs(fo.out - y))() < 1e-9);
        BOOST_TEST(xt::amax(xt::abs(fo.logdet + bi.logdet))() < 1e-9);
    }
}

BOOST_AUTO_TEST_CASE(logdet_is_the_log_of_the_finite_difference_slope) {
    Rng rng(16);
    const SplineOptions o;
    const std::size_t k = 7;
    const Raw one = random_raw(rng, 1, 1, k, 2.0);
    const RefSpline s = ref_of(one, 0, 0, 1, o);
    std::vector<real> xs;
    while (xs.size() < 60) {
        const real v = rng.uniform(-3.5, 3.5);
        if (distance_to_knots(s.x, v) > 1e-4) xs.push_back(v);
    }
    const real h = 1e-6;
    std::vector<real> up = xs, down = xs;
    for (std::size_t j = 0; j < xs.size(); ++j) up[j] += h, down[j] -= h;
    const Raw raw = repeat_columns(one, xs.size());
    const Eval e = run(row_of(xs), raw, false, o), eu = run(row_of(up), raw, false, o), ed = run(row_of(down), raw, false, o);
    double worst = 0;
    for (std::size_t j = 0; j < xs.size(); ++j)
        worst = std::max(worst, std::abs(std::log((eu.out(0, j) - ed.out(0, j)) / (2 * h)) - e.logdet(0, j)));
    BOOST_TEST(worst < 1e-6);
}

// Gradients of [y, logdet] with respect to the input and the three raw parameter arrays, forward
// and inverse, at points away from the knots (where a finite difference would cross a bin edge).
BOOST_AUTO_TEST_CASE(gradients_pass_gradcheck) {
    Rng rng(17);
    for (real bound : {1.0, 3.0}) {
        SplineOptions o;
        o.tail_bound = bound;
        for (bool inverse : {false, true}) {
            const std::size_t n = 4, dim = 2, k = 5;
            const Raw raw = random_raw(rng, n, dim, k, 1.5);
            Array x = Array::from_shape({n, dim});
            for (std::size_t r = 0; r < n; ++r) {
                for (std::size_t c = 0; c < dim; ++c) {
                    const RefSpline s = ref_of(raw, r, c, dim, o);
                    const std::vector<double>& knots = inverse ? s.y : s.x;
                    real v;
                    do v = rng.uniform(-1.3 * bound, 1.3 * bound);
                    while (distance_to_knots(knots, v) < 1e-3);
                    x(r, c) = v;
                }
            }
            const GradcheckResult g = gradcheck(
                [&](Tape&, const std::vector<Var>& v) {
                    const SplineResult s = rational_quadratic_spline(v[0], v[1], v[2], v[3], inverse, o);
                    return concat({s.out, s.logdet}, 1);
                },
                {x, raw.w, raw.h, raw.d});
            BOOST_TEST(g.ok, "B " << bound << " inverse " << inverse << ": " << g.worst << " error " << g.max_error);
        }
    }
}

// Far outside the interval, exactly at its ends, and with extreme raw parameters, every value and
// every gradient is finite: anomaly mode checks each op's value and each gradient of the sweep.
BOOST_AUTO_TEST_CASE(no_nan_at_extreme_inputs_and_parameters) {
    const SplineOptions o;
    const std::size_t k = 6;
    const std::vector<real> xs{-1e3, 1e3, -3.0, 3.0, std::nextafter(3.0, 0.0), std::nextafter(-3.0, 0.0), 0.0, 2.9, -2.9};
    Rng rng(18);
    std::vector<Raw> extremes = {constant_raw(1, 1, k, 30, 30, 30), constant_raw(1, 1, k, -30, -30, -30),
                                 constant_raw(1, 1, k, 30, -30, -30), constant_raw(1, 1, k, -30, 30, 30)};
    Raw alternating = constant_raw(1, 1, k, 0, 0, 0);
    for (std::size_t j = 0; j < k; ++j) {
        alternating.w(0, j) = j % 2 ? 30 : -30;
        alternating.h(0, j) = j % 2 ? -30 : 30;
        if (j + 1 < k) alternating.d(0, j) = j % 2 ? 30 : -30;
    }
    extremes.push_back(alternating);
    extremes.push_back(random_raw(rng, 1, 1, k, 30.0));
    for (std::size_t e = 0; e < extremes.size(); ++e) {
        const Raw raw = repeat_columns(extremes[e], xs.size());
        for (bool inverse : {false, true}) {
            BOOST_TEST_CONTEXT("parameters " << e << " inverse " << inverse) {
                Tape t;
                t.set_anomaly_mode(true);
                const Var x = t.variable(row_of(xs)), w = t.variable(raw.w), h = t.variable(raw.h),
                          d = t.variable(raw.d);
                SplineResult s;
                BOOST_CHECK_NO_THROW(s = rational_quadratic_spline(x, w, h, d, inverse, o));
                if (!s.out.valid()) continue;
                BOOST_TEST(all_finite(s.out.value()));
                BOOST_TEST(all_finite(s.logdet.value()));
                BOOST_CHECK_NO_THROW(t.backward(sum(add(s.out, s.logdet))));
                for (const Var& v : {x, w, h, d}) BOOST_TEST(all_finite(t.grad(v)));
                // In the tails dy/dx = 1 and no gradient reaches the parameters of those elements.
                BOOST_TEST(t.grad(x)(0, 0) == 1.0);
                BOOST_TEST(t.grad(x)(0, 1) == 1.0);
                for (std::size_t j = 0; j < 2 * k; ++j) BOOST_TEST(t.grad(w)(0, j) == 0.0);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(bad_shapes_and_options_throw) {
    Tape t;
    const Var x = t.constant(xt::zeros<real>({3, 2}));
    const auto raw = [&](std::size_t r, std::size_t c) { return t.constant(xt::zeros<real>({r, c})); };
    BOOST_CHECK_THROW(rational_quadratic_spline(x, raw(3, 8), raw(3, 8), raw(3, 5), false), ShapeError);  // K = 4 needs 6
    BOOST_CHECK_THROW(rational_quadratic_spline(x, raw(3, 8), raw(3, 6), raw(3, 6), false), ShapeError);
    BOOST_CHECK_THROW(rational_quadratic_spline(x, raw(2, 8), raw(2, 8), raw(2, 6), false), ShapeError);
    BOOST_CHECK_THROW(rational_quadratic_spline(x, raw(3, 7), raw(3, 7), raw(3, 5), false), ShapeError);
    BOOST_CHECK_THROW(rational_quadratic_spline(x, raw(3, 2), raw(3, 2), raw(3, 0), false), ValueError);  // K = 1
    BOOST_CHECK_NO_THROW(rational_quadratic_spline(x, raw(3, 8), raw(3, 8), raw(3, 6), true));
    SplineOptions o;
    o.tail_bound = 0;
    BOOST_CHECK_THROW(rational_quadratic_spline(x, raw(3, 8), raw(3, 8), raw(3, 6), false, o), ValueError);
    o = SplineOptions{};
    o.min_bin_width = 0.25;  // K · m_w = 1
    BOOST_CHECK_THROW(rational_quadratic_spline(x, raw(3, 8), raw(3, 8), raw(3, 6), false, o), ValueError);
    o = SplineOptions{};
    o.min_derivative = 0;
    BOOST_CHECK_THROW(rational_quadratic_spline(x, raw(3, 8), raw(3, 8), raw(3, 6), false, o), ValueError);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- the transforms ----

namespace {

SplineAutoregressiveConfig nsf_config(std::size_t dim, std::size_t context, Ordering ordering) {
    SplineAutoregressiveConfig c;
    c.dim = dim;
    c.bins = 5;
    c.hidden = {16, 16};
    c.context = context;
    c.ordering = ordering;
    c.activation = Activation::tanh;
    return c;
}

void perturb(Transform& t, Rng& rng, real scale) {
    const ParameterList params = t.parameters();
    for (const NamedParameter& p : params.items())
        for (real& v : p.parameter->value()) v += scale * rng.normal();
}

// ∂z/∂x of one row, built with one reverse sweep per output coordinate.
Array jacobian(Transform& tr, const Array& x, std::size_t row) {
    const std::size_t d = x.shape()[1];
    Array jac = xt::zeros<real>({d, d});
    for (std::size_t i = 0; i < d; ++i) {
        Tape t;
        const Var v = t.variable(x);
        const Var z = tr.forward(v).out;
        Array seed = xt::zeros<real>(z.value().shape());
        seed(row, i) = 1;
        t.backward(z, seed);
        for (std::size_t j = 0; j < d; ++j) jac(i, j) = t.grad(v)(row, j);
    }
    return jac;
}

Array forward_of(Transform& tr, const Array& x, const Array& context = Array()) {
    Tape t;
    NoGrad no_grad(t);
    return tr.forward(t.constant(x), context.size() ? t.constant(context) : Var()).out.value();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(nsf)

// z_i depends on x_j only when degree(j) < degree(i), or j = i: the Jacobian is triangular in the
// degree order, so the log-determinant is the sum of the elementwise ones.
BOOST_AUTO_TEST_CASE(autoregressive_in_the_degree_order) {
    for (Ordering ordering : {Ordering::natural, Ordering::reversed, Ordering::random}) {
        Rng rng(21);
        SplineAutoregressive tr(nsf_config(4, 0, ordering), rng);
        perturb(tr, rng, 0.3);
        const Array x = rng.uniform_array(3, 4, -2.5, 2.5);  // inside [−B, B]: no identity tails
        const std::vector<std::size_t>& m = tr.input_degrees();
        for (std::size_t row = 0; row < 3; ++row) {
            const Array jac = jacobian(tr, x, row);
            for (std::size_t i = 0; i < 4; ++i)
                for (std::size_t j = 0; j < 4; ++j)
                    if (m[j] > m[i]) BOOST_TEST(jac(i, j) == 0.0);
                    else if (m[j] < m[i]) BOOST_TEST(jac(i, j) != 0.0, "some dependence, tanh units");
        }
    }
}

BOOST_AUTO_TEST_CASE(coupling_passes_one_parity_unchanged) {
    for (bool flip : {false, true}) {
        Rng rng(22);
        SplineCouplingConfig c;
        c.dim = 5;
        c.bins = 4;
        c.hidden = {16};
        c.flip = flip;
        SplineCoupling tr(c, rng);
        perturb(tr, rng, 0.3);
        const Array x = rng.normal_array(4, 5) * 2.0;
        const Array z = forward_of(tr, x);
        for (std::size_t i = 0; i < 5; ++i) {
            const bool kept = (i % 2 == 1) == flip;
            const real change = xt::amax(xt::abs(xt::view(z, xt::all(), i) - xt::view(x, xt::all(), i)))();
            if (kept) BOOST_TEST(change == 0.0);
            else BOOST_TEST(change > 1e-3);
        }
    }
}

// The conditioner starts small: every spline is within a few 10⁻² of the identity.
BOOST_AUTO_TEST_CASE(starts_near_the_identity) {
    Rng rng(23);
    SplineAutoregressive ar(nsf_config(3, 2, Ordering::natural), rng);
    SplineCouplingConfig c;
    c.dim = 3;
    c.context = 2;
    SplineCoupling coupling(c, rng);
    const Array x = rng.normal_array(50, 3) * 2.0, context = rng.normal_array(50, 2);
    for (Transform* tr : std::vector<Transform*>{&ar, &coupling}) {
        const real moved = xt::amax(xt::abs(forward_of(*tr, x, context) - x))();
        BOOST_TEST(moved < 0.1, tr->kind());
        BOOST_TEST(moved > 0.0, tr->kind());
    }
}

// The registry rebuilds each transform from its config; with the parameters copied over by name,
// the outputs are identical (a random ordering comes back through the stored degrees).
BOOST_AUTO_TEST_CASE(configs_rebuild_the_same_transform) {
    Rng rng(24);
    std::vector<TransformPtr> originals;
    SplineAutoregressiveConfig a = nsf_config(4, 2, Ordering::random);
    a.residual_blocks = true;
    a.spline.tail_bound = 2.0;
    a.spline.min_derivative = 1e-2;
    originals.push_back(std::make_unique<SplineAutoregressive>(a, rng));
    SplineCouplingConfig c;
    c.dim = 4;
    c.bins = 3;
    c.context = 2;
    c.flip = true;
    c.hidden = {8, 8};
    originals.push_back(std::make_unique<SplineCoupling>(c, rng));
    const Array x = rng.normal_array(6, 4) * 2.0, context = rng.normal_array(6, 2);
    for (TransformPtr& original : originals) {
        perturb(*original, rng, 0.3);
        const nlohmann::json config = original->config();
        Rng other(99);
        TransformPtr copy = make_transform(config, other);
        BOOST_TEST(copy->config() == config, config.dump());
        const ParameterList from = original->parameters(), to = copy->parameters();
        BOOST_TEST_REQUIRE(from.size() == to.size());
        for (const NamedParameter& p : from.items()) to.find(p.name).value() = p.parameter->value();
        BOOST_TEST(xt::amax(xt::abs(forward_of(*copy, x, context) - forward_of(*original, x, context)))() == 0.0);
    }
}

// The builders' spline flows, trained by maximum likelihood on fresh samples of a Gaussian with
// σ = (0.5, 0.8), reach its entropy Σ ½ log(2πe σ²): the spline can be x/σ on nearly all the mass
// (inside [−3σ, 3σ] ⊂ [−B, B] the map to N(0, 1) is in reach), so the optimum is attainable to
// about 10⁻² nats. The average −log p over 2·10⁴ test points has a Monte Carlo error of about 0.01.
BOOST_AUTO_TEST_CASE(builders_flows_fit_a_gaussian_to_its_entropy) {
    const real sigma[2] = {0.5, 0.8};
    real entropy = 0;
    for (real s : sigma) entropy += 0.5 * std::log(2 * M_PI * M_E * s * s);
    const auto draw = [&](Rng& rng, std::size_t n) {
        Array x = rng.normal_array(n, 2);
        for (std::size_t r = 0; r < n; ++r)
            for (std::size_t c = 0; c < 2; ++c) x(r, c) *= sigma[c];
        return x;
    };
    for (bool coupling : {false, true}) {
        Rng rng(26);
        FlowSpec spec;
        spec.dim = 2;
        spec.layers = 2;
        spec.hidden = {16, 16};
        spec.bins = 8;
        DistributionPtr flow = coupling ? make_nsf_coupling_flow(spec, rng) : make_nsf_flow(spec, rng);
        const ParameterList params = flow->parameters();
        Adam adam(params, AdamOptions{.lr = 1e-2});
        Tape t;
        for (int step = 0; step < 300; ++step) {
            t.reset();
            t.backward(neg(mean(flow->log_prob(t.constant(draw(rng, 256))))));
            adam.step();
            adam.zero_grad();
        }
        t.reset();
        NoGrad no_grad(t);
        const real nll = -xt::mean(flow->log_prob(t.constant(draw(rng, 20000))).value())();
        BOOST_TEST(std::abs(nll - entropy) < 0.03, (coupling ? "nsf_coupling" : "nsf") << ": −log p " << nll
                                                                                        << ", entropy " << entropy);
    }
}

// Once warm, a training step and a sampling pass reuse every tape node and buffer.
BOOST_AUTO_TEST_CASE(a_warm_step_allocates_nothing_on_the_tape) {
    for (bool coupling : {false, true}) {
        Rng rng(27);
        FlowSpec spec;
        spec.dim = 3;
        spec.layers = 2;
        spec.hidden = {8};
        spec.bins = 4;
        DistributionPtr flow = coupling ? make_nsf_coupling_flow(spec, rng) : make_nsf_flow(spec, rng);
        const Array x = rng.normal_array(16, 3) * 2.0;
        Tape t;
        std::size_t before = 0;
        for (int step = 0; step < 3; ++step) {
            if (step == 2) before = t.allocations();
            t.reset();
            t.backward(neg(mean(flow->log_prob(t.constant(x)))));
        }
        BOOST_TEST(t.allocations() == before, "training step, coupling " << coupling);
        for (int pass = 0; pass < 3; ++pass) {
            if (pass == 2) before = t.allocations();
            t.reset();
            NoGrad no_grad(t);
            Rng sampler(5);
            flow->sample(t, 16, sampler);
        }
        BOOST_TEST(t.allocations() == before, "sampling, coupling " << coupling);
    }
}

BOOST_AUTO_TEST_CASE(bad_configs_throw) {
    Rng rng(25);
    SplineAutoregressiveConfig a = nsf_config(3, 0, Ordering::natural);
    a.degrees = {1, 1, 3};
    BOOST_CHECK_THROW(SplineAutoregressive(a, rng), ValueError);
    a = nsf_config(3, 0, Ordering::natural);
    a.bins = 1;
    BOOST_CHECK_THROW(SplineAutoregressive(a, rng), ValueError);
    SplineCouplingConfig c;
    c.dim = 1;
    BOOST_CHECK_THROW(SplineCoupling(c, rng), ValueError);
    c.dim = 2;
    c.spline.tail_bound = -1;
    BOOST_CHECK_THROW(SplineCoupling(c, rng), ValueError);
    SplineAutoregressive ok(nsf_config(3, 0, Ordering::natural), rng);
    Tape t;
    BOOST_CHECK_THROW(ok.forward(t.constant(xt::zeros<real>({2, 4}))), ShapeError);
}

BOOST_AUTO_TEST_SUITE_END()
