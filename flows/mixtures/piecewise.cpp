// fit_piecewise: cluster, then one fit per cluster, assembled into the Mixture of eqs. 13–15.
#include "flows/mixtures/piecewise.hpp"

#include <chrono>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>
#include <numeric>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cluster/kmeans.hpp"
#include "cluster/registry.hpp"
#include "cluster/silhouette.hpp"
#include "core/communicator.hpp"
#include "core/error.hpp"
#include "core/parallel.hpp"
#include "flows/training/data_parallel.hpp"
#include "flows/transforms/standardize.hpp"
#include "flows/transforms/bounded_to_normal.hpp"

namespace flowtape {

// ---- training ----
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

void check_inputs(const Array& x, const PiecewiseOptions& o, const Array* weights) {
    cluster::check_points(x, "fit_piecewise");  // empty or non-finite data
    const std::size_t n = x.shape()[0];
    if (weights) {
        if (weights->shape()[0] != n || weights->shape()[1] != 1)
            throw ShapeError("fit_piecewise: weights are " + shape_string(shape_of(*weights)) + ", expected " +
                             std::to_string(n) + "×1");
        real total = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const real w = (*weights)(i, 0);
            if (!std::isfinite(w) || w < 0)
                throw ValueError("fit_piecewise: weight of row " + std::to_string(i) + " is " + std::to_string(w) +
                                 " (weights must be finite and ≥ 0)");
            total += w;
        }
        if (!(total > 0)) throw ValueError("fit_piecewise: the weights sum to zero");
    }
    if (o.k == 0 && (o.k_min < 2 || o.k_max < o.k_min))
        throw ValueError("fit_piecewise: choosing k needs 2 ≤ k_min ≤ k_max, got k_min = " + std::to_string(o.k_min) +
                         ", k_max = " + std::to_string(o.k_max));
    if (o.k > n)
        throw ValueError("fit_piecewise: k = " + std::to_string(o.k) + " is larger than the number of rows (" +
                         std::to_string(n) + ")");
    if (o.threads == 0) throw ValueError("fit_piecewise: threads must be at least 1");
}

real mean_silhouette(const Array& x, const cluster::Labels& labels, std::size_t sample, Rng& rng) {
    return sample > 0 && sample < x.shape()[0] ? cluster::silhouette_score_sampled(x, labels, sample, rng)
                                               : cluster::silhouette_score(x, labels);
}

// The clustering step: the given k, or the k in [k_min, k_max] with the best mean silhouette.
cluster::Clustering cluster_all_rows(const Array& x, const PiecewiseOptions& o, PiecewiseReport& report) {
    const std::size_t n = x.shape()[0];
    Rng rng = Rng::stream(o.seed, 0);
    if (o.k > 0 || o.algorithm == "meanshift") return cluster::cluster_points(o.algorithm, x, o.k > 0 ? o.k : 1, rng);
    if (n < 3) return cluster::finish_clustering(x, cluster::Labels(n, 0));
    const std::size_t k_max = std::min(o.k_max, n - 1);
    cluster::Clustering best;
    real best_score = -std::numeric_limits<real>::infinity();
    for (std::size_t k = std::min(o.k_min, k_max); k <= k_max; ++k) {
        cluster::Clustering c = cluster::cluster_points(o.algorithm, x, k, rng);
        const real score = c.k >= 2 ? mean_silhouette(x, c.labels, o.silhouette_sample, rng) : -1.0;
        report.ks.push_back(k);
        report.silhouettes.push_back(score);
        if (score > best_score) {
            best_score = score;
            best = std::move(c);
        }
    }
    return best;
}

// cluster_all_rows on every row, or on a random subset with the other rows joining the nearest mean.
cluster::Clustering cluster_rows(const Array& x, const PiecewiseOptions& o, PiecewiseReport& report) {
    const std::size_t n = x.shape()[0];
    if (o.cluster_subsample == 0 || o.cluster_subsample >= n) return cluster_all_rows(x, o, report);
    Rng pick = Rng::stream(o.seed, 1u << 20);
    std::vector<std::size_t> order = pick.permutation(n);
    Array subset = Array::from_shape({o.cluster_subsample, x.shape()[1]});
    for (std::size_t r = 0; r < o.cluster_subsample; ++r)
        for (std::size_t j = 0; j < x.shape()[1]; ++j) subset(r, j) = x(order[r], j);
    const cluster::Clustering on_subset = cluster_all_rows(subset, o, report);
    report.clustering_note += (report.clustering_note.empty() ? "" : "; ") + std::string("clustered ") +
                              std::to_string(o.cluster_subsample) + " of " + std::to_string(n) +
                              " rows, the rest joined the nearest cluster mean";
    return cluster::finish_clustering(x, cluster::predict(on_subset.centres, x));
}

// Merges every cluster smaller than min_size into the cluster whose mean is nearest to its own, the
// smallest first, until all are large enough or one is left.
cluster::Clustering merge_small_clusters(const Array& x, cluster::Clustering c, std::size_t min_size,
                                         std::string& note) {
    while (c.k > 1) {
        std::vector<std::size_t> size(c.k, 0);
        for (auto l : c.labels) ++size[static_cast<std::size_t>(l)];
        const std::size_t small = static_cast<std::size_t>(std::min_element(size.begin(), size.end()) - size.begin());
        if (size[small] >= min_size) break;
        std::size_t nearest = small == 0 ? 1 : 0;
        real nearest_d2 = std::numeric_limits<real>::infinity();
        for (std::size_t other = 0; other < c.k; ++other) {
            if (other == small) continue;
            real d2 = 0;
            for (std::size_t j = 0; j < x.shape()[1]; ++j) {
                const real diff = c.centres(small, j) - c.centres(other, j);
                d2 += diff * diff;
            }
            if (d2 < nearest_d2) {
                nearest_d2 = d2;
                nearest = other;
            }
        }
        note += (note.empty() ? "" : "; ") + std::string("merged a cluster of ") + std::to_string(size[small]) +
                " rows (< " + std::to_string(min_size) + ") into its nearest neighbour";
        for (auto& l : c.labels)
            if (static_cast<std::size_t>(l) == small) l = static_cast<std::int64_t>(nearest);
        c = cluster::finish_clustering(x, c.labels);
    }
    return c;
}

struct Piece {
    Array x;
    Array w;  // N_k×1, empty without sample weights
    real weight = 0;
    DistributionPtr model;
    FitReport fit;
    std::exception_ptr error;
};

void train_piece(Piece& p, std::size_t k, const PiecewiseOptions& o) {
    try {
        FitOptions f = o.fit;
        f.communicator = nullptr;  // a piece trains on one rank (PiecewiseOptions::communicator spreads them)
        f.seed = Rng::stream(o.seed, 2 * k + 2).next_u64();
        // Progress lines of parallel fits would interleave (on threads, or on ranks: rank 0 prints them all after).
        if (o.threads > 1 || (o.communicator && o.communicator->size() > 1)) f.quiet = true;
        p.fit = fit(*p.model, p.x, f, p.w.size() ? &p.w : nullptr);
    } catch (...) {
        p.error = std::current_exception();
    }
}

// Every rank takes rank 0's clustering (the same code on every rank should agree; this makes sure,
// whatever the machines' arithmetic).
void share_clustering(Communicator& comm, cluster::Clustering& c) {
    std::vector<double> labels(c.labels.begin(), c.labels.end());
    labels.push_back(static_cast<double>(c.k));
    comm.broadcast(labels, 0);
    c.k = static_cast<std::size_t>(labels.back());
    labels.pop_back();
    c.labels.resize(labels.size());
    for (std::size_t i = 0; i < labels.size(); ++i) c.labels[i] = static_cast<decltype(c.labels)::value_type>(labels[i]);
}

}  // namespace

PiecewiseFit fit_piecewise(const Array& x, const PiecewiseOptions& o, const Array* weights) {
    check_inputs(x, o, weights);
    PiecewiseReport report;
    std::ostream* progress = o.fit.quiet ? nullptr : o.fit.progress;
    const auto cluster_start = Clock::now();
    cluster::Clustering c = cluster_rows(x, o, report);
    c = merge_small_clusters(x, std::move(c), o.min_cluster_size, report.clustering_note);
    if (o.communicator) share_clustering(*o.communicator, c);
    report.cluster_seconds = seconds_since(cluster_start);

    // Split the rows (and weights) by cluster; a cluster without weight carries no probability mass.
    std::vector<std::vector<std::size_t>> members(c.k);
    for (std::size_t i = 0; i < x.shape()[0]; ++i) members[static_cast<std::size_t>(c.labels[i])].push_back(i);
    std::vector<Piece> pieces;
    for (std::size_t k = 0; k < c.k; ++k) {
        Piece p;
        const std::size_t m = members[k].size();
        p.x = Array::from_shape({m, x.shape()[1]});
        if (weights) p.w = Array::from_shape({m, 1});
        for (std::size_t r = 0; r < m; ++r) {
            const std::size_t i = members[k][r];
            for (std::size_t j = 0; j < x.shape()[1]; ++j) p.x(r, j) = x(i, j);
            p.weight += weights ? (*weights)(i, 0) : 1.0;
            if (weights) p.w(r, 0) = (*weights)(i, 0);
        }
        if (!(p.weight > 0)) {
            report.clustering_note += (report.clustering_note.empty() ? "" : "; ") + std::string("dropped a cluster of ") +
                                      std::to_string(m) + " rows whose weights are all zero";
            continue;
        }
        pieces.push_back(std::move(p));
    }
    FlowSpec spec = o.piece;
    spec.dim = x.shape()[1];
    if (o.parameter_budget > 0 && !pieces.empty())
        spec.hidden.assign(spec.hidden.empty() ? 1 : spec.hidden.size(),
                           maf_width_for_budget(spec, std::max<std::size_t>(1, o.parameter_budget / pieces.size())));
    for (std::size_t k = 0; k < pieces.size(); ++k) {
        Rng init = Rng::stream(o.seed, 2 * k + 1);
        FlowSpec piece_spec = spec;
        if (o.bounded_to_normal) {
            const auto b = BoundedToNormal::from_data(pieces[k].x, pieces[k].w.size() ? &pieces[k].w : nullptr);
            piece_spec.bounded_lo = b->lo();
            piece_spec.bounded_hi = b->hi();
        } else if (o.standardize) {
            const auto s = Standardize::from_data(pieces[k].x);
            piece_spec.standardize_mean = s->mean();
            piece_spec.standardize_scale = s->scale();
        }
        pieces[k].model = make_maf_flow(piece_spec, init);
    }
    if (progress)
        *progress << "fit_piecewise: " << pieces.size() << " clusters (" << o.algorithm << "), training "
                  << pieces.size() << " flows on " << std::min(o.threads, pieces.size()) << " thread(s)\n";

    // Train: a pool of threads takes the pieces in order; each piece is independent.
    const auto train_start = Clock::now();
    std::mutex print;
    // Across ranks: piece k is rank (k mod R)'s.
    const std::size_t ranks = o.communicator ? o.communicator->size() : 1;
    const std::size_t rank = o.communicator ? o.communicator->rank() : 0;
    std::vector<std::size_t> mine;
    for (std::size_t k = rank; k < pieces.size(); k += ranks) mine.push_back(k);
    parallel_for(mine.size(), o.threads, [&](std::size_t i) {
        const std::size_t k = mine[i];
        train_piece(pieces[k], k, o);
        if (progress && !pieces[k].error && ranks == 1) {
            std::lock_guard<std::mutex> lock(print);
            *progress << "fit_piecewise: piece " << k + 1 << "/" << pieces.size() << ": " << pieces[k].x.shape()[0]
                      << " rows, " << pieces[k].fit.message << "\n";
        }
    });
    report.train_seconds = seconds_since(train_start);
    if (o.communicator) {
        RankFailure failure;
        for (std::size_t k : mine)
            if (pieces[k].error && failure.kind == RankFailure::Kind::none) {
                try {
                    std::rethrow_exception(pieces[k].error);
                } catch (const std::exception& e) {
                    failure = RankFailure::of(e);
                }
            }
        o.communicator->agree_or_throw(failure);
        for (std::size_t k = 0; k < pieces.size(); ++k) {
            broadcast_state(*o.communicator, k % ranks, *pieces[k].model);
            broadcast_report(*o.communicator, k % ranks, pieces[k].fit);
            if (progress)
                *progress << "fit_piecewise: piece " << k + 1 << "/" << pieces.size() << " (rank " << k % ranks
                          << "): " << pieces[k].x.shape()[0] << " rows, " << pieces[k].fit.message << "\n";
        }
    }
    for (Piece& p : pieces)
        if (p.error) std::rethrow_exception(p.error);

    // Assemble the model and the report.
    std::vector<DistributionPtr> models;
    std::vector<real> cluster_weights;
    report.k = pieces.size();
    for (Piece& p : pieces) {
        const std::size_t h = p.model->parameters().scalar_count();
        report.rows.push_back(p.x.shape()[0]);
        report.parameters.push_back(h);
        report.fits.push_back(p.fit);
        report.cost += static_cast<double>(p.fit.epochs_run) * static_cast<double>(p.x.shape()[0]) * static_cast<double>(h);
        report.serial_seconds += p.fit.seconds;
        report.diverged = report.diverged || p.fit.diverged;
        cluster_weights.push_back(p.weight);
        models.push_back(std::move(p.model));
    }
    PiecewiseFit out;
    out.model = std::make_unique<Mixture>(std::move(models), cluster_weights);
    report.weights = out.model->weights();
    std::ostringstream msg;
    msg << "trained " << report.k << " pieces in " << report.train_seconds << " s (" << report.serial_seconds
        << " s summed over pieces)";
    if (report.diverged) msg << "; a piece stopped on a non-finite loss (its best parameters kept)";
    if (!report.clustering_note.empty()) msg << "; " << report.clustering_note;
    report.message = msg.str();
    out.report = std::move(report);
    return out;
}

}  // namespace flowtape
