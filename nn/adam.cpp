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

void Adam::check_gradients() const {
    for (const State& s : states_) {
        const Parameter& p = *s.parameter;
        if (shape_of(p.grad()) != p.shape() || shape_of(s.m) != p.shape())
            throw ShapeError("Adam::step: parameter '" + s.name + "' has value " + shape_string(p.shape()) +
                             ", gradient " + shape_string(shape_of(p.grad())) + " and state " +
                             shape_string(shape_of(s.m)));
        for (real g : p.grad())
            if (!std::isfinite(g))
                throw NonFiniteError("Adam::step: parameter '" + s.name + "' has a non-finite gradient (" +
                                     std::to_string(g) + ") at step " + std::to_string(steps_ + 1));
    }
}

void Adam::step() {
    check_gradients();
    ++steps_;
    const AdamOptions& o = options_;
    const real t = static_cast<real>(steps_);
    const real correction1 = 1 - std::pow(o.beta1, t);
    const real correction2 = 1 - std::pow(o.beta2, t);
    for (State& s : states_) {
        real* theta = s.parameter->value().data();
        const real* grad = s.parameter->grad().data();
        real* m = s.m.data();
        real* v = s.v.data();
        const std::size_t n = s.m.size();
        for (std::size_t e = 0; e < n; ++e) {
            const real g = grad[e] + o.weight_decay * theta[e];
            m[e] = o.beta1 * m[e] + (1 - o.beta1) * g;
            v[e] = o.beta2 * v[e] + (1 - o.beta2) * g * g;
            theta[e] -= o.lr * (m[e] / correction1) / (std::sqrt(v[e] / correction2) + o.eps);
        }
    }
}

void Adam::zero_grad() {
    for (State& s : states_) s.parameter->zero_grad();
}

void Adam::set_lr(real lr) {
    require(std::isfinite(lr) && lr >= 0, "lr must be finite and ≥ 0", lr);
    options_.lr = lr;
}

}  // namespace flowtape
