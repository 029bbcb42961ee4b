// Tests of the fused rational-quadratic spline op (rational_quadratic_spline in flows/transforms/spline.cpp)
// against the unfused composite it replaced (test::rational_quadratic_spline_reference in spline_reference.cpp), suite
// `spline_fused`: values and log-determinants equal to the reference's (forward and inverse, inside
// and outside the interval, exactly at knots and ends), gradients against central differences and
// against the reference's gradients (also with one Var passed as two arguments, and with only one
// output in the loss), the clear error when a tangent reaches it, and no tape allocation once warm.
// The mathematics itself is tested against plain doubles in spline_test.cpp.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "flowtape.hpp"
#include "spline_reference.hpp"

using namespace flowtape;

namespace {

struct Raw {
    Array w, h, d;  // N×(D·K), N×(D·K), N×(D·(K−1))
};

Raw random_raw(Rng& rng, std::size_t n, std::size_t dim, std::size_t k, real scale) {
    return {rng.normal_array(n, dim * k) * scale, rng.normal_array(n, dim * k) * scale,
            rng.normal_array(n, dim * (k - 1)) * scale};
}

// The K + 1 knots of element (row, col) in plain doubles: softmax, minimum, running sum, pinned ends.
std::vector<double> knots_of(const Array& raw, std::size_t row, std::size_t col, std::size_t k, double minimum,
                             double bound) {
    const double* r = &raw(row, col * k);
    const double top = *std::max_element(r, r + k);
    double total = 0;
    for (std::size_t j = 0; j < k; ++j) total += std::exp(r[j] - top);
    std::vector<double> knots{-bound};
    double running = 0;
    for (std::size_t j = 0; j + 1 < k; ++j) {
        running += minimum + (1 - minimum * k) * std::exp(r[j] - top) / total;
        knots.push_back(-bound + 2 * bound * running);
    }
    knots.push_back(bound);
    return knots;
}

double distance_to_knots(const std::vector<double>& knots, double v) {
    double best = INFINITY;
    for (double k : knots) best = std::min(best, std::abs(v - k));
    return best;
}

// Inputs for an N×D batch: each element draws from a mix of the interior, the tails, its own knots
// (exactly) and the ends ±B, or — with `avoid_knots` — anywhere at least 1e-3 from a knot.
Array inputs_for(Rng& rng, const Raw& raw, std::size_t n, std::size_t dim, bool inverse, const SplineOptions& o,
                 bool avoid_knots) {
    const std::size_t k = raw.w.shape()[1] / dim;
    const double b = o.tail_bound;
    Array x = Array::from_shape({n, dim});
    for (std::size_t r = 0; r < n; ++r) {
        for (std::size_t c = 0; c < dim; ++c) {
            const std::vector<double> knots = inverse ? knots_of(raw.h, r, c, k, o.min_bin_height, b)
                                                      : knots_of(raw.w, r, c, k, o.min_bin_width, b);
            double v;
            if (avoid_knots) {
                do v = rng.uniform(-1.3 * b, 1.3 * b);
                while (distance_to_knots(knots, v) < 1e-3);
            } else {
                const std::size_t kind = (r * dim + c) % 4;
                if (kind == 0) v = rng.uniform(-b, b);
                else if (kind == 1) v = rng.uniform(-3 * b, 3 * b);
                else v = knots[(r + c) % knots.size()];  // kinds 2 and 3: a knot, the ends included
            }
            x(r, c) = v;
        }
    }
    return x;
}

struct Outputs {
    Array out, logdet;
};

Outputs evaluate(bool fused, const Array& x, const Raw& raw, bool inverse, const SplineOptions& o) {
    Tape t;
    NoGrad no_grad(t);
    const Var xs = t.constant(x), w = t.constant(raw.w), h = t.constant(raw.h), d = t.constant(raw.d);
    const SplineResult s = fused ? rational_quadratic_spline(xs, w, h, d, inverse, o)
                                 : test::rational_quadratic_spline_reference(xs, w, h, d, inverse, o);
    return {s.out.value(), s.logdet.value()};
}

double max_abs_difference(const Array& a, const Array& b) { return xt::amax(xt::abs(a - b))(); }

// The largest |a − b| / max(1, |a|, |b|): relative for large entries, absolute for small ones.
double max_scaled_difference(const Array& a, const Array& b) {
    double worst = 0;
    for (std::size_t k = 0; k < a.size(); ++k) {
        const double scale = std::max({1.0, std::abs(a.data()[k]), std::abs(b.data()[k])});
        worst = std::max(worst, std::abs(a.data()[k] - b.data()[k]) / scale);
    }
    return worst;
}

// Which arguments share one Var, and which outputs the loss reads.
struct GradCase {
    bool heights_are_widths = false;
    bool use_out = true, use_logdet = true;
};

// Gradients of Σ a ⊙ out + Σ b ⊙ logdet (fixed random a, b) with respect to x, widths, heights and
// derivatives.
std::vector<Array> gradients(bool fused, const Array& x, const Raw& raw, bool inverse, const SplineOptions& o,
                             const GradCase& c) {
    Rng weights(99);
    const Array a = weights.normal_array(x.shape()[0], x.shape()[1]);
    const Array b = weights.normal_array(x.shape()[0], x.shape()[1]);
    Tape t;
    const Var xs = t.variable(x), w = t.variable(raw.w), d = t.variable(raw.d);
    const Var h = c.heights_are_widths ? w : t.variable(raw.h);
    const SplineResult s = fused ? rational_quadratic_spline(xs, w, h, d, inverse, o)
                                 : test::rational_quadratic_spline_reference(xs, w, h, d, inverse, o);
    Var loss = t.constant(0.0);
    if (c.use_out) loss = add(loss, sum(mul(s.out, t.constant(a))));
    if (c.use_logdet) loss = add(loss, sum(mul(s.logdet, t.constant(b))));
    t.backward(loss);
    return {t.grad(xs), t.grad(w), t.grad(h), t.grad(d)};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(spline_fused)

BOOST_AUTO_TEST_CASE(values_equal_the_reference) {
    Rng rng(31);
    for (std::size_t k : {2u, 3u, 8u}) {
        for (real bound : {1.0, 3.0}) {
            for (bool inverse : {false, true}) {
                SplineOptions o;
                o.tail_bound = bound;
                const std::size_t n = 40, dim = 3;
                const Raw raw = random_raw(rng, n, dim, k, 2.0);
                const Array x = inputs_for(rng, raw, n, dim, inverse, o, false);
                const Outputs fused = evaluate(true, x, raw, inverse, o);
                const Outputs reference = evaluate(false, x, raw, inverse, o);
                BOOST_TEST_CONTEXT("K " << k << " B " << bound << " inverse " << inverse) {
                    BOOST_TEST(max_abs_difference(fused.out, reference.out) < 1e-12);
                    BOOST_TEST(max_abs_difference(fused.logdet, reference.logdet) < 1e-12);
                    // The tails are exactly the identity with log-determinant 0.
                    for (std::size_t e = 0; e < x.size(); ++e) {
                        if (std::abs(x.data()[e]) <= bound) continue;
                        BOOST_TEST(fused.out.data()[e] == x.data()[e]);
                        BOOST_TEST(fused.logdet.data()[e] == 0.0);
                    }
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(gradients_pass_gradcheck) {
    Rng rng(32);
    for (std::size_t k : {2u, 5u}) {
        for (real bound : {1.0, 3.0}) {
            for (bool inverse : {false, true}) {
                SplineOptions o;
                o.tail_bound = bound;
                const std::size_t n = 4, dim = 2;
                const Raw raw = random_raw(rng, n, dim, k, 1.5);
                const Array x = inputs_for(rng, raw, n, dim, inverse, o, true);
                const GradcheckResult g = gradcheck(
                    [&](Tape&, const std::vector<Var>& v) {
                        const SplineResult s = rational_quadratic_spline(v[0], v[1], v[2], v[3], inverse, o);
                        return concat({s.out, s.logdet}, 1);
                    },
                    {x, raw.w, raw.h, raw.d});
                BOOST_TEST(g.ok, "K " << k << " B " << bound << " inverse " << inverse << ": " << g.worst
                                      << " error " << g.max_error);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(gradients_equal_the_reference) {
    Rng rng(33);
    const std::vector<GradCase> cases = {{}, {true, true, true}, {false, true, false}, {false, false, true}};
    for (std::size_t k : {2u, 3u, 8u}) {
        for (bool inverse : {false, true}) {
            for (std::size_t c = 0; c < cases.size(); ++c) {
                const SplineOptions o;
                const std::size_t n = 30, dim = 2;
                Raw raw = random_raw(rng, n, dim, k, 2.0);
                if (cases[c].heights_are_widths) raw.h = raw.w;
                const Array x = inputs_for(rng, raw, n, dim, inverse, o, true);
                const std::vector<Array> fused = gradients(true, x, raw, inverse, o, cases[c]);
                const std::vector<Array> reference = gradients(false, x, raw, inverse, o, cases[c]);
                for (std::size_t i = 0; i < fused.size(); ++i) {
                    BOOST_TEST(max_scaled_difference(fused[i], reference[i]) < 1e-10,
                               "K " << k << " inverse " << inverse << " case " << c << " argument " << i);
                }
            }
        }
    }
}

// Second derivatives through the spline are not supported: the fused op has no tangent rule.
BOOST_AUTO_TEST_CASE(a_tangent_reaching_it_throws) {
    Rng rng(34);
    const Raw raw = random_raw(rng, 2, 1, 4, 1.0);
    Tape t;
    const Var x = t.variable(rng.normal_array(2, 1));
    t.set_tangent(x, t.constant(xt::ones<real>({2, 1})));
    BOOST_CHECK_THROW(
        rational_quadratic_spline(x, t.constant(raw.w), t.constant(raw.h), t.constant(raw.d), false), TapeError);
}

// A repeated call on a reset tape, with and without gradients, reuses every node and buffer.
BOOST_AUTO_TEST_CASE(a_warm_call_allocates_nothing_on_the_tape) {
    Rng rng(35);
    const SplineOptions o;
    const Raw raw = random_raw(rng, 16, 3, 6, 1.0);
    const Array x = rng.normal_array(16, 3) * 3.0;  // some in the tails
    for (bool inverse : {false, true}) {
        for (bool train : {true, false}) {
            Tape t;
            std::size_t before = 0;
            for (int step = 0; step < 3; ++step) {
                if (step == 2) before = t.allocations();
                t.reset();
                t.set_grad_enabled(train);
                const Var w = t.variable(raw.w), h = t.variable(raw.h), d = t.variable(raw.d);
                const SplineResult s = rational_quadratic_spline(t.variable(x), w, h, d, inverse, o);
                if (train) t.backward(sum(add(s.out, s.logdet)));
            }
            BOOST_TEST(t.allocations() == before, "inverse " << inverse << " train " << train);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
