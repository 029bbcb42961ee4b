// Squared Euclidean distances between blocks of rows, through gemm: ‖a‖² + ‖b‖² − 2 a·b.
//
// Shared by k-means (assignment to the nearest centre) and the silhouette (all pairwise distances, a
// block of rows at a time, so memory stays O(block·N)). Rounding can make the gemm form slightly
// negative for (near-)equal rows; results are clamped at 0.
#pragma once

#include <cstddef>
#include <vector>

#include "core/types.hpp"

namespace flowtape::cluster {

// ‖row i‖² for every row of A.
std::vector<double> row_norms_squared(const Array& A);

// out(i − r0, j) = ‖A[i] − B[j]‖² for i in [r0, r1) and every row j of B. `a_norms` and `b_norms` are
// row_norms_squared of A and B; `out` is resized to (r1 − r0)×rows(B) only if its shape differs.
void squared_distances(const Array& A, std::size_t r0, std::size_t r1, const std::vector<double>& a_norms,
                       const Array& B, const std::vector<double>& b_norms, Array& out);

}  // namespace flowtape::cluster
