// Tests of PCA (data/pca.hpp): the components and variances against a cyclic Jacobi eigensolver
// written here (an independent route to the same eigenvectors) with sklearn's sign convention;
// transform and inverse_transform as a change of basis (P = D) and an orthogonal projection
// (P < D); the Gram-matrix route (N < D) against the scatter route on the same spectrum; sklearn's
// numbers (fixtures/pca.json, made by fixtures/make_pca_reference.py); the JSON round trip, bit for
// bit; every error.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/random.hpp"
#include "data/pca.hpp"

using namespace flowtape;
using flowtape::data::Pca;

namespace {

double max_abs_diff(const Array& a, const Array& b) {
    BOOST_REQUIRE(a.shape() == b.shape());
    double m = 0;
    for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a.data()[i] - b.data()[i]));
    return m;
}

// A random orthogonal D×D matrix: Gram–Schmidt on the rows of a normal matrix.
Array random_rotation(std::size_t d, Rng& rng) {
    Array Q = rng.normal_array(d, d);
    for (std::size_t r = 0; r < d; ++r) {
        for (std::size_t q = 0; q < r; ++q) {
            double dot = 0;
            for (std::size_t j = 0; j < d; ++j) dot += Q(r, j) * Q(q, j);
            for (std::size_t j = 0; j < d; ++j) Q(r, j) -= dot * Q(q, j);
        }
        double norm = 0;
        for (std::size_t j = 0; j < d; ++j) norm += Q(r, j) * Q(r, j);
        for (std::size_t j = 0; j < d; ++j) Q(r, j) /= std::sqrt(norm);
    }
    return Q;
}

// N×D data whose variances along D rotated axes are well apart (scales 6, 4.5, 3, 2, 1.2, 0.6, …),
// with an offset so that the mean matters.
Array spread_data(std::size_t n, std::size_t d, Rng& rng) {
    const Array Z = rng.normal_array(n, d);
    const Array Q = random_rotation(d, rng);
    Array X = xt::zeros<double>({n, d});
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t a = 0; a < d; ++a) {
            const double scale = 6.0 * std::pow(0.72, static_cast<double>(a));
            for (std::size_t j = 0; j < d; ++j) X(i, j) += scale * Z(i, a) * Q(a, j);
        }
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j) X(i, j) += 1.5 * static_cast<double>(j) - 2.0;
    return X;
}

struct Reference {
    std::vector<double> values;  // decreasing eigenvalues of XcᵀXc
    Array vectors;               // D×D, row r the eigenvector of values[r], oriented as sklearn
    std::vector<double> mean;
};

// The eigenpairs of the D×D scatter matrix by cyclic Jacobi rotations (Golub & Van Loan §8.5):
// each sweep zeroes every off-diagonal entry in turn; stop when they are all below 1e-15 of the
// diagonal's scale. Signs: the largest-|.| score Xc·v positive (the first on ties).
Reference jacobi_reference(const Array& X) {
    const std::size_t n = X.shape()[0], d = X.shape()[1];
    Reference ref;
    ref.mean.assign(d, 0.0);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j) ref.mean[j] += X(i, j) / static_cast<double>(n);
    Array Xc = X;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j) Xc(i, j) -= ref.mean[j];
    Array A = xt::zeros<double>({d, d});
    for (std::size_t a = 0; a < d; ++a)
        for (std::size_t b = 0; b < d; ++b)
            for (std::size_t i = 0; i < n; ++i) A(a, b) += Xc(i, a) * Xc(i, b);
    Array V = xt::eye<double>(d);  // columns are the eigenvectors
    for (int sweep = 0; sweep < 100; ++sweep) {
        double off = 0, diag = 0;
        for (std::size_t a = 0; a < d; ++a)
            for (std::size_t b = 0; b < d; ++b) (a == b ? diag : off) += A(a, b) * A(a, b);
        if (off <= 1e-30 * diag) break;
        for (std::size_t p = 0; p < d; ++p)
            for (std::size_t q = p + 1; q < d; ++q) {
                if (A(p, q) == 0) continue;
                // The rotation (c, s) with tan 2θ = 2A_pq / (A_qq − A_pp), the smaller root.
                const double theta = (A(q, q) - A(p, p)) / (2 * A(p, q));
                const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
                const double c = 1 / std::sqrt(t * t + 1), s = t * c;
                for (std::size_t k = 0; k < d; ++k) {  // A ← A J
                    const double akp = A(k, p), akq = A(k, q);
                    A(k, p) = c * akp - s * akq;
                    A(k, q) = s * akp + c * akq;
                }
                for (std::size_t k = 0; k < d; ++k) {  // A ← Jᵀ A
                    const double apk = A(p, k), aqk = A(q, k);
                    A(p, k) = c * apk - s * aqk;
                    A(q, k) = s * apk + c * aqk;
                }
                for (std::size_t k = 0; k < d; ++k) {  // V ← V J
                    const double vkp = V(k, p), vkq = V(k, q);
                    V(k, p) = c * vkp - s * vkq;
                    V(k, q) = s * vkp + c * vkq;
                }
            }
    }
    std::vector<std::size_t> order(d);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return A(a, a) > A(b, b); });
    ref.vectors = Array::from_shape({d, d});
    for (std::size_t r = 0; r < d; ++r) {
        const std::size_t col = order[r];
        ref.values.push_back(A(col, col));
        double top_score = 0;
        for (std::size_t i = 0; i < n; ++i) {
            double score = 0;
            for (std::size_t j = 0; j < d; ++j) score += Xc(i, j) * V(j, col);
            if (std::abs(score) > std::abs(top_score)) top_score = score;
        }
        const double sign = top_score < 0 ? -1.0 : 1.0;
        for (std::size_t j = 0; j < d; ++j) ref.vectors(r, j) = sign * V(j, col);
    }
    return ref;
}

double orthonormality_error(const Array& V) {
    double worst = 0;
    for (std::size_t a = 0; a < V.shape()[0]; ++a)
        for (std::size_t b = 0; b < V.shape()[0]; ++b) {
            double dot = 0;
            for (std::size_t j = 0; j < V.shape()[1]; ++j) dot += V(a, j) * V(b, j);
            worst = std::max(worst, std::abs(dot - (a == b ? 1.0 : 0.0)));
        }
    return worst;
}

// The ValueError message of f; fails the test when there is none.
template <class F>
std::string value_error(F&& f) {
    try {
        f();
    } catch (const ValueError& e) {
        return e.what();
    }
    BOOST_ERROR("no ValueError");
    return "";
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

nlohmann::json load_fixture(const std::string& name) {
    const std::string path = std::string(FLOWTAPE_SOURCE_ROOT) + "/test/data/fixtures/" + name;
    std::ifstream in(path);
    if (!in) throw IoError("cannot open fixture " + path);
    return nlohmann::json::parse(in);
}

Array to_array(const nlohmann::json& rows) {
    const std::size_t n = rows.size(), d = rows.at(0).size();
    Array out({n, d});
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j) out(i, j) = rows[i][j].get<double>();
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(data_pca)

BOOST_AUTO_TEST_CASE(components_and_variances_equal_a_jacobi_eigensolver) {
    Rng rng(5);
    const Array X = spread_data(40, 6, rng);
    const Reference ref = jacobi_reference(X);
    double total = 0;
    for (double v : ref.values) total += v;
    for (std::size_t p : {6u, 3u, 1u}) {
        const Pca pca = Pca::fit(X, p);
        BOOST_TEST(pca.size() == p);
        BOOST_TEST(pca.dims() == 6u);
        BOOST_TEST((pca.components.shape()[0] == p && pca.components.shape()[1] == 6u));
        for (std::size_t j = 0; j < 6; ++j) BOOST_TEST(std::abs(pca.mean(0, j) - ref.mean[j]) < 1e-12);
        BOOST_TEST(max_abs_diff(pca.components, xt::view(ref.vectors, xt::range(0, p), xt::all())) < 1e-8);
        BOOST_TEST(orthonormality_error(pca.components) < 1e-12);
        for (std::size_t r = 0; r < p; ++r) {
            BOOST_TEST(std::abs(pca.explained_variance[r] - ref.values[r] / 39) < 1e-10 * ref.values[0] / 39);
            BOOST_TEST(std::abs(pca.explained_variance_ratio[r] - ref.values[r] / total) < 1e-12);
        }
    }
    // The variances are well apart: 36, 18.7, 9.7, … times the noise, so the comparison is sharp.
    BOOST_TEST(ref.values[4] > 1.5 * ref.values[5]);
}

// sklearn's PCA(svd_solver='full') on a 30×5 set (the scatter route) and a 6×10 set (the Gram
// route): the same mean, components with the same signs, variances and scores.
BOOST_AUTO_TEST_CASE(equals_sklearn) {
    const nlohmann::json ref = load_fixture("pca.json");
    for (const char* name : {"tall", "wide"}) {
        BOOST_TEST_CONTEXT(name) {
            const nlohmann::json& c = ref[name];
            const Array X = to_array(c["X"]);
            const Pca pca = Pca::fit(X, c["n_components"].get<std::size_t>());
            const auto mean = c["mean"].get<std::vector<double>>();
            for (std::size_t j = 0; j < mean.size(); ++j) BOOST_TEST(std::abs(pca.mean(0, j) - mean[j]) < 1e-12);
            BOOST_TEST(max_abs_diff(pca.components, to_array(c["components"])) < 1e-9);
            const auto variance = c["explained_variance"].get<std::vector<double>>();
            const auto ratio = c["explained_variance_ratio"].get<std::vector<double>>();
            for (std::size_t r = 0; r < pca.size(); ++r) {
                BOOST_TEST(std::abs(pca.explained_variance[r] - variance[r]) < 1e-10 * variance[0]);
                BOOST_TEST(std::abs(pca.explained_variance_ratio[r] - ratio[r]) < 1e-12);
            }
            BOOST_TEST(max_abs_diff(pca.transform(X), to_array(c["transform"])) < 1e-9);
        }
    }
}

BOOST_AUTO_TEST_CASE(all_components_round_trip_the_data) {
    Rng rng(6);
    const Array X = spread_data(40, 6, rng);
    const Pca pca = Pca::fit(X, 6);
    const Array Z = pca.transform(X);
    BOOST_TEST((Z.shape()[0] == 40u && Z.shape()[1] == 6u));
    BOOST_TEST(max_abs_diff(pca.inverse_transform(Z), X) < 1e-12);
    // The scores have zero mean and, per column, the explained variance.
    for (std::size_t r = 0; r < 6; ++r) {
        double s = 0, ss = 0;
        for (std::size_t i = 0; i < 40; ++i) s += Z(i, r), ss += Z(i, r) * Z(i, r);
        BOOST_TEST(std::abs(s / 40) < 1e-12);
        BOOST_TEST(std::abs(ss / 39 - pca.explained_variance[r]) < 1e-10 * pca.explained_variance[0]);
    }
    double ratios = 0;
    for (double v : pca.explained_variance_ratio) ratios += v;
    BOOST_TEST(std::abs(ratios - 1) < 1e-12);
}

// With P < D, x̂ = inverse_transform(transform(x)) is the orthogonal projection of x onto the
// components' span through the mean: x − x̂ is orthogonal to every component, x̂ − mean lies in the
// span (projecting again changes nothing) and new points (not the fitted ones) behave the same.
BOOST_AUTO_TEST_CASE(fewer_components_project_orthogonally) {
    Rng rng(7);
    const Array X = spread_data(40, 6, rng);
    const Pca pca = Pca::fit(X, 3);
    const Array fresh = rng.normal_array(10, 6) * 4.0;
    for (const Array* points : {&X, &fresh}) {
        const Array Z = pca.transform(*points);
        const Array Xhat = pca.inverse_transform(Z);
        const std::size_t n = points->shape()[0];
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t r = 0; r < 3; ++r) {
                double dot = 0;
                for (std::size_t j = 0; j < 6; ++j) dot += ((*points)(i, j) - Xhat(i, j)) * pca.components(r, j);
                BOOST_TEST(std::abs(dot) < 1e-12 * 50);
            }
        BOOST_TEST(max_abs_diff(pca.transform(Xhat), Z) < 1e-12 * 50);
        BOOST_TEST(max_abs_diff(pca.inverse_transform(pca.transform(Xhat)), Xhat) < 1e-12 * 50);
        // And the residual is not zero: 3 directions of variance are dropped.
        BOOST_TEST(max_abs_diff(Xhat, *points) > 0.1);
    }
}

// For N < D the fit goes through the N×N Gram matrix. Three copies of the same rows (3N ≥ D) go
// through the D×D scatter matrix instead, with the same mean, components and ratios, and variances
// scaled by 3(N − 1)/(3N − 1). The centred data have rank N − 1: P = N adds a direction of zero
// variance, orthonormal to the rest.
BOOST_AUTO_TEST_CASE(gram_route_equals_scatter_route) {
    Rng rng(8);
    const std::size_t n = 8, d = 20;
    const Array X = spread_data(n, d, rng);
    Array tripled = Array::from_shape({3 * n, d});
    for (std::size_t c = 0; c < 3; ++c)
        xt::view(tripled, xt::range(c * n, (c + 1) * n), xt::all()) = X;
    const Pca gram = Pca::fit(X, n - 1);
    const Pca scatter = Pca::fit(tripled, n - 1);
    BOOST_TEST(max_abs_diff(gram.mean, scatter.mean) < 1e-12);
    BOOST_TEST(max_abs_diff(gram.components, scatter.components) < 1e-8);
    BOOST_TEST(orthonormality_error(gram.components) < 1e-12);
    for (std::size_t r = 0; r + 1 < n; ++r) {
        BOOST_TEST(std::abs(gram.explained_variance_ratio[r] - scatter.explained_variance_ratio[r]) < 1e-12);
        BOOST_TEST(std::abs(gram.explained_variance[r] * 3 * (n - 1) / (3 * n - 1) - scatter.explained_variance[r]) <
                   1e-10 * scatter.explained_variance[0]);
    }
    // The N ≥ D route against the Jacobi reference too, on the tripled data.
    const Reference ref = jacobi_reference(tripled);
    BOOST_TEST(max_abs_diff(scatter.components, xt::view(ref.vectors, xt::range(0, n - 1), xt::all())) < 1e-8);

    const Pca full = Pca::fit(X, n);
    BOOST_TEST(full.size() == n);
    BOOST_TEST(orthonormality_error(full.components) < 1e-12);
    BOOST_TEST(full.explained_variance[n - 1] == 0.0);
    BOOST_TEST(max_abs_diff(xt::view(full.components, xt::range(0, n - 1), xt::all()), gram.components) < 1e-12);
    // The data's own points are reproduced: the dropped direction carries no variance.
    BOOST_TEST(max_abs_diff(full.inverse_transform(full.transform(X)), X) < 1e-10);
}

BOOST_AUTO_TEST_CASE(degenerate_data_still_give_orthonormal_components) {
    // One row: no variance at all. Constant columns: zero variance along them.
    const Array one = {{1.0, 2.0, 3.0}};
    const Pca single = Pca::fit(one, 1);
    BOOST_TEST(orthonormality_error(single.components) < 1e-15);
    BOOST_TEST(single.explained_variance[0] == 0.0);
    BOOST_TEST(single.explained_variance_ratio[0] == 0.0);
    Rng rng(9);
    Array X = rng.normal_array(30, 5);
    for (std::size_t i = 0; i < 30; ++i) X(i, 1) = X(i, 3) = 7.0;
    const Pca pca = Pca::fit(X, 5);
    BOOST_TEST(orthonormality_error(pca.components) < 1e-12);
    BOOST_TEST(pca.explained_variance[3] < 1e-14);
    BOOST_TEST(pca.explained_variance[4] < 1e-14);
    for (std::size_t r = 0; r < 3; ++r)  // the three real directions avoid the constant columns
        BOOST_TEST(std::abs(pca.components(r, 1)) + std::abs(pca.components(r, 3)) < 1e-12);
    BOOST_TEST(max_abs_diff(pca.inverse_transform(pca.transform(X)), X) < 1e-12);
}

BOOST_AUTO_TEST_CASE(json_round_trip_is_bit_exact) {
    Rng rng(10);
    const Pca pca = Pca::fit(spread_data(40, 6, rng), 4);
    const nlohmann::json j = pca.to_json();
    BOOST_TEST(j["kind"] == "pca");
    BOOST_TEST(j["components"].size() == 4u);
    BOOST_TEST(j["components"][0].size() == 6u);
    BOOST_TEST(j["mean"].size() == 6u);
    for (const nlohmann::json& doc : {j, nlohmann::json::parse(j.dump())}) {
        const Pca back = Pca::from_json(doc);
        BOOST_TEST(back.mean == pca.mean);
        BOOST_TEST(back.components == pca.components);
        BOOST_TEST(back.explained_variance == pca.explained_variance);
        BOOST_TEST(back.explained_variance_ratio == pca.explained_variance_ratio);
    }
}

BOOST_AUTO_TEST_CASE(bad_input_is_refused) {
    Rng rng(11);
    const Array X = spread_data(10, 4, rng);
    BOOST_CHECK_THROW(Pca::fit(Array::from_shape({0, 3}), 1), ValueError);
    BOOST_CHECK_THROW(Pca::fit(Array::from_shape({3, 0}), 1), ValueError);
    Array bad = X;
    bad(7, 2) = std::numeric_limits<double>::quiet_NaN();
    const std::string nan_message = value_error([&] { Pca::fit(bad, 2); });
    BOOST_TEST(has(nan_message, "row 7, column 2"), nan_message);
    bad(7, 2) = std::numeric_limits<double>::infinity();
    BOOST_CHECK_THROW(Pca::fit(bad, 2), ValueError);
    BOOST_CHECK_THROW(Pca::fit(X, 0), ValueError);
    BOOST_CHECK_THROW(Pca::fit(X, 5), ValueError);       // P > D
    BOOST_CHECK_THROW(Pca::fit(Array(xt::view(X, xt::range(0, 3), xt::all())), 4), ValueError);  // P > N

    const Pca pca = Pca::fit(X, 2);
    const std::string columns = value_error([&] { pca.transform(xt::zeros<double>({3, 5})); });
    BOOST_TEST((has(columns, "5 columns") && has(columns, "expected 4")), columns);
    const std::string scores = value_error([&] { pca.inverse_transform(xt::zeros<double>({3, 3})); });
    BOOST_TEST((has(scores, "3 columns") && has(scores, "expected 2")), scores);
    BOOST_TEST(pca.transform(Array::from_shape({0, 4})).shape()[0] == 0u);

    const nlohmann::json good = pca.to_json();
    BOOST_CHECK_NO_THROW(Pca::from_json(good));
    BOOST_CHECK_THROW(Pca::from_json(nlohmann::json::array()), ValueError);
    for (const char* key : {"kind", "mean", "components", "explained_variance", "explained_variance_ratio"}) {
        nlohmann::json j = good;
        j.erase(key);
        const std::string message = value_error([&] { Pca::from_json(j); });
        BOOST_TEST(has(message, key), message);
    }
    const auto refused = [&](const std::function<void(nlohmann::json&)>& change) {
        nlohmann::json j = good;
        change(j);
        return value_error([&] { Pca::from_json(j); });
    };
    BOOST_TEST(has(refused([](nlohmann::json& j) { j["kind"] = "kmeans"; }), "kind"));
    BOOST_TEST(has(refused([](nlohmann::json& j) { j["mean"].push_back(1.0); }), "row 0 has 4 entries, expected 5"));
    BOOST_TEST(has(refused([](nlohmann::json& j) { j["components"][1].erase(0); }), "row 1 has 3 entries"));
    BOOST_TEST(has(refused([](nlohmann::json& j) { j["components"] = nlohmann::json::array(); }), "0 components"));
    BOOST_TEST(has(refused([](nlohmann::json& j) { j["explained_variance"].push_back(0.5); }), "explained_variance has 3"));
    BOOST_TEST(has(refused([](nlohmann::json& j) { j["explained_variance_ratio"].erase(0); }), "explained_variance_ratio has 1"));
    BOOST_TEST(has(refused([](nlohmann::json& j) { j["mean"][2] = "x"; }), "entry 2 of mean"));
    BOOST_TEST(has(refused([](nlohmann::json& j) { j["components"][1] = j["components"][0]; }), "not orthonormal"));
    BOOST_TEST(has(refused([](nlohmann::json& j) { j["components"][0][0] = j["components"][0][0].get<double>() + 1e-5; }),
                   "not orthonormal"));
    nlohmann::json close = good;  // within the tolerance is accepted
    close["components"][0][0] = close["components"][0][0].get<double>() + 1e-9;
    BOOST_CHECK_NO_THROW(Pca::from_json(close));
}

BOOST_AUTO_TEST_SUITE_END()
