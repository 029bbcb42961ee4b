// Adam: option checks, the gradient check before a step, and the update loop over raw buffers.
#include "nn/adam.hpp"

#include <cmath>

#include "core/error.hpp"

namespace flowtape {
namespace {

void require(bool ok, const std::string& what, real value) {
    if (!ok) throw ValueError("Adam: " + what + ", got " + std::to_string(value));
}

void check_options(const AdamOptions& o) {
    require(std::isfinite(o.lr) && o.lr >= 0, "lr must be finite and ≥ 0", o.lr);
    require(o.beta1 >= 0 && o.beta1 < 1, "beta1 must be in [0, 1)", o.beta1);
    require(o.beta2 >= 0 && o.beta2 < 1, "beta2 must be in [0, 1)", o.beta2);
    require(std::isfinite(o.eps) && o.eps >= 0, "eps must be finite and ≥ 0", o.eps);
    require(std::isfinite(o.weight_decay) && o.weight_decay >= 0, "weight_decay must be finite and ≥ 0",
            o.weight_decay);
}

}  // namespace

Adam::Adam(const ParameterList& params, AdamOptions options) : options_(options) {
    check_options(options);
    states_.reserve(params.size());
    for (const NamedParameter& item : params.items()) {
        const Shape s = item.parameter->shape();
        states_.push_back({item.name, item.parameter, xt::zeros<real>(s), xt::zeros<real>(s)});
    }
}

// g − g is 0 for a finite g and NaN for ±inf or NaN, so one vectorisable sum finds out whether a
// buffer holds any non-finite value; only then is it searched for the culprit (for the message).
static bool all_finite(const real* __restrict values, std::size_t n) {
    real probe = 0;
    for (std::size_t e = 0; e < n; ++e) probe += values[e] - values[e];
    return probe == 0;
}

void Adam::check_gradients() const {
    for (const State& s : states_) {
        const Parameter& p = *s.parameter;
        if (shape_of(p.grad()) != p.shape() || shape_of(s.m) != p.shape())
            throw ShapeError("Adam::step: parameter '" + s.name + "' has value " + shape_string(p.shape()) +
                             ", gradient " + shape_string(shape_of(p.grad())) + " and state " +
                             shape_string(shape_of(s.m)));
        if (all_finite(p.grad().data(), p.grad().size())) continue;
        for (real g : p.grad())
            if (!std::isfinite(g))
                throw NonFiniteError("Adam::step: parameter '" + s.name + "' has a non-finite gradient (" +
                                     std::to_string(g) + ") at step " + std::to_string(steps_ + 1));
    }
}

// One parameter's update. The constants are locals and the buffers __restrict, so that GCC
// vectorises the loop (with -fno-math-errno, set for the project, sqrt needs no errno branch);
// the bias corrections are folded into the step size and ε:
//   θ −= lr · (m/c₁) / (√(v/c₂) + ε)  =  θ − (lr √c₂ / c₁) · m / (√v + ε √c₂).
static void adam_update(real* __restrict theta, const real* __restrict grad, real* __restrict m,
                        real* __restrict v, std::size_t n, real beta1, real beta2, real weight_decay,
                        real step_size, real eps_hat) {
    for (std::size_t e = 0; e < n; ++e) {
        const real g = grad[e] + weight_decay * theta[e];
        const real m_new = beta1 * m[e] + (1 - beta1) * g;
        const real v_new = beta2 * v[e] + (1 - beta2) * g * g;
        m[e] = m_new;
        v[e] = v_new;
        theta[e] -= step_size * m_new / (std::sqrt(v_new) + eps_hat);
    }
}

void Adam::step() {
    check_gradients();
    ++steps_;
    const AdamOptions& o = options_;
    const real t = static_cast<real>(steps_);
    const real correction1 = 1 - std::pow(o.beta1, t);
    const real correction2 = 1 - std::pow(o.beta2, t);
    const real root2 = std::sqrt(correction2);
    const real step_size = o.lr * root2 / correction1;
    const real eps_hat = o.eps * root2;
    for (State& s : states_)
        adam_update(s.parameter->value().data(), s.parameter->grad().data(), s.m.data(), s.v.data(), s.m.size(),
                    o.beta1, o.beta2, o.weight_decay, step_size, eps_hat);
}

void Adam::zero_grad() {
    for (State& s : states_) s.parameter->zero_grad();
}

void Adam::set_lr(real lr) {
    require(std::isfinite(lr) && lr >= 0, "lr must be finite and ≥ 0", lr);
    options_.lr = lr;
}

}  // namespace flowtape
