// ContinuousFlow: the augmented dynamics [f, −Tr ∂f/∂z], the solves in both directions, class scoring
// with the class-mixture base, the two bases and the model-file config. Equations in cnf.hpp.
#include "flows/continuous/cnf.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>

#include <nlohmann/json.hpp>

#include "autodiff/higher_order.hpp"
#include "core/error.hpp"
#include "flows/distributions/gaussian.hpp"
#include "flows/distributions/gaussian_mixture.hpp"
#include "flows/registry.hpp"

namespace flowtape {
namespace {

const real kLogTwoPi = std::log(2 * std::numbers::pi);

// d/dt [z, Δ] = [f(z, t), −Tr(∂f/∂z)] on the state's tape; the trace exact or by Hutchinson with the
// noise the flow drew for this solve.
class AugmentedDynamics : public ode::Dynamics {
public:
    explicit AugmentedDynamics(CnfDynamics& f) : f_(f), params_(f.parameters().pointers()) {}

    Var operator()(Var t, Var s) override {
        const std::size_t d = f_.dim();
        if (s.cols() != d + 1)
            throw ShapeError("ContinuousFlow: the augmented state must be N×" + std::to_string(d + 1) + ", got " +
                             shape_string(s.shape()));
        const Var z = cols(s, 0, d);
        const ValueAndTrace vt =
            hutchinson_ ? hutchinson_trace(z.tape(), z, noise_, [this, t](Var zz) { return f_.velocity(t, zz); })
                        : f_.velocity_and_trace(t, z);
        return concat({vt.value, neg(vt.trace)}, 1);
    }
    std::vector<Parameter*> parameters() override { return params_; }

    void use_exact() { hutchinson_ = false; }
    // ε for the next solve (N×D), kept until the next call: the adjoint's backward reads it again.
    void use_noise(Array noise) {
        hutchinson_ = true;
        noise_ = std::move(noise);
    }

private:
    CnfDynamics& f_;
    std::vector<Parameter*> params_;
    bool hutchinson_ = false;
    Array noise_;
};

// dz/dt = f(z, t) alone, for sampling.
class VelocityDynamics : public ode::Dynamics {
public:
    explicit VelocityDynamics(CnfDynamics& f) : f_(f), params_(f.parameters().pointers()) {}
    Var operator()(Var t, Var z) override { return f_.velocity(t, z); }
    std::vector<Parameter*> parameters() override { return params_; }

private:
    CnfDynamics& f_;
    std::vector<Parameter*> params_;
};

AugmentedDynamics& augmented(std::unique_ptr<ode::Dynamics>& p) { return static_cast<AugmentedDynamics&>(*p); }

// [x, 0]: the initial augmented state.
Array with_zero_column(const Array& x) {
    const std::size_t n = x.shape()[0], d = x.shape()[1];
    Array s = xt::zeros<real>({n, d + 1});
    for (std::size_t i = 0; i < n; ++i) std::copy_n(x.data() + i * d, d, s.data() + i * (d + 1));
    return s;
}

// Columns [0, D) and D of an augmented state.
void split_state(const Array& s, std::size_t d, Array& z, Array& last) {
    const std::size_t n = s.shape()[0];
    z = Array::from_shape({n, d});
    last = Array::from_shape({n, 1});
    for (std::size_t i = 0; i < n; ++i) {
        std::copy_n(s.data() + i * (d + 1), d, z.data() + i * d);
        last(i, 0) = s(i, d);
    }
}

void check_no_context(const char* who, Var context) {
    if (context.valid())
        throw ValueError(std::string(who) + ": a continuous flow takes no context, got " +
                         shape_string(context.shape()));
}

void check_width(const char* who, Var x, std::size_t d) {
    if (x.cols() != d)
        throw ShapeError(std::string(who) + ": expected " + std::to_string(d) + " columns, got " +
                         shape_string(x.shape()));
}

void check_cnf_options(const CnfOptions& o) {
    if (!(std::isfinite(o.T) && o.T > 0))
        throw ValueError("ContinuousFlow: T must be finite and positive, got " + std::to_string(o.T));
    if (!(std::isfinite(o.rtol) && std::isfinite(o.atol)))
        throw ValueError("ContinuousFlow: rtol and atol must be finite, got " + std::to_string(o.rtol) + " and " +
                         std::to_string(o.atol));
}

}  // namespace

// ---- names ----

TraceKind trace_kind_from_name(const std::string& name) {
    if (name == "exact") return TraceKind::exact;
    if (name == "hutchinson") return TraceKind::hutchinson;
    throw ValueError("ContinuousFlow: unknown trace '" + name + "' (exact or hutchinson)");
}
std::string trace_kind_name(TraceKind k) { return k == TraceKind::exact ? "exact" : "hutchinson"; }

NoiseKind noise_kind_from_name(const std::string& name) {
    if (name == "gaussian") return NoiseKind::gaussian;
    if (name == "rademacher") return NoiseKind::rademacher;
    throw ValueError("ContinuousFlow: unknown noise '" + name + "' (gaussian or rademacher)");
}
std::string noise_kind_name(NoiseKind k) { return k == NoiseKind::gaussian ? "gaussian" : "rademacher"; }

ode::OdeMethod ode_method_from_name(const std::string& name) {
    if (name == "adjoint") return ode::OdeMethod::adjoint;
    if (name == "backprop") return ode::OdeMethod::backprop;
    throw ValueError("ContinuousFlow: unknown method '" + name + "' (adjoint or backprop)");
}
std::string ode_method_name(ode::OdeMethod m) { return m == ode::OdeMethod::adjoint ? "adjoint" : "backprop"; }

// ---- ContinuousFlow ----

ContinuousFlow::ContinuousFlow(CnfDynamicsPtr dynamics, DistributionPtr base, CnfOptions options,
                               std::vector<std::int64_t> classes)
    : dynamics_(std::move(dynamics)),
      base_(std::move(base)),
      options_(options),
      classes_(std::move(classes)),
      noise_rng_(options.seed) {
    if (!dynamics_ || !base_) throw ValueError("ContinuousFlow: needs dynamics and a base distribution");
    if (base_->dim() != dynamics_->dim())
        throw ShapeError("ContinuousFlow: the dynamics (" + dynamics_->kind() + ") have dimension " +
                         std::to_string(dynamics_->dim()) + " but the base (" + base_->kind() + ") has " +
                         std::to_string(base_->dim()));
    if (base_->context_dim() != 0)
        throw ValueError("ContinuousFlow: the base (" + base_->kind() + ") must be unconditional");
    if (!classes_.empty()) {
        const auto* gmm = dynamic_cast<const GaussianMixture*>(base_.get());
        if (!gmm || gmm->components() != classes_.size())
            throw ValueError("ContinuousFlow: " + std::to_string(classes_.size()) +
                             " classes need a Gaussian-mixture base with one component each, got " + base_->kind() +
                             (gmm ? " with " + std::to_string(gmm->components()) + " components" : std::string()));
        const GmmLearnable& l = gmm->learnable();
        if (l.means || l.scales || l.weights)
            throw ValueError("ContinuousFlow: the class-mixture base must be fixed (no learnable group)");
    }
    set_options(options);
    train_aug_ = std::make_unique<AugmentedDynamics>(*dynamics_);
    eval_aug_ = std::make_unique<AugmentedDynamics>(*dynamics_);
    velocity_ = std::make_unique<VelocityDynamics>(*dynamics_);
}

void ContinuousFlow::set_options(const CnfOptions& options) {
    check_cnf_options(options);
    ode::OdeOptions o;
    o.rtol = options.rtol;
    o.atol = options.atol;
    o.max_steps = options.max_steps;
    ode::check_options("ContinuousFlow", o);
    if (options.seed != options_.seed) noise_rng_ = Rng(options.seed);
    options_ = options;
}

ode::OdeOptions ContinuousFlow::ode_options() const {
    ode::OdeOptions o;
    o.rtol = options_.rtol;
    o.atol = options_.atol;
    o.max_steps = options_.max_steps;
    return o;
}

Var ContinuousFlow::solve(Var x, bool hutchinson) {
    Tape& tape = x.tape();
    const bool grad = tape.grad_enabled();
    // Grad-mode solves keep their dynamics (and noise) until the adjoint's backward; see Note [one
    // solve in flight].
    AugmentedDynamics& aug = augmented(grad ? train_aug_ : eval_aug_);
    if (hutchinson) {
        const std::size_t n = x.rows(), d = dim();
        aug.use_noise(options_.noise == NoiseKind::gaussian ? noise_rng_.normal_array(n, d)
                                                            : noise_rng_.rademacher_array(n, d));
    } else {
        aug.use_exact();
    }
    const Var s0 = concat({x, tape.constant(xt::zeros<real>({x.rows(), std::size_t(1)}))}, 1);
    // Without gradients one node is enough: the adjoint method's forward is a plain solve.
    const ode::OdeMethod method = grad ? options_.method : ode::OdeMethod::adjoint;
    return ode::odeint(aug, s0, 0.0, options_.T, ode_options(), method, &counters_);
}

Var ContinuousFlow::log_prob(Var x, Var context) {
    check_no_context("ContinuousFlow::log_prob", context);
    check_width("ContinuousFlow::log_prob", x, dim());
    if (training_ && !classes_.empty())
        throw ValueError("ContinuousFlow::log_prob: the class-mixture base scores each training row by its class, "
                         "but no labels were given for x " + shape_string(x.shape()) +
                         " (use log_prob_by_class, or fit with the objective CnfClassNll and the labels)");
    const Var s = solve(x, training_ && options_.trace == TraceKind::hutchinson);
    const std::size_t d = dim();
    return sub(base_->log_prob(cols(s, 0, d)), cols(s, d, d + 1));
}

Var ContinuousFlow::log_prob_by_class(Var x, Var one_hot) {
    const std::size_t k = classes_.size();
    if (k == 0)
        throw ValueError("ContinuousFlow::log_prob_by_class: the base (" + base_->kind() +
                         ") has no classes; build the flow with make_cnf_class_base");
    check_width("ContinuousFlow::log_prob_by_class", x, dim());
    if (!one_hot.valid())
        throw ValueError("ContinuousFlow::log_prob_by_class: labels missing for x " + shape_string(x.shape()) +
                         " (expected a one-hot " + shape_string({x.rows(), k}) + ")");
    if (one_hot.shape() != Shape{x.rows(), k})
        throw ShapeError("ContinuousFlow::log_prob_by_class: one-hot labels " + shape_string(one_hot.shape()) +
                         " do not fit x " + shape_string(x.shape()) + " (expected " + shape_string({x.rows(), k}) +
                         ")");
    const Var s = solve(x, training_ && options_.trace == TraceKind::hutchinson);
    const std::size_t d = dim();
    return sub(by_class(cols(s, 0, d), one_hot), cols(s, d, d + 1));
}

// log N(z; μ_y, diag σ_y²) with μ_y = onehot · means, log σ_y = onehot · log_scales (fixed values).
Var ContinuousFlow::by_class(Var z, Var one_hot) {
    const auto& gmm = static_cast<const GaussianMixture&>(*base_);
    Tape& t = z.tape();
    const Var mu = matmul(one_hot, t.constant(gmm.means()));
    const Var log_scale = matmul(one_hot, t.constant(gmm.log_scales()));
    const Var u = mul(sub(z, mu), exp(neg(log_scale)));
    const Var quad = mul_scalar(sum(square(u), 1), -0.5);
    return add_scalar(sub(quad, sum(log_scale, 1)), -0.5 * static_cast<real>(dim()) * kLogTwoPi);
}

Array ContinuousFlow::class_one_hot(const IndexArray& labels) const {
    if (labels.shape()[1] != 1)
        throw ShapeError("ContinuousFlow::class_one_hot: labels must be N×1, got " +
                         shape_string({labels.shape()[0], labels.shape()[1]}));
    const std::size_t n = labels.shape()[0], k = classes_.size();
    if (k == 0) throw ValueError("ContinuousFlow::class_one_hot: the flow's base has no classes");
    Array one_hot = xt::zeros<real>({n, k});
    for (std::size_t i = 0; i < n; ++i) {
        const auto it = std::find(classes_.begin(), classes_.end(), labels(i, 0));
        if (it == classes_.end()) {
            std::string known;
            for (std::int64_t c : classes_) known += (known.empty() ? "" : ", ") + std::to_string(c);
            throw ValueError("ContinuousFlow::class_one_hot: label " + std::to_string(labels(i, 0)) + " at row " +
                             std::to_string(i) + " is not one of the classes {" + known + "}");
        }
        one_hot(i, static_cast<std::size_t>(it - classes_.begin())) = 1.0;
    }
    return one_hot;
}

Var ContinuousFlow::sample(Tape& tape, std::size_t n, Rng& rng, Var context) {
    check_no_context("ContinuousFlow::sample", context);
    Array z;
    {
        NoGrad no_grad(tape);
        z = base_->sample(tape, n, rng).value();
    }
    return tape.constant(ode::odeint_forward(*velocity_, z, options_.T, 0.0, ode_options(), nullptr, &tape));
}

Var ContinuousFlow::sample_class(Tape& tape, std::size_t n, Rng& rng, std::int64_t label) {
    IndexArray labels = IndexArray::from_shape({1, 1});
    labels(0, 0) = label;
    class_one_hot(labels);  // ValueError for an unknown label or a base without classes
    const auto k = static_cast<std::size_t>(std::find(classes_.begin(), classes_.end(), label) - classes_.begin());
    const auto& gmm = static_cast<const GaussianMixture&>(*base_);
    Array z = rng.normal_array(n, dim());
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < dim(); ++j) z(i, j) = gmm.means()(k, j) + std::exp(gmm.log_scales()(k, j)) * z(i, j);
    return tape.constant(ode::odeint_forward(*velocity_, z, options_.T, 0.0, ode_options(), nullptr, &tape));
}

SampleResult ContinuousFlow::sample_with_log_prob(Tape& tape, std::size_t n, Rng& rng, Var context) {
    check_no_context("ContinuousFlow::sample_with_log_prob", context);
    Array z, log_pz;
    {
        NoGrad no_grad(tape);
        const Var zv = base_->sample(tape, n, rng);
        z = zv.value();
        log_pz = base_->log_prob(zv).value();
    }
    AugmentedDynamics& aug = augmented(eval_aug_);
    aug.use_exact();
    // [x, Δ](0) from [z, 0](T): Δ(0) = ∫₀ᵀ Tr dt, so log p(x) = log p_base(z) + Δ(0).
    const Array s = ode::odeint_forward(aug, with_zero_column(z), options_.T, 0.0, ode_options(), nullptr, &tape);
    Array x, delta;
    split_state(s, dim(), x, delta);
    return {tape.constant(x), tape.constant(log_pz + delta)};
}

ContinuousFlow::Latent ContinuousFlow::to_latent(const Array& x) {
    if (x.shape()[1] != dim())
        throw ShapeError("ContinuousFlow::to_latent: expected " + std::to_string(dim()) + " columns, got " +
                         shape_string(shape_of(x)));
    AugmentedDynamics& aug = augmented(eval_aug_);
    aug.use_exact();
    const Array s = ode::odeint_forward(aug, with_zero_column(x), 0.0, options_.T, ode_options());
    Latent out;
    split_state(s, dim(), out.z, out.delta);
    return out;
}

nlohmann::json ContinuousFlow::config() const {
    return {{"kind", kind()},
            {"dim", dim()},
            {"dynamics", dynamics_->config()},
            {"base", base_->config()},
            {"classes", classes_},
            {"T", options_.T},
            {"rtol", options_.rtol},
            {"atol", options_.atol},
            {"max_steps", options_.max_steps},
            {"trace", trace_kind_name(options_.trace)},
            {"noise", noise_kind_name(options_.noise)},
            {"method", ode_method_name(options_.method)},
            {"seed", options_.seed}};
}

DistributionPtr ContinuousFlow::from_config(const nlohmann::json& c, Rng& rng) {
    CnfOptions o;
    o.T = c.at("T").get<real>();
    o.rtol = c.at("rtol").get<real>();
    o.atol = c.at("atol").get<real>();
    o.max_steps = c.at("max_steps").get<std::size_t>();
    o.seed = c.at("seed").get<std::uint64_t>();
    try {
        o.trace = trace_kind_from_name(c.at("trace").get<std::string>());
        o.noise = noise_kind_from_name(c.at("noise").get<std::string>());
        o.method = ode_method_from_name(c.at("method").get<std::string>());
    } catch (const ValueError& e) {
        throw IoError(std::string("ContinuousFlow::from_config: ") + e.what());
    }
    CnfDynamicsPtr dynamics = make_cnf_dynamics(c.at("dynamics"), rng);
    DistributionPtr base = make_distribution(c.at("base"), rng);
    auto flow = std::make_unique<ContinuousFlow>(std::move(dynamics), std::move(base), o,
                                                 c.at("classes").get<std::vector<std::int64_t>>());
    if (flow->dim() != c.at("dim").get<std::size_t>())
        throw IoError("ContinuousFlow::from_config: \"dim\" " + c.at("dim").dump() + " differs from the dynamics' " +
                      std::to_string(flow->dim()));
    return flow;
}

void ContinuousFlow::collect_parameters(ParameterList& out, const std::string& prefix) {
    dynamics_->collect_parameters(out, qualified_name(prefix, "dynamics"));
    base_->collect_parameters(out, qualified_name(prefix, "base"));
}

void ContinuousFlow::collect_buffers(ParameterList& out, const std::string& prefix) {
    base_->collect_buffers(out, qualified_name(prefix, "base"));
}

// ---- CnfClassNll ----

namespace {
ContinuousFlow& class_flow(Distribution& model) {
    auto* flow = dynamic_cast<ContinuousFlow*>(&model);
    if (!flow || flow->classes().empty())
        throw ValueError("CnfClassNll: the model (" + model.kind() +
                         (flow ? ", base " + flow->base().kind() : std::string()) +
                         ") is not a continuous flow with a class-mixture base");
    return *flow;
}
}  // namespace

Var CnfClassNll::loss(Distribution& model, const Batch& batch) {
    ContinuousFlow& flow = class_flow(model);
    if (!batch.labels)
        throw ValueError("CnfClassNll: training by class needs the labels of the rows, got data " +
                         shape_string(batch.x.shape()) + " without labels");
    const Var one_hot = batch.tape.constant(flow.class_one_hot(*batch.labels));
    return negative_weighted_mean(flow.log_prob_by_class(batch.x, one_hot), batch);
}

Var CnfClassNll::validation_loss(Distribution& model, const Batch& batch) {
    return negative_weighted_mean(class_flow(model).log_prob(batch.x), batch);
}

// ---- bases ----

DistributionPtr make_cnf_gaussian_base(const Array& x) {
    const std::size_t n = x.shape()[0], d = x.shape()[1];
    if (n == 0 || d == 0) throw ValueError("make_cnf_gaussian_base: needs non-empty data, got " + shape_string(shape_of(x)));
    Array mean = xt::zeros<real>({std::size_t(1), d});
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j) mean(0, j) += x(i, j);
    mean /= static_cast<real>(n);
    return std::make_unique<DiagonalGaussian>(std::move(mean), xt::zeros<real>({std::size_t(1), d}), false);
}

DistributionPtr make_cnf_class_base(const Array& x, const IndexArray& labels, std::vector<std::int64_t>& classes) {
    const std::size_t n = x.shape()[0], d = x.shape()[1];
    if (n == 0 || d == 0) throw ValueError("make_cnf_class_base: needs non-empty data, got " + shape_string(shape_of(x)));
    if (labels.shape()[0] != n || labels.shape()[1] != 1)
        throw ShapeError("make_cnf_class_base: labels " + shape_string({labels.shape()[0], labels.shape()[1]}) +
                         " do not fit data " + shape_string(shape_of(x)) + " (expected " + shape_string({n, 1}) + ")");
    std::map<std::int64_t, std::size_t> counts;  // ordered: components by ascending label
    for (std::size_t i = 0; i < n; ++i) ++counts[labels(i, 0)];
    classes.clear();
    std::map<std::int64_t, std::size_t> component;
    for (const auto& [label, count] : counts) {
        component[label] = classes.size();
        classes.push_back(label);
    }
    const std::size_t k = classes.size();
    Array means = xt::zeros<real>({k, d});
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t c = component[labels(i, 0)];
        for (std::size_t j = 0; j < d; ++j) means(c, j) += x(i, j);
    }
    Array logits = Array::from_shape({1, k});
    for (std::size_t c = 0; c < k; ++c) {
        const real count = static_cast<real>(counts[classes[c]]);
        for (std::size_t j = 0; j < d; ++j) means(c, j) /= count;
        logits(0, c) = std::log(count / static_cast<real>(n));
    }
    return std::make_unique<GaussianMixture>(std::move(means), xt::zeros<real>({k, d}), std::move(logits),
                                             GmmLearnable{false, false, false});
}

}  // namespace flowtape
