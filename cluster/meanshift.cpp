// Flat-kernel mean shift and sklearn's bandwidth estimate (see meanshift.hpp).
#include "cluster/meanshift.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "core/error.hpp"

namespace flowtape::cluster {

namespace {

double squared_distance(const Array& A, std::size_t i, const double* b) {
    double s = 0;
    for (std::size_t j = 0; j < A.shape()[1]; ++j) {
        const double diff = A(i, j) - b[j];
        s += diff * diff;
    }
    return s;
}

// The rows of X listed in `rows`, in that order.
Array take_rows(const Array& X, const std::vector<std::size_t>& rows) {
    Array out({rows.size(), X.shape()[1]});
    for (std::size_t r = 0; r < rows.size(); ++r)
        for (std::size_t j = 0; j < X.shape()[1]; ++j) out(r, j) = X(rows[r], j);
    return out;
}

// One seed's ascent. `mean` starts at the seed and ends at the mode; returns how many points were
// within the bandwidth of the mode's predecessor (0: the seed reached none) and counts iterations.
std::size_t shift_seed(const Array& X, double bandwidth, int max_iter, std::vector<double>& mean,
                       std::vector<double>& next, int& iterations) {
    const std::size_t n = X.shape()[0], d = X.shape()[1];
    const double radius_sq = bandwidth * bandwidth, stop = 1e-3 * bandwidth;
    iterations = 0;
    for (;;) {
        std::fill(next.begin(), next.end(), 0.0);
        std::size_t within = 0;
        for (std::size_t i = 0; i < n; ++i) {
            if (squared_distance(X, i, mean.data()) > radius_sq) continue;
            ++within;
            for (std::size_t j = 0; j < d; ++j) next[j] += X(i, j);
        }
        if (within == 0) return 0;
        double moved_sq = 0;
        for (std::size_t j = 0; j < d; ++j) {
            next[j] /= static_cast<double>(within);
            moved_sq += (next[j] - mean[j]) * (next[j] - mean[j]);
        }
        mean.swap(next);
        // moved_sq == 0 also stops a zero bandwidth (stop = 0), where sklearn would run to max_iter
        // repeating the same mean.
        if (moved_sq == 0 || std::sqrt(moved_sq) < stop || iterations == max_iter) return within;
        ++iterations;
    }
}

}  // namespace

double estimate_bandwidth(const Array& X_in, double quantile, std::size_t n_samples, Rng* rng) {
    check_points(X_in, "estimate_bandwidth");
    if (!(quantile >= 0 && quantile <= 1))
        throw ValueError("estimate_bandwidth: quantile = " + std::to_string(quantile) + " is not in [0, 1]");
    Array subsample;
    const Array* X = &X_in;
    if (n_samples > 0 && n_samples < X_in.shape()[0]) {
        if (rng == nullptr) throw ValueError("estimate_bandwidth: subsampling needs an Rng");
        std::vector<std::size_t> perm = rng->permutation(X_in.shape()[0]);
        perm.resize(n_samples);
        subsample = take_rows(X_in, perm);
        X = &subsample;
    }
    const std::size_t m = X->shape()[0];
    const std::size_t neighbours = std::max<std::size_t>(1, static_cast<std::size_t>(static_cast<double>(m) * quantile));
    std::vector<double> dist_sq(m);
    double total = 0;
    for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t r = 0; r < m; ++r) dist_sq[r] = squared_distance(*X, r, &(*X)(i, 0));
        std::nth_element(dist_sq.begin(), dist_sq.begin() + static_cast<std::ptrdiff_t>(neighbours - 1), dist_sq.end());
        total += std::sqrt(dist_sq[neighbours - 1]);
    }
    return total / static_cast<double>(m);
}

Array bin_seeds(const Array& X, double bin_size, std::size_t min_bin_freq) {
    if (bin_size == 0) return X;
    const std::size_t n = X.shape()[0], d = X.shape()[1];
    std::map<std::vector<double>, std::size_t> index;  // cell → position in `cells`
    std::vector<std::vector<double>> cells;
    std::vector<std::size_t> counts;
    std::vector<double> cell(d);
    for (std::size_t i = 0; i < n; ++i) {
        // nearbyint rounds half to even in the default rounding mode, as numpy's round does.
        for (std::size_t j = 0; j < d; ++j) cell[j] = std::nearbyint(X(i, j) / bin_size);
        auto [it, inserted] = index.try_emplace(cell, cells.size());
        if (inserted) {
            cells.push_back(cell);
            counts.push_back(0);
        }
        ++counts[it->second];
    }
    std::vector<std::size_t> kept;
    for (std::size_t c = 0; c < cells.size(); ++c)
        if (counts[c] >= min_bin_freq) kept.push_back(c);
    if (kept.size() == n) return X;  // every point alone in its cell: seeding from X is the same work
    Array seeds({kept.size(), d});
    for (std::size_t s = 0; s < kept.size(); ++s)
        for (std::size_t j = 0; j < d; ++j) seeds(s, j) = cells[kept[s]][j] * bin_size;
    return seeds;
}

MeanShiftFit mean_shift(const Array& X, const MeanShiftOptions& opt, Rng* rng) {
    check_points(X, "mean_shift");
    if (!(opt.bandwidth >= 0) || !std::isfinite(opt.bandwidth))
        throw ValueError("mean_shift: bandwidth = " + std::to_string(opt.bandwidth) + " must be ≥ 0 (0: estimate)");
    if (opt.max_iter < 1) throw ValueError("mean_shift: max_iter = " + std::to_string(opt.max_iter) + " must be ≥ 1");
    const std::size_t n = X.shape()[0], d = X.shape()[1];
    MeanShiftFit fit;
    fit.bandwidth = opt.bandwidth > 0 ? opt.bandwidth : estimate_bandwidth(X, opt.quantile, opt.bandwidth_samples, rng);
    const double bw = fit.bandwidth;
    const Array seeds = opt.bin_seeding ? bin_seeds(X, bw, opt.min_bin_freq) : X;

    // Ascend from every seed; equal modes are kept once (the last seed's count wins, as in sklearn's dict).
    std::map<std::vector<double>, std::size_t> modes;
    std::vector<double> mean(d), next(d);
    int max_iterations = 0;
    for (std::size_t s = 0; s < seeds.shape()[0]; ++s) {
        for (std::size_t j = 0; j < d; ++j) mean[j] = seeds(s, j);
        int iterations = 0;
        const std::size_t within = shift_seed(X, bw, opt.max_iter, mean, next, iterations);
        max_iterations = std::max(max_iterations, iterations);
        if (within > 0) modes[mean] = within;
    }
    if (modes.empty())
        throw ValueError("mean_shift: no point within bandwidth " + std::to_string(bw) + " of any seed");

    // Rank: more points within first, then larger coordinates; drop modes near a higher-ranked one.
    std::vector<std::pair<std::vector<double>, std::size_t>> ranked(modes.begin(), modes.end());
    std::sort(ranked.begin(), ranked.end(), [](const auto& l, const auto& r) {
        if (l.second != r.second) return l.second > r.second;
        return l.first > r.first;
    });
    std::vector<bool> unique(ranked.size(), true);
    for (std::size_t i = 0; i < ranked.size(); ++i) {
        if (!unique[i]) continue;
        for (std::size_t j = i + 1; j < ranked.size(); ++j) {
            double s = 0;
            for (std::size_t c = 0; c < d; ++c) s += (ranked[i].first[c] - ranked[j].first[c]) * (ranked[i].first[c] - ranked[j].first[c]);
            if (std::sqrt(s) <= bw) unique[j] = false;
        }
    }
    std::vector<const std::vector<double>*> centres;
    for (std::size_t i = 0; i < ranked.size(); ++i)
        if (unique[i]) centres.push_back(&ranked[i].first);

    // Nearest mode for each point (ties to the higher-ranked); modes nobody chose are dropped.
    Labels nearest(n);
    std::vector<std::size_t> used(centres.size(), 0);
    for (std::size_t i = 0; i < n; ++i) {
        std::size_t best = 0;
        double best_d = squared_distance(X, i, centres[0]->data());
        for (std::size_t c = 1; c < centres.size(); ++c) {
            const double dc = squared_distance(X, i, centres[c]->data());
            if (dc < best_d) {
                best_d = dc;
                best = c;
            }
        }
        nearest[i] = static_cast<std::int64_t>(best);
        ++used[best];
    }
    std::vector<std::int64_t> renumber(centres.size(), -1);
    std::size_t k = 0;
    for (std::size_t c = 0; c < centres.size(); ++c)
        if (used[c] > 0) renumber[c] = static_cast<std::int64_t>(k++);
    Clustering& out = fit.clustering;
    out.k = k;
    out.iterations = max_iterations;
    out.centres = Array({k, d});
    for (std::size_t c = 0; c < centres.size(); ++c)
        if (renumber[c] >= 0)
            for (std::size_t j = 0; j < d; ++j) out.centres(static_cast<std::size_t>(renumber[c]), j) = (*centres[c])[j];
    out.labels.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        out.labels[i] = renumber[static_cast<std::size_t>(nearest[i])];
        out.inertia += squared_distance(X, i, &out.centres(static_cast<std::size_t>(out.labels[i]), 0));
    }
    return fit;
}

}  // namespace flowtape::cluster
