#include "flows/flow.hpp"

#include <nlohmann/json.hpp>

#include "autodiff/ops.hpp"
#include "core/error.hpp"

namespace flowtape {

Flow::Flow(DistributionPtr base, std::vector<TransformPtr> transforms)
    : base_(std::move(base)), transforms_(std::move(transforms)) {
    if (!base_) throw ValueError("Flow: no base distribution");
    for (std::size_t k = 0; k < transforms_.size(); ++k) {
        if (!transforms_[k]) throw ValueError("Flow: transform " + std::to_string(k) + " is null");
        if (transforms_[k]->dim() != base_->dim())
            throw ShapeError("Flow: transform " + std::to_string(k) + " (" + transforms_[k]->kind() + ") has dimension " +
                             std::to_string(transforms_[k]->dim()) + " but the base has " + std::to_string(base_->dim()));
    }
}

TransformResult chain_forward(const std::vector<TransformPtr>& transforms, Var x, Var context) {
    Var z = x;
    Var logdet;
    for (const auto& t : transforms) {
        const TransformResult r = t->forward(z, context);
        z = r.out;
        logdet = logdet.valid() ? add(logdet, r.logdet) : r.logdet;
    }
    if (!logdet.valid()) logdet = x.tape().constant(xt::zeros<real>({x.rows(), std::size_t(1)}));
    return {z, logdet};
}

TransformResult chain_inverse(const std::vector<TransformPtr>& transforms, Var z, Var context) {
    Var x = z;
    Var logdet;
    for (std::size_t k = transforms.size(); k-- > 0;) {
        const TransformResult r = transforms[k]->inverse(x, context);
        x = r.out;
        logdet = logdet.valid() ? add(logdet, r.logdet) : r.logdet;
    }
    if (!logdet.valid()) logdet = z.tape().constant(xt::zeros<real>({z.rows(), std::size_t(1)}));
    return {x, logdet};
}

TransformResult Flow::to_latent(Var x, Var context) { return chain_forward(transforms_, x, context); }

TransformResult Flow::from_latent(Var z, Var context) { return chain_inverse(transforms_, z, context); }

Var Flow::log_prob(Var x, Var context) {
    const TransformResult latent = to_latent(x, context);
    return add(base_->log_prob(latent.out, context), latent.logdet);
}

Var Flow::sample(Tape& tape, std::size_t n, Rng& rng, Var context) {
    return from_latent(base_->sample(tape, n, rng, context), context).out;
}

SampleResult Flow::sample_with_log_prob(Tape& tape, std::size_t n, Rng& rng, Var context) {
    // log p(x) = log p_base(z) − log|det ∂x/∂z|.
    const SampleResult z = base_->sample_with_log_prob(tape, n, rng, context);
    const TransformResult x = from_latent(z.x, context);
    return {x.out, sub(z.log_prob, x.logdet)};
}

std::size_t Flow::dim() const { return base_->dim(); }

std::size_t Flow::context_dim() const {
    std::size_t c = base_->context_dim();
    for (const auto& t : transforms_) c = std::max(c, t->context_dim());
    return c;
}

nlohmann::json Flow::config() const {
    nlohmann::json transforms = nlohmann::json::array();
    for (const auto& t : transforms_) transforms.push_back(t->config());
    return {{"kind", "flow"}, {"base", base_->config()}, {"transforms", transforms}};
}

void Flow::set_training(bool on) {
    base_->set_training(on);
    for (auto& t : transforms_) t->set_training(on);
}

void Flow::collect_parameters(ParameterList& out, const std::string& prefix) {
    base_->collect_parameters(out, qualified_name(prefix, "base"));
    for (std::size_t k = 0; k < transforms_.size(); ++k)
        transforms_[k]->collect_parameters(out, qualified_name(prefix, "transforms." + std::to_string(k)));
}

void Flow::collect_buffers(ParameterList& out, const std::string& prefix) {
    base_->collect_buffers(out, qualified_name(prefix, "base"));
    for (std::size_t k = 0; k < transforms_.size(); ++k)
        transforms_[k]->collect_buffers(out, qualified_name(prefix, "transforms." + std::to_string(k)));
}

}  // namespace flowtape
