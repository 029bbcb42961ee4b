// Tests of the cascading-moons data set (data/datasets.cpp, docs/datasets.md): six classes with equal
// counts, each class's mean at (k − 2.5)·δ with δ = (1, 0.5 − 4/π) (so the means lie evenly spaced on
// one diagonal line through the origin), the alternating moon shape (upper arcs for even k, lower
// arcs for odd k), and rows that are a deterministic function of the seed.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <numbers>
#include <vector>

#include "core/random.hpp"
#include "data/datasets.hpp"

using namespace flowtape;

namespace {

constexpr real pi = std::numbers::pi;

Dataset cascade(std::size_t n, std::uint64_t seed) {
    Rng rng(seed);
    return make_dataset("cascading-moons", n, rng);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cascading_moons)

BOOST_AUTO_TEST_CASE(six_classes_with_equal_counts) {
    BOOST_TEST(dataset_classes("cascading-moons") == 6u);
    for (std::size_t n : {6u, 600u, 601u, 605u}) {
        const Dataset d = cascade(n, 3);
        BOOST_REQUIRE(d.labels.has_value());
        std::vector<std::size_t> count(6, 0);
        for (std::int64_t l : *d.labels) {
            BOOST_REQUIRE((l >= 0 && l < 6));
            ++count[static_cast<std::size_t>(l)];
        }
        for (std::size_t k = 0; k < 6; ++k) {
            // n = 6q + r: the first r classes hold one more row.
            const std::size_t expected = n / 6 + (k < n % 6 ? 1 : 0);
            BOOST_TEST(count[k] == expected, "n = " << n << ", class " << k);
        }
    }
}

BOOST_AUTO_TEST_CASE(class_means_lie_evenly_on_a_diagonal) {
    const std::size_t n = 12000;
    const Dataset d = cascade(n, 11);
    const real delta[2] = {1, 0.5 - 4 / pi};
    std::vector<real> sum0(6, 0), sum1(6, 0), sq0(6, 0), sq1(6, 0), count(6, 0);
    for (std::size_t i = 0; i < n; ++i) {
        const auto k = static_cast<std::size_t>((*d.labels)(i, 0));
        sum0[k] += d.x(i, 0);
        sum1[k] += d.x(i, 1);
        sq0[k] += d.x(i, 0) * d.x(i, 0);
        sq1[k] += d.x(i, 1) * d.x(i, 1);
        count[k] += 1;
    }
    for (std::size_t k = 0; k < 6; ++k) {
        const real m0 = sum0[k] / count[k], m1 = sum1[k] / count[k];
        // Standard errors of the means from the class's own spread.
        const real se0 = std::sqrt((sq0[k] / count[k] - m0 * m0) / count[k]);
        const real se1 = std::sqrt((sq1[k] / count[k] - m1 * m1) / count[k]);
        const real c = static_cast<real>(k) - 2.5;
        BOOST_TEST(std::fabs(m0 - c * delta[0]) < 5 * se0, "class " << k << " mean x0 " << m0);
        BOOST_TEST(std::fabs(m1 - c * delta[1]) < 5 * se1, "class " << k << " mean x1 " << m1);
    }
    // The chain as a whole is centred at the origin and runs down to the right.
    real all0 = 0, all1 = 0;
    for (std::size_t i = 0; i < n; ++i) {
        all0 += d.x(i, 0);
        all1 += d.x(i, 1);
    }
    BOOST_TEST(std::fabs(all0 / n) < 0.05);
    BOOST_TEST(std::fabs(all1 / n) < 0.05);
    BOOST_TEST(delta[1] < 0);
}

BOOST_AUTO_TEST_CASE(moons_alternate_between_upper_and_lower_arcs) {
    // Without noise, moon k is half of the unit circle about its centre: for even k the upper half
    // (its mean lies 2/π above the centre), for odd k the lower half (its mean 2/π below). With noise
    // σ = 0.1 per coordinate every point of this seed lies within 0.5 of that circle, on its arc's side.
    const std::size_t n = 6000;
    const Dataset d = cascade(n, 5);
    const real delta[2] = {1, 0.5 - 4 / pi};
    std::size_t upper_ok = 0, lower_ok = 0, ring_ok = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const auto k = (*d.labels)(i, 0);
        const real c = static_cast<real>(k) - 2.5;
        const real sign = k % 2 == 0 ? 1.0 : -1.0;
        const real cx = c * delta[0], cy = c * delta[1] - sign * 2 / pi;
        const real dx = d.x(i, 0) - cx, dy = d.x(i, 1) - cy;
        if (std::fabs(std::hypot(dx, dy) - 1) < 0.5) ++ring_ok;
        if (k % 2 == 0 && dy > -0.5) ++upper_ok;
        if (k % 2 == 1 && dy < 0.5) ++lower_ok;
    }
    BOOST_TEST(ring_ok == n);
    BOOST_TEST(upper_ok == n / 2);
    BOOST_TEST(lower_ok == n / 2);
}

BOOST_AUTO_TEST_CASE(deterministic_by_seed) {
    const Dataset a = cascade(600, 42), b = cascade(600, 42), c = cascade(600, 43);
    BOOST_TEST((a.x == b.x));
    BOOST_TEST((*a.labels == *b.labels));
    BOOST_TEST(!(a.x == c.x));
    BOOST_TEST((*a.labels == *c.labels));  // the classes are taken in turn, whatever the seed
}

BOOST_AUTO_TEST_SUITE_END()
