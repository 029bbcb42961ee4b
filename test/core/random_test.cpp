// The random engine: determinism from a seed, and the moments of its variates.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>

#include "flowtape.hpp"

using namespace flowtape;

BOOST_AUTO_TEST_SUITE(rng)

BOOST_AUTO_TEST_CASE(same_seed_same_numbers_other_seed_other_numbers) {
    Rng a(42), b(42), c(43);
    for (int k = 0; k < 100; ++k) {
        const real x = a.normal();
        BOOST_TEST(x == b.normal());
        BOOST_TEST(x != c.normal());
    }
}

BOOST_AUTO_TEST_CASE(known_first_outputs_pin_the_algorithm) {
    // xoshiro256** seeded by splitmix64 from 0. The expected words were computed by an independent
    // transcription of the published recurrences (in Python); a change of algorithm, and so of every
    // seeded result in the project, must be deliberate.
    Rng rng(0);
    BOOST_TEST(rng.next_u64() == 0x99ec5f36cb75f2b4ULL);
    BOOST_TEST(rng.next_u64() == 0xbf6e1f784956452aULL);
    BOOST_TEST(rng.next_u64() == 0x1a5f849d4933e6e0ULL);
}

BOOST_AUTO_TEST_CASE(uniform_and_normal_moments) {
    Rng rng(1);
    const std::size_t n = 200000;
    real su = 0, su2 = 0, sn = 0, sn2 = 0, sn4 = 0;
    for (std::size_t k = 0; k < n; ++k) {
        const real u = rng.uniform();
        BOOST_TEST_REQUIRE((u >= 0.0 && u < 1.0));
        su += u;
        su2 += u * u;
        const real z = rng.normal();
        sn += z;
        sn2 += z * z;
        sn4 += z * z * z * z;
    }
    // Means within 5 standard errors of 1/2 and 0; variances 1/12 and 1; normal kurtosis 3.
    BOOST_TEST(std::abs(su / n - 0.5) < 5 * std::sqrt(1.0 / 12 / n));
    BOOST_TEST(std::abs(su2 / n - su * su / n / n - 1.0 / 12) < 1e-3);
    BOOST_TEST(std::abs(sn / n) < 5 / std::sqrt(real(n)));
    BOOST_TEST(std::abs(sn2 / n - 1.0) < 5 * std::sqrt(2.0 / n));
    BOOST_TEST(std::abs(sn4 / n - 3.0) < 0.05);
}

BOOST_AUTO_TEST_CASE(below_is_uniform_and_in_range) {
    Rng rng(5);
    std::vector<int> counts(7, 0);
    const int n = 70000;
    for (int k = 0; k < n; ++k) {
        const auto v = rng.below(7);
        BOOST_TEST_REQUIRE(v < 7u);
        ++counts[v];
    }
    for (int c : counts) BOOST_TEST(std::abs(c - n / 7) < 5 * std::sqrt(n / 7.0));
    BOOST_CHECK_THROW(rng.below(0), ValueError);
}

// Each index with its weight's frequency (an empty weight never), one uniform per draw (so the same
// uniform decides: u < 0.25 → 0, else u < 0.25 + 0 + 0.5 → 2, else 3), and a sum short of one by
// rounding still lands on the last index.
BOOST_AUTO_TEST_CASE(categorical_draws_with_the_weights) {
    const std::vector<real> w{0.25, 0.0, 0.5, 0.25};  // exact in binary, so are their sums
    Rng rng(6), uniforms(6);
    std::vector<int> counts(4, 0);
    const int n = 100000;
    for (int k = 0; k < n; ++k) {
        const std::size_t i = rng.categorical(w);
        const real u = uniforms.uniform();
        BOOST_TEST_REQUIRE(i == (u < 0.25 ? 0u : u < 0.75 ? 2u : 3u));
        ++counts[i];
    }
    BOOST_TEST(counts[1] == 0);
    for (std::size_t i = 0; i < 4; ++i)
        BOOST_TEST(std::abs(counts[i] - n * w[i]) <= 5 * std::sqrt(n * w[i] * (1 - w[i])) + 1e-9);
    const std::vector<real> short_sum{1e-300};
    BOOST_TEST(rng.categorical(short_sum) == 0u);
    const std::vector<real> low{0.25, 0.25};  // sums to 0.5: draws above it go to the last index
    int last = 0;
    for (int k = 0; k < 1000; ++k) last += rng.categorical(low) == 1;
    BOOST_TEST(last > 600);
    BOOST_CHECK_THROW(rng.categorical(std::vector<real>{}), ValueError);
}

BOOST_AUTO_TEST_CASE(permutation_is_a_permutation) {
    Rng rng(9);
    auto p = rng.permutation(50);
    std::sort(p.begin(), p.end());
    for (std::size_t k = 0; k < 50; ++k) BOOST_TEST(p[k] == k);
}

BOOST_AUTO_TEST_CASE(streams_are_independent_of_creation_order) {
    Rng s1 = Rng::stream(11, 1), s2 = Rng::stream(11, 2);
    Rng s2_again = Rng::stream(11, 2);
    BOOST_TEST(s2.next_u64() == s2_again.next_u64());
    BOOST_TEST(s1.next_u64() != Rng::stream(11, 2).next_u64());
}

BOOST_AUTO_TEST_CASE(rademacher_takes_plus_and_minus_one) {
    Rng rng(2);
    const Array r = rng.rademacher_array(100, 10);
    real total = 0;
    for (real v : r) {
        BOOST_TEST_REQUIRE((v == 1.0 || v == -1.0));
        total += v;
    }
    BOOST_TEST(std::abs(total) < 5 * std::sqrt(1000.0));
}

BOOST_AUTO_TEST_SUITE_END()
