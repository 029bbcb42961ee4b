// Tests of the built-in data sets: names and errors, shapes, determinism from the seed, labels in
// range with the right frequencies, and each set's moments and support worked out from its
// definition (radii of circles and rings, centres, the checkerboard's squares, the star's bars).
// The mixtures-of-flows paper's four sets (circles, half-moons, pinwheel-johnson, two-bananas) are
// built as a whole: their exact class counts, their evenly spaced angles, the pinwheel's arms and
// the bananas' copy and normalisation are checked at the end.
#include <boost/test/unit_test.hpp>

#include <algorithm>
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
                                               "ring", "ring-wide", "concentric-rings", "star", "eight-star",
                                               "cascading-moons", "circles", "half-moons", "pinwheel-johnson",
                                               "two-bananas"};
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
    BOOST_TEST(dataset_classes("circles") == 2u);
    BOOST_TEST(dataset_classes("half-moons") == 2u);
    BOOST_TEST(dataset_classes("pinwheel-johnson") == 5u);
    BOOST_TEST(dataset_classes("two-bananas") == 2u);
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
    const Dataset w = draw("ring-wide");
    check_mean(w, -1, radius, blurred_radius(2.25, 0.3375), "ring-wide radius");
    BOOST_TEST(mean_of(values(w, -1, radius)).se * std::sqrt(real(n)) == 0.3375,
               boost::test_tools::tolerance(5 / std::sqrt(2.0 * n)));
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

// ---- the mixtures-of-flows paper's sets ----

BOOST_AUTO_TEST_CASE(paper_sizes_and_odd_bananas) {
    BOOST_TEST(dataset_paper_rows("circles") == 1000u);
    BOOST_TEST(dataset_paper_rows("half-moons") == 1000u);
    BOOST_TEST(dataset_paper_rows("pinwheel-johnson") == 2560u);
    BOOST_TEST(dataset_paper_rows("two-bananas") == 4000u);
    for (const std::string name : {"moons", "pinwheel", "two-circles", "two-moons", "cascading-moons"})
        BOOST_TEST(dataset_paper_rows(name) == 0u, name);
    BOOST_CHECK_THROW(dataset_paper_rows("smile"), ValueError);
    Rng rng(1);
    try {
        make_dataset("two-bananas", 2001, rng);
        BOOST_FAIL("no error for an odd n");
    } catch (const ValueError& e) {
        const std::string m = e.what();
        BOOST_TEST((m.find("two-bananas") != std::string::npos && m.find("even") != std::string::npos &&
                    m.find("2001") != std::string::npos),
                   m);
    }
}

// The labels of a set, counted.
std::vector<std::size_t> label_counts(const Dataset& d, std::size_t classes) {
    std::vector<std::size_t> count(classes, 0);
    for (std::int64_t l : *d.labels) ++count.at(static_cast<std::size_t>(l));
    return count;
}

BOOST_AUTO_TEST_CASE(circles_radii_and_even_angles) {
    // make_circles splits n as ⌊n/2⌋ outer and the rest inner, for odd n too.
    for (std::size_t rows : {1u, 2u, 1000u, 1001u}) {
        Rng rng(5);
        const Dataset d = make_dataset("circles", rows, rng);
        BOOST_TEST((label_counts(d, 2) == std::vector<std::size_t>{rows / 2, rows - rows / 2}), "n = " << rows);
    }
    const Dataset d = draw("circles");  // n = 4000: 2000 per circle
    const real sigma = 0.01;
    for (std::int64_t k : {0, 1}) {
        const real R = k == 0 ? 1.0 : 0.8;
        const std::vector<real> r = values(d, k, radius);
        // Every point within 6 noise standard deviations of its circle (radial noise ≈ N(0, σ²)).
        for (real v : r) BOOST_REQUIRE(std::fabs(v - R) < 6 * sigma);
        check_mean(d, k, radius, blurred_radius(R, sigma), "circles radius");
        // Evenly spaced angles sum to the centre exactly, so the class mean is only the noise's
        // mean, sd σ/√m; random angles would give a spread of about R/√(2m), 50 times as much.
        const Mean m0 = mean_of(values(d, k, [](real a, real) { return a; }));
        const Mean m1 = mean_of(values(d, k, [](real, real b) { return b; }));
        const real se = sigma / std::sqrt(static_cast<real>(m0.count));
        BOOST_TEST(std::fabs(m0.mean) < 5 * se, "circle " << k << " mean x0 " << m0.mean);
        BOOST_TEST(std::fabs(m1.mean) < 5 * se, "circle " << k << " mean x1 " << m1.mean);
    }
    // The rows are shuffled: the classes are mixed along the file, not 2000 zeros then 2000 ones.
    std::size_t changes = 0;
    for (std::size_t i = 1; i < n; ++i) changes += (*d.labels)(i, 0) != (*d.labels)(i - 1, 0);
    BOOST_TEST(changes > n / 4, changes << " label changes along the rows");
}

BOOST_AUTO_TEST_CASE(half_moons_on_their_arcs) {
    {
        Rng rng(2);  // n = 3: one outer point (t = 0 alone), two inner at t = 0 and π
        BOOST_TEST((label_counts(make_dataset("half-moons", 3, rng), 2) == std::vector<std::size_t>{1, 2}));
    }
    const Dataset d = draw("half-moons");  // 2000 per moon
    const real sigma = 0.1;
    const std::size_t m = n / 2;
    // The noiseless means of the moons over t_j = πj/(m − 1), j = 0..m − 1 (endpoints included):
    // Σ cos t_j = 0 by symmetry; Σ sin t_j computed here.
    real mean_sin = 0;
    for (std::size_t j = 0; j < m; ++j) mean_sin += std::sin(pi * static_cast<real>(j) / static_cast<real>(m - 1));
    mean_sin /= static_cast<real>(m);
    const real se = sigma / std::sqrt(static_cast<real>(m));
    const auto x0 = [](real a, real) { return a; };
    const auto x1 = [](real, real b) { return b; };
    BOOST_TEST(std::fabs(mean_of(values(d, 0, x0)).mean - 0) < 5 * se);
    BOOST_TEST(std::fabs(mean_of(values(d, 0, x1)).mean - mean_sin) < 5 * se);
    BOOST_TEST(std::fabs(mean_of(values(d, 1, x0)).mean - 1) < 5 * se);
    BOOST_TEST(std::fabs(mean_of(values(d, 1, x1)).mean - (0.5 - mean_sin)) < 5 * se);
    // Each point near its arc: the outer moon is the upper half of the unit circle about (0, 0),
    // the inner one the lower half of the unit circle about (1, 0.5).
    for (std::size_t i = 0; i < n; ++i) {
        const bool outer = (*d.labels)(i, 0) == 0;
        const real c0 = outer ? 0 : 1, c1 = outer ? 0 : 0.5;
        const real a = d.x(i, 0) - c0, b = d.x(i, 1) - c1;
        BOOST_REQUIRE(std::fabs(radius(a, b) - 1) < 6 * sigma);
        BOOST_REQUIRE((outer ? b > -6 * sigma : b < 6 * sigma));
    }
    check_mean(d, 0, radius, blurred_radius(1.0, sigma), "outer moon radius");
    check_mean(d, 1, [](real a, real b) { return radius(a - 1, b - 0.5); }, blurred_radius(1.0, sigma),
               "inner moon radius");
}

BOOST_AUTO_TEST_CASE(pinwheel_johnson_arms) {
    // x = 10 f e^{−ia} as a complex number: radius 10|f| with f = (1 + 0.3ε₀, 0.05ε₁), and polar
    // angle arg f − 2πc/5 − 0.25 e^{f₀} (arm c is arm 0 turned clockwise by 2πc/5).
    constexpr std::size_t rows = 5 * 4000;
    Rng rng(11);
    const Dataset d = make_dataset("pinwheel-johnson", rows, rng);
    BOOST_TEST((label_counts(d, 5) == std::vector<std::size_t>(5, rows / 5)));
    // Shuffled: the labels are not the construction's 0, 1, 2, 3, 4, 0, …
    std::size_t in_turn = 0;
    for (std::size_t i = 0; i < rows; ++i) in_turn += (*d.labels)(i, 0) == static_cast<std::int64_t>(i % 5);
    BOOST_TEST(in_turn < rows / 4);
    for (int c = 0; c < 5; ++c) {
        // E|f| ≈ E f₀ + E[f₁²]/(2 E f₀) (1 + 0.3²) = 1 + 0.00125·1.09.
        check_mean(d, c, [](real a, real b) { return radius(a, b) / 10; }, 1 + 0.00125 * 1.09, "arm radius / 10");
        // The radial spread is f₀'s: sd 0.3 (relative standard error of a standard deviation 1/√(2n)).
        const Mean r = mean_of(values(d, c, [](real a, real b) { return radius(a, b) / 10; }));
        BOOST_TEST(r.se * std::sqrt(real(r.count)) == 0.3, boost::test_tools::tolerance(5 / std::sqrt(2.0 * r.count)));
        // Turned back by the arm's angle, the angle's mean is E[arg f] − 0.25 E e^{f₀} = −0.25 e^{1 + 0.09/2}.
        const real turn = 2 * pi * c / 5;
        check_mean(d, c, [&](real a, real b) { return std::remainder(std::atan2(b, a) + turn, 2 * pi); },
                   -0.25 * std::exp(1.045), "arm angle");
    }
}

BOOST_AUTO_TEST_CASE(two_bananas_copy_and_normalisation) {
    // Two copies of m = 20000 points: enough for the fit below to pin the slope to about 1%.
    const std::size_t m = 20000;
    Rng gen(13);
    const Dataset d = make_dataset("two-bananas", 2 * m, gen);
    for (std::size_t i = 0; i < m; ++i) {
        BOOST_REQUIRE((*d.labels)(i, 0) == 0);
        BOOST_REQUIRE((*d.labels)(m + i, 0) == 1);
        // The second banana is the first shifted by exactly +2 in both coordinates.
        BOOST_REQUIRE(d.x(m + i, 0) == d.x(i, 0) + 2);
        BOOST_REQUIRE(d.x(m + i, 1) == d.x(i, 1) + 2);
    }
    // (v − min)/max: each column's minimum is exactly 0, its maximum 1 − min/max (below 1 when the
    // raw minimum is positive, above when negative; x₂'s is negative, x₁'s almost surely too).
    const auto first = xt::view(d.x, xt::range(0, m), xt::all());
    real lo[2], hi[2];
    for (std::size_t c = 0; c < 2; ++c) {
        lo[c] = xt::amin(xt::view(first, xt::all(), c))();
        hi[c] = xt::amax(xt::view(first, xt::all(), c))();
        BOOST_TEST(lo[c] == 0.0);
        BOOST_TEST(hi[c] > 1.0, "column " << c << ": max " << hi[c]);
    }
    // Undoing the normalisation from the data alone: with c = 1 − max(u) = min/max, the raw
    // column is v = M (u + c) for the unknown raw maximum M. x₂ = 2ε₂ gives M₂ = 2 / sd(u₂ + c₂);
    // x₁ = x₂²/4 + ε₁ makes u₁ + c₁ = s (u₂ + c₂)² + ε₁/M₁ a straight line through the origin in
    // (u₂ + c₂)² with slope s = M₂²/(4M₁) and residual sd 1/M₁. Fit it by least squares.
    const real c0 = 1 - hi[0], c1 = 1 - hi[1];
    std::vector<real> a(m), b(m), v2(m);
    for (std::size_t i = 0; i < m; ++i) {
        a[i] = d.x(i, 0) + c0;
        v2[i] = d.x(i, 1) + c1;
        b[i] = v2[i] * v2[i];
    }
    const Mean mb = mean_of(b), ma = mean_of(a), m2 = mean_of(v2);
    real sbb = 0, sab = 0;
    for (std::size_t i = 0; i < m; ++i) {
        sbb += (b[i] - mb.mean) * (b[i] - mb.mean);
        sab += (a[i] - ma.mean) * (b[i] - mb.mean);
    }
    const real slope = sab / sbb, intercept = ma.mean - slope * mb.mean;
    real rss = 0;
    for (std::size_t i = 0; i < m; ++i) rss += std::pow(a[i] - intercept - slope * b[i], 2);
    const real resid_sd = std::sqrt(rss / static_cast<real>(m - 2));
    const real M1 = 1 / resid_sd, M2 = 2 / (m2.se * std::sqrt(static_cast<real>(m)));
    BOOST_TEST(slope == M2 * M2 / (4 * M1), boost::test_tools::tolerance(0.1));
    const real intercept_se = resid_sd * std::sqrt(1 / static_cast<real>(m) + mb.mean * mb.mean / sbb);
    BOOST_TEST(std::fabs(intercept) < 5 * intercept_se, "intercept " << intercept << " ± " << intercept_se);
    // And the raw x₂ = M₂ (u₂ + c₂) has mean 0: its minimum and maximum straddle 0.
    BOOST_TEST(std::fabs(m2.mean) < 5 * m2.se);

    // The documented construction, step by step from the same seed: all x₂ = 2ε₂, then all
    // x₁ = ε₁ + x₂²/4, then (v − min v)/max v per column.
    Rng rng(13);
    std::vector<real> x1(m), x2(m);
    for (std::size_t i = 0; i < m; ++i) x2[i] = 2 * rng.normal();
    for (std::size_t i = 0; i < m; ++i) x1[i] = rng.normal() + x2[i] * x2[i] / 4;
    const auto [lo1, hi1] = std::minmax_element(x1.begin(), x1.end());
    const auto [lo2, hi2] = std::minmax_element(x2.begin(), x2.end());
    for (std::size_t i = 0; i < m; ++i) {
        BOOST_REQUIRE(std::fabs(d.x(i, 0) - (x1[i] - *lo1) / *hi1) < 1e-12);
        BOOST_REQUIRE(std::fabs(d.x(i, 1) - (x2[i] - *lo2) / *hi2) < 1e-12);
    }
}

BOOST_AUTO_TEST_SUITE_END()
