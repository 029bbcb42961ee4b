// Tests of the clustering metrics: properties (invariance to renaming, perfect and trivial cases,
// rows of the normalised table summing to 1, accuracy ≥ the best diagonal of any matching) and
// sklearn 1.2's values for fixed label pairs (fixtures/metrics.json, made by make_reference.py).
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "cluster/metrics.hpp"
#include "core/error.hpp"
#include "core/random.hpp"

using namespace flowtape;
using namespace flowtape::cluster;

namespace {

Labels random_labels(std::size_t n, std::size_t k, Rng& rng) {
    Labels l(n);
    for (auto& v : l) v = static_cast<std::int64_t>(rng.below(k));
    return l;
}

nlohmann::json load(const std::string& name) {
    std::ifstream in(std::string(FLOWTAPE_SOURCE_ROOT) + "/test/cluster/fixtures/" + name);
    BOOST_REQUIRE_MESSAGE(in, "missing fixture " + name + " (run test/cluster/fixtures/make_reference.py)");
    return nlohmann::json::parse(in);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(metrics_suite)

BOOST_AUTO_TEST_CASE(contingency_counts_and_normalised_rows) {
    const Labels t{0, 0, 1, 1, 1, 5}, p{7, 3, 3, 3, 7, 7};
    const Array c = contingency_table(t, p);  // classes 0,1,5 × clusters 3,7
    BOOST_REQUIRE_EQUAL(c.shape()[0], 3u);
    BOOST_REQUIRE_EQUAL(c.shape()[1], 2u);
    BOOST_CHECK_EQUAL(c(0, 0), 1);
    BOOST_CHECK_EQUAL(c(0, 1), 1);
    BOOST_CHECK_EQUAL(c(1, 0), 2);
    BOOST_CHECK_EQUAL(c(1, 1), 1);
    BOOST_CHECK_EQUAL(c(2, 0), 0);
    BOOST_CHECK_EQUAL(c(2, 1), 1);
    Rng rng(5);
    const Labels a = random_labels(500, 4, rng), b = random_labels(500, 6, rng);
    const Array nt = normalised_contingency_table(a, b);
    for (std::size_t i = 0; i < nt.shape()[0]; ++i) {
        double s = 0;
        for (std::size_t j = 0; j < nt.shape()[1]; ++j) s += nt(i, j);
        BOOST_CHECK_SMALL(s - 1.0, 1e-12);
    }
}

BOOST_AUTO_TEST_CASE(perfect_and_renamed_labels_score_one) {
    Rng rng(8);
    const Labels t = random_labels(300, 5, rng);
    Labels renamed(t.size());
    for (std::size_t i = 0; i < t.size(); ++i) renamed[i] = 10 - 3 * t[i];  // a bijective renaming
    for (const Labels* p : std::vector<const Labels*>{&t, &renamed}) {
        BOOST_CHECK_SMALL(adjusted_rand_index(t, *p) - 1.0, 1e-12);
        BOOST_CHECK_SMALL(normalized_mutual_info(t, *p) - 1.0, 1e-12);
        BOOST_CHECK_SMALL(purity(t, *p) - 1.0, 1e-12);
        BOOST_CHECK_SMALL(unsupervised_accuracy(t, *p) - 1.0, 1e-12);
    }
}

BOOST_AUTO_TEST_CASE(metrics_are_symmetric_where_they_should_be) {
    Rng rng(9);
    const Labels a = random_labels(400, 3, rng), b = random_labels(400, 5, rng);
    BOOST_CHECK_SMALL(adjusted_rand_index(a, b) - adjusted_rand_index(b, a), 1e-12);
    BOOST_CHECK_SMALL(normalized_mutual_info(a, b) - normalized_mutual_info(b, a), 1e-12);
    BOOST_CHECK_SMALL(unsupervised_accuracy(a, b) - unsupervised_accuracy(b, a), 1e-12);
    // Independent random labellings: ARI near 0.
    BOOST_CHECK_SMALL(adjusted_rand_index(a, b), 0.02);
}

BOOST_AUTO_TEST_CASE(accuracy_is_the_best_matching) {
    // 3 classes, 3 clusters: brute force over the 6 matchings of the contingency table.
    Rng rng(10);
    const Labels a = random_labels(200, 3, rng);
    Labels b = a;
    for (std::size_t i = 0; i < b.size(); ++i)
        if (rng.uniform() < 0.4) b[i] = static_cast<std::int64_t>(rng.below(3));
    const Array c = contingency_table(a, b);
    double best = 0;
    const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    for (const auto& p : perms) best = std::max(best, c(0, p[0]) + c(1, p[1]) + c(2, p[2]));
    BOOST_CHECK_SMALL(unsupervised_accuracy(a, b) - best / 200.0, 1e-12);
    BOOST_CHECK_GE(purity(a, b), unsupervised_accuracy(a, b) - 1e-12);
}

BOOST_AUTO_TEST_CASE(trivial_partitions) {
    const Labels one(10, 0);
    Labels split(10);
    for (std::size_t i = 0; i < 10; ++i) split[i] = static_cast<std::int64_t>(i % 2);
    BOOST_CHECK_EQUAL(normalized_mutual_info(one, one), 1.0);
    BOOST_CHECK_EQUAL(normalized_mutual_info(one, split), 0.0);
    BOOST_CHECK_EQUAL(adjusted_rand_index(one, one), 1.0);
    BOOST_CHECK_SMALL(adjusted_rand_index(one, split), 1e-12);
}

BOOST_AUTO_TEST_CASE(matches_sklearn) {
    const nlohmann::json j = load("metrics.json");
    for (const auto& c : j["pairs"]) {
        const Labels t = c["truth"].get<Labels>(), p = c["pred"].get<Labels>();
        BOOST_TEST_CONTEXT("pair " << c["name"].get<std::string>()) {
            BOOST_CHECK_SMALL(adjusted_rand_index(t, p) - c["ari"].get<double>(), 1e-9);
            BOOST_CHECK_SMALL(normalized_mutual_info(t, p) - c["nmi"].get<double>(), 1e-9);
            const Array table = contingency_table(t, p);
            const auto ref = c["contingency"].get<std::vector<std::vector<double>>>();
            BOOST_REQUIRE_EQUAL(table.shape()[0], ref.size());
            for (std::size_t r = 0; r < ref.size(); ++r) {
                BOOST_REQUIRE_EQUAL(table.shape()[1], ref[r].size());
                for (std::size_t q = 0; q < ref[r].size(); ++q) BOOST_CHECK_EQUAL(table(r, q), ref[r][q]);
            }
            BOOST_CHECK_SMALL(purity(t, p) - c["purity"].get<double>(), 1e-12);
            BOOST_CHECK_SMALL(unsupervised_accuracy(t, p) - c["accuracy"].get<double>(), 1e-12);
        }
    }
}

BOOST_AUTO_TEST_CASE(bad_input_throws) {
    BOOST_CHECK_THROW(adjusted_rand_index({}, {}), ValueError);
    BOOST_CHECK_THROW(normalized_mutual_info({0, 1}, {0}), ValueError);
    BOOST_CHECK_THROW(unsupervised_accuracy({0, 1, 2}, {0, 1}), ValueError);
    BOOST_CHECK_THROW(contingency_table({0}, {}), ValueError);
}

BOOST_AUTO_TEST_SUITE_END()
