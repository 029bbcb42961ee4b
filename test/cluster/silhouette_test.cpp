// Tests of the silhouette and choose_k: per-point values and mean score match scikit-learn 1.2 to
// 1e-9 (fixtures/silhouette.json from make_reference.py; a single-point cluster scores 0), the block
// size does not matter (a naive O(N²) computation agrees), the subsample is seeded and near the exact
// score, choose_k finds the eight modes of the circle of Gaussians, the min_size fallback, and bad
// input throws.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <numeric>
#include <string>

#include <nlohmann/json.hpp>

#include "cluster/kmeans.hpp"
#include "cluster/silhouette.hpp"
#include "core/error.hpp"
#include "core/random.hpp"

using namespace flowtape;
using namespace flowtape::cluster;

namespace {

nlohmann::json load(const std::string& name) {
    std::ifstream in(std::string(FLOWTAPE_SOURCE_ROOT) + "/test/cluster/fixtures/" + name);
    BOOST_REQUIRE_MESSAGE(in, "missing fixture " + name + " (run test/cluster/fixtures/make_reference.py)");
    return nlohmann::json::parse(in);
}

Array to_array(const nlohmann::json& rows) {
    const auto v = rows.get<std::vector<std::vector<double>>>();
    Array a = Array::from_shape({v.size(), v.empty() ? 0 : v[0].size()});
    for (std::size_t i = 0; i < v.size(); ++i)
        for (std::size_t j = 0; j < v[i].size(); ++j) a(i, j) = v[i][j];
    return a;
}

// The definition, directly: O(N²) distances with std::sqrt of explicit differences.
std::vector<double> naive_silhouette(const Array& X, const Labels& l) {
    const std::size_t n = X.shape()[0];
    std::vector<double> s(n, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        std::map<std::int64_t, std::pair<double, double>> sum_count;
        for (std::size_t j = 0; j < n; ++j) {
            double d2 = 0;
            for (std::size_t m = 0; m < X.shape()[1]; ++m) d2 += (X(i, m) - X(j, m)) * (X(i, m) - X(j, m));
            auto& sc = sum_count[l[j]];
            sc.first += std::sqrt(d2);
            sc.second += 1;
        }
        const auto& own = sum_count[l[i]];
        if (own.second == 1) continue;
        const double a = own.first / (own.second - 1);
        double b = std::numeric_limits<double>::infinity();
        for (const auto& [c, sc] : sum_count)
            if (c != l[i]) b = std::min(b, sc.first / sc.second);
        s[i] = (b - a) / std::max(a, b);
    }
    return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(silhouette_suite)

BOOST_AUTO_TEST_CASE(matches_sklearn) {
    const nlohmann::json j = load("silhouette.json");
    for (const auto& c : j["cases"]) {
        BOOST_TEST_CONTEXT("case " << c["name"].get<std::string>()) {
            const Array X = to_array(c["X"]);
            const Labels l = c["labels"].get<Labels>();
            const auto ref = c["samples"].get<std::vector<double>>();
            const std::vector<double> s = silhouette_samples(X, l);
            BOOST_REQUIRE_EQUAL(s.size(), ref.size());
            for (std::size_t i = 0; i < s.size(); ++i) BOOST_CHECK_SMALL(s[i] - ref[i], 1e-9);
            BOOST_CHECK_SMALL(silhouette_score(X, l) - c["score"].get<double>(), 1e-9);
        }
    }
}

BOOST_AUTO_TEST_CASE(agrees_with_the_definition_across_blocks) {
    // 1600 points: the 2²¹-entry block budget gives blocks of 1310 rows, so two blocks (one partial);
    // six clusters with unsorted, gappy label values (−5, 2, 9, …).
    Rng rng(21);
    const std::size_t n = 1600;
    const Array X = rng.normal_array(n, 3);
    Labels l(n);
    for (auto& v : l) v = 7 * static_cast<std::int64_t>(rng.below(6)) - 5;
    const std::vector<double> s = silhouette_samples(X, l), ref = naive_silhouette(X, l);
    for (std::size_t i = 0; i < n; ++i) BOOST_CHECK_SMALL(s[i] - ref[i], 1e-10);
    BOOST_CHECK(silhouette_samples(X, l, 2) == s);  // the blocks on two threads: identical values
}

BOOST_AUTO_TEST_CASE(subsample_is_seeded_and_close) {
    const nlohmann::json j = load("silhouette.json")["circle"];
    const Array X = to_array(j["X"]);
    Rng fit(3);
    const Clustering c = kmeans(X, KMeansOptions{8}, fit);
    const double exact = silhouette_score(X, c.labels);
    Rng a(5), b(5);
    const double s1 = silhouette_score_sampled(X, c.labels, 300, a);
    const double s2 = silhouette_score_sampled(X, c.labels, 300, b);
    BOOST_CHECK_EQUAL(s1, s2);
    BOOST_CHECK_SMALL(s1 - exact, 0.05);
    Rng e(1);
    BOOST_CHECK_EQUAL(silhouette_score_sampled(X, c.labels, 10000, e), exact);
}

BOOST_AUTO_TEST_CASE(choose_k_finds_the_eight_modes) {
    // Peak at 8, the paper's Figure 2. For every k our k-means optimum is as good as sklearn's
    // (inertia within 1%); where both found the same optimum (inertia equal to 1e-9), the silhouette
    // scores agree to 1e-9. Other ks have several near-equal optima, whose scores differ by a few 0.01.
    const nlohmann::json j = load("silhouette.json")["circle"];
    const Array X = to_array(j["X"]);
    ChooseKOptions opt;
    Rng rng(17);
    const ChooseKResult r = choose_k(X, opt, rng);
    BOOST_CHECK_EQUAL(r.k, 8u);
    BOOST_CHECK_EQUAL(r.best_k, 8u);
    BOOST_CHECK(r.note.empty());
    BOOST_CHECK_EQUAL(r.clustering.k, 8u);
    const auto ref = j["scores"].get<std::vector<double>>();
    BOOST_REQUIRE_EQUAL(r.scores.size(), ref.size());
    const auto ref_inertia = j["inertias"].get<std::vector<double>>();
    std::size_t same = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) {
        const double inertia = r.inertias[i];
        BOOST_CHECK_LE(inertia, ref_inertia[i] * 1.01);
        if (std::abs(inertia - ref_inertia[i]) <= 1e-9 * ref_inertia[i]) {
            ++same;
            BOOST_CHECK_SMALL(r.scores[i] - ref[i], 1e-9);
        }
    }
    BOOST_CHECK_GE(same, 4u);  // at least k = 2, 3, 8 and 9 or so reach the same optimum
}

BOOST_AUTO_TEST_CASE(choose_k_respects_min_size) {
    // Two big blobs and a far-away pair: k = 3 scores best but has a 2-point cluster.
    Rng rng(23);
    Array X = Array::from_shape({202, 2});
    for (std::size_t i = 0; i < 200; ++i) {
        X(i, 0) = (i < 100 ? 0.0 : 20.0) + 0.5 * rng.normal();
        X(i, 1) = 0.5 * rng.normal();
    }
    X(200, 0) = 10, X(200, 1) = 30;
    X(201, 0) = 10.1, X(201, 1) = 30;
    ChooseKOptions opt;
    opt.k_max = 4;
    Rng r1(1);
    const ChooseKResult free = choose_k(X, opt, r1);
    BOOST_CHECK_EQUAL(free.k, 3u);
    opt.min_size = 10;
    Rng r2(1);
    const ChooseKResult limited = choose_k(X, opt, r2);
    BOOST_CHECK_EQUAL(limited.best_k, 3u);
    BOOST_CHECK_NE(limited.k, 3u);
    BOOST_CHECK(!limited.note.empty());
    opt.min_size = 150;  // no k in 2..4 can have every cluster ≥ 150 of 202 points
    Rng r3(1);
    const ChooseKResult none = choose_k(X, opt, r3);
    BOOST_CHECK_EQUAL(none.k, 1u);
    BOOST_CHECK_EQUAL(none.clustering.k, 1u);
    BOOST_CHECK(!none.note.empty());
}

BOOST_AUTO_TEST_CASE(bad_input_throws) {
    Rng rng(0);
    const Array X = rng.normal_array(6, 2);
    BOOST_CHECK_THROW(silhouette_score(X, Labels(6, 0)), ValueError);               // one cluster
    BOOST_CHECK_THROW(silhouette_score(X, Labels{0, 1, 2, 3, 4, 5}), ValueError);   // N clusters
    BOOST_CHECK_THROW(silhouette_score(X, Labels{0, 1}), ValueError);               // wrong length
    BOOST_CHECK_THROW(silhouette_score(Array::from_shape({0, 2}), Labels{}), ValueError);
    ChooseKOptions opt;
    opt.k_min = 1;
    BOOST_CHECK_THROW(choose_k(X, opt, rng), ValueError);
    opt.k_min = 2;
    opt.k_max = 6;
    BOOST_CHECK_THROW(choose_k(X, opt, rng), ValueError);
}

BOOST_AUTO_TEST_SUITE_END()
