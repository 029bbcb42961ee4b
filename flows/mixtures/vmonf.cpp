// The variational mixture of flows: the classifier posterior, the ELBO and the labelled objective,
// the temperature schedule, and training with optional pretraining on labelled rows (vmonf.hpp).
#include "flows/mixtures/vmonf.hpp"

#include <cmath>
#include <iomanip>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "autodiff/ops.hpp"
#include "cluster/kmeans.hpp"
#include "core/error.hpp"
#include "flows/training/data_parallel.hpp"
#include "flows/builders.hpp"
#include "flows/flow.hpp"
#include "flows/mixtures/flow_mixture.hpp"
#include "flows/registry.hpp"
#include "flows/transforms/standardize.hpp"

namespace flowtape {
namespace {

void require(bool ok, const std::string& message) {
    if (!ok) throw ValueError(message);
}

MlpConfig checked_classifier(const MlpConfig& c, std::size_t k, std::size_t dim) {
    require(k >= 2, "VariationalMixture: needs at least K = 2 components, got " + std::to_string(k) +
                        " (one component needs no posterior: train a single flow)");
    require(c.inputs == dim && c.outputs == k && c.context == 0,
            "VariationalMixture: the classifier must map " + std::to_string(dim) + " inputs to K = " +
                std::to_string(k) + " outputs, got " + std::to_string(c.inputs) + " → " + std::to_string(c.outputs));
    return c;
}

// Labels with kNoLabel replaced by 0 (so that gather has a valid index; those rows are masked
// out), and the 0/1 column of labelled rows.
struct LabelColumns {
    IndexArray index;
    Mask labelled;
    std::size_t count = 0;
};

LabelColumns label_columns(const IndexArray& labels, std::size_t k, std::size_t n, const char* who) {
    if (labels.shape()[0] != n || labels.shape()[1] != 1)
        throw ShapeError(std::string(who) + ": labels must be " + std::to_string(n) + "×1, got " +
                         std::to_string(labels.shape()[0]) + "×" + std::to_string(labels.shape()[1]));
    LabelColumns out{IndexArray::from_shape({n, 1}), Mask::from_shape({n, 1}), 0};
    for (std::size_t i = 0; i < n; ++i) {
        const std::int64_t y = labels(i, 0);
        require(y == kNoLabel || (y >= 0 && static_cast<std::size_t>(y) < k),
                std::string(who) + ": row " + std::to_string(i) + " has label " + std::to_string(y) +
                    ", outside 0.." + std::to_string(k - 1));
        const bool has = y != kNoLabel;
        out.index(i, 0) = has ? y : 0;
        out.labelled(i, 0) = has;
        out.count += has;
    }
    return out;
}

}  // namespace

// ---- the model ----

VariationalMixture::VariationalMixture(std::vector<DistributionPtr> components, std::vector<real> prior,
                                       const MlpConfig& classifier, Rng& rng)
    : Mixture(std::move(components), std::move(prior), false),
      classifier_(checked_classifier(classifier, size(), dim()), rng) {}

Var VariationalMixture::classifier_logits(Var x) { return classifier_.forward(x); }

Var VariationalMixture::log_posterior(Var x, real temperature) {
    return log_softmax(classifier_logits(x), 1, temperature);
}

Var VariationalMixture::elbo(Var x, real temperature) {
    // Σ_c q_c (log p(c) + log p(x|c) − log q_c), with joint_log_prob = log p(c) + log p(x|c).
    const Var log_q = log_posterior(x, temperature);
    return dot_rows(exp(log_q), sub(joint_log_prob(x), log_q));
}

namespace {

// Per row: log q(y|x) + log p(x|y) = log q(y|x) + joint(y) − log p(y) where a row has a label, the
// ELBO where it has none. A select, not a 0/1 weighting: a discarded term that is infinite must
// not turn into NaN.
Var objective_rows(VariationalMixture& v, Var x, const LabelColumns& y, real temperature) {
    const std::size_t n = x.rows();
    const Var log_q = v.log_posterior(x, temperature);
    const Var joint = v.joint_log_prob(x);
    const Var elbo_rows = y.count == n ? Var() : dot_rows(exp(log_q), sub(joint, log_q));
    if (y.count == 0) return elbo_rows;
    const std::vector<real> w = v.weights();
    Array log_prior_y = Array::from_shape({n, 1});
    for (std::size_t i = 0; i < n; ++i) log_prior_y(i, 0) = std::log(w[static_cast<std::size_t>(y.index(i, 0))]);
    const Var labelled = sub(add(gather(log_q, y.index, 1), gather(joint, y.index, 1)), x.tape().constant(log_prior_y));
    return y.count == n ? labelled : select(y.labelled, labelled, elbo_rows);
}

}  // namespace

Var VariationalMixture::labelled_objective(Var x, const IndexArray& labels, real temperature) {
    const LabelColumns y = label_columns(labels, size(), x.rows(), "VariationalMixture::labelled_objective");
    require(y.count == x.rows(), "VariationalMixture::labelled_objective: every row needs a label");
    return objective_rows(*this, x, y, temperature);
}

Var VariationalMixture::semi_supervised_objective(Var x, const IndexArray& labels, real temperature) {
    return objective_rows(*this, x, label_columns(labels, size(), x.rows(), "VariationalMixture::semi_supervised_objective"),
                          temperature);
}

Array VariationalMixture::responsibilities(const Array& x, const Array* context) {
    if (x.shape()[1] != dim())
        throw ShapeError("VariationalMixture::responsibilities: data " + shape_string(shape_of(x)) +
                         " for a mixture of dimension " + std::to_string(dim()));
    return map_rows(*this, x, context, size(),
                    [&](Var xv, Var) { return Array(softmax(classifier_logits(xv), 1, temperature_).value()); });
}

Array VariationalMixture::generative_posterior(const Array& x) { return Mixture::responsibilities(x); }

void VariationalMixture::set_temperature(real t) {
    require(std::isfinite(t) && t > 0, "VariationalMixture: the temperature must be positive, got " + std::to_string(t));
    temperature_ = t;
}

nlohmann::json VariationalMixture::config() const {
    nlohmann::json out = Mixture::config();
    const MlpConfig& c = classifier_.config();
    out["kind"] = "vmonf";
    out.erase("learn_weights");
    out.erase("weights");
    out["prior"] = weights();
    out["classifier"] = {{"inputs", c.inputs},
                         {"hidden", c.hidden},
                         {"outputs", c.outputs},
                         {"activation", activation_name(c.activation)}};
    out["temperature"] = temperature_;
    return out;
}

DistributionPtr VariationalMixture::from_config(const nlohmann::json& config, Rng& rng) {
    std::vector<DistributionPtr> components;
    for (const auto& c : config.at("components")) components.push_back(make_distribution(c, rng));
    const nlohmann::json& g = config.at("classifier");
    MlpConfig mlp;
    mlp.inputs = g.at("inputs").get<std::size_t>();
    mlp.hidden = g.at("hidden").get<std::vector<std::size_t>>();
    mlp.outputs = g.at("outputs").get<std::size_t>();
    mlp.activation = activation_from_name(g.at("activation").get<std::string>());
    auto out = std::make_unique<VariationalMixture>(std::move(components), config.at("prior").get<std::vector<real>>(),
                                                    mlp, rng);
    out->set_temperature(config.at("temperature").get<real>());
    return out;
}

void VariationalMixture::collect_parameters(ParameterList& out, const std::string& prefix) {
    Mixture::collect_parameters(out, prefix);
    classifier_.collect_parameters(out, qualified_name(prefix, "classifier"));
}

VariationalMixture* vmonf_inside(Distribution& model) { return dynamic_cast<VariationalMixture*>(mixture_inside(model)); }

// ---- the temperature and the objective ----

real TemperatureSchedule::at(std::size_t epoch_index) const {
    return std::max(minimum, initial * std::pow(decay, static_cast<real>(epoch_index)));
}

void TemperatureSchedule::check(const char* who) const {
    require(std::isfinite(initial) && initial > 0,
            std::string(who) + ": the initial temperature must be positive, got " + std::to_string(initial));
    require(std::isfinite(decay) && decay > 0 && decay <= 1,
            std::string(who) + ": the temperature decay must be in (0, 1], got " + std::to_string(decay));
    require(std::isfinite(minimum) && minimum > 0,
            std::string(who) + ": the minimum temperature must be positive, got " + std::to_string(minimum));
}

VmonfObjective::VmonfObjective(TemperatureSchedule schedule, bool pretraining)
    : schedule_(schedule), pretraining_(pretraining), temperature_(schedule.at(0)) {
    schedule_.check("VmonfObjective");
}

namespace {

// The VariationalMixture of the model and the rows where it lives, with the log-determinant of
// the fixed front (a Flow whose base is the VMoNF) or an invalid Var (the model is the VMoNF).
struct InMixtureSpace {
    VariationalMixture* vmonf;
    Var x, logdet;
};

InMixtureSpace in_mixture_space(Distribution& model, Var x) {
    VariationalMixture* v = vmonf_inside(model);
    if (!v) throw ValueError("VmonfObjective: the model (" + model.kind() + ") is not a VMoNF");
    if (v == &model) return {v, x, Var()};
    const TransformResult r = dynamic_cast<Flow&>(model).to_latent(x);
    return {v, r.out, r.logdet};
}

}  // namespace

Var VmonfObjective::loss(Distribution& model, const Batch& batch) {
    if (pretraining_ && !batch.labels) throw ValueError("VmonfObjective: pretraining needs the rows' labels");
    const InMixtureSpace m = in_mixture_space(model, batch.x);
    Var per_row = !batch.labels ? m.vmonf->elbo(m.x, temperature_)
                  : pretraining_ ? m.vmonf->labelled_objective(m.x, *batch.labels, temperature_)
                                 : m.vmonf->semi_supervised_objective(m.x, *batch.labels, temperature_);
    if (m.logdet.valid()) per_row = add(per_row, m.logdet);
    return negative_weighted_mean(per_row, batch);
}

Var VmonfObjective::validation_loss(Distribution& model, const Batch& batch) {
    return negative_weighted_mean(model.log_prob(batch.x), batch);
}

void VmonfObjective::begin_epoch(std::size_t epoch, std::size_t) {
    temperature_ = pretraining_ ? 1.0 : schedule_.at(epoch - 1);
}

std::string VmonfObjective::progress() const {
    std::ostringstream s;
    s << "T " << std::setprecision(3) << temperature_;
    return s.str();
}

// ---- building and training ----

std::unique_ptr<VariationalMixture> make_vmonf(const VmonfSpec& spec, std::size_t dim, Rng& rng) {
    const std::size_t k = spec.components;
    require(k >= 2, "make_vmonf: needs at least K = 2 components, got " + std::to_string(k) +
                        " (one component needs no posterior: train a single flow)");
    std::vector<real> prior = spec.prior.empty() ? std::vector<real>(k, 1.0 / static_cast<real>(k)) : spec.prior;
    require(prior.size() == k, "make_vmonf: the prior has " + std::to_string(prior.size()) + " weights for K = " +
                                   std::to_string(k) + " components");
    for (real p : prior) require(std::isfinite(p) && p > 0, "make_vmonf: prior weights must be positive, got " + std::to_string(p));
    FlowSpec f;
    f.dim = dim;
    f.layers = spec.layers;
    f.hidden = spec.hidden;
    f.activation = spec.activation;
    f.bins = spec.bins;
    f.tail_bound = spec.tail_bound;
    std::vector<DistributionPtr> components;
    for (std::size_t c = 0; c < k; ++c) {
        if (spec.component == "realnvp")
            components.push_back(make_realnvp_flow(f, rng));
        else if (spec.component == "maf")
            components.push_back(make_maf_flow(f, rng));
        else if (spec.component == "nsf")
            components.push_back(make_nsf_flow(f, rng));
        else
            throw ValueError("make_vmonf: unknown component '" + spec.component + "' (realnvp, maf or nsf)");
    }
    MlpConfig g;
    g.inputs = dim;
    g.hidden = spec.classifier_hidden;
    g.outputs = k;
    g.activation = spec.classifier_activation;
    auto out = std::make_unique<VariationalMixture>(std::move(components), std::move(prior), g, rng);
    out->set_threads(std::max<std::size_t>(spec.threads, 1));
    return out;
}

FitOptions VmonfOptions::default_fit_options() {
    FitOptions f;
    f.epochs = 500;
    f.batch = 256;
    f.lr = 1e-3;
    f.val_fraction = 0.2;
    f.patience = f.epochs;
    return f;
}

namespace {

void check_inputs(const Array& x, const IndexArray* labels, const VmonfOptions& o) {
    const std::size_t n = x.shape()[0], k = o.spec.components;
    require(n > 0 && x.shape()[1] > 0, "fit_vmonf: needs non-empty data, got " + shape_string(shape_of(x)));
    for (std::size_t i = 0; i < x.size(); ++i)
        require(std::isfinite(x.data()[i]), "fit_vmonf: the data have a non-finite value at row " +
                                                std::to_string(i / x.shape()[1]) + ", column " +
                                                std::to_string(i % x.shape()[1]));
    require(k >= 2, "fit_vmonf: needs at least K = 2 components, got " + std::to_string(k) +
                        " (one component needs no posterior: train a single flow)");
    require(k <= n, "fit_vmonf: K = " + std::to_string(k) + " is larger than the number of rows (" + std::to_string(n) + ")");
    require(o.scale == "standard" || o.scale == "none", "fit_vmonf: unknown scale '" + o.scale + "' (standard or none)");
    o.temperature.check("fit_vmonf");
    require(o.init == "uniform" || o.init == "kmeans", "fit_vmonf: unknown init '" + o.init + "' (uniform or kmeans)");
    if (labels) {
        const LabelColumns y = label_columns(*labels, k, n, "fit_vmonf");
        require(y.count > 0, "fit_vmonf: semi-supervised training needs at least one labelled row, the labels have none");
    }
}

// The labelled rows of x and their labels.
std::pair<Array, IndexArray> labelled_rows(const Array& x, const IndexArray& labels) {
    std::vector<std::size_t> keep;
    for (std::size_t i = 0; i < labels.shape()[0]; ++i)
        if (labels(i, 0) != kNoLabel) keep.push_back(i);
    const std::size_t d = x.shape()[1];
    Array xs = Array::from_shape({keep.size(), d});
    IndexArray ys = IndexArray::from_shape({keep.size(), 1});
    for (std::size_t r = 0; r < keep.size(); ++r) {
        std::copy_n(x.data() + keep[r] * d, d, xs.data() + r * d);
        ys(r, 0) = labels(keep[r], 0);
    }
    return {std::move(xs), std::move(ys)};
}

}  // namespace

VmonfFit fit_vmonf(const Array& x, const IndexArray* labels, const VmonfOptions& o) {
    check_inputs(x, labels, o);
    const std::size_t n = x.shape()[0], d = x.shape()[1], k = o.spec.components;
    std::unique_ptr<Standardize> scaling = o.scale == "standard" ? Standardize::from_data(x) : nullptr;

    // The model trained is the one saved: the standardisation in front of the VMoNF (or the VMoNF),
    // so that every loss fit reports is on the data's own scale, as `flowtape logprob` reports it.
    Rng init = Rng::stream(o.seed, 0);
    std::unique_ptr<VariationalMixture> vmonf = make_vmonf(o.spec, d, init);
    VariationalMixture& v = *vmonf;
    VmonfFit out;
    if (scaling) {
        std::vector<TransformPtr> front;
        front.push_back(std::move(scaling));
        out.model = std::make_unique<Flow>(std::move(vmonf), std::move(front));
    } else {
        out.model = std::move(vmonf);
    }
    Distribution& model = *out.model;
    const Array scaled = to_mixture_space(model, x);  // where the VMoNF lives: k-means and the labels

    // The k-means start: its labels pretrain the model as given labels would, then leave.
    std::optional<IndexArray> kmeans_labels;
    if (o.init == "kmeans" && !labels) {
        cluster::KMeansOptions km;
        km.k = k;
        km.n_init = 10;
        Rng kmeans_rng = Rng::stream(o.seed, 1);
        const cluster::Clustering c = cluster::kmeans(scaled, km, kmeans_rng);
        kmeans_labels = IndexArray::from_shape({n, 1});
        for (std::size_t i = 0; i < n; ++i) (*kmeans_labels)(i, 0) = static_cast<std::int64_t>(c.labels[i]);
    }
    const IndexArray* pretrain_labels = labels ? labels : kmeans_labels ? &*kmeans_labels : nullptr;

    // Pretraining on the labelled rows (the paper's semi-supervised setting): the classifier learns
    // their labels and each flow their rows, at T = 1, with no held-out part.
    const bool pretrained = pretrain_labels && o.pretrain_epochs > 0;
    if (pretrained) {
        const auto [xs, ys] = labelled_rows(x, *pretrain_labels);
        FitOptions f = o.fit;
        f.epochs = o.pretrain_epochs;
        f.val_fraction = 0;
        f.patience = o.pretrain_epochs;
        f.seed = o.seed;
        VmonfObjective pretrain({1, 1, 1}, true);
        out.pretrain = fit_replicated(model, FitData{xs, nullptr, nullptr, &ys}, f, pretrain);
        if (out.pretrain.diverged) {
            out.fit = out.pretrain;
            out.message = "pretraining: " + out.pretrain.message;
        }
    }

    FitOptions f = o.fit;
    f.seed = o.seed;
    VmonfObjective objective(o.temperature, false);
    if (out.message.empty()) out.fit = fit_replicated(model, FitData{x, nullptr, nullptr, labels}, f, objective);
    // The parameters kept are those of the best epoch, and q keeps the temperature they were
    // trained at: T = 1 of pretraining when no epoch improved on the start, else that epoch's.
    out.final_temperature = out.fit.best_epoch > 0 ? o.temperature.at(out.fit.best_epoch - 1)
                            : pretrained           ? 1.0
                                                   : o.temperature.at(0);
    v.set_temperature(out.final_temperature);
    model.set_training(false);

    out.labels = v.predict(scaled);
    out.generative_labels = argmax_rows(v.generative_posterior(scaled));
    std::size_t agree = 0;
    for (std::size_t i = 0; i < n; ++i) agree += out.labels[i] == out.generative_labels[i];
    out.agreement = static_cast<real>(agree) / static_cast<real>(n);
    out.sizes.assign(k, 0);
    out.generative_sizes.assign(k, 0);
    for (std::size_t l : out.labels) ++out.sizes[l];
    for (std::size_t l : out.generative_labels) ++out.generative_sizes[l];
    for (std::size_t c = 0; c < k; ++c) {
        if (out.sizes[c] == 0) out.empty_components.push_back(c);
        if (out.sizes[c] == n) out.collapsed = true;
    }

    std::ostringstream msg;
    if (!out.message.empty()) msg << out.message << "; ";
    msg << out.fit.message << "; q(c|x) and p(c|x) agree on " << std::fixed << std::setprecision(1)
        << 100 * out.agreement << "% of the rows";
    if (out.collapsed)
        msg << "; COLLAPSED: every row is in one component";
    else if (!out.empty_components.empty())
        msg << "; " << out.empty_components.size() << " of " << k << " components received no rows";
    out.message = msg.str();
    out.model->set_training(false);
    return out;
}

}  // namespace flowtape
