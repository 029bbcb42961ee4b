// Ward agglomerative clustering: labels and merge heights equal sklearn's / scipy's, the heights
// account exactly for the within-cluster sum of squares, and bad input is refused.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

#include "cluster/agglomerative.hpp"
#include "core/error.hpp"
#include "core/random.hpp"
#include "test/cluster/reference_b.hpp"

using namespace flowtape;
using namespace flowtape::cluster;
using namespace flowtape::cluster::test_b;

BOOST_AUTO_TEST_SUITE(cluster_agglomerative)

BOOST_AUTO_TEST_CASE(labels_equal_sklearn_ward) {
    const auto ref = load_fixture("ward_b.json");
    const Array X = to_array(ref["X"]);
    for (const std::size_t k : {1, 3, 5}) {
        WardOptions opt;
        opt.k = k;
        const Clustering c = agglomerative_ward(X, opt);
        BOOST_TEST(c.k == k);
        const Labels expected = to_labels(ref["labels_k" + std::to_string(k)]);
        BOOST_TEST(canonical(c.labels) == canonical(expected), "k = " << k);
    }
}

BOOST_AUTO_TEST_CASE(merge_heights_equal_scipy_ward) {
    const auto ref = load_fixture("ward_b.json");
    const Array X = to_array(ref["X"]);
    const std::vector<WardMerge> merges = ward_tree(X);
    const auto& heights = ref["heights"];
    BOOST_TEST_REQUIRE(merges.size() == heights.size());
    for (std::size_t m = 0; m < merges.size(); ++m)
        BOOST_TEST(std::abs(merges[m].height - heights[m].get<double>()) < 1e-9, "merge " << m);
}

// Ward's height h of a merge is sqrt(2·ΔSSE), so the N − k lowest merges add up to the inertia of
// the k-cluster cut: Σ h²/2 = Σ ‖x − centre‖².
BOOST_AUTO_TEST_CASE(heights_sum_to_inertia) {
    Rng rng(11);
    const Array X = rng.normal_array(70, 3);
    const std::vector<WardMerge> merges = ward_tree(X);
    for (const std::size_t k : {1, 2, 4, 9}) {
        WardOptions opt;
        opt.k = k;
        const Clustering c = agglomerative_ward(X, opt);
        double sse = 0;
        for (std::size_t m = 0; m + k < X.shape()[0]; ++m) sse += merges[m].height * merges[m].height / 2;
        BOOST_TEST(std::abs(sse - c.inertia) < 1e-9 * (1 + c.inertia), "k = " << k);
    }
}

BOOST_AUTO_TEST_CASE(equal_points_split_into_k_clusters) {
    const Array X = xt::ones<double>({6, 2});
    WardOptions opt;
    opt.k = 3;
    const Clustering c = agglomerative_ward(X, opt);
    BOOST_TEST(c.k == 3u);
    BOOST_TEST(c.inertia == 0.0);
    BOOST_TEST(count_distinct_rows(X) == 1u);
    BOOST_CHECK_THROW(check_distinct_points(X, 2, "test"), ValueError);
}

BOOST_AUTO_TEST_CASE(count_distinct_rows_counts_exactly) {
    Array X = {{1.0, 2.0}, {1.0, 2.0}, {2.0, 1.0}, {1.0, 2.0 + 1e-15}, {2.0, 1.0}};
    BOOST_TEST(count_distinct_rows(X) == 3u);
}

BOOST_AUTO_TEST_CASE(bad_input_is_refused) {
    Rng rng(1);
    const Array X = rng.normal_array(11, 2);
    WardOptions opt;
    opt.k = 12;
    BOOST_CHECK_THROW(agglomerative_ward(X, opt), ValueError);  // k > N
    opt.k = 0;
    BOOST_CHECK_THROW(agglomerative_ward(X, opt), ValueError);
    opt.k = 2;
    opt.max_points = 10;
    BOOST_CHECK_THROW(agglomerative_ward(X, opt), ValueError);  // N above the limit
    opt.max_points = 20000;
    Array Y = X;
    Y(3, 1) = std::numeric_limits<double>::quiet_NaN();
    BOOST_CHECK_THROW(agglomerative_ward(Y, opt), ValueError);
    BOOST_CHECK_THROW(agglomerative_ward(Array({0, 2}), opt), ValueError);
}

BOOST_AUTO_TEST_SUITE_END()
