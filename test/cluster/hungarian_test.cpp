// Tests of the Hungarian algorithm: the optimal cost equals brute force over every assignment for
// small random square and rectangular matrices (including ties from integer costs), the assignment
// is one-to-one, and bad input throws.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>
#include <vector>

#include "cluster/hungarian.hpp"
#include "core/error.hpp"
#include "core/random.hpp"

using namespace flowtape;
using namespace flowtape::cluster;

namespace {

// The minimum over all injective maps of the smaller side into the larger, by enumerating
// permutations of the larger side's indices and using its first `small` entries.
double brute_force(const Array& c) {
    const std::size_t n = c.shape()[0], m = c.shape()[1];
    const bool rows_small = n <= m;
    const std::size_t small = rows_small ? n : m, large = rows_small ? m : n;
    std::vector<std::size_t> p(large);
    std::iota(p.begin(), p.end(), std::size_t{0});
    double best = std::numeric_limits<double>::infinity();
    do {
        double s = 0;
        for (std::size_t i = 0; i < small; ++i) s += rows_small ? c(i, p[i]) : c(p[i], i);
        best = std::min(best, s);
    } while (std::next_permutation(p.begin(), p.end()));
    return best;
}

void check_assignment(const Array& c, const Assignment& a) {
    const std::size_t n = c.shape()[0], m = c.shape()[1];
    BOOST_REQUIRE_EQUAL(a.column_of_row.size(), n);
    std::set<std::int64_t> cols;
    std::size_t assigned = 0;
    double cost = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const auto j = a.column_of_row[i];
        if (j < 0) continue;
        BOOST_REQUIRE_LT(static_cast<std::size_t>(j), m);
        cols.insert(j);
        ++assigned;
        cost += c(i, static_cast<std::size_t>(j));
    }
    BOOST_CHECK_EQUAL(assigned, std::min(n, m));
    BOOST_CHECK_EQUAL(cols.size(), assigned);  // one-to-one
    BOOST_CHECK_CLOSE_FRACTION(cost + 1.0, a.cost + 1.0, 1e-12);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(hungarian_suite)

BOOST_AUTO_TEST_CASE(matches_brute_force_on_random_matrices) {
    Rng rng(11);
    for (int trial = 0; trial < 200; ++trial) {
        const std::size_t n = 1 + rng.below(6), m = 1 + rng.below(6);
        Array c = rng.uniform_array(n, m, -5, 5);
        if (trial % 2 == 1)  // integer costs: many ties
            for (auto& v : c) v = std::round(v);
        const Assignment a = hungarian(c);
        check_assignment(c, a);
        BOOST_CHECK_SMALL(a.cost - brute_force(c), 1e-9);
    }
}

BOOST_AUTO_TEST_CASE(finds_the_hidden_permutation) {
    // Zero cost on a known permutation, positive elsewhere: the only optimum is that permutation.
    Rng rng(3);
    const std::size_t n = 30;
    const std::vector<std::size_t> perm = rng.permutation(n);
    Array c = rng.uniform_array(n, n, 1, 2);
    for (std::size_t i = 0; i < n; ++i) c(i, perm[i]) = 0;
    const Assignment a = hungarian(c);
    for (std::size_t i = 0; i < n; ++i) BOOST_CHECK_EQUAL(a.column_of_row[i], static_cast<std::int64_t>(perm[i]));
    BOOST_CHECK_EQUAL(a.cost, 0.0);
}

BOOST_AUTO_TEST_CASE(bad_input_throws) {
    BOOST_CHECK_THROW(hungarian(Array::from_shape({0, 3})), ValueError);
    Array c = xt::zeros<double>({2, 2});
    c(1, 0) = std::numeric_limits<double>::quiet_NaN();
    BOOST_CHECK_THROW(hungarian(c), ValueError);
}

BOOST_AUTO_TEST_SUITE_END()
