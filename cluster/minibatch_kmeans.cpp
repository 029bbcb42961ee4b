// Mini-batch k-means (see minibatch_kmeans.hpp).
#include "cluster/minibatch_kmeans.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "cluster/kmeans.hpp"
#include "cluster/sqdist.hpp"
#include "core/error.hpp"

namespace flowtape::cluster {

namespace {

// Nearest centre of each row of B (all of its rows, one gemm); returns Σ of the minimum distances.
double assign_batch(const Array& B, const std::vector<double>& bnorms, const Array& centres, Labels& labels,
                    Array& dist) {
    const std::size_t n = B.shape()[0], k = centres.shape()[0];
    squared_distances(B, 0, n, bnorms, centres, row_norms_squared(centres), dist);
    labels.resize(n);
    double total = 0;
    for (std::size_t i = 0; i < n; ++i) {
        std::size_t best = 0;
        for (std::size_t j = 1; j < k; ++j)
            if (dist(i, j) < dist(i, best)) best = j;
        labels[i] = static_cast<std::int64_t>(best);
        total += dist(i, best);
    }
    return total;
}

void gather(const Array& X, const std::vector<std::size_t>& rows, Array& out, std::vector<double>& norms) {
    const std::size_t d = X.shape()[1];
    ensure_shape(out, {rows.size(), d});
    for (std::size_t r = 0; r < rows.size(); ++r)
        for (std::size_t j = 0; j < d; ++j) out(r, j) = X(rows[r], j);
    norms = row_norms_squared(out);
}

// Moves centres with few points to random points of the batch (sklearn's random reassignment).
void reassign_small(const Array& B, Array& centres, std::vector<double>& counts, double ratio, Rng& rng) {
    const std::size_t k = centres.shape()[0], d = centres.shape()[1];
    const double limit = ratio * *std::max_element(counts.begin(), counts.end());
    std::vector<std::size_t> small;
    double smallest_kept = std::numeric_limits<double>::infinity();
    for (std::size_t c = 0; c < k; ++c) {
        if (counts[c] < limit) small.push_back(c);
        else smallest_kept = std::min(smallest_kept, counts[c]);
    }
    // At most half the batch is used for new centres; keep the least populated ones.
    const std::size_t cap = B.shape()[0] / 2;
    if (small.size() > cap) {
        std::sort(small.begin(), small.end(), [&](std::size_t a, std::size_t b) { return counts[a] < counts[b]; });
        small.resize(cap);
    }
    if (small.empty()) return;
    const std::vector<std::size_t> perm = rng.permutation(B.shape()[0]);
    for (std::size_t s = 0; s < small.size(); ++s) {
        for (std::size_t j = 0; j < d; ++j) centres(small[s], j) = B(perm[s], j);
        counts[small[s]] = smallest_kept;
    }
}

double inertia_on(const Array& B, const std::vector<double>& bnorms, const Array& centres) {
    Labels labels;
    Array dist;
    return assign_batch(B, bnorms, centres, labels, dist);
}

}  // namespace

Clustering minibatch_kmeans(const Array& X, const MiniBatchKMeansOptions& opt, Rng& rng) {
    const std::string who = "minibatch_kmeans";
    check_points(X, who);
    const std::size_t n = X.shape()[0], d = X.shape()[1], k = opt.k;
    check_k(k, n, who);
    if (opt.batch_size == 0) throw ValueError(who + ": batch_size must be at least 1");
    if (opt.max_epochs < 1) throw ValueError(who + ": max_epochs must be at least 1 (got " + std::to_string(opt.max_epochs) + ")");
    if (opt.n_init < 1) throw ValueError(who + ": n_init must be at least 1 (got " + std::to_string(opt.n_init) + ")");
    if (!(opt.reassignment_ratio >= 0))
        throw ValueError(who + ": reassignment_ratio must be ≥ 0 (got " + std::to_string(opt.reassignment_ratio) + ")");
    const std::size_t batch = std::min(opt.batch_size, n);
    std::size_t init_size = opt.init_size > 0 ? opt.init_size : std::max(3 * batch, 3 * k);
    init_size = std::max(k, std::min(init_size, n));
    const std::uint64_t seed = rng.next_u64();

    // Seeding: the best of n_init k-means++ runs, each on its own random subset.
    Array centres, B;
    std::vector<double> bnorms;
    std::vector<std::size_t> rows;
    double best = std::numeric_limits<double>::infinity();
    for (int t = 0; t < opt.n_init; ++t) {
        Rng s = Rng::stream(seed, static_cast<std::uint64_t>(t));
        rows.resize(init_size);
        for (auto& r : rows) r = static_cast<std::size_t>(s.below(n));
        gather(X, rows, B, bnorms);
        Array c = kmeans_plusplus(B, k, s);
        const double inertia = inertia_on(B, bnorms, c);
        if (inertia < best) best = inertia, centres = std::move(c);
    }

    // Mini-batch steps.
    Rng s = Rng::stream(seed, static_cast<std::uint64_t>(opt.n_init));
    std::vector<double> counts(k, 0.0), sums(k * d);
    std::vector<double> batch_counts(k);
    Labels labels;
    Array dist;
    rows.resize(batch);
    const std::size_t steps = std::max<std::size_t>(1, static_cast<std::size_t>(opt.max_epochs) * n / batch);
    const double alpha = std::min(1.0, 2.0 * static_cast<double>(batch) / static_cast<double>(n + 1));
    double ewa = 0, ewa_min = std::numeric_limits<double>::infinity();
    int no_improvement = 0;
    std::size_t since_reassign = 0;
    for (std::size_t step = 0; step < steps; ++step) {
        for (auto& r : rows) r = static_cast<std::size_t>(s.below(n));
        gather(X, rows, B, bnorms);
        const double batch_inertia = assign_batch(B, bnorms, centres, labels, dist) / static_cast<double>(batch);
        // Per-centre learning rate 1/count: the centre stays the mean of every point it has received.
        std::fill(sums.begin(), sums.end(), 0.0);
        std::fill(batch_counts.begin(), batch_counts.end(), 0.0);
        for (std::size_t i = 0; i < batch; ++i) {
            const auto c = static_cast<std::size_t>(labels[i]);
            batch_counts[c] += 1;
            for (std::size_t j = 0; j < d; ++j) sums[c * d + j] += B(i, j);
        }
        for (std::size_t c = 0; c < k; ++c) {
            if (batch_counts[c] == 0) continue;
            const double total = counts[c] + batch_counts[c];
            for (std::size_t j = 0; j < d; ++j) centres(c, j) = (centres(c, j) * counts[c] + sums[c * d + j]) / total;
            counts[c] = total;
        }
        since_reassign += batch;
        const bool any_empty = std::any_of(counts.begin(), counts.end(), [](double v) { return v == 0; });
        if (opt.reassignment_ratio > 0 && (any_empty || since_reassign >= 10 * k)) {
            since_reassign = 0;
            reassign_small(B, centres, counts, opt.reassignment_ratio, s);
        }
        // Early stopping on the smoothed batch inertia (the first step is a warm-up).
        if (step == 0) {
            ewa = batch_inertia;
            continue;
        }
        ewa = ewa * (1 - alpha) + batch_inertia * alpha;
        if (ewa < ewa_min) {
            ewa_min = ewa;
            no_improvement = 0;
        } else if (opt.max_no_improvement > 0 && ++no_improvement >= opt.max_no_improvement) {
            break;
        }
    }

    // Final labels over all of X; clusters left empty are dropped by finish_clustering's renumbering,
    // but the centres reported are the trained ones for the clusters that remain.
    const Labels final_labels = predict(centres, X);
    std::vector<std::int64_t> renumber(k, -1);
    std::size_t used = 0;
    for (auto l : final_labels)
        if (renumber[static_cast<std::size_t>(l)] < 0) renumber[static_cast<std::size_t>(l)] = 0;
    for (std::size_t c = 0; c < k; ++c)
        if (renumber[c] == 0) renumber[c] = static_cast<std::int64_t>(used++);
    Clustering out;
    out.k = used;
    out.centres = Array::from_shape({used, d});
    for (std::size_t c = 0; c < k; ++c)
        if (renumber[c] >= 0)
            for (std::size_t j = 0; j < d; ++j) out.centres(static_cast<std::size_t>(renumber[c]), j) = centres(c, j);
    out.labels.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        out.labels[i] = renumber[static_cast<std::size_t>(final_labels[i])];
        const auto c = static_cast<std::size_t>(out.labels[i]);
        for (std::size_t j = 0; j < d; ++j) out.inertia += (X(i, j) - out.centres(c, j)) * (X(i, j) - out.centres(c, j));
    }
    return out;
}

}  // namespace flowtape::cluster
