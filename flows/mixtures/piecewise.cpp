// PiecewiseFlow (the mixture of eqs. 13–15) and fit_piecewise (cluster, then one fit per cluster).
#include "flows/mixtures/piecewise.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>
#include <numeric>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "cluster/kmeans.hpp"
#include "cluster/registry.hpp"
#include "cluster/silhouette.hpp"
#include "core/error.hpp"
#include "flows/registry.hpp"
#include "flows/transforms/standardize.hpp"

namespace flowtape {

// ---- the distribution ----

PiecewiseFlow::PiecewiseFlow(std::vector<DistributionPtr> pieces, std::vector<real> weights)
    : pieces_(std::move(pieces)) {
    if (pieces_.empty()) throw ValueError("PiecewiseFlow: no pieces");
    if (weights.size() != pieces_.size())
        throw ValueError("PiecewiseFlow: " + std::to_string(weights.size()) + " weights for " +
                         std::to_string(pieces_.size()) + " pieces");
    real total = 0;
    for (std::size_t k = 0; k < weights.size(); ++k) {
        if (!pieces_[k]) throw ValueError("PiecewiseFlow: piece " + std::to_string(k) + " is null");
        if (!(weights[k] > 0) || !std::isfinite(weights[k]))
            throw ValueError("PiecewiseFlow: weight " + std::to_string(k) + " is " + std::to_string(weights[k]) +
                             " (each must be finite and > 0)");
        if (pieces_[k]->dim() != pieces_[0]->dim() || pieces_[k]->context_dim() != pieces_[0]->context_dim())
            throw ValueError("PiecewiseFlow: piece " + std::to_string(k) + " has dimension " +
                             std::to_string(pieces_[k]->dim()) + " and context " +
                             std::to_string(pieces_[k]->context_dim()) + ", piece 0 has " +
                             std::to_string(pieces_[0]->dim()) + " and " + std::to_string(pieces_[0]->context_dim()));
        total += weights[k];
    }
    for (real w : weights) {
        weights_.push_back(w / total);
        log_weights_.push_back(std::log(w / total));
    }
}

// log p(x) = logsumexp_k (log W_k + log p_k(x)): the N×K matrix of terms, reduced along its rows.
Var PiecewiseFlow::log_prob(Var x, Var context) {
    std::vector<Var> terms;
    terms.reserve(pieces_.size());
    for (std::size_t k = 0; k < pieces_.size(); ++k) terms.push_back(pieces_[k]->log_prob(x, context) + log_weights_[k]);
    return terms.size() == 1 ? terms[0] : logsumexp(concat(terms, 1), 1);
}

// Each row picks its piece with probability W_k; the rows of each piece are drawn together (one
// call per piece), then put back in row order, so that row i of the result belongs to row i of the
// context and the pieces are interleaved at random.
Var PiecewiseFlow::sample(Tape& tape, std::size_t n, Rng& rng, Var context) {
    if (context.valid() && context.shape()[0] != n)
        throw ShapeError("PiecewiseFlow::sample: " + std::to_string(n) + " samples but the context has " +
                         std::to_string(context.shape()[0]) + " rows");
    if (n == 0) throw ValueError("PiecewiseFlow::sample: n must be at least 1");
    std::vector<std::vector<std::int64_t>> rows_of(pieces_.size());
    for (std::size_t i = 0; i < n; ++i) {
        rows_of[rng.categorical(weights_)].push_back(static_cast<std::int64_t>(i));
    }
    std::vector<Var> parts;
    IndexArray where = IndexArray::from_shape({n, 1});  // where[i]: the stacked row holding output row i
    std::size_t stacked = 0;
    for (std::size_t k = 0; k < pieces_.size(); ++k) {
        const std::size_t m = rows_of[k].size();
        if (m == 0) continue;
        Var piece_context;
        if (context.valid()) {
            IndexArray pick = IndexArray::from_shape({m, context.shape()[1]});
            for (std::size_t r = 0; r < m; ++r)
                for (std::size_t c = 0; c < context.shape()[1]; ++c) pick(r, c) = rows_of[k][r];
            piece_context = gather(context, pick, 0);
        }
        parts.push_back(pieces_[k]->sample(tape, m, rng, piece_context));
        for (std::size_t r = 0; r < m; ++r) where(static_cast<std::size_t>(rows_of[k][r]), 0) = static_cast<std::int64_t>(stacked + r);
        stacked += m;
    }
    const Var all = parts.size() == 1 ? parts[0] : concat(parts, 0);
    IndexArray order = IndexArray::from_shape({n, dim()});
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t c = 0; c < dim(); ++c) order(i, c) = where(i, 0);
    return gather(all, order, 0);
}

std::size_t PiecewiseFlow::dim() const { return pieces_[0]->dim(); }
std::size_t PiecewiseFlow::context_dim() const { return pieces_[0]->context_dim(); }

nlohmann::json PiecewiseFlow::config() const {
    nlohmann::json pieces = nlohmann::json::array();
    for (const auto& p : pieces_) pieces.push_back(p->config());
    return {{"kind", "piecewise"}, {"pieces", pieces}, {"weights", weights_}};
}

void PiecewiseFlow::set_training(bool on) {
    for (auto& p : pieces_) p->set_training(on);
}

void PiecewiseFlow::collect_parameters(ParameterList& out, const std::string& prefix) {
    for (std::size_t k = 0; k < pieces_.size(); ++k)
        pieces_[k]->collect_parameters(out, qualified_name(prefix, "pieces." + std::to_string(k)));
}

void PiecewiseFlow::collect_buffers(ParameterList& out, const std::string& prefix) {
    for (std::size_t k = 0; k < pieces_.size(); ++k)
        pieces_[k]->collect_buffers(out, qualified_name(prefix, "pieces." + std::to_string(k)));
}

DistributionPtr PiecewiseFlow::from_config(const nlohmann::json& config, Rng& rng) {
    std::vector<DistributionPtr> pieces;
    for (const auto& c : config.at("pieces")) pieces.push_back(make_distribution(c, rng));
    return std::make_unique<PiecewiseFlow>(std::move(pieces), config.at("weights").get<std::vector<real>>());
}

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
        f.seed = Rng::stream(o.seed, 2 * k + 2).next_u64();
        if (o.threads > 1) f.quiet = true;  // progress lines of parallel fits would interleave
        p.fit = fit(*p.model, p.x, f, p.w.size() ? &p.w : nullptr);
    } catch (...) {
        p.error = std::current_exception();
    }
}

}  // namespace

PiecewiseFit fit_piecewise(const Array& x, const PiecewiseOptions& o, const Array* weights) {
    check_inputs(x, o, weights);
    PiecewiseReport report;
    std::ostream* progress = o.fit.quiet ? nullptr : o.fit.progress;
    const auto cluster_start = Clock::now();
    cluster::Clustering c = cluster_rows(x, o, report);
    c = merge_small_clusters(x, std::move(c), o.min_cluster_size, report.clustering_note);
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
        if (o.standardize) {
            const auto s = Standardize::from_data(pieces[k].x);
            piece_spec.standardize_mean = s->mean();
            piece_spec.standardize_scale = s->scale();
        }
        pieces[k].model = make_maf_flow(piece_spec, init);
    }
    if (progress)
        *progress << "fit_piecewise: " << pieces.size() << " clusters (" << o.algorithm << "), training "
                  << pieces.size() << " flows on " << std::min(o.threads, pieces.size()) << " thread(s)\n";

    // Train: a fixed pool of threads takes the pieces in order; each piece is independent.
    const auto train_start = Clock::now();
    std::atomic<std::size_t> next{0};
    std::mutex print;
    auto worker = [&] {
        for (std::size_t k = next++; k < pieces.size(); k = next++) {
            train_piece(pieces[k], k, o);
            if (progress && !pieces[k].error) {
                std::lock_guard<std::mutex> lock(print);
                *progress << "fit_piecewise: piece " << k + 1 << "/" << pieces.size() << ": " << pieces[k].x.shape()[0]
                          << " rows, " << pieces[k].fit.message << "\n";
            }
        }
    };
    const std::size_t threads = std::min(o.threads, pieces.size());
    if (threads <= 1) {
        worker();
    } else {
        std::vector<std::thread> pool;
        for (std::size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
        for (auto& t : pool) t.join();
    }
    report.train_seconds = seconds_since(train_start);
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
    out.model = std::make_unique<PiecewiseFlow>(std::move(models), cluster_weights);
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
