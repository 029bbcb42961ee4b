// The mixture of flows: its components and bases, the min-max scaling in front, the runs and the
// choice of the best, the clustering by posterior (see flow_mixture.hpp).
#include "flows/mixtures/flow_mixture.hpp"

#include <cmath>
#include <limits>
#include <mutex>
#include <sstream>

#include "autodiff/ops.hpp"
#include "cluster/kmeans.hpp"
#include "core/error.hpp"
#include "core/parallel.hpp"
#include "flows/training/data_parallel.hpp"
#include "flows/builders.hpp"
#include "flows/distributions/gaussian.hpp"
#include "flows/flow.hpp"
#include "flows/transforms/standardize.hpp"

namespace flowtape {
namespace {

void require(bool ok, const std::string& message) {
    if (!ok) throw ValueError(message);
}

// The base means, K×D: uniform draws in [0, 1) (the paper), or the k-means centroids of the rows.
Array base_means(const FlowMixtureSpec& spec, std::size_t dim, Rng& rng, const Array* scaled) {
    if (spec.base_init == "uniform") return rng.uniform_array(spec.components, dim);
    require(spec.base_init == "kmeans",
            "make_flow_mixture: unknown base_init '" + spec.base_init + "' (uniform or kmeans)");
    require(scaled != nullptr, "make_flow_mixture: base_init kmeans needs the (scaled) rows");
    require(scaled->shape()[0] >= spec.components,
            "make_flow_mixture: base_init kmeans needs at least K = " + std::to_string(spec.components) +
                " rows, got " + std::to_string(scaled->shape()[0]));
    cluster::KMeansOptions k;
    k.k = spec.components;
    k.n_init = 10;
    return cluster::kmeans(*scaled, k, rng).centres;
}

// One component: the flow of spec.component over a diagonal Gaussian at `mean` with standard
// deviation spec.base_scale.
DistributionPtr make_component(const FlowMixtureSpec& spec, std::size_t dim, const Array& mean, Rng& rng) {
    Array log_scale = xt::zeros<real>({std::size_t(1), dim}) + std::log(spec.base_scale);
    DistributionPtr base = std::make_unique<DiagonalGaussian>(mean, log_scale, spec.learn_base);
    FlowSpec f;
    f.dim = dim;
    f.layers = spec.layers;
    f.hidden = spec.hidden;
    f.activation = spec.activation;
    f.bins = spec.bins;
    f.tail_bound = spec.tail_bound;
    if (spec.component == "maf") {
        if (spec.paper_maf) {
            f.maf_log_scale_bound = 0;    // TFP's MAF: log-scale as the network gives it
            f.maf_output_init_scale = 1;  // and Glorot-uniform output weights like every layer
        }
        return make_maf_flow(f, rng, std::move(base));
    }
    if (spec.component == "realnvp") return make_realnvp_flow(f, rng, std::move(base));
    if (spec.component == "nsf") return make_nsf_flow(f, rng, std::move(base));
    throw ValueError("make_flow_mixture: unknown component '" + spec.component + "' (maf, realnvp or nsf)");
}

// The min-max scaling of the rows: (x − min) / (max − min) per column; ValueError for a constant
// column (it has no range to scale by).
std::unique_ptr<Standardize> minmax_scaling(const Array& x, const std::vector<std::string>& columns) {
    const std::size_t n = x.shape()[0], d = x.shape()[1];
    Array lo = Array::from_shape({std::size_t(1), d}), range = Array::from_shape({std::size_t(1), d});
    for (std::size_t j = 0; j < d; ++j) {
        real a = x(0, j), b = x(0, j);
        for (std::size_t i = 1; i < n; ++i) {
            a = std::min(a, x(i, j));
            b = std::max(b, x(i, j));
        }
        const std::string name = j < columns.size() ? "'" + columns[j] + "'" : std::to_string(j);
        require(b > a, "fit_flow_mixture: column " + name + " is constant (" + std::to_string(a) +
                           ") and cannot be min-max scaled to [0, 1]; drop it or use scale none (--scale none)");
        lo(0, j) = a;
        range(0, j) = b - a;
    }
    return std::make_unique<Standardize>(lo, range);
}

Array apply(Standardize& s, const Array& x) {
    Tape tape;
    NoGrad no_grad(tape);
    return s.forward(tape.constant(x)).out.value();
}

void check_inputs(const Array& x, const FlowMixtureOptions& o) {
    const std::size_t n = x.shape()[0];
    require(n > 0 && x.shape()[1] > 0, "fit_flow_mixture: needs non-empty data, got " + shape_string(shape_of(x)));
    for (std::size_t k = 0; k < x.size(); ++k)
        require(std::isfinite(x.data()[k]), "fit_flow_mixture: the data have a non-finite value at row " +
                                                std::to_string(k / x.shape()[1]) + ", column " +
                                                std::to_string(k % x.shape()[1]));
    require(o.spec.components >= 1, "fit_flow_mixture: K must be at least 1, got 0");
    require(o.spec.components <= n, "fit_flow_mixture: K = " + std::to_string(o.spec.components) +
                                        " is larger than the number of rows (" + std::to_string(n) + ")");
    require(o.runs >= 1, "fit_flow_mixture: runs must be at least 1, got 0");
    require(o.scale == "minmax" || o.scale == "none",
            "fit_flow_mixture: unknown scale '" + o.scale + "' (minmax or none)");
    require(o.spec.base_scale > 0 && std::isfinite(o.spec.base_scale),
            "fit_flow_mixture: base_scale must be positive, got " + std::to_string(o.spec.base_scale));
}

}  // namespace

FitOptions FlowMixtureOptions::paper_fit_options(std::size_t epochs, std::size_t batch) {
    FitOptions f;
    f.epochs = epochs;
    f.batch = batch;
    f.lr = 1e-3;
    f.adam_beta1 = 0.9;
    f.adam_beta2 = 0.999;
    f.adam_epsilon = 1e-7;
    f.val_fraction = 0;
    f.patience = epochs;
    f.quiet = true;
    return f;
}

std::unique_ptr<Mixture> make_flow_mixture(const FlowMixtureSpec& spec, std::size_t dim, Rng& rng,
                                           const Array* scaled) {
    require(spec.components >= 1, "make_flow_mixture: K must be at least 1, got 0");
    require(spec.base_scale > 0 && std::isfinite(spec.base_scale),
            "make_flow_mixture: base_scale must be positive, got " + std::to_string(spec.base_scale));
    const Array means = base_means(spec, dim, rng, scaled);
    std::vector<DistributionPtr> components;
    for (std::size_t k = 0; k < spec.components; ++k) {
        const Array mean = xt::view(means, xt::range(k, k + 1), xt::all());
        components.push_back(make_component(spec, dim, mean, rng));
    }
    auto mixture = Mixture::equal_weights(std::move(components), true);
    mixture->set_threads(std::max<std::size_t>(spec.threads, 1));
    return mixture;
}

Mixture* mixture_inside(Distribution& model) {
    if (auto* m = dynamic_cast<Mixture*>(&model)) return m;
    if (auto* f = dynamic_cast<Flow*>(&model)) return dynamic_cast<Mixture*>(&f->base());
    return nullptr;
}

Array to_mixture_space(Distribution& model, const Array& x) {
    Mixture* mixture = mixture_inside(model);
    if (!mixture) throw ValueError("to_mixture_space: the model (" + model.kind() + ") is not a mixture");
    if (mixture == &model) return x;
    auto& flow = dynamic_cast<Flow&>(model);
    return map_rows(model, x, nullptr, x.shape()[1], [&](Var xv, Var) { return Array(flow.to_latent(xv).out.value()); });
}

Array component_posterior(Distribution& model, const Array& x) {
    Mixture* mixture = mixture_inside(model);
    if (!mixture) throw ValueError("component_posterior: the model (" + model.kind() + ") is not a mixture");
    return mixture->responsibilities(to_mixture_space(model, x));
}

std::vector<std::size_t> predict_components(Distribution& model, const Array& x) {
    return argmax_rows(component_posterior(model, x));
}

ComponentDraws sample_components(Distribution& model, std::size_t n, std::uint64_t seed) {
    Mixture* mixture = mixture_inside(model);
    if (!mixture) throw ValueError("sample_components: the model (" + model.kind() + ") is not a mixture");
    if (model.context_dim() > 0) throw ValueError("sample_components: the model is conditional");
    auto* flow = mixture == &model ? nullptr : dynamic_cast<Flow*>(&model);
    model.set_training(false);
    constexpr std::size_t kBatch = 4096;  // as sample_rows, so that the draws come in the same order
    const std::size_t d = model.dim();
    ComponentDraws out{Array::from_shape({n, d}), {}};
    out.component.reserve(n);
    Rng rng(seed);
    Tape tape;
    for (std::size_t begin = 0; begin < n; begin += kBatch) {
        const std::size_t m = std::min(n - begin, kBatch);
        tape.reset();
        const NoGrad no_grad(tape);
        const MixtureSample z = mixture->sample_components(tape, m, rng);
        const Array& x = flow ? flow->from_latent(z.x).out.value() : z.x.value();
        std::copy_n(x.data(), m * d, out.x.data() + begin * d);
        out.component.insert(out.component.end(), z.component.begin(), z.component.end());
    }
    tape.reset();
    return out;
}

FlowMixtureFit fit_flow_mixture(const Array& x, const FlowMixtureOptions& o) {
    check_inputs(x, o);
    const std::size_t d = x.shape()[1];
    std::unique_ptr<Standardize> scaling = o.scale == "minmax" ? minmax_scaling(x, o.columns) : nullptr;
    const Array scaled = scaling ? apply(*scaling, x) : x;

    // Each run builds and trains its own mixture from its own seed. Only the best so far is kept
    // (a mixture of image flows is hundreds of megabytes), compared by (loss, run) so that the
    // choice does not depend on the order in which parallel runs finish.
    FlowMixtureFit out;
    out.runs.resize(o.runs);
    std::unique_ptr<Mixture> best;
    std::mutex keep;
    const auto loss_of = [&](std::size_t r) {
        const real l = out.runs[r].loss;
        return std::isfinite(l) ? l : std::numeric_limits<real>::infinity();
    };
    const std::size_t ranks = o.communicator ? o.communicator->size() : 1;
    const std::size_t rank = o.communicator ? o.communicator->rank() : 0;
    std::vector<std::size_t> mine;  // run r is rank (r mod R)'s
    for (std::size_t r = rank; r < o.runs; r += ranks) mine.push_back(r);
    parallel_for(mine.size(), o.run_threads, [&](std::size_t i) {
        const std::size_t r = mine[i];
        FlowMixtureRun& run = out.runs[r];
        run.seed = o.seed + r;
        Rng init = Rng::stream(run.seed, 0);
        std::unique_ptr<Mixture> model = make_flow_mixture(o.spec, d, init, &scaled);
        FitOptions f = o.fit;
        f.seed = run.seed;
        f.communicator = nullptr;  // a run trains on one rank
        if (o.run_threads > 1 || ranks > 1) f.quiet = true;  // progress lines of parallel runs would interleave
        run.fit = fit(*model, scaled, f);
        run.loss = run.fit.best_val_loss;
        const std::lock_guard<std::mutex> lock(keep);
        if (!best || loss_of(r) < loss_of(out.best) || (loss_of(r) == loss_of(out.best) && r < out.best)) {
            best = std::move(model);
            out.best = r;
        }
    });
    if (o.communicator) {
        // Every run's report from its rank; then the best by (loss, run), the same on every rank,
        // whose model its rank holds (the best of its own runs) and sends.
        for (std::size_t r = 0; r < o.runs; ++r) {
            out.runs[r].seed = o.seed + r;
            broadcast_report(*o.communicator, r % ranks, out.runs[r].fit);
            out.runs[r].loss = out.runs[r].fit.best_val_loss;
        }
        std::size_t b = 0;
        for (std::size_t r = 1; r < o.runs; ++r)
            if (loss_of(r) < loss_of(b)) b = r;
        if (b % ranks != rank) {
            Rng init = Rng::stream(out.runs[b].seed, 0);
            best = make_flow_mixture(o.spec, d, init, &scaled);  // the architecture; the values come next
        }
        broadcast_state(*o.communicator, b % ranks, *best);
        out.best = b;
    }
    out.diverged = out.runs[out.best].fit.diverged;

    out.labels = best->predict(scaled);
    out.sizes.assign(o.spec.components, 0);
    for (std::size_t l : out.labels) ++out.sizes[l];
    for (std::size_t k = 0; k < out.sizes.size(); ++k)
        if (out.sizes[k] == 0) out.empty_components.push_back(k);

    if (scaling) {
        std::vector<TransformPtr> front;
        front.push_back(std::move(scaling));
        out.model = std::make_unique<Flow>(std::move(best), std::move(front));
    } else {
        out.model = std::move(best);
    }
    out.model->set_training(false);

    std::ostringstream msg;
    msg << "best of " << o.runs << " run" << (o.runs == 1 ? "" : "s") << ": seed " << out.runs[out.best].seed
        << ", training loss " << out.runs[out.best].loss << "; " << out.runs[out.best].fit.message;
    if (!out.empty_components.empty())
        msg << "; " << out.empty_components.size() << " of " << o.spec.components << " components received no rows";
    out.message = msg.str();
    return out;
}

}  // namespace flowtape
