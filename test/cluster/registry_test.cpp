// cluster_points: every name runs its algorithm, finds well-separated blobs, is reproducible from
// the seed; an unknown name is refused with the list of valid ones.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <string>

#include "cluster/metrics.hpp"
#include "cluster/registry.hpp"
#include "core/error.hpp"
#include "core/random.hpp"

using namespace flowtape;
using namespace flowtape::cluster;

namespace {

// Three tight, far-apart blobs of 40 points in 2-D, and their labels.
Array three_blobs(Labels& truth) {
    Rng rng(99);
    Array X = rng.normal_array(120, 2) * 0.3;
    const double centre[3][2] = {{0, 0}, {8, 0}, {0, 8}};
    truth.assign(120, 0);
    for (std::size_t i = 0; i < 120; ++i) {
        const std::size_t c = i % 3;
        truth[i] = static_cast<std::int64_t>(c);
        X(i, 0) += centre[c][0];
        X(i, 1) += centre[c][1];
    }
    return X;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_registry)

BOOST_AUTO_TEST_CASE(every_algorithm_finds_separated_blobs) {
    Labels truth;
    const Array X = three_blobs(truth);
    const std::vector<std::string> names = clustering_algorithms();
    for (const char* expected : {"kmeans", "minibatch-kmeans", "meanshift", "birch", "agglomerative", "spectral", "gmm"})
        BOOST_TEST((std::find(names.begin(), names.end(), expected) != names.end()), expected);
    for (const std::string& name : names) {
        Rng a(7), b(7);
        const Clustering first = cluster_points(name, X, 3, a);
        BOOST_TEST(first.k == 3u, name);
        BOOST_TEST(adjusted_rand_index(truth, first.labels) == 1.0, name);
        BOOST_TEST(cluster_points(name, X, 3, b).labels == first.labels, name << " is not reproducible");
    }
}

BOOST_AUTO_TEST_CASE(unknown_name_lists_the_valid_ones) {
    Labels truth;
    const Array X = three_blobs(truth);
    Rng rng(0);
    try {
        cluster_points("dbscan", X, 3, rng);
        BOOST_FAIL("no exception");
    } catch (const ValueError& e) {
        const std::string what = e.what();
        BOOST_TEST(what.find("dbscan") != std::string::npos);
        for (const std::string& name : clustering_algorithms()) BOOST_TEST(what.find(name) != std::string::npos, name);
    }
}

BOOST_AUTO_TEST_CASE(bad_k_is_refused_by_the_algorithm) {
    Labels truth;
    const Array X = three_blobs(truth);
    Rng rng(0);
    for (const std::string& name : clustering_algorithms()) {
        if (name == "meanshift") continue;  // ignores k
        BOOST_CHECK_THROW(cluster_points(name, X, 121, rng), ValueError);
        BOOST_CHECK_THROW(cluster_points(name, X, 0, rng), ValueError);
    }
}

BOOST_AUTO_TEST_SUITE_END()
