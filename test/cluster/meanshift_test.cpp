// Mean shift and estimate_bandwidth: equal to sklearn's modes, labels and bandwidths on a fixed data
// set; each mode is a fixed point of the shift; bin seeding rounds as numpy does; bad input refused.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>

#include "cluster/meanshift.hpp"
#include "core/error.hpp"
#include "core/random.hpp"
#include "test/cluster/reference_b.hpp"

using namespace flowtape;
using namespace flowtape::cluster;
using namespace flowtape::cluster::test_b;

BOOST_AUTO_TEST_SUITE(cluster_meanshift)

BOOST_AUTO_TEST_CASE(estimate_bandwidth_equals_sklearn) {
    const auto ref = load_fixture("meanshift_b.json");
    const Array X = to_array(ref["X"]);
    BOOST_TEST(std::abs(estimate_bandwidth(X) - ref["bandwidth_q03"].get<double>()) < 1e-9);
    BOOST_TEST(std::abs(estimate_bandwidth(X, 0.1) - ref["bandwidth_q01"].get<double>()) < 1e-9);
    BOOST_TEST(std::abs(estimate_bandwidth(X, 0.0) - ref["bandwidth_q0"].get<double>()) < 1e-9);
}

BOOST_AUTO_TEST_CASE(subsampled_estimate_is_seeded) {
    const auto ref = load_fixture("meanshift_b.json");
    const Array X = to_array(ref["X"]);
    Rng a(5), b(5);
    const double ea = estimate_bandwidth(X, 0.3, 40, &a);
    BOOST_TEST(ea == estimate_bandwidth(X, 0.3, 40, &b));
    BOOST_TEST(ea > 0);
    // n_samples ≥ N uses every row: the full estimate.
    BOOST_TEST(estimate_bandwidth(X, 0.3, 80, &a) == estimate_bandwidth(X));
    BOOST_CHECK_THROW(estimate_bandwidth(X, 0.3, 40, nullptr), ValueError);
}

namespace {
void check_against(const nlohmann::json& expected, const MeanShiftFit& fit) {
    const Array centres = to_array(expected["centres"]);
    BOOST_TEST(fit.clustering.k == centres.shape()[0]);
    BOOST_TEST(max_abs_diff(fit.clustering.centres, centres) < 1e-9);
    BOOST_TEST(fit.clustering.labels == to_labels(expected["labels"]));
}
}  // namespace

BOOST_AUTO_TEST_CASE(modes_and_labels_equal_sklearn) {
    const auto ref = load_fixture("meanshift_b.json");
    const Array X = to_array(ref["X"]);
    MeanShiftOptions opt;
    opt.bandwidth = 1.5;
    check_against(ref["plain"], mean_shift(X, opt));
    BOOST_TEST(mean_shift(X, opt).clustering.iterations == ref["plain"]["n_iter"].get<int>());
    opt.bin_seeding = true;
    check_against(ref["bins"], mean_shift(X, opt));
    MeanShiftOptions estimated;
    const MeanShiftFit fit = mean_shift(X, estimated);
    BOOST_TEST(std::abs(fit.bandwidth - ref["bandwidth_q03"].get<double>()) < 1e-9);
    check_against(ref["estimated"], fit);
}

// A converged mode moves less than 1e-3·bandwidth under one more shift.
BOOST_AUTO_TEST_CASE(modes_are_fixed_points) {
    Rng rng(7);
    Array X = rng.normal_array(150, 2);
    for (std::size_t i = 0; i < 75; ++i) X(i, 0) += 6;
    MeanShiftOptions opt;
    opt.bandwidth = 1.2;
    const MeanShiftFit fit = mean_shift(X, opt);
    BOOST_TEST(fit.clustering.k >= 2u);
    for (std::size_t c = 0; c < fit.clustering.k; ++c) {
        double sum[2] = {0, 0}, count = 0;
        for (std::size_t i = 0; i < X.shape()[0]; ++i) {
            const double dx = X(i, 0) - fit.clustering.centres(c, 0), dy = X(i, 1) - fit.clustering.centres(c, 1);
            if (std::sqrt(dx * dx + dy * dy) > opt.bandwidth) continue;
            sum[0] += X(i, 0);
            sum[1] += X(i, 1);
            ++count;
        }
        BOOST_TEST_REQUIRE(count > 0);
        const double mx = sum[0] / count - fit.clustering.centres(c, 0), my = sum[1] / count - fit.clustering.centres(c, 1);
        BOOST_TEST(std::sqrt(mx * mx + my * my) < 1e-3 * opt.bandwidth);
    }
}

BOOST_AUTO_TEST_CASE(bin_seeds_round_half_to_even) {
    const Array X = {{0.5}, {1.5}, {2.5}, {-0.5}};
    const Array seeds = bin_seeds(X, 1.0);
    const Array expected = {{0.0}, {2.0}};
    BOOST_TEST(max_abs_diff(seeds, expected) == 0.0);
    // Every point alone in its cell: the points themselves are the seeds.
    const Array spread = {{0.0}, {10.0}};
    BOOST_TEST(max_abs_diff(bin_seeds(spread, 1.0), spread) == 0.0);
    // Cells with fewer than min_bin_freq points are dropped (−0.5 rounds to −0, the cell of 0.5).
    BOOST_TEST(bin_seeds(X, 1.0, 2).shape()[0] == 2u);
    const Array lonely = {{0.1}, {0.2}, {5.0}};
    BOOST_TEST(max_abs_diff(bin_seeds(lonely, 1.0, 2), Array{{0.0}}) == 0.0);
}

BOOST_AUTO_TEST_CASE(equal_points_give_one_cluster) {
    const Array X = xt::ones<double>({5, 3}) * 2.5;
    const MeanShiftFit fit = mean_shift(X, MeanShiftOptions{});
    BOOST_TEST(fit.bandwidth == 0.0);
    BOOST_TEST(fit.clustering.k == 1u);
    BOOST_TEST(fit.clustering.inertia == 0.0);
    BOOST_TEST(fit.clustering.iterations == 0);  // a mean that does not move has converged
}

BOOST_AUTO_TEST_CASE(bad_input_is_refused) {
    Rng rng(2);
    Array X = rng.normal_array(10, 2);
    MeanShiftOptions opt;
    opt.bandwidth = -1;
    BOOST_CHECK_THROW(mean_shift(X, opt), ValueError);
    opt.bandwidth = 1;
    opt.max_iter = 0;
    BOOST_CHECK_THROW(mean_shift(X, opt), ValueError);
    opt.max_iter = 300;
    BOOST_CHECK_THROW(estimate_bandwidth(X, 1.5), ValueError);
    X(0, 0) = std::numeric_limits<double>::quiet_NaN();
    BOOST_CHECK_THROW(mean_shift(X, opt), ValueError);
    BOOST_CHECK_THROW(estimate_bandwidth(X), ValueError);
    BOOST_CHECK_THROW(mean_shift(Array({0, 2}), opt), ValueError);
}

BOOST_AUTO_TEST_SUITE_END()
