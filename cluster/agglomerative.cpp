// Ward clustering by the nearest-neighbour chain on centroids (see agglomerative.hpp).
#include "cluster/agglomerative.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.hpp"

namespace flowtape::cluster {

namespace {

// The squared Ward distance 2·|A||B|/(|A|+|B|)·‖c_A − c_B‖² between the clusters in slots a and b.
double ward_sq(const std::vector<double>& centroids, const std::vector<double>& sizes, std::size_t d,
               std::size_t a, std::size_t b) {
    const double* ca = &centroids[a * d];
    const double* cb = &centroids[b * d];
    double s = 0;
    for (std::size_t j = 0; j < d; ++j) {
        const double diff = ca[j] - cb[j];
        s += diff * diff;
    }
    return 2.0 * sizes[a] * sizes[b] / (sizes[a] + sizes[b]) * s;
}

std::size_t find_root(std::vector<std::size_t>& parent, std::size_t i) {
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];  // path halving keeps the trees shallow
        i = parent[i];
    }
    return i;
}

}  // namespace

std::vector<WardMerge> ward_tree(const Array& X, std::size_t max_points) {
    check_points(X, "ward_tree");
    const std::size_t n = X.shape()[0], d = X.shape()[1];
    if (n > max_points)
        throw ValueError("ward_tree: " + std::to_string(n) + " points is more than the limit of " +
                         std::to_string(max_points) + " (time grows as N²); subsample X or use birch");
    // Slot s holds the cluster containing leaf s while it is active; merging b into a frees slot b.
    std::vector<double> centroids(X.begin(), X.end());
    std::vector<double> sizes(n, 1.0);
    std::vector<std::size_t> active(n), where(n);
    std::iota(active.begin(), active.end(), std::size_t{0});
    std::iota(where.begin(), where.end(), std::size_t{0});
    std::vector<std::size_t> chain;
    chain.reserve(n);
    std::vector<WardMerge> merges;
    merges.reserve(n - 1);
    constexpr std::size_t none = std::numeric_limits<std::size_t>::max();

    while (active.size() > 1) {
        if (chain.empty()) chain.push_back(active[0]);
        // Grow the chain until its last two clusters are each other's nearest neighbours. The
        // previous link wins ties, which is what guarantees the chain stops.
        std::size_t a = chain.back(), prev = none;
        double best_d = 0;
        for (;;) {
            a = chain.back();
            prev = chain.size() >= 2 ? chain[chain.size() - 2] : none;
            std::size_t best = prev;
            best_d = prev != none ? ward_sq(centroids, sizes, d, a, prev) : std::numeric_limits<double>::infinity();
            for (const std::size_t c : active) {
                if (c == a) continue;
                const double dc = ward_sq(centroids, sizes, d, a, c);
                if (dc < best_d) {
                    best_d = dc;
                    best = c;
                }
            }
            if (best == prev) break;
            chain.push_back(best);
        }
        chain.pop_back();
        chain.pop_back();
        merges.push_back({a, prev, std::sqrt(best_d)});
        // Merge slot `prev` into slot `a`.
        const double na = sizes[a], nb = sizes[prev];
        for (std::size_t j = 0; j < d; ++j)
            centroids[a * d + j] = (na * centroids[a * d + j] + nb * centroids[prev * d + j]) / (na + nb);
        sizes[a] = na + nb;
        const std::size_t hole = where[prev];
        active[hole] = active.back();
        where[active[hole]] = hole;
        active.pop_back();
    }
    std::stable_sort(merges.begin(), merges.end(),
                     [](const WardMerge& l, const WardMerge& r) { return l.height < r.height; });
    return merges;
}

Clustering agglomerative_ward(const Array& X, const WardOptions& opt) {
    check_points(X, "agglomerative_ward");
    const std::size_t n = X.shape()[0];
    check_k(opt.k, n, "agglomerative_ward");
    const std::vector<WardMerge> merges = ward_tree(X, opt.max_points);
    std::vector<std::size_t> parent(n);
    std::iota(parent.begin(), parent.end(), std::size_t{0});
    for (std::size_t m = 0; m + opt.k < n; ++m) {
        const std::size_t ra = find_root(parent, merges[m].a), rb = find_root(parent, merges[m].b);
        parent[rb] = ra;
    }
    Labels labels(n);
    for (std::size_t i = 0; i < n; ++i) labels[i] = static_cast<std::int64_t>(find_root(parent, i));
    return finish_clustering(X, labels);
}

std::size_t count_distinct_rows(const Array& X) {
    const std::size_t n = X.shape()[0], d = X.shape()[1];
    if (n == 0) return 0;
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    auto row_less = [&](std::size_t a, std::size_t b) {
        for (std::size_t j = 0; j < d; ++j)
            if (X(a, j) != X(b, j)) return X(a, j) < X(b, j);
        return false;
    };
    std::sort(order.begin(), order.end(), row_less);
    std::size_t distinct = 1;
    for (std::size_t i = 1; i < n; ++i)
        if (row_less(order[i - 1], order[i])) ++distinct;
    return distinct;
}

void check_distinct_points(const Array& X, std::size_t k, const std::string& who) {
    const std::size_t distinct = count_distinct_rows(X);
    if (distinct < k)
        throw ValueError(who + ": X has only " + std::to_string(distinct) + " distinct points, fewer than k = " +
                         std::to_string(k));
}

}  // namespace flowtape::cluster
