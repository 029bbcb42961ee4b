// Mixture: the joint log-densities on the tape reduced by logsumexp, the posterior over components,
// the draw by component, and the model-file config (see mixture.hpp).
#include "flows/mixtures/mixture.hpp"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "autodiff/ops.hpp"
#include "core/error.hpp"
#include "core/parallel.hpp"
#include "flows/registry.hpp"

namespace flowtape {
namespace {

std::string number(real v) { return std::to_string(v); }

}  // namespace

Mixture::Mixture(std::vector<DistributionPtr> components, std::vector<real> weights, bool learn_weights)
    : components_(std::move(components)), learn_weights_(learn_weights) {
    if (components_.empty()) throw ValueError("Mixture: no components");
    if (weights.size() != components_.size())
        throw ValueError("Mixture: " + std::to_string(weights.size()) + " weights for " +
                         std::to_string(components_.size()) + " components");
    real total = 0;
    for (std::size_t k = 0; k < weights.size(); ++k) {
        if (!components_[k]) throw ValueError("Mixture: component " + std::to_string(k) + " is null");
        if (!(weights[k] > 0) || !std::isfinite(weights[k]))
            throw ValueError("Mixture: weight " + std::to_string(k) + " is " + number(weights[k]) +
                             " (each must be finite and > 0)");
        const Distribution& c = *components_[k];
        const Distribution& first = *components_[0];
        if (c.dim() != first.dim() || c.context_dim() != first.context_dim())
            throw ValueError("Mixture: component " + std::to_string(k) + " (" + c.kind() + ") has dimension " +
                             std::to_string(c.dim()) + " and context " + std::to_string(c.context_dim()) +
                             ", component 0 (" + first.kind() + ") has " + std::to_string(first.dim()) + " and " +
                             std::to_string(first.context_dim()));
        total += weights[k];
    }
    const std::size_t k_count = components_.size();
    if (learn_weights_) {
        Array a = Array::from_shape({std::size_t(1), k_count});
        for (std::size_t k = 0; k < k_count; ++k) a(0, k) = std::log(weights[k] / total);
        logits_ = Parameter("logits", a);
    } else {
        for (real w : weights) {
            weights_.push_back(w / total);
            log_weights_.push_back(std::log(w / total));
        }
    }
}

std::unique_ptr<Mixture> Mixture::equal_weights(std::vector<DistributionPtr> components, bool learn_weights) {
    std::vector<real> w(components.size(), 1.0);
    return std::make_unique<Mixture>(std::move(components), std::move(w), learn_weights);
}

Var Mixture::log_weights(Tape& tape) {
    if (learn_weights_) return log_softmax(tape.param(logits_), 1);
    Array row = Array::from_shape({std::size_t(1), components_.size()});
    std::copy(log_weights_.begin(), log_weights_.end(), row.data());
    return tape.constant(row);
}

// Note [components on threads]. With threads > 1 each component k records on a side tape of its
// own (side_tapes_[k], kept and reset, so a warm step allocates nothing there either): the rows go
// on it as a constant (or a variable when x needs a gradient), log p_k(x) is recorded there, and one
// node on x's tape holds the N×K matrix of them. The node's backward rule seeds side tape k with
// column k of its gradient and runs that sweep (the parameters' gradients land in their
// Parameter::grad, each component's on its own thread), then adds the side tapes' gradients of x
// into x's, in component order. A side tape keeps its parameters bound until it is reset: at the
// next evaluation, after the backward sweep, or before a draw (release_side_tapes). As with the
// continuous flows, run the backward of one grad-mode evaluation before recording the next.
void mixture_components_backward(Tape& tape, std::uint32_t self) {
    const Node& n = tape.node(self);
    Mixture& m = *static_cast<Mixture*>(n.context[0]);
    const std::size_t k_count = m.components_.size(), rows = n.value.shape()[0];
    const bool x_needs = tape.needs_grad(n.inputs[0]);
    std::vector<Array> seeds(k_count, Array::from_shape({rows, std::size_t(1)}));
    for (std::size_t k = 0; k < k_count; ++k)
        for (std::size_t i = 0; i < rows; ++i) seeds[k](i, 0) = n.grad(i, k);
    parallel_for(k_count, m.threads_, [&](std::size_t k) {
        Tape& side = *m.side_tapes_[k];
        if (side.needs_grad(m.side_outputs_[k].index())) side.backward(m.side_outputs_[k], seeds[k]);
    });
    if (x_needs) {
        Array total = xt::zeros<real>({rows, m.dim()});
        for (std::size_t k = 0; k < k_count; ++k) total += m.side_tapes_[k]->grad(m.side_inputs_[k]);
        tape.accumulate(n.inputs[0], total);
    }
    m.release_side_tapes();
}

void Mixture::release_side_tapes() {
    for (auto& t : side_tapes_) t->reset();
}

Var Mixture::threaded_components(Var x, Var context) {
    Tape& tape = x.tape();
    const std::size_t k_count = components_.size(), rows = x.rows();
    if (context.valid() && tape.needs_grad(context.index()))
        throw ValueError("Mixture: a context that needs a gradient is not supported with threads (set_threads(1))");
    while (side_tapes_.size() < k_count) side_tapes_.push_back(std::make_unique<Tape>());
    side_inputs_.resize(k_count);
    side_outputs_.resize(k_count);
    const bool grad = tape.grad_enabled();
    const bool x_needs = grad && tape.needs_grad(x.index());
    parallel_for(k_count, threads_, [&](std::size_t k) {
        Tape& side = *side_tapes_[k];
        side.reset();
        side.set_grad_enabled(grad);
        side_inputs_[k] = x_needs ? side.variable(x.value()) : side.constant(x.value());
        const Var c = context.valid() ? side.constant(context.value()) : Var();
        side_outputs_[k] = components_[k]->log_prob(side_inputs_[k], c);
        if (side_outputs_[k].rows() != rows || side_outputs_[k].cols() != 1)
            throw ShapeError("Mixture: component " + std::to_string(k) + " (" + components_[k]->kind() + ") gave " +
                             shape_string(side_outputs_[k].shape()) + " log-densities for " + std::to_string(rows) +
                             " rows");
    });
    const std::uint32_t i = tape.push("mixture_components", mixture_components_backward, {x}, {rows, k_count});
    Node& n = tape.node(i);
    bool any_parameter = false;
    for (std::size_t k = 0; k < k_count; ++k) {
        const Array& lp = side_outputs_[k].value();
        for (std::size_t r = 0; r < rows; ++r) n.value(r, k) = lp(r, 0);
        any_parameter = any_parameter || side_tapes_[k]->needs_grad(side_outputs_[k].index());
    }
    // The components' parameters are inputs x's tape cannot see: the node needs its backward rule
    // whenever one of them is trained, even for constant rows.
    if (grad && (any_parameter || x_needs)) {
        n.needs_grad = true;
        n.backward = mixture_components_backward;
        n.context[0] = this;
    } else {
        release_side_tapes();  // nothing will sweep them: free their parameters now
    }
    return tape.finish(i, nullptr);
}

void Mixture::set_threads(std::size_t threads) {
    if (threads == 0) throw ValueError("Mixture::set_threads: threads must be at least 1");
    threads_ = threads;
}

// Fixed weights add log π_k to each column (a scalar each); learned ones add the row log_softmax(a).
Var Mixture::joint_log_prob(Var x, Var context) {
    if (threads_ > 1 && components_.size() > 1) {
        const Var lp = threaded_components(x, context);
        return add(lp, log_weights(x.tape()));
    }
    std::vector<Var> terms;
    terms.reserve(components_.size());
    for (std::size_t k = 0; k < components_.size(); ++k) {
        const Var lp = components_[k]->log_prob(x, context);
        terms.push_back(learn_weights_ ? lp : lp + log_weights_[k]);
    }
    const Var joint = terms.size() == 1 ? terms[0] : concat(terms, 1);
    return learn_weights_ ? add(joint, log_weights(x.tape())) : joint;
}

Var Mixture::log_prob(Var x, Var context) {
    const Var joint = joint_log_prob(x, context);
    return joint.cols() == 1 ? joint : logsumexp(joint, 1);
}

MixtureSample Mixture::sample_components(Tape& tape, std::size_t n, Rng& rng, Var context) {
    if (context.valid() && context.shape()[0] != n)
        throw ShapeError("Mixture::sample: " + std::to_string(n) + " samples but the context has " +
                         std::to_string(context.shape()[0]) + " rows");
    if (n == 0) throw ValueError("Mixture::sample: n must be at least 1");
    release_side_tapes();  // the draws record on `tape`, where the parameters must be free to bind
    const std::vector<real> pi = weights();
    MixtureSample out;
    out.component.resize(n);
    std::vector<std::vector<std::int64_t>> rows_of(components_.size());
    for (std::size_t i = 0; i < n; ++i) {
        out.component[i] = rng.categorical(pi);
        rows_of[out.component[i]].push_back(static_cast<std::int64_t>(i));
    }
    std::vector<Var> parts;
    std::vector<std::int64_t> where(n);  // where[i]: the stacked row holding output row i
    std::size_t stacked = 0;
    for (std::size_t k = 0; k < components_.size(); ++k) {
        const std::size_t m = rows_of[k].size();
        if (m == 0) continue;
        Var part_context;
        if (context.valid()) {
            IndexArray pick = IndexArray::from_shape({m, context.shape()[1]});
            for (std::size_t r = 0; r < m; ++r)
                for (std::size_t c = 0; c < context.shape()[1]; ++c) pick(r, c) = rows_of[k][r];
            part_context = gather(context, pick, 0);
        }
        parts.push_back(components_[k]->sample(tape, m, rng, part_context));
        for (std::size_t r = 0; r < m; ++r)
            where[static_cast<std::size_t>(rows_of[k][r])] = static_cast<std::int64_t>(stacked + r);
        stacked += m;
    }
    const Var all = parts.size() == 1 ? parts[0] : concat(parts, 0);
    IndexArray order = IndexArray::from_shape({n, dim()});
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t c = 0; c < dim(); ++c) order(i, c) = where[i];
    out.x = gather(all, order, 0);
    return out;
}

Var Mixture::sample(Tape& tape, std::size_t n, Rng& rng, Var context) {
    return sample_components(tape, n, rng, context).x;
}

Array Mixture::responsibilities(const Array& x, const Array* context) {
    const std::size_t k_count = components_.size();
    if (x.shape()[1] != dim())
        throw ShapeError("Mixture::responsibilities: data " + shape_string(shape_of(x)) + " for a mixture of dimension " +
                         std::to_string(dim()));
    // r_ik = exp(j_ik − max_k j_ik) / Σ_k exp(j_ik − max_k j_ik): each row's softmax, shifted.
    return map_rows(*this, x, context, k_count, [&](Var xv, Var cv) {
        Array r = joint_log_prob(xv, cv).value();
        for (std::size_t i = 0; i < r.shape()[0]; ++i) {
            real top = r(i, 0);
            for (std::size_t k = 1; k < k_count; ++k) top = std::max(top, r(i, k));
            real total = 0;
            for (std::size_t k = 0; k < k_count; ++k) total += r(i, k) = std::exp(r(i, k) - top);
            for (std::size_t k = 0; k < k_count; ++k) r(i, k) /= total;
        }
        return r;
    });
}

std::vector<std::size_t> argmax_rows(const Array& r) {
    std::vector<std::size_t> labels(r.shape()[0]);
    for (std::size_t i = 0; i < labels.size(); ++i) {
        std::size_t best = 0;
        for (std::size_t k = 1; k < r.shape()[1]; ++k)
            if (r(i, k) > r(i, best)) best = k;
        labels[i] = best;
    }
    return labels;
}

std::vector<std::size_t> Mixture::predict(const Array& x, const Array* context) {
    return argmax_rows(responsibilities(x, context));
}

std::vector<real> Mixture::weights() const {
    if (!learn_weights_) return weights_;
    const Array& a = logits_.value();
    real top = a(0, 0);
    for (std::size_t k = 1; k < a.shape()[1]; ++k) top = std::max(top, a(0, k));
    std::vector<real> pi(a.shape()[1]);
    real total = 0;
    for (std::size_t k = 0; k < pi.size(); ++k) total += pi[k] = std::exp(a(0, k) - top);
    for (real& p : pi) p /= total;
    return pi;
}

nlohmann::json Mixture::config() const {
    nlohmann::json components = nlohmann::json::array();
    for (const auto& c : components_) components.push_back(c->config());
    nlohmann::json out{{"kind", "mixture"}, {"components", components}, {"learn_weights", learn_weights_}};
    if (!learn_weights_) out["weights"] = weights_;
    return out;
}

DistributionPtr Mixture::from_config(const nlohmann::json& config, Rng& rng) {
    std::vector<DistributionPtr> components;
    for (const auto& c : config.at("components")) components.push_back(make_distribution(c, rng));
    const bool learn = config.at("learn_weights").get<bool>();
    // Learned logits are read from the model file's parameters; the weights here only start them.
    std::vector<real> w = learn ? std::vector<real>(components.size(), 1.0) : config.at("weights").get<std::vector<real>>();
    return std::make_unique<Mixture>(std::move(components), std::move(w), learn);
}

void Mixture::restart_noise(std::uint64_t stream) {
    for (auto& c : components_) c->restart_noise(stream);
}

void Mixture::set_training(bool on) {
    for (auto& c : components_) c->set_training(on);
}

void Mixture::collect_parameters(ParameterList& out, const std::string& prefix) {
    for (std::size_t k = 0; k < components_.size(); ++k)
        components_[k]->collect_parameters(out, qualified_name(prefix, "components." + std::to_string(k)));
    if (learn_weights_) out.add(qualified_name(prefix, "logits"), logits_);
}

void Mixture::collect_buffers(ParameterList& out, const std::string& prefix) {
    for (std::size_t k = 0; k < components_.size(); ++k)
        components_[k]->collect_buffers(out, qualified_name(prefix, "components." + std::to_string(k)));
}

}  // namespace flowtape
