// The Fréchet distance between feature moments (frechet.hpp).
#include "data/frechet.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/xtensor_blas.hpp"

namespace flowtape::data {
namespace {

void require_square(const Array& s, const char* who) {
    if (s.shape()[0] != s.shape()[1] || s.shape()[0] == 0)
        throw ShapeError(std::string(who) + ": needs a square matrix, got " + shape_string(shape_of(s)));
}

// Eigenvalues of a symmetric matrix (negative ones from rounding clipped to 0) and their vectors.
struct Eigen {
    std::vector<real> values;
    Array vectors;  // column k belongs to values[k]
};
Eigen symmetric_eigen(const Array& s) {
    // eigh reads one triangle: symmetrise first so that rounding in a product does not pick one.
    const Array sym = 0.5 * (s + xt::transpose(s));
    auto [values, vectors] = xt::linalg::eigh(sym);
    Eigen e;
    for (std::size_t k = 0; k < values.size(); ++k) e.values.push_back(std::max<real>(0, values(k)));
    e.vectors = vectors;
    return e;
}

}  // namespace

FeatureMoments FeatureMoments::of_rows(const Array& x) {
    if (x.shape()[0] < 2 || x.shape()[1] == 0)
        throw ValueError("FeatureMoments::of_rows: needs at least 2 rows and 1 column, got " + shape_string(shape_of(x)));
    const std::size_t n = x.shape()[0], d = x.shape()[1];
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j)
            if (!std::isfinite(x(i, j)))
                throw ValueError("FeatureMoments::of_rows: row " + std::to_string(i) + " column " + std::to_string(j) +
                                 " is not finite");
    FeatureMoments m;
    m.mean = xt::zeros<real>({std::size_t(1), d});
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j) m.mean(0, j) += x(i, j) / static_cast<real>(n);
    const Array centred = x - m.mean;
    m.covariance = xt::linalg::dot(xt::transpose(centred), centred) / static_cast<real>(n - 1);
    return m;
}

Array symmetric_sqrt(const Array& s) {
    require_square(s, "symmetric_sqrt");
    const Eigen e = symmetric_eigen(s);
    const std::size_t d = e.values.size();
    Array scaled = e.vectors;  // V diag(√λ)
    for (std::size_t i = 0; i < d; ++i)
        for (std::size_t k = 0; k < d; ++k) scaled(i, k) *= std::sqrt(e.values[k]);
    return xt::linalg::dot(scaled, xt::transpose(e.vectors));
}

real frechet_distance(const FeatureMoments& a, const FeatureMoments& b) {
    require_square(a.covariance, "frechet_distance");
    require_square(b.covariance, "frechet_distance");
    const std::size_t d = a.covariance.shape()[0];
    if (b.covariance.shape()[0] != d || a.mean.size() != d || b.mean.size() != d)
        throw ShapeError("frechet_distance: the feature moments have dimensions " + std::to_string(d) + " and " +
                         std::to_string(b.covariance.shape()[0]));
    real mean_term = 0;
    for (std::size_t k = 0; k < d; ++k) {
        const real diff = a.mean.data()[k] - b.mean.data()[k];
        mean_term += diff * diff;
    }
    // tr((Σ₁^½ Σ₂ Σ₁^½)^½) = Σ √eig(Σ₁^½ Σ₂ Σ₁^½): the inner matrix is symmetric PSD.
    const Array root_a = symmetric_sqrt(a.covariance);
    const Array inner = xt::linalg::dot(xt::linalg::dot(root_a, b.covariance), root_a);
    real cross = 0;
    for (const real lambda : symmetric_eigen(inner).values) cross += std::sqrt(lambda);
    real traces = 0;
    for (std::size_t k = 0; k < d; ++k) traces += a.covariance(k, k) + b.covariance(k, k);
    return std::max<real>(0, mean_term + traces - 2 * cross);
}

}  // namespace flowtape::data
