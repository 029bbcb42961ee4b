// BatchNorm: batch and running statistics, the affine map and its log-determinant (see batchnorm.hpp).
#include "flows/transforms/batchnorm.hpp"

#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "autodiff/ops.hpp"
#include "core/error.hpp"

namespace flowtape {

BatchNorm::BatchNorm(std::size_t dim, real momentum, real eps)
    : log_gamma_("log_gamma", xt::zeros<real>({std::size_t(1), dim})),
      beta_("beta", xt::zeros<real>({std::size_t(1), dim})),
      running_mean_("running_mean", xt::zeros<real>({std::size_t(1), dim})),
      running_var_("running_var", xt::ones<real>({std::size_t(1), dim})),
      momentum_(momentum),
      eps_(eps) {
    if (dim == 0) throw ValueError("BatchNorm: dimension must be positive");
    if (!(momentum > 0 && momentum <= 1))
        throw ValueError("BatchNorm: momentum must be in (0, 1], got " + std::to_string(momentum));
    if (!(eps > 0) || !std::isfinite(eps)) throw ValueError("BatchNorm: eps must be positive, got " + std::to_string(eps));
}

std::unique_ptr<BatchNorm> BatchNorm::from_config(const nlohmann::json& config, Rng&) {
    return std::make_unique<BatchNorm>(config.at("dim").get<std::size_t>(), config.at("momentum").get<real>(),
                                       config.at("eps").get<real>());
}

Var BatchNorm::per_row(Var scalar, std::size_t rows) {
    if (zeros_.shape()[0] != rows || zeros_.shape()[1] != 1) zeros_ = xt::zeros<real>({rows, std::size_t(1)});
    return add(scalar.tape().constant(zeros_), scalar);
}

void BatchNorm::update_running(const Array& mean, const Array& variance, std::size_t rows) {
    const real unbiased = static_cast<real>(rows) / static_cast<real>(rows - 1);
    Array& rm = running_mean_.value();
    Array& rv = running_var_.value();
    xt::noalias(rm) = (1 - momentum_) * rm + momentum_ * mean;
    xt::noalias(rv) = (1 - momentum_) * rv + (momentum_ * unbiased) * variance;
}

TransformResult BatchNorm::forward_batch(Var x) {
    if (x.rows() < 2)
        throw ValueError("BatchNorm: training mode needs a batch of at least 2 rows, got " + shape_string(x.shape()));
    Tape& t = x.tape();
    const Var log_gamma = t.param(log_gamma_), beta = t.param(beta_);
    const Var mean = flowtape::mean(x, 0);
    const Var centred = sub(x, mean);
    const Var variance = flowtape::mean(square(centred), 0);
    const Var log_std = mul_scalar(log(add_scalar(variance, eps_)), 0.5);  // ½ log(v + ε)
    const Var z = add(mul(centred, exp(sub(log_gamma, log_std))), beta);
    update_running(mean.value(), variance.value(), x.rows());
    return {z, per_row(sum(sub(log_gamma, log_std)), x.rows())};
}

TransformResult BatchNorm::forward_running(Var x) {
    Tape& t = x.tape();
    const Var log_gamma = t.param(log_gamma_), beta = t.param(beta_);
    const Array log_std = 0.5 * xt::log(running_var_.value() + eps_);
    const Var log_scale = sub(log_gamma, t.constant(log_std));
    const Var z = add(mul(sub(x, t.constant(running_mean_.value())), exp(log_scale)), beta);
    return {z, per_row(sum(log_scale), x.rows())};
}

TransformResult BatchNorm::forward(Var x, Var) {
    check_input_width("BatchNorm::forward", x, dim());
    return training_ ? forward_batch(x) : forward_running(x);
}

TransformResult BatchNorm::inverse(Var z, Var) {
    check_input_width("BatchNorm::inverse", z, dim());
    Tape& t = z.tape();
    const Var log_gamma = t.param(log_gamma_), beta = t.param(beta_);
    const Array log_std = 0.5 * xt::log(running_var_.value() + eps_);
    const Var log_scale = sub(log_gamma, t.constant(log_std));
    const Var x = add(mul(sub(z, beta), exp(neg(log_scale))), t.constant(running_mean_.value()));
    return {x, neg(per_row(sum(log_scale), z.rows()))};
}

nlohmann::json BatchNorm::config() const {
    return {{"kind", kind()}, {"dim", dim()}, {"momentum", momentum_}, {"eps", eps_}};
}

void BatchNorm::collect_parameters(ParameterList& out, const std::string& prefix) {
    out.add(qualified_name(prefix, "log_gamma"), log_gamma_);
    out.add(qualified_name(prefix, "beta"), beta_);
}

void BatchNorm::collect_buffers(ParameterList& out, const std::string& prefix) {
    out.add(qualified_name(prefix, "running_mean"), running_mean_);
    out.add(qualified_name(prefix, "running_var"), running_var_);
}

}  // namespace flowtape
