// Spectral clustering: affinity, normalised embedding by eigh, k-means (see spectral.hpp).
#include "cluster/spectral.hpp"

#include <cmath>
#include <string>
#include <vector>

#include "cluster/agglomerative.hpp"
#include "cluster/kmeans.hpp"
#include "cluster/sqdist.hpp"
#include "core/error.hpp"
#include "core/xtensor_blas.hpp"

namespace flowtape::cluster {

namespace {

// M = D^{−1/2} A D^{−1/2} with the RBF affinity A (zero diagonal), built in place in one N×N buffer.
Array normalised_affinity(const Array& X, double gamma) {
    const std::size_t n = X.shape()[0];
    const std::vector<double> norms = row_norms_squared(X);
    Array M;
    squared_distances(X, 0, n, norms, X, norms, M);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) M(i, j) = i == j ? 0.0 : std::exp(-gamma * M(i, j));
    std::vector<double> scale(n);
    for (std::size_t i = 0; i < n; ++i) {
        double degree = 0;
        for (std::size_t j = 0; j < n; ++j) degree += M(i, j);
        scale[i] = 1.0 / std::sqrt(degree > 0 ? degree : 1.0);  // isolated point: degree 1
    }
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) M(i, j) *= scale[i] * scale[j];
    return M;
}

}  // namespace

SpectralFit spectral_clustering(const Array& X, const SpectralOptions& opt, Rng& rng) {
    check_points(X, "spectral_clustering");
    const std::size_t n = X.shape()[0];
    check_k(opt.k, n, "spectral_clustering");
    if (!(opt.gamma > 0) || !std::isfinite(opt.gamma))
        throw ValueError("spectral_clustering: gamma = " + std::to_string(opt.gamma) + " must be > 0");
    if (n > opt.max_points)
        throw ValueError("spectral_clustering: " + std::to_string(n) + " points is more than the limit of " +
                         std::to_string(opt.max_points) + " (memory grows as N²); subsample X or use kmeans/birch");
    check_distinct_points(X, opt.k, "spectral_clustering");

    const Array M = normalised_affinity(X, opt.gamma);
    // eigh returns eigenvalues in ascending order: the last k columns are the ones wanted.
    const auto [values, vectors] = xt::linalg::eigh(M);
    SpectralFit fit;
    fit.embedding = Array({n, opt.k});
    for (std::size_t c = 0; c < opt.k; ++c) {
        const std::size_t col = n - 1 - c;
        fit.eigenvalues.push_back(values(col));
        for (std::size_t i = 0; i < n; ++i) fit.embedding(i, c) = vectors(i, col);
    }
    for (std::size_t i = 0; i < n; ++i) {
        double s = 0;
        for (std::size_t c = 0; c < opt.k; ++c) s += fit.embedding(i, c) * fit.embedding(i, c);
        if (s == 0) continue;  // isolated point: leave the zero row
        const double inv = 1.0 / std::sqrt(s);
        for (std::size_t c = 0; c < opt.k; ++c) fit.embedding(i, c) *= inv;
    }
    KMeansOptions km;
    km.k = opt.k;
    km.n_init = opt.n_init;
    const Clustering in_embedding = kmeans(fit.embedding, km, rng);
    fit.clustering = finish_clustering(X, in_embedding.labels);
    return fit;
}

}  // namespace flowtape::cluster
