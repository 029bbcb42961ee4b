#include "flows/distributions/gaussian.hpp"

#include <cmath>
#include <numbers>

#include <nlohmann/json.hpp>

#include "autodiff/ops.hpp"
#include "core/error.hpp"

namespace flowtape {
namespace {

const real kLogTwoPi = std::log(2 * std::numbers::pi);

void check_dim(const char* who, Var x, std::size_t dim) {
    if (x.cols() != dim)
        throw ShapeError(std::string(who) + ": expected " + std::to_string(dim) + " columns, got " + shape_string(x.shape()));
}

}  // namespace

StandardNormal::StandardNormal(std::size_t dim) : dim_(dim) {
    if (dim == 0) throw ValueError("StandardNormal: dimension must be positive");
}

Var StandardNormal::log_prob(Var x, Var) {
    check_dim("StandardNormal::log_prob", x, dim_);
    return add_scalar(mul_scalar(sum(square(x), 1), -0.5), -0.5 * static_cast<real>(dim_) * kLogTwoPi);
}

Var StandardNormal::sample(Tape& tape, std::size_t n, Rng& rng, Var) { return tape.constant(rng.normal_array(n, dim_)); }

nlohmann::json StandardNormal::config() const { return {{"kind", kind()}, {"dim", dim_}}; }

DiagonalGaussian::DiagonalGaussian(Array mean, Array log_scale, bool learnable)
    : mean_("mean", std::move(mean)), log_scale_("log_scale", std::move(log_scale)), learnable_(learnable) {
    if (mean_.shape()[0] != 1 || mean_.shape() != log_scale_.shape() || mean_.shape()[1] == 0)
        throw ShapeError("DiagonalGaussian: mean and log_scale must both be 1\u00d7D, got " + shape_string(mean_.shape()) +
                         " and " + shape_string(log_scale_.shape()));
}

Var DiagonalGaussian::log_prob(Var x, Var) {
    check_dim("DiagonalGaussian::log_prob", x, dim());
    Tape& t = x.tape();
    const Var mean = learnable_ ? t.param(mean_) : t.constant(mean_.value());
    const Var log_scale = learnable_ ? t.param(log_scale_) : t.constant(log_scale_.value());
    const Var u = mul(sub(x, mean), exp(neg(log_scale)));
    const Var quad = mul_scalar(sum(square(u), 1), -0.5);
    return add_scalar(sub(quad, sum(log_scale)), -0.5 * static_cast<real>(dim()) * kLogTwoPi);
}

Var DiagonalGaussian::sample(Tape& tape, std::size_t n, Rng& rng, Var) {
    // x = μ + σ ε: reparameterised, so gradients reach μ and σ when recorded with gradients on.
    const Var mean = learnable_ ? tape.param(mean_) : tape.constant(mean_.value());
    const Var log_scale = learnable_ ? tape.param(log_scale_) : tape.constant(log_scale_.value());
    return add(mul(tape.constant(rng.normal_array(n, dim())), exp(log_scale)), mean);
}

nlohmann::json DiagonalGaussian::config() const {
    return {{"kind", kind()}, {"dim", dim()}, {"learnable", learnable_}};
}

void DiagonalGaussian::collect_parameters(ParameterList& out, const std::string& prefix) {
    if (!learnable_) return;
    out.add(qualified_name(prefix, "mean"), mean_);
    out.add(qualified_name(prefix, "log_scale"), log_scale_);
}

void DiagonalGaussian::collect_buffers(ParameterList& out, const std::string& prefix) {
    if (learnable_) return;  // fixed values are saved as buffers
    out.add(qualified_name(prefix, "mean"), mean_);
    out.add(qualified_name(prefix, "log_scale"), log_scale_);
}

}  // namespace flowtape
