// k-means (see kmeans.hpp): k-means++ seeding and Lloyd iterations in the manner of scikit-learn 1.2.
//
// Note [centring]: like sklearn, we subtract the mean of X before fitting (and add it back to the
// centres at the end). The gemm form ‖x‖² + ‖c‖² − 2 x·c loses digits when the data sit far from the
// origin; centring keeps the cancellation small.
#include "cluster/kmeans.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <functional>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "cluster/sqdist.hpp"
#include "core/error.hpp"

namespace flowtape::cluster {

namespace {

// Rows per gemm block in the assignment step: memory O(block·k), large enough to amortise the call.
constexpr std::size_t kBlock = 512;

// X with its column means subtracted, and those means (Note [centring]).
struct Centred {
    Array X;
    std::vector<double> mean;
    std::vector<double> norms;
};

Centred centre_points(const Array& X) {
    const std::size_t n = X.shape()[0], d = X.shape()[1];
    Centred c;
    c.mean.assign(d, 0.0);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j) c.mean[j] += X(i, j);
    for (auto& m : c.mean) m /= static_cast<double>(n);
    c.X = Array::from_shape({n, d});
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j) c.X(i, j) = X(i, j) - c.mean[j];
    c.norms = row_norms_squared(c.X);
    return c;
}

// sklearn's tolerance: tol times the mean over features of the (population) variance of X.
double absolute_tolerance(const Array& Xc, double tol) {
    const std::size_t n = Xc.shape()[0], d = Xc.shape()[1];
    double total = 0;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j) total += Xc(i, j) * Xc(i, j);  // Xc has zero column means
    return tol * total / static_cast<double>(n * d);
}

// labels[i] = argmin_j ‖x_i − c_j‖² (ties to the lower j); min_dist[i] the minimum (when non-null).
void assign(const Array& X, const std::vector<double>& xnorms, const Array& centres, Labels& labels,
            std::vector<double>* min_dist, Array& block) {
    const std::size_t n = X.shape()[0], k = centres.shape()[0];
    const std::vector<double> cnorms = row_norms_squared(centres);
    labels.resize(n);
    if (min_dist) min_dist->resize(n);
    for (std::size_t r0 = 0; r0 < n; r0 += kBlock) {
        const std::size_t r1 = std::min(n, r0 + kBlock);
        squared_distances(X, r0, r1, xnorms, centres, cnorms, block);
        for (std::size_t i = r0; i < r1; ++i) {
            std::size_t best = 0;
            double best_d = block(i - r0, 0);
            for (std::size_t j = 1; j < k; ++j)
                if (block(i - r0, j) < best_d) best_d = block(i - r0, j), best = j;
            labels[i] = static_cast<std::int64_t>(best);
            if (min_dist) (*min_dist)[i] = best_d;
        }
    }
}

// Σ ‖x_i − c_{label i}‖², computed directly (not through gemm) for full precision.
double inertia_of(const Array& X, const Array& centres, const Labels& labels) {
    const std::size_t n = X.shape()[0], d = X.shape()[1];
    double total = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const auto c = static_cast<std::size_t>(labels[i]);
        for (std::size_t j = 0; j < d; ++j) {
            const double diff = X(i, j) - centres(c, j);
            total += diff * diff;
        }
    }
    return total;
}

// The M-step: new centres are the means of their points. An empty cluster takes the point farthest
// from its (old) centre, as sklearn's _relocate_empty_clusters does, so no centre is left undefined.
// Returns Σ_j ‖new_j − old_j‖².
double update_centres(const Array& X, const Labels& labels, const Array& old_centres, Array& new_centres,
                      std::vector<double>& counts) {
    const std::size_t n = X.shape()[0], d = X.shape()[1], k = old_centres.shape()[0];
    ensure_shape(new_centres, {k, d});
    new_centres.fill(0.0);
    counts.assign(k, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        const auto c = static_cast<std::size_t>(labels[i]);
        counts[c] += 1;
        for (std::size_t j = 0; j < d; ++j) new_centres(c, j) += X(i, j);
    }
    std::vector<std::size_t> empty;
    for (std::size_t c = 0; c < k; ++c)
        if (counts[c] == 0) empty.push_back(c);
    if (!empty.empty()) {
        std::vector<double> far(n);
        for (std::size_t i = 0; i < n; ++i) {
            const auto c = static_cast<std::size_t>(labels[i]);
            double s = 0;
            for (std::size_t j = 0; j < d; ++j) s += (X(i, j) - old_centres(c, j)) * (X(i, j) - old_centres(c, j));
            far[i] = s;
        }
        std::vector<std::size_t> order(n);
        for (std::size_t i = 0; i < n; ++i) order[i] = i;
        std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(empty.size()), order.end(),
                          [&](std::size_t a, std::size_t b) { return far[a] > far[b] || (far[a] == far[b] && a < b); });
        for (std::size_t e = 0; e < empty.size(); ++e) {
            const std::size_t i = order[e], from = static_cast<std::size_t>(labels[i]);
            if (counts[from] <= 1) continue;  // its own cluster would become empty: leave the hole
            for (std::size_t j = 0; j < d; ++j) {
                new_centres(from, j) -= X(i, j);
                new_centres(empty[e], j) = X(i, j);
            }
            counts[from] -= 1;
            counts[empty[e]] = 1;
        }
    }
    double shift = 0;
    for (std::size_t c = 0; c < k; ++c)
        for (std::size_t j = 0; j < d; ++j) {
            new_centres(c, j) = counts[c] > 0 ? new_centres(c, j) / counts[c] : old_centres(c, j);
            const double diff = new_centres(c, j) - old_centres(c, j);
            shift += diff * diff;
        }
    return shift;
}

struct Run {
    Labels labels;
    Array centres;
    double inertia = 0;
    int iterations = 0;
};

// sklearn's _kmeans_single_lloyd: iterate until the labels stop changing (strict convergence) or the
// centres move by at most tol_abs in total squared shift; after a tolerance stop, one more assignment
// so the labels belong to the final centres.
Run lloyd(const Array& X, const std::vector<double>& xnorms, Array centres, int max_iter, double tol_abs) {
    const std::size_t n = X.shape()[0];
    Run run;
    Labels labels_old(n, -1);
    Array next, block;
    std::vector<double> counts;
    bool strict = false;
    int it = 0;
    for (; it < max_iter; ++it) {
        assign(X, xnorms, centres, run.labels, nullptr, block);
        const double shift = update_centres(X, run.labels, centres, next, counts);
        std::swap(centres, next);
        if (run.labels == labels_old) {
            strict = true;
            break;
        }
        if (shift <= tol_abs) break;
        labels_old = run.labels;
    }
    run.iterations = std::min(it + 1, max_iter);
    if (!strict) assign(X, xnorms, centres, run.labels, nullptr, block);
    run.inertia = inertia_of(X, centres, run.labels);
    run.centres = std::move(centres);
    return run;
}

// Greedy k-means++ on centred points (sklearn's _kmeans_plusplus, unit sample weights).
Array plusplus(const Array& X, const std::vector<double>& xnorms, std::size_t k, Rng& rng, const std::string& who) {
    const std::size_t n = X.shape()[0], d = X.shape()[1];
    const std::size_t trials = 2 + static_cast<std::size_t>(std::log(static_cast<double>(k)));
    Array centres = Array::from_shape({k, d});
    auto set_centre = [&](std::size_t c, std::size_t i) {
        for (std::size_t j = 0; j < d; ++j) centres(c, j) = X(i, j);
    };
    const std::size_t first = static_cast<std::size_t>(rng.below(n));
    set_centre(0, first);
    Array one = Array::from_shape({1, d}), dist;
    for (std::size_t j = 0; j < d; ++j) one(0, j) = X(first, j);
    squared_distances(X, 0, n, xnorms, one, {xnorms[first]}, dist);
    std::vector<double> closest(n), cumsum(n);
    for (std::size_t i = 0; i < n; ++i) closest[i] = dist(i, 0);
    Array cand = Array::from_shape({trials, d});
    std::vector<std::size_t> cand_ids(trials);
    std::vector<double> cand_norms(trials);
    for (std::size_t c = 1; c < k; ++c) {
        double pot = 0;
        for (std::size_t i = 0; i < n; ++i) cumsum[i] = (pot += closest[i]);
        if (!(pot > 0))
            throw ValueError(who + ": fewer than k = " + std::to_string(k) + " distinct points (found only " +
                             std::to_string(c) + ")");
        // Each candidate is drawn with probability proportional to its squared distance to the
        // nearest chosen centre: the first index whose cumulative sum exceeds a uniform draw.
        for (std::size_t t = 0; t < trials; ++t) {
            const double r = rng.uniform() * pot;
            auto it = std::upper_bound(cumsum.begin(), cumsum.end(), r);
            std::size_t id = it == cumsum.end() ? n - 1 : static_cast<std::size_t>(it - cumsum.begin());
            cand_ids[t] = id;
            cand_norms[t] = xnorms[id];
            for (std::size_t j = 0; j < d; ++j) cand(t, j) = X(id, j);
        }
        squared_distances(X, 0, n, xnorms, cand, cand_norms, dist);
        // Keep the candidate whose addition lowers the potential Σ min(closest, dist) most.
        std::size_t best = 0;
        double best_pot = std::numeric_limits<double>::infinity();
        for (std::size_t t = 0; t < trials; ++t) {
            double p = 0;
            for (std::size_t i = 0; i < n; ++i) p += std::min(closest[i], dist(i, t));
            if (p < best_pot) best_pot = p, best = t;
        }
        for (std::size_t i = 0; i < n; ++i) closest[i] = std::min(closest[i], dist(i, best));
        set_centre(c, cand_ids[best]);
    }
    return centres;
}

void check_iterations(int max_iter, double tol, const std::string& who) {
    if (max_iter < 1) throw ValueError(who + ": max_iter must be at least 1 (got " + std::to_string(max_iter) + ")");
    if (!(tol >= 0) || !std::isfinite(tol))
        throw ValueError(who + ": tol must be finite and ≥ 0 (got " + std::to_string(tol) + ")");
}

// Adds the mean back to the centres and drops clusters left empty by the last assignment (only a
// tolerance stop can leave one), so every label 0..k−1 is used.
Clustering finish(const Centred& c, Run run) {
    const std::size_t k = run.centres.shape()[0], d = run.centres.shape()[1];
    std::vector<std::int64_t> counts(k, 0), renumber(k, -1);
    for (auto l : run.labels) ++counts[static_cast<std::size_t>(l)];
    std::size_t used = 0;
    for (std::size_t j = 0; j < k; ++j)
        if (counts[j] > 0) renumber[j] = static_cast<std::int64_t>(used++);
    Clustering out;
    out.k = used;
    out.centres = Array::from_shape({used, d});
    for (std::size_t j = 0; j < k; ++j)
        if (renumber[j] >= 0)
            for (std::size_t m = 0; m < d; ++m)
                out.centres(static_cast<std::size_t>(renumber[j]), m) = run.centres(j, m) + c.mean[m];
    out.labels.resize(run.labels.size());
    for (std::size_t i = 0; i < run.labels.size(); ++i)
        out.labels[i] = renumber[static_cast<std::size_t>(run.labels[i])];
    out.inertia = run.inertia;
    out.iterations = run.iterations;
    return out;
}

}  // namespace

Array kmeans_plusplus(const Array& X, std::size_t k, Rng& rng) {
    check_points(X, "kmeans_plusplus");
    check_k(k, X.shape()[0], "kmeans_plusplus");
    const Centred c = centre_points(X);
    Array centres = plusplus(c.X, c.norms, k, rng, "kmeans_plusplus");
    for (std::size_t i = 0; i < k; ++i)
        for (std::size_t j = 0; j < X.shape()[1]; ++j) centres(i, j) += c.mean[j];
    return centres;
}

Clustering kmeans(const Array& X, const KMeansOptions& opt, Rng& rng) {
    check_points(X, "kmeans");
    check_k(opt.k, X.shape()[0], "kmeans");
    check_iterations(opt.max_iter, opt.tol, "kmeans");
    if (opt.n_init < 1) throw ValueError("kmeans: n_init must be at least 1 (got " + std::to_string(opt.n_init) + ")");
    const Centred c = centre_points(X);
    const double tol_abs = absolute_tolerance(c.X, opt.tol);
    if (opt.threads < 1) throw ValueError("kmeans: threads must be at least 1");
    const std::uint64_t seed = rng.next_u64();
    // Restarts are independent (each has its own stream): a pool of threads takes them in order, and
    // each thread keeps only its best run, so memory stays O(threads·N). The winner is the lowest
    // (inertia, restart) pair, whatever the scheduling.
    const std::size_t n_init = static_cast<std::size_t>(opt.n_init);
    const std::size_t threads = std::min(opt.threads, n_init);
    struct Best {
        Run run;
        std::size_t restart = 0;
        bool any = false;
        std::exception_ptr error;
    };
    std::vector<Best> bests(threads);
    std::atomic<std::size_t> next{0};
    auto worker = [&](Best& mine) {
        try {
            for (std::size_t r = next++; r < n_init; r = next++) {
                Rng stream = Rng::stream(seed, r);
                Run run = lloyd(c.X, c.norms, plusplus(c.X, c.norms, opt.k, stream, "kmeans"), opt.max_iter, tol_abs);
                if (!mine.any || run.inertia < mine.run.inertia || (run.inertia == mine.run.inertia && r < mine.restart))
                    mine.run = std::move(run), mine.restart = r, mine.any = true;
            }
        } catch (...) {
            mine.error = std::current_exception();
            next = n_init;  // stop the other threads early
        }
    };
    if (threads <= 1) {
        worker(bests[0]);
    } else {
        std::vector<std::thread> pool;
        for (std::size_t t = 0; t < threads; ++t) pool.emplace_back(worker, std::ref(bests[t]));
        for (auto& t : pool) t.join();
    }
    std::size_t best = threads;
    for (std::size_t t = 0; t < threads; ++t) {
        if (bests[t].error) std::rethrow_exception(bests[t].error);
        if (!bests[t].any) continue;
        if (best == threads || bests[t].run.inertia < bests[best].run.inertia ||
            (bests[t].run.inertia == bests[best].run.inertia && bests[t].restart < bests[best].restart))
            best = t;
    }
    return finish(c, std::move(bests[best].run));
}

Clustering kmeans_from(const Array& X, const Array& initial_centres, int max_iter, double tol) {
    check_points(X, "kmeans_from");
    check_iterations(max_iter, tol, "kmeans_from");
    const std::size_t d = X.shape()[1], k = initial_centres.shape()[0];
    if (initial_centres.shape()[1] != d)
        throw ShapeError("kmeans_from: initial centres are " + shape_string(shape_of(initial_centres)) +
                         " but X is " + shape_string(shape_of(X)) + " (columns differ)");
    check_k(k, X.shape()[0], "kmeans_from");
    check_points(initial_centres, "kmeans_from (initial centres)");
    const Centred c = centre_points(X);
    Array centres = initial_centres;
    for (std::size_t i = 0; i < k; ++i)
        for (std::size_t j = 0; j < d; ++j) centres(i, j) -= c.mean[j];
    return finish(c, lloyd(c.X, c.norms, std::move(centres), max_iter, absolute_tolerance(c.X, tol)));
}

Labels predict(const Array& centres, const Array& X) {
    check_points(centres, "predict (centres)");
    if (X.shape()[0] == 0) return {};
    check_points(X, "predict");
    if (centres.shape()[1] != X.shape()[1])
        throw ShapeError("predict: centres are " + shape_string(shape_of(centres)) + " but X is " +
                         shape_string(shape_of(X)) + " (columns differ)");
    Labels labels;
    Array block;
    assign(X, row_norms_squared(X), centres, labels, nullptr, block);
    return labels;
}

}  // namespace flowtape::cluster
