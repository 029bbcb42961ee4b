// Tests of the built-in data sets: names and errors, shapes, determinism from the seed, labels in
// range with the right frequencies, and each set's moments and support worked out from its
// definition (radii of circles and rings, centres, the checkerboard's squares, the star's bars).
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/random.hpp"
#include "data/datasets.hpp"

using namespace flowtape;

namespace {

constexpr real pi = std::numbers::pi;
constexpr std::size_t n = 4000;

Dataset draw(const std::string& name, std::uint64_t seed = 7) {
    Rng rng(seed);
    return make_dataset(name, n, rng);
}

// Mean and standard error of a set of values.
struct Mean {
    real mean = 0, se = 0;
    std::size_t count = 0;
};
Mean mean_of(const std::vector<real>& v) {
    Mean m;
    m.count = v.size();
    for (real x : v) m.mean += x;
    m.mean /= static_cast<real>(v.size());
    real ss = 0;
    for (real x : v) ss += (x - m.mean) * (x - m.mean);
    m.se = std::sqrt(ss / static_cast<real>(v.size() - 1) / static_cast<real>(v.size()));
    return m;
}

// The values f(x₀, x₁) of the rows with label k (all rows for k < 0).
template <class F>
std::vector<real> values(const Dataset& d, std::int64_t k, F f) {
    std::vector<real> v;
    for (std::size_t i = 0; i < d.rows(); ++i)
        if (k < 0 || (*d.labels)(i, 0) == k) v.push_back(f(d.x(i, 0), d.x(i, 1)));
    return v;
}

// The mean of f over the rows with label k agrees with `expected` within 5 standard errors.
template <class F>
void check_mean(const Dataset& d, std::int64_t k, F f, real expected, const std::string& what) {
    const Mean m = mean_of(values(d, k, f));
    BOOST_TEST(std::fabs(m.mean - expected) < 5 * m.se,
               what << " (label " << k << "): mean " << m.mean << ", expected " << expected << " ± " << m.se);
}

real radius(real a, real b) { return std::hypot(a, b); }

}  // namespace

BOOST_AUTO_TEST_SUITE(datasets)

BOOST_AUTO_TEST_CASE(names_and_errors) {
    const std::vector<std::string> expected = {"two-moons", "circle-of-gaussians", "two-rings", "pinwheel",
                                               "two-circles", "moons", "checkerboard", "four-circles", "spirals",
                                               "ring", "concentric-rings", "star", "eight-star",
                                               "cascading-moons"};
    BOOST_TEST((dataset_names() == expected));
    Rng rng(1);
    try {
        make_dataset("swissroll", 10, rng);
        BOOST_FAIL("no error");
    } catch (const ValueError& e) {
        const std::string m = e.what();
        BOOST_TEST(m.find("swissroll") != std::string::npos, m);
        for (const auto& name : expected) BOOST_TEST(m.find(name) != std::string::npos, m);
    }
    for (const auto& name : expected) BOOST_CHECK_THROW(make_dataset(name, 0, rng), ValueError);
    BOOST_CHECK_THROW(dataset_classes("swissroll"), ValueError);
}

BOOST_AUTO_TEST_CASE(shapes_labels_and_determinism) {
    for (const auto& name : dataset_names()) {
        const Dataset a = draw(name, 7), b = draw(name, 7), c = draw(name, 8);
        BOOST_TEST(a.rows() == n, name);
        BOOST_TEST(a.dims() == 2u, name);
        BOOST_TEST((a.columns == std::vector<std::string>{"x0", "x1"}), name);
        BOOST_TEST(!a.weights.has_value(), name);
        BOOST_TEST(xt::all(xt::isfinite(a.x)), name);
        BOOST_TEST((a.x == b.x), name << ": the same seed gives the same data");
        BOOST_TEST(!(a.x == c.x), name << ": another seed gives other data");
        const std::size_t classes = dataset_classes(name);
        BOOST_TEST(a.labels.has_value() == (classes > 0), name);
        if (classes == 0) continue;
        BOOST_TEST((*a.labels == *b.labels), name);
        BOOST_TEST(a.labels->shape()[0] == n);
        BOOST_TEST(a.labels->shape()[1] == 1u);
        std::vector<real> count(classes, 0);
        for (std::int64_t l : *a.labels) {
            BOOST_REQUIRE((l >= 0 && l < static_cast<std::int64_t>(classes)));
            count[static_cast<std::size_t>(l)] += 1;
        }
        if (name == "two-rings") continue;  // ring masses differ (tested in the targets suite)
        const real p = 1.0 / static_cast<real>(classes);
        for (std::size_t k = 0; k < classes; ++k)
            BOOST_TEST(std::fabs(count[k] - n * p) < 5 * std::sqrt(n * p * (1 - p)), name << " class " << k);
    }
    // The number of classes of each set.
    BOOST_TEST(dataset_classes("two-moons") == 0u);
    BOOST_TEST(dataset_classes("circle-of-gaussians") == 8u);
    BOOST_TEST(dataset_classes("two-rings") == 2u);
    BOOST_TEST(dataset_classes("pinwheel") == 5u);
    BOOST_TEST(dataset_classes("moons") == 2u);
    BOOST_TEST(dataset_classes("two-circles") == 2u);
    BOOST_TEST(dataset_classes("four-circles") == 4u);
    BOOST_TEST(dataset_classes("spirals") == 2u);
    BOOST_TEST(dataset_classes("concentric-rings") == 4u);
    BOOST_TEST(dataset_classes("checkerboard") == 0u);
    BOOST_TEST(dataset_classes("ring") == 0u);
    BOOST_TEST(dataset_classes("star") == 4u);
    BOOST_TEST(dataset_classes("eight-star") == 8u);
    BOOST_TEST(dataset_classes("cascading-moons") == 6u);
}

// A circle of radius R blurred by N(0, σ²) noise in each coordinate has E|x| = R + σ²/(2R) + O(σ⁴/R³).
real blurred_radius(real R, real sigma) { return R + sigma * sigma / (2 * R); }

BOOST_AUTO_TEST_CASE(two_circles_radii) {
    const Dataset d = draw("two-circles");
    check_mean(d, 0, radius, blurred_radius(3.0, 0.24), "two-circles outer radius");
    check_mean(d, 1, radius, blurred_radius(1.5, 0.24), "two-circles inner radius");
    check_mean(d, -1, [](real a, real) { return a; }, 0.0, "two-circles x0");
    check_mean(d, -1, [](real, real b) { return b; }, 0.0, "two-circles x1");
}

BOOST_AUTO_TEST_CASE(ring_and_concentric_rings_radii) {
    const Dataset r = draw("ring");
    check_mean(r, -1, radius, blurred_radius(1.5, 0.225), "ring radius");
    // The radial spread is the noise's: sd of |x| ≈ 0.225.
    const Mean m = mean_of(values(r, -1, radius));
    // (relative standard error of a standard deviation: 1/√(2n))
    BOOST_TEST(m.se * std::sqrt(real(n)) == 0.225, boost::test_tools::tolerance(5 / std::sqrt(2.0 * n)));
    const Dataset c = draw("concentric-rings");
    for (int k = 0; k < 4; ++k)
        check_mean(c, k, radius, blurred_radius(0.8 * (k + 1), 0.04 * (k + 1)), "concentric ring");
}

BOOST_AUTO_TEST_CASE(four_circles_centres) {
    const Dataset d = draw("four-circles");
    const real centres[4][2] = {{1, 1}, {1, -1}, {-1, 1}, {-1, -1}};
    for (int k = 0; k < 4; ++k) {
        const real c0 = centres[k][0], c1 = centres[k][1];
        check_mean(d, k, [&](real a, real) { return a; }, c0, "four-circles centre x0");
        check_mean(d, k, [&](real, real b) { return b; }, c1, "four-circles centre x1");
        check_mean(d, k, [&](real a, real b) { return radius(a - c0, b - c1); }, blurred_radius(2.0, 0.1),
                   "four-circles radius");
    }
}

BOOST_AUTO_TEST_CASE(moons_means) {
    // With t ~ U[0, π]: E cos t = 0, E sin t = 2/π; x = 2m − (1, 0.2).
    const Dataset d = draw("moons");
    check_mean(d, 0, [](real a, real) { return a; }, -1.0, "upper moon x0");
    check_mean(d, 0, [](real, real b) { return b; }, 4 / pi - 0.2, "upper moon x1");
    check_mean(d, 1, [](real a, real) { return a; }, 1.0, "lower moon x0");
    check_mean(d, 1, [](real, real b) { return b; }, 0.8 - 4 / pi, "lower moon x1");
    // The upper moon's distance from its centre (−1, −0.2) is 2|(cos t, sin t) + 0.1ε| ≈ 2.
    check_mean(d, 0, [](real a, real b) { return radius(a + 1, b + 0.2); }, 2 * blurred_radius(1.0, 0.1),
               "upper moon radius");
}

BOOST_AUTO_TEST_CASE(checkerboard_squares) {
    // Every point lies in a dark square (⌊x₀/2⌋ + ⌊x₁/2⌋ even) of the board [−4, 4]², and the 8
    // dark squares are equally likely.
    const Dataset d = draw("checkerboard");
    std::vector<real> count(16, 0);
    for (std::size_t i = 0; i < n; ++i) {
        const real a = d.x(i, 0), b = d.x(i, 1);
        BOOST_REQUIRE((a >= -4 && a < 4 && b >= -4 && b < 4));
        const int ia = static_cast<int>(std::floor(a / 2)), ib = static_cast<int>(std::floor(b / 2));
        BOOST_REQUIRE((ia + ib) % 2 == 0);
        count[(ia + 2) * 4 + (ib + 2)] += 1;
    }
    int dark = 0;
    for (real c : count) {
        if (c == 0) continue;
        ++dark;
        BOOST_TEST(std::fabs(c - n / 8.0) < 5 * std::sqrt(n / 8.0 * 7 / 8));
    }
    BOOST_TEST(dark == 8);
}

BOOST_AUTO_TEST_CASE(spirals_means) {
    // t = 3π√u has density 2t/(3π)² on [0, 3π], so E[−t cos t] = 4/(3π) and
    // E[t sin t] = 2 − 8/(9π²); d adds 0.25 to each mean, x = d/3, and spiral 1 is spiral 0 negated.
    const Dataset d = draw("spirals");
    const real m0 = (4 / (3 * pi) + 0.25) / 3, m1 = (2 - 8 / (9 * pi * pi) + 0.25) / 3;
    check_mean(d, 0, [](real a, real) { return a; }, m0, "spiral 0 x0");
    check_mean(d, 0, [](real, real b) { return b; }, m1, "spiral 0 x1");
    check_mean(d, 1, [](real a, real) { return a; }, -m0, "spiral 1 x0");
    check_mean(d, 1, [](real, real b) { return b; }, -m1, "spiral 1 x1");
    // The spirals end at radius 3π/3 = π (plus the uniform offset and the noise).
    for (std::size_t i = 0; i < n; ++i) BOOST_TEST(radius(d.x(i, 0), d.x(i, 1)) < pi + 0.25 + 0.6);
}

BOOST_AUTO_TEST_CASE(pinwheel_arms) {
    // Arm k is arm 0 turned clockwise by 2πk/5; arm 0's points have polar angle atan2(f₁, f₀) − a
    // with mean −0.25 E[e^{f₀}] = −0.25 e^{1 + 0.09/2}, and radius 2|f| ≈ 2 (1 + 0.01/2).
    const Dataset d = draw("pinwheel");
    check_mean(d, 0, [](real a, real b) { return std::atan2(b, a); }, -0.25 * std::exp(1.045), "arm 0 angle");
    for (int k = 0; k < 5; ++k) {
        const real turn = 2 * pi * k / 5;  // undo the arm's rotation, then compare with arm 0's mean
        const auto back0 = [&](real a, real b) { return a * std::cos(turn) - b * std::sin(turn); };
        const auto back1 = [&](real a, real b) { return a * std::sin(turn) + b * std::cos(turn); };
        const Mean ref0 = mean_of(values(d, 0, [](real a, real) { return a; }));
        const Mean ref1 = mean_of(values(d, 0, [](real, real b) { return b; }));
        const Mean got0 = mean_of(values(d, k, back0)), got1 = mean_of(values(d, k, back1));
        BOOST_TEST(std::fabs(got0.mean - ref0.mean) < 5 * std::hypot(got0.se, ref0.se), "arm " << k);
        BOOST_TEST(std::fabs(got1.mean - ref1.mean) < 5 * std::hypot(got1.se, ref1.se), "arm " << k);
        check_mean(d, k, radius, 2 * (1 + 0.01 / 2), "arm radius");
    }
}

BOOST_AUTO_TEST_CASE(star_bars) {
    // Bar k of K runs along the angle 2πk/K from 0.6 to 2.6: mean 1.6 (cos θ, sin θ); across the
    // bar the spread is the noise, 0.1.
    for (const auto& [name, bars] : {std::pair<std::string, int>{"star", 4}, {"eight-star", 8}}) {
        const Dataset d = draw(name);
        for (int k = 0; k < bars; ++k) {
            const real c = std::cos(2 * pi * k / bars), s = std::sin(2 * pi * k / bars);
            check_mean(d, k, [](real a, real) { return a; }, 1.6 * c, name + " x0");
            check_mean(d, k, [](real, real b) { return b; }, 1.6 * s, name + " x1");
            const Mean across = mean_of(values(d, k, [&](real a, real b) { return -a * s + b * c; }));
            BOOST_TEST(across.se * std::sqrt(real(across.count)) == 0.1,
                       boost::test_tools::tolerance(5 / std::sqrt(2.0 * across.count)));
        }
    }
}

BOOST_AUTO_TEST_CASE(targets_through_make_dataset) {
    // make_dataset draws the Stimper targets with sample_target: the same rows from the same seed.
    for (const auto& name : target_names()) {
        Rng a(3), b(3);
        const Dataset d = make_dataset(name, 100, a), e = sample_target(name, 100, b);
        BOOST_TEST((d.x == e.x), name);
        BOOST_TEST(xt::all(xt::abs(d.x) <= target_half_width(name)), name);
    }
}

BOOST_AUTO_TEST_SUITE_END()
