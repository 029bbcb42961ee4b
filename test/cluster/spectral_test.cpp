// Spectral clustering: the embedding's top eigenvalue is 1 and its rows unit length; on two moons
// and on blobs it recovers the truth at least as well as sklearn's SpectralClustering (whose ARIs
// are recorded in fixtures/spectral_b.json); bad input and too many points are refused.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>

#include "cluster/metrics.hpp"
#include "cluster/spectral.hpp"
#include "core/error.hpp"
#include "core/random.hpp"
#include "test/cluster/reference_b.hpp"

using namespace flowtape;
using namespace flowtape::cluster;
using namespace flowtape::cluster::test_b;

BOOST_AUTO_TEST_SUITE(cluster_spectral)

// D^{-1/2} A D^{-1/2} has eigenvalue 1 (eigenvector sqrt(d)) and no larger one.
BOOST_AUTO_TEST_CASE(embedding_is_normalised) {
    const auto ref = load_fixture("spectral_b.json");
    const Array X = to_array(ref["blobs"]["X"]);
    SpectralOptions opt;
    opt.k = 3;
    Rng rng(1);
    const SpectralFit fit = spectral_clustering(X, opt, rng);
    BOOST_TEST(std::abs(fit.eigenvalues[0] - 1.0) < 1e-10);
    BOOST_TEST(fit.eigenvalues[1] <= fit.eigenvalues[0]);
    BOOST_TEST(fit.eigenvalues[2] <= fit.eigenvalues[1]);
    for (std::size_t i = 0; i < X.shape()[0]; ++i) {
        double s = 0;
        for (std::size_t c = 0; c < 3; ++c) s += fit.embedding(i, c) * fit.embedding(i, c);
        BOOST_TEST(std::abs(s - 1.0) < 1e-12);
    }
}

// sklearn's ARIs against the truth (random_state=0): moons γ=10: 1.000, moons γ=1: 0.299,
// blobs γ=1: 0.591. We ask for at least sklearn's value − 0.01.
BOOST_AUTO_TEST_CASE(recovers_the_truth_as_well_as_sklearn) {
    const auto ref = load_fixture("spectral_b.json");
    struct Case {
        const char* data;
        const char* ari;
        std::size_t k;
        double gamma;
    };
    for (const Case& c : {Case{"moons", "ari_gamma10", 2, 10.0}, Case{"moons", "ari_gamma1", 2, 1.0},
                          Case{"blobs", "ari_gamma1", 3, 1.0}}) {
        const Array X = to_array(ref[c.data]["X"]);
        SpectralOptions opt;
        opt.k = c.k;
        opt.gamma = c.gamma;
        Rng rng(0);
        const SpectralFit fit = spectral_clustering(X, opt, rng);
        const double ari = adjusted_rand_index(to_labels(ref[c.data]["truth"]), fit.clustering.labels);
        BOOST_TEST(ari >= ref[c.data][c.ari].get<double>() - 0.01, c.data << " " << c.ari << ": " << ari);
    }
}

BOOST_AUTO_TEST_CASE(bad_input_is_refused) {
    Rng rng(0);
    SpectralOptions opt;
    opt.k = 2;
    BOOST_CHECK_THROW(spectral_clustering(xt::ones<double>({5, 2}), opt, rng), ValueError);  // k > distinct
    Array X = rng.normal_array(12, 2);
    opt.max_points = 11;
    BOOST_CHECK_THROW(spectral_clustering(X, opt, rng), ValueError);  // N above the limit
    opt.max_points = 5000;
    opt.gamma = 0;
    BOOST_CHECK_THROW(spectral_clustering(X, opt, rng), ValueError);
    opt.gamma = 1;
    opt.k = 13;
    BOOST_CHECK_THROW(spectral_clustering(X, opt, rng), ValueError);
    opt.k = 2;
    X(0, 0) = std::numeric_limits<double>::quiet_NaN();
    BOOST_CHECK_THROW(spectral_clustering(X, opt, rng), ValueError);
}

// A point far from all others (its affinities underflow to 0) does not produce NaN.
BOOST_AUTO_TEST_CASE(isolated_point_stays_finite) {
    Rng rng(5);
    Array X = rng.normal_array(30, 2) * 0.3;
    X(29, 0) = 100;
    SpectralOptions opt;
    opt.k = 2;
    const SpectralFit fit = spectral_clustering(X, opt, rng);
    for (const double v : fit.embedding) BOOST_TEST(std::isfinite(v));
    BOOST_TEST(fit.clustering.k == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
