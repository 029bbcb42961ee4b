// Silhouette scores and choose_k (see silhouette.hpp).
#include "cluster/silhouette.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <thread>

#include "cluster/sqdist.hpp"
#include "core/error.hpp"

namespace flowtape::cluster {

namespace {

// Entries of the distance block (rows × N): about 16 MB, whatever N.
constexpr std::size_t kBlockEntries = std::size_t{1} << 21;

void check_labels(const Array& X, const Labels& labels, const std::string& who) {
    check_points(X, who);
    if (labels.size() != X.shape()[0])
        throw ValueError(who + ": " + std::to_string(labels.size()) + " labels for X of shape " +
                         shape_string(shape_of(X)));
}

// Σ_j sqrt(d[j]) over a contiguous range, with four partial sums so the additions can overlap.
double sum_sqrt(const double* d, std::size_t n) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    std::size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        s0 += std::sqrt(d[j]);
        s1 += std::sqrt(d[j + 1]);
        s2 += std::sqrt(d[j + 2]);
        s3 += std::sqrt(d[j + 3]);
    }
    for (; j < n; ++j) s0 += std::sqrt(d[j]);
    return (s0 + s1) + (s2 + s3);
}

}  // namespace

std::vector<double> silhouette_samples(const Array& X, const Labels& labels, std::size_t threads) {
    check_labels(X, labels, "silhouette_samples");
    if (threads < 1) throw ValueError("silhouette_samples: threads must be at least 1");
    const std::size_t n = X.shape()[0], d = X.shape()[1];
    // Sort the points by label (stable), so each cluster is a contiguous range [start[c], start[c+1]).
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return labels[a] < labels[b]; });
    std::vector<std::size_t> start{0};
    std::vector<std::size_t> cluster_of(n);  // in sorted order
    for (std::size_t r = 1; r < n; ++r) {
        if (labels[order[r]] != labels[order[r - 1]]) start.push_back(r);
        cluster_of[r] = start.size() - 1;
    }
    const std::size_t k = start.size();
    start.push_back(n);
    if (k < 2 || k > n - 1)
        throw ValueError("silhouette_samples: " + std::to_string(k) + " distinct labels for " + std::to_string(n) +
                         " points (needs 2 to N − 1)");
    // Sorted and centred copy: centring keeps the gemm form of the distances accurate.
    Array Xs = Array::from_shape({n, d});
    std::vector<double> mean(d, 0.0);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j) mean[j] += X(i, j);
    for (auto& m : mean) m /= static_cast<double>(n);
    for (std::size_t r = 0; r < n; ++r)
        for (std::size_t j = 0; j < d; ++j) Xs(r, j) = X(order[r], j) - mean[j];
    const std::vector<double> norms = row_norms_squared(Xs);

    std::vector<double> s(n, 0.0);
    const std::size_t block = std::max<std::size_t>(1, std::min<std::size_t>(n, kBlockEntries / n));
    const std::size_t blocks = (n + block - 1) / block;
    // One row block: its distances to every point, then a(i), b(i) from per-cluster range sums.
    auto do_block = [&](std::size_t r0, Array& D) {
        const std::size_t r1 = std::min(n, r0 + block);
        squared_distances(Xs, r0, r1, norms, Xs, norms, D);
        for (std::size_t r = r0; r < r1; ++r) {
            double* row = &D(r - r0, 0);
            row[r] = 0;  // a point's distance to itself is exactly 0 (gemm leaves rounding there)
            const std::size_t own = cluster_of[r];
            const std::size_t own_size = start[own + 1] - start[own];
            if (own_size == 1) continue;  // s = 0 for a single-point cluster
            const double a = sum_sqrt(row + start[own], own_size) / static_cast<double>(own_size - 1);
            double b = std::numeric_limits<double>::infinity();
            for (std::size_t c = 0; c < k; ++c) {
                if (c == own) continue;
                const std::size_t size = start[c + 1] - start[c];
                b = std::min(b, sum_sqrt(row + start[c], size) / static_cast<double>(size));
            }
            const double m = std::max(a, b);
            s[order[r]] = m > 0 ? (b - a) / m : 0.0;
        }
    };
    // Blocks write disjoint entries of s: a pool of threads takes them in order, each with its buffer.
    std::atomic<std::size_t> next{0};
    auto worker = [&] {
        Array D;
        for (std::size_t b = next++; b < blocks; b = next++) do_block(b * block, D);
    };
    const std::size_t pool_size = std::min(threads, blocks);
    if (pool_size <= 1) {
        worker();
    } else {
        std::vector<std::thread> pool;
        for (std::size_t t = 0; t < pool_size; ++t) pool.emplace_back(worker);
        for (auto& t : pool) t.join();
    }
    return s;
}

double silhouette_score(const Array& X, const Labels& labels, std::size_t threads) {
    const std::vector<double> s = silhouette_samples(X, labels, threads);
    return std::accumulate(s.begin(), s.end(), 0.0) / static_cast<double>(s.size());
}

double silhouette_score_sampled(const Array& X, const Labels& labels, std::size_t sample_size, Rng& rng,
                                std::size_t threads) {
    check_labels(X, labels, "silhouette_score_sampled");
    const std::size_t n = X.shape()[0], d = X.shape()[1];
    if (sample_size >= n) return silhouette_score(X, labels, threads);
    if (sample_size < 3)
        throw ValueError("silhouette_score_sampled: sample_size " + std::to_string(sample_size) + " is below 3");
    const std::vector<std::size_t> perm = rng.permutation(n);
    Array sub = Array::from_shape({sample_size, d});
    Labels sub_labels(sample_size);
    for (std::size_t r = 0; r < sample_size; ++r) {
        for (std::size_t j = 0; j < d; ++j) sub(r, j) = X(perm[r], j);
        sub_labels[r] = labels[perm[r]];
    }
    return silhouette_score(sub, sub_labels, threads);
}

ChooseKResult choose_k(const Array& X, const ChooseKOptions& opt, Rng& rng) {
    check_points(X, "choose_k");
    const std::size_t n = X.shape()[0];
    if (opt.k_min < 2) throw ValueError("choose_k: k_min must be at least 2 (got " + std::to_string(opt.k_min) + ")");
    if (opt.k_max < opt.k_min)
        throw ValueError("choose_k: k_max = " + std::to_string(opt.k_max) + " is below k_min = " +
                         std::to_string(opt.k_min));
    if (opt.k_max >= n)
        throw ValueError("choose_k: k_max = " + std::to_string(opt.k_max) + " needs more than " + std::to_string(n) +
                         " points (the silhouette needs k ≤ N − 1)");
    const std::uint64_t seed = rng.next_u64();
    ChooseKResult res;
    std::vector<Clustering> runs;
    for (std::size_t k = opt.k_min; k <= opt.k_max; ++k) {
        // Each k has its own streams: its result does not depend on which other ks were tried.
        Rng fit_rng = Rng::stream(seed, 2 * k), score_rng = Rng::stream(seed, 2 * k + 1);
        Clustering c = kmeans(X, KMeansOptions{k, opt.n_init, opt.max_iter, opt.tol, opt.threads}, fit_rng);
        std::vector<std::size_t> sizes(c.k, 0);
        for (auto l : c.labels) ++sizes[static_cast<std::size_t>(l)];
        res.ks.push_back(k);
        res.inertias.push_back(c.inertia);
        res.smallest.push_back(*std::min_element(sizes.begin(), sizes.end()));
        res.scores.push_back(c.k >= 2 ? (opt.sample_size > 0
                                             ? silhouette_score_sampled(X, c.labels, opt.sample_size, score_rng, opt.threads)
                                             : silhouette_score(X, c.labels, opt.threads))
                                      : -1.0);
        runs.push_back(std::move(c));
    }
    // The best score overall, and the best among clusterings with every cluster ≥ min_size (ties go
    // to the smaller k).
    std::size_t best = 0, best_ok = runs.size();
    for (std::size_t i = 0; i < runs.size(); ++i) {
        if (res.scores[i] > res.scores[best]) best = i;
        if (res.smallest[i] >= opt.min_size && (best_ok == runs.size() || res.scores[i] > res.scores[best_ok]))
            best_ok = i;
    }
    res.best_k = res.ks[best];
    if (best_ok == best) {
        res.k = res.ks[best];
        res.clustering = std::move(runs[best]);
    } else if (best_ok < runs.size()) {
        res.k = res.ks[best_ok];
        res.clustering = std::move(runs[best_ok]);
        res.note = "k = " + std::to_string(res.best_k) + " scored best but has a cluster of " +
                   std::to_string(res.smallest[best]) + " points (< min_size " + std::to_string(opt.min_size) +
                   "); chose the best k with all clusters >= min_size";
    } else {
        res.k = 1;
        res.clustering = finish_clustering(X, Labels(n, 0));
        res.note = "no k in [" + std::to_string(opt.k_min) + ", " + std::to_string(opt.k_max) +
                   "] has all clusters >= min_size " + std::to_string(opt.min_size) + "; using one cluster";
    }
    return res;
}

}  // namespace flowtape::cluster
