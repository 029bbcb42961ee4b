#include "cluster/clustering.hpp"

#include <cmath>
#include <unordered_map>

#include "core/error.hpp"

namespace flowtape::cluster {

void check_points(const Array& X, const std::string& who) {
    if (X.shape()[0] == 0 || X.shape()[1] == 0)
        throw ValueError(who + ": no points (X is " + shape_string(shape_of(X)) + ")");
    for (std::size_t i = 0; i < X.shape()[0]; ++i)
        for (std::size_t j = 0; j < X.shape()[1]; ++j)
            if (!std::isfinite(X(i, j)))
                throw ValueError(who + ": non-finite value at row " + std::to_string(i) + ", column " +
                                 std::to_string(j));
}

void check_k(std::size_t k, std::size_t n, const std::string& who) {
    if (k == 0) throw ValueError(who + ": k must be at least 1");
    if (k > n)
        throw ValueError(who + ": k = " + std::to_string(k) + " is larger than the number of points (" +
                         std::to_string(n) + ")");
}

Clustering finish_clustering(const Array& X, const Labels& labels) {
    const std::size_t n = X.shape()[0], d = X.shape()[1];
    if (labels.size() != n)
        throw ShapeError("finish_clustering: " + std::to_string(labels.size()) + " labels for " +
                         std::to_string(n) + " points");
    Clustering out;
    std::unordered_map<std::int64_t, std::int64_t> renumber;
    out.labels.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        auto [it, inserted] = renumber.try_emplace(labels[i], static_cast<std::int64_t>(renumber.size()));
        out.labels[i] = it->second;
    }
    out.k = renumber.size();
    out.centres = xt::zeros<real>({out.k, d});
    std::vector<double> counts(out.k, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        const auto c = static_cast<std::size_t>(out.labels[i]);
        counts[c] += 1;
        for (std::size_t j = 0; j < d; ++j) out.centres(c, j) += X(i, j);
    }
    for (std::size_t c = 0; c < out.k; ++c)
        for (std::size_t j = 0; j < d; ++j) out.centres(c, j) /= counts[c];
    for (std::size_t i = 0; i < n; ++i) {
        const auto c = static_cast<std::size_t>(out.labels[i]);
        for (std::size_t j = 0; j < d; ++j) {
            const double diff = X(i, j) - out.centres(c, j);
            out.inertia += diff * diff;
        }
    }
    return out;
}

}  // namespace flowtape::cluster
