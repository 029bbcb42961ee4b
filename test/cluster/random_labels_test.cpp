// random_labels (cluster/random_labels.hpp): the same labels from the same seed, every label in
// range, and frequencies uniform by chi-square tests — of single labels, which a biased generator
// fails, and of consecutive pairs, which a generator cycling through 0..k−1 (perfectly even counts)
// fails.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <vector>

#include "cluster/random_labels.hpp"
#include "core/error.hpp"
#include "core/random.hpp"

using namespace flowtape;
using namespace flowtape::cluster;

namespace {

// Pearson's statistic Σ (O − E)²/E over equally likely cells.
double chi_square(const std::vector<double>& counts, double total) {
    const double expected = total / static_cast<double>(counts.size());
    double s = 0;
    for (const double o : counts) s += (o - expected) * (o - expected) / expected;
    return s;
}

// Within 6 standard deviations (√(2·dof)) of the mean (dof) of the chi-square distribution: a
// false alarm has probability below 1e-4 for these degrees of freedom, a real bias of a few
// percent is caught many times over.
bool plausible(double statistic, double dof) { return std::abs(statistic - dof) < 6 * std::sqrt(2 * dof); }

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_random_labels)

BOOST_AUTO_TEST_CASE(same_seed_same_labels) {
    Rng a(3), b(3), c(4), direct(3);
    const Labels la = random_labels(1000, 7, a);
    BOOST_TEST(la == random_labels(1000, 7, b));
    BOOST_TEST(la != random_labels(1000, 7, c));
    for (std::size_t i = 0; i < la.size(); ++i) BOOST_TEST(la[i] == static_cast<std::int64_t>(direct.below(7)));
    BOOST_TEST(a.next_u64() == direct.next_u64());  // one draw per row, nothing more
}

BOOST_AUTO_TEST_CASE(labels_are_in_range) {
    Rng rng(5);
    for (const std::size_t k : {1u, 2u, 3u, 10u, 1000u}) {
        const Labels labels = random_labels(5000, k, rng);
        BOOST_TEST(labels.size() == 5000u);
        bool in_range = true;
        for (const auto l : labels) in_range = in_range && l >= 0 && l < static_cast<std::int64_t>(k);
        BOOST_TEST(in_range, "k = " << k);
    }
    Rng one(6);
    BOOST_TEST(random_labels(1, 4, one).size() == 1u);
}

BOOST_AUTO_TEST_CASE(frequencies_are_uniform) {
    const std::size_t n = 100000;
    Rng rng(7);
    for (const std::size_t k : {2u, 7u, 10u, 300u}) {
        const Labels labels = random_labels(n, k, rng);
        std::vector<double> counts(k, 0.0);
        for (const auto l : labels) counts[static_cast<std::size_t>(l)] += 1;
        const double single = chi_square(counts, static_cast<double>(n));
        BOOST_TEST(plausible(single, static_cast<double>(k - 1)), "k = " << k << ": chi-square " << single);
        if (k > 10) continue;
        // Non-overlapping pairs (l_2i, l_2i+1): k² equally likely cells when the labels are independent.
        std::vector<double> pairs(k * k, 0.0);
        for (std::size_t i = 0; i + 1 < n; i += 2)
            pairs[static_cast<std::size_t>(labels[i]) * k + static_cast<std::size_t>(labels[i + 1])] += 1;
        const double pair = chi_square(pairs, static_cast<double>(n / 2));
        BOOST_TEST(plausible(pair, static_cast<double>(k * k - 1)), "k = " << k << ": pairs chi-square " << pair);
    }
    // The bound has teeth: a 2% bias towards label 0 of 10, or a cycle 0, 1, …, 9, 0, …, fails it.
    std::vector<double> biased(10, 0.98 * n / 10);
    biased[0] += 0.02 * n;
    BOOST_TEST(!plausible(chi_square(biased, static_cast<double>(n)), 9));
    std::vector<double> cycle_pairs(100, 0.0);
    for (std::size_t i = 0; i + 1 < n; i += 2) cycle_pairs[(i % 10) * 10 + (i + 1) % 10] += 1;
    BOOST_TEST(!plausible(chi_square(cycle_pairs, static_cast<double>(n / 2)), 99));
}

BOOST_AUTO_TEST_CASE(bad_input_is_refused) {
    Rng rng(8);
    BOOST_CHECK_THROW(random_labels(0, 3, rng), ValueError);
    BOOST_CHECK_THROW(random_labels(10, 0, rng), ValueError);
}

BOOST_AUTO_TEST_SUITE_END()
