#include "cluster/sqdist.hpp"

#include <algorithm>

#include "core/xtensor_blas.hpp"

namespace flowtape::cluster {

std::vector<double> row_norms_squared(const Array& A) {
    const std::size_t n = A.shape()[0], d = A.shape()[1];
    std::vector<double> norms(n, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        double s = 0;
        for (std::size_t j = 0; j < d; ++j) s += A(i, j) * A(i, j);
        norms[i] = s;
    }
    return norms;
}

void squared_distances(const Array& A, std::size_t r0, std::size_t r1, const std::vector<double>& a_norms,
                       const Array& B, const std::vector<double>& b_norms, Array& out) {
    const std::size_t rows = r1 - r0, m = B.shape()[0], d = A.shape()[1];
    ensure_shape(out, {rows, m});
    // The block of A is contiguous (row-major): adapt it without copying so gemm reads it in place.
    const auto block = xt::adapt(A.data() + r0 * d, rows * d, xt::no_ownership(), std::array<std::size_t, 2>{rows, d});
    xt::blas::gemm(block, B, out, false, true, -2.0, 0.0);
    for (std::size_t i = 0; i < rows; ++i) {
        const double an = a_norms[r0 + i];
        for (std::size_t j = 0; j < m; ++j) out(i, j) = std::max(0.0, out(i, j) + an + b_norms[j]);
    }
}

}  // namespace flowtape::cluster
