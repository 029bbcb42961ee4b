// The Fréchet distance between two sets of feature vectors, each summarised by its mean and
// covariance (the Gaussian with those moments): the measure behind FID (Heusel et al. 2017), here
// on whatever features the caller computes (the multimodal-base CNF paper's Table 2 uses Inception
// features, which we cannot fetch; bench cnf uses principal components of real images and says so).
//
//     d² = ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2 (Σ₁^½ Σ₂ Σ₁^½)^½)
//
// The square roots are of symmetric positive semi-definite matrices, by eigendecomposition
// (LAPACK through xtensor-blas); eigenvalues that rounding makes slightly negative count as 0.
#pragma once

#include "core/types.hpp"

namespace flowtape::data {

// The mean (1×D) and the covariance (D×D, divided by n − 1) of the rows of x.
struct FeatureMoments {
    Array mean;
    Array covariance;
    // ValueError for fewer than 2 rows, no columns, or a non-finite value (naming row and column).
    static FeatureMoments of_rows(const Array& x);
};

// d² above (not its square root, as FID is reported). ShapeError when the dimensions differ.
real frechet_distance(const FeatureMoments& a, const FeatureMoments& b);

// The symmetric square root of a symmetric positive semi-definite matrix (negative eigenvalues from
// rounding clipped to 0). ShapeError unless square.
Array symmetric_sqrt(const Array& s);

}  // namespace flowtape::data
