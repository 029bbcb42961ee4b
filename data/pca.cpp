// PCA by the eigenvectors of the scatter or Gram matrix (see pca.hpp).
//
// Note [why not the SVD of Xc]: the SVD (sklearn's route) costs O(N·D·min(N, D)) with a large
// constant and no way to stop at P components; for 10000×784 → 100 it is several seconds. The
// scatter matrix costs one syrk (N·D² flops, at BLAS speed) and LAPACK's syevr computes only the P
// eigenpairs asked for. Squaring the matrix squares its condition number, which costs accuracy
// only in the small-variance directions that PCA is used to discard; the tests compare the result
// with an independent Jacobi solver to 1e-8.
#include "data/pca.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/xtensor_blas.hpp"

namespace flowtape::data {

namespace {

std::string number(double v) {
    std::ostringstream out;
    out.precision(17);
    out << v;
    return out.str();
}

// C = AᵀA (when `transpose`, A N×D → D×D) or AAᵀ (N×N) for row-major A, both triangles filled.
Array scatter(const Array& A, bool transpose) {
    const std::size_t n = A.shape()[0], d = A.shape()[1];
    const std::size_t m = transpose ? d : n, inner = transpose ? n : d;
    Array C = xt::zeros<double>({m, m});
    cxxblas::syrk<int>(cxxblas::RowMajor, cxxblas::Lower, transpose ? cxxblas::Trans : cxxblas::NoTrans,
                       static_cast<int>(m), static_cast<int>(inner), 1.0, A.data(), static_cast<int>(d), 0.0,
                       C.data(), static_cast<int>(m));
    for (std::size_t a = 0; a < m; ++a)
        for (std::size_t b = a + 1; b < m; ++b) C(a, b) = C(b, a);
    return C;
}

struct Eigen {
    std::vector<double> values;  // p, decreasing
    Array vectors;               // p×m, row r the eigenvector of values[r]
};

// The p largest eigenpairs of the symmetric m×m matrix C (destroyed), by LAPACK's syevr.
Eigen top_eigenpairs(Array& C, std::size_t p) {
    const int m = static_cast<int>(C.shape()[0]), count = static_cast<int>(p);
    std::vector<double> w(static_cast<std::size_t>(m));
    std::vector<double> z(static_cast<std::size_t>(m) * p);
    std::vector<int> isuppz(2 * p);
    int found = 0;
    double work_size = 0;
    int iwork_size = 0;
    // C is symmetric, so its row-major storage is the same matrix in LAPACK's column-major view.
    // Column r of Z (column-major, leading dimension m) is z[r·m … r·m + m): row r of a row-major
    // p×m array.
    int info = cxxlapack::syevr<int>('V', 'I', 'L', m, C.data(), m, 0.0, 0.0, m - count + 1, m, 0.0, found, w.data(),
                                     z.data(), m, isuppz.data(), &work_size, -1, &iwork_size, -1);
    if (info == 0) {
        std::vector<double> work(static_cast<std::size_t>(work_size));
        std::vector<int> iwork(static_cast<std::size_t>(iwork_size));
        info = cxxlapack::syevr<int>('V', 'I', 'L', m, C.data(), m, 0.0, 0.0, m - count + 1, m, 0.0, found, w.data(),
                                     z.data(), m, isuppz.data(), work.data(), static_cast<int>(work.size()),
                                     iwork.data(), static_cast<int>(iwork.size()));
    }
    if (info != 0 || found != count)
        throw ValueError("Pca::fit: LAPACK syevr failed (info " + std::to_string(info) + ", " + std::to_string(found) +
                         " of " + std::to_string(count) + " eigenpairs) on a " + std::to_string(m) + "×" +
                         std::to_string(m) + " matrix");
    Eigen e;
    e.vectors = Array::from_shape({p, static_cast<std::size_t>(m)});
    for (std::size_t r = 0; r < p; ++r) {  // syevr's order is increasing
        const std::size_t from = p - 1 - r;
        e.values.push_back(w[from]);
        std::copy_n(z.data() + from * static_cast<std::size_t>(m), m, &e.vectors(r, 0));
    }
    return e;
}

// Subtracts from row r of V its projections on rows 0..r−1 (twice: one pass of modified Gram–Schmidt
// leaves errors of the order of eps·cond) and returns the norm of what is left.
double orthogonalise_row(Array& V, std::size_t r) {
    const std::size_t d = V.shape()[1];
    for (int pass = 0; pass < 2; ++pass)
        for (std::size_t q = 0; q < r; ++q) {
            double dot = 0;
            for (std::size_t j = 0; j < d; ++j) dot += V(q, j) * V(r, j);
            for (std::size_t j = 0; j < d; ++j) V(r, j) -= dot * V(q, j);
        }
    double norm = 0;
    for (std::size_t j = 0; j < d; ++j) norm += V(r, j) * V(r, j);
    return std::sqrt(norm);
}

// Row r of V becomes the unit vector e_i orthogonalised against rows 0..r−1, for the i that keeps
// the most of its length (the first on ties): a direction the data leave undetermined.
void complete_row(Array& V, std::size_t r) {
    const std::size_t d = V.shape()[1];
    std::size_t best = 0;
    double best_norm = -1;
    for (std::size_t i = 0; i < d; ++i) {
        // ‖e_i − Σ_q v_q v_qᵢ‖² = 1 − Σ_q v_qᵢ² for orthonormal rows v_q.
        double s = 1;
        for (std::size_t q = 0; q < r; ++q) s -= V(q, i) * V(q, i);
        if (s > best_norm) best_norm = s, best = i;
    }
    for (std::size_t j = 0; j < d; ++j) V(r, j) = j == best ? 1.0 : 0.0;
    const double norm = orthogonalise_row(V, r);
    for (std::size_t j = 0; j < d; ++j) V(r, j) /= norm;
}

// Flips each row of V so that the largest-magnitude entry (the first on ties) of its scores Xc·v
// is positive: sklearn's svd_flip with u_based_decision=True.
void orient(const Array& Xc, Array& V) {
    const std::size_t n = Xc.shape()[0], p = V.shape()[0];
    Array scores = Array::from_shape({n, p});
    xt::blas::gemm(Xc, V, scores, false, true);
    for (std::size_t r = 0; r < p; ++r) {
        std::size_t top = 0;
        for (std::size_t i = 1; i < n; ++i)
            if (std::abs(scores(i, r)) > std::abs(scores(top, r))) top = i;
        if (scores(top, r) < 0)
            for (std::size_t j = 0; j < V.shape()[1]; ++j) V(r, j) = -V(r, j);
    }
}

void check_columns(const Array& A, std::size_t expected, const char* who, const char* what) {
    if (A.shape()[1] != expected)
        throw ValueError(std::string("Pca::") + who + ": " + what + " has " + std::to_string(A.shape()[1]) +
                         " columns, expected " + std::to_string(expected) + " (" + what + " is " +
                         shape_string(shape_of(A)) + ")");
}

// `value` as a list of finite numbers; `what` names it in the messages.
std::vector<double> numbers_of(const nlohmann::json& value, const std::string& what) {
    if (!value.is_array()) throw ValueError("Pca::from_json: " + what + " is not an array of numbers");
    std::vector<double> out;
    out.reserve(value.size());
    for (std::size_t i = 0; i < value.size(); ++i) {
        if (!value[i].is_number())
            throw ValueError("Pca::from_json: entry " + std::to_string(i) + " of " + what + " is a JSON " +
                             value[i].type_name() + ", not a number");
        const double v = value[i].get<double>();
        if (!std::isfinite(v))
            throw ValueError("Pca::from_json: entry " + std::to_string(i) + " of " + what + " is not finite");
        out.push_back(v);
    }
    return out;
}

const nlohmann::json& field(const nlohmann::json& j, const char* key) {
    const auto it = j.find(key);
    if (it == j.end()) throw ValueError(std::string("Pca::from_json: field '") + key + "' is missing");
    return *it;
}

}  // namespace

std::size_t Pca::dims() const { return components.shape()[1]; }
std::size_t Pca::size() const { return components.shape()[0]; }

Pca Pca::fit(const Array& X, std::size_t n_components) {
    const std::size_t n = X.shape()[0], d = X.shape()[1];
    if (n == 0 || d == 0) throw ValueError("Pca::fit: X is " + shape_string(shape_of(X)) + ", no data to fit");
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j)
            if (!std::isfinite(X(i, j)))
                throw ValueError("Pca::fit: X has a non-finite value (" + number(X(i, j)) + ") at row " +
                                 std::to_string(i) + ", column " + std::to_string(j));
    const std::size_t p = n_components;
    if (p == 0) throw ValueError("Pca::fit: n_components = 0, must be at least 1");
    if (p > std::min(n, d))
        throw ValueError("Pca::fit: n_components = " + std::to_string(p) + " is more than min(N, D) = " +
                         std::to_string(std::min(n, d)) + " for X of " + shape_string(shape_of(X)));

    Pca pca;
    pca.mean = xt::zeros<double>({std::size_t{1}, d});
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j) pca.mean(0, j) += X(i, j);
    for (std::size_t j = 0; j < d; ++j) pca.mean(0, j) /= static_cast<double>(n);
    Array Xc = Array::from_shape({n, d});
    double total = 0;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j) {
            Xc(i, j) = X(i, j) - pca.mean(0, j);
            total += Xc(i, j) * Xc(i, j);
        }
    const double dof = n > 1 ? static_cast<double>(n - 1) : 1.0;  // one row: no variance, 0 / 1

    const bool by_scatter = n >= d;
    Array C = scatter(Xc, by_scatter);
    Eigen eig = top_eigenpairs(C, p);
    // An eigenvalue this small is rounding error of the matrix product: its direction is noise.
    const double negligible = static_cast<double>(std::max(n, d)) * std::numeric_limits<double>::epsilon() *
                              std::max(eig.values[0], 0.0);
    std::vector<bool> determined(p);
    for (std::size_t r = 0; r < p; ++r) {
        determined[r] = eig.values[r] > negligible;
        eig.values[r] = determined[r] ? eig.values[r] : 0.0;
    }
    if (by_scatter) {
        pca.components = std::move(eig.vectors);  // orthonormal already, whatever the eigenvalues
    } else {
        // v = Xcᵀu/√λ for each eigenvector u of XcXcᵀ; undetermined directions completed.
        pca.components = Array::from_shape({p, d});
        xt::blas::gemm(eig.vectors, Xc, pca.components, false, false);
        for (std::size_t r = 0; r < p; ++r) {
            const double norm = determined[r] ? orthogonalise_row(pca.components, r) : 0.0;
            if (norm > 0.5 * std::sqrt(eig.values[r])) {
                for (std::size_t j = 0; j < d; ++j) pca.components(r, j) /= norm;
            } else {
                complete_row(pca.components, r);
                eig.values[r] = 0.0;
            }
        }
    }
    orient(Xc, pca.components);
    for (std::size_t r = 0; r < p; ++r) {
        pca.explained_variance.push_back(eig.values[r] / dof);
        pca.explained_variance_ratio.push_back(total > 0 ? eig.values[r] / total : 0.0);
    }
    return pca;
}

Array Pca::transform(const Array& X) const {
    check_columns(X, dims(), "transform", "X");
    const std::size_t n = X.shape()[0], d = dims();
    Array Z = xt::zeros<double>({n, size()});
    if (n == 0) return Z;
    Array Xc = Array::from_shape({n, d});
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j) Xc(i, j) = X(i, j) - mean(0, j);
    xt::blas::gemm(Xc, components, Z, false, true);
    return Z;
}

Array Pca::inverse_transform(const Array& Z) const {
    check_columns(Z, size(), "inverse_transform", "Z");
    const std::size_t n = Z.shape()[0], d = dims();
    Array X = Array::from_shape({n, d});
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j) X(i, j) = mean(0, j);
    if (n > 0) xt::blas::gemm(Z, components, X, false, false, 1.0, 1.0);
    return X;
}

nlohmann::json Pca::to_json() const {
    nlohmann::json rows = nlohmann::json::array();
    for (std::size_t r = 0; r < size(); ++r)
        rows.push_back(std::vector<double>(&components(r, 0), &components(r, 0) + dims()));
    return {{"kind", "pca"},
            {"mean", std::vector<double>(mean.begin(), mean.end())},
            {"components", std::move(rows)},
            {"explained_variance", explained_variance},
            {"explained_variance_ratio", explained_variance_ratio}};
}

Pca Pca::from_json(const nlohmann::json& j) {
    if (!j.is_object()) throw ValueError(std::string("Pca::from_json: expected a JSON object, found a ") + j.type_name());
    const nlohmann::json& kind = field(j, "kind");
    if (!kind.is_string() || kind.get<std::string>() != "pca")
        throw ValueError("Pca::from_json: kind is " + kind.dump() + ", expected \"pca\"");
    const std::vector<double> mean = numbers_of(field(j, "mean"), "mean");
    const nlohmann::json& rows = field(j, "components");
    if (!rows.is_array()) throw ValueError("Pca::from_json: components is not an array of rows");
    const std::size_t d = mean.size(), p = rows.size();
    if (d == 0) throw ValueError("Pca::from_json: mean is empty");
    if (p == 0 || p > d)
        throw ValueError("Pca::from_json: " + std::to_string(p) + " components for dimension " + std::to_string(d) +
                         ", expected 1 to " + std::to_string(d));
    Pca pca;
    pca.mean = Array::from_shape({std::size_t{1}, d});
    std::copy(mean.begin(), mean.end(), pca.mean.begin());
    pca.components = Array::from_shape({p, d});
    for (std::size_t r = 0; r < p; ++r) {
        const std::vector<double> row = numbers_of(rows[r], "components row " + std::to_string(r));
        if (row.size() != d)
            throw ValueError("Pca::from_json: components row " + std::to_string(r) + " has " +
                             std::to_string(row.size()) + " entries, expected " + std::to_string(d) + " (as mean)");
        std::copy(row.begin(), row.end(), &pca.components(r, 0));
    }
    pca.explained_variance = numbers_of(field(j, "explained_variance"), "explained_variance");
    pca.explained_variance_ratio = numbers_of(field(j, "explained_variance_ratio"), "explained_variance_ratio");
    for (const auto* v : {&pca.explained_variance, &pca.explained_variance_ratio})
        if (v->size() != p)
            throw ValueError(std::string("Pca::from_json: ") +
                             (v == &pca.explained_variance ? "explained_variance" : "explained_variance_ratio") +
                             " has " + std::to_string(v->size()) + " values for " + std::to_string(p) + " components");
    for (std::size_t a = 0; a < p; ++a)
        for (std::size_t b = 0; b <= a; ++b) {
            double dot = 0;
            for (std::size_t k = 0; k < d; ++k) dot += pca.components(a, k) * pca.components(b, k);
            if (std::abs(dot - (a == b ? 1.0 : 0.0)) > 1e-6)
                throw ValueError("Pca::from_json: components rows " + std::to_string(b) + " and " + std::to_string(a) +
                                 " are not orthonormal (dot product " + number(dot) + ", tolerance 1e-6)");
        }
    return pca;
}

}  // namespace flowtape::data
