// Principal component analysis: the P directions of largest variance of N×D data, as
// scikit-learn's PCA (svd_solver='full', not whitened) finds them.
//
// fit centres X on its column means and takes the top P eigenvectors of the scatter matrix. For
// N ≥ D that is XcᵀXc (D×D, one BLAS syrk); for N < D the N×N Gram matrix XcXcᵀ is smaller, and an
// eigenvector u of it with eigenvalue λ gives the component Xcᵀu/√λ. Eigenvalues are LAPACK's
// (syevr, the top P only). explained_variance is λ/(N − 1), explained_variance_ratio is over the total
// variance Σ_ij Xc_ij²/(N − 1) (0 for data with no variance at all).
//
// Signs follow sklearn 1.2's svd_flip(u_based_decision=True): each component is oriented so that the
// largest-magnitude entry of its scores Xc·v (the column of U in the SVD) is positive (the first
// such entry on ties). Results are then deterministic and comparable with sklearn's numbers.
//
// Directions with (numerically) zero variance — P above the rank of Xc, e.g. P = N when N < D — are
// not determined by the data: they are completed by Gram–Schmidt from the unit vectors, so that
// the rows of `components` are orthonormal whatever P is.
#pragma once

#include <cstddef>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/types.hpp"

namespace flowtape::data {

struct Pca {
    Array mean;                                    // 1×D column means of the fitted data
    Array components;                              // P×D, rows orthonormal, by decreasing variance
    std::vector<double> explained_variance;        // P, variance along each component (÷ N − 1)
    std::vector<double> explained_variance_ratio;  // P, over the total variance

    std::size_t dims() const;  // D
    std::size_t size() const;  // P

    // ValueError for an empty X, a non-finite entry (naming its row and column), P = 0 or
    // P > min(N, D).
    static Pca fit(const Array& X, std::size_t n_components);

    // (X − mean)·componentsᵀ, N×P. ValueError unless X has D columns.
    Array transform(const Array& X) const;
    // Z·components + mean, N×D: the point of the data space whose scores are Z. ValueError unless
    // Z has P columns. transform then inverse_transform is the orthogonal projection onto the
    // components' span (through the mean); the identity when P = D.
    Array inverse_transform(const Array& Z) const;

    // {"kind": "pca", "mean": [D], "components": [[D] × P], "explained_variance": [P],
    //  "explained_variance_ratio": [P]}. Doubles are kept exactly (nlohmann prints the shortest
    // decimal that reads back to the same double).
    nlohmann::json to_json() const;
    // ValueError for another kind, a missing field, a value that is not a finite number, sizes that
    // do not agree, or rows of components that are not orthonormal to within 1e-6.
    static Pca from_json(const nlohmann::json& j);
};

}  // namespace flowtape::data
