// ActNorm: the data-dependent initialisation and the per-dimension affine map (see actnorm.hpp).
#include "flows/transforms/actnorm.hpp"

#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "autodiff/ops.hpp"
#include "core/error.hpp"

namespace flowtape {

ActNorm::ActNorm(std::size_t dim)
    : shift_("shift", xt::zeros<real>({std::size_t(1), dim})),
      log_scale_("log_scale", xt::zeros<real>({std::size_t(1), dim})),
      initialised_("initialised", xt::zeros<real>({std::size_t(1), std::size_t(1)})) {
    if (dim == 0) throw ValueError("ActNorm: dimension must be positive");
}

std::unique_ptr<ActNorm> ActNorm::from_config(const nlohmann::json& config, Rng&) {
    return std::make_unique<ActNorm>(config.at("dim").get<std::size_t>());
}

void ActNorm::initialise(const Array& x) {
    const std::size_t n = x.shape()[0];
    if (n < 2)
        throw ValueError("ActNorm: data-dependent initialisation needs a batch of at least 2 rows, got " +
                         shape_string(shape_of(x)));
    for (std::size_t i = 0; i < dim(); ++i) {
        real mean = 0, variance = 0;
        for (std::size_t r = 0; r < n; ++r) mean += x(r, i);
        mean /= static_cast<real>(n);
        for (std::size_t r = 0; r < n; ++r) variance += (x(r, i) - mean) * (x(r, i) - mean);
        variance /= static_cast<real>(n);
        shift_.value()(0, i) = mean;
        log_scale_.value()(0, i) = -std::log(std::sqrt(variance) + 1e-6);
    }
    initialised_.value()(0, 0) = 1;
}

Var ActNorm::logdet_per_row(Var log_scale, std::size_t rows) {
    if (zeros_.shape()[0] != rows || zeros_.shape()[1] != 1) zeros_ = xt::zeros<real>({rows, std::size_t(1)});
    return add(log_scale.tape().constant(zeros_), sum(log_scale));
}

TransformResult ActNorm::forward(Var x, Var) {
    check_input_width("ActNorm::forward", x, dim());
    if (training_ && !initialised()) initialise(x.value());
    Tape& t = x.tape();
    const Var shift = t.param(shift_), log_scale = t.param(log_scale_);
    return {mul(sub(x, shift), exp(log_scale)), logdet_per_row(log_scale, x.rows())};
}

TransformResult ActNorm::inverse(Var z, Var) {
    check_input_width("ActNorm::inverse", z, dim());
    Tape& t = z.tape();
    const Var shift = t.param(shift_), log_scale = t.param(log_scale_);
    return {add(mul(z, exp(neg(log_scale))), shift), neg(logdet_per_row(log_scale, z.rows()))};
}

nlohmann::json ActNorm::config() const { return {{"kind", kind()}, {"dim", dim()}}; }

void ActNorm::collect_parameters(ParameterList& out, const std::string& prefix) {
    out.add(qualified_name(prefix, "shift"), shift_);
    out.add(qualified_name(prefix, "log_scale"), log_scale_);
}

void ActNorm::collect_buffers(ParameterList& out, const std::string& prefix) {
    out.add(qualified_name(prefix, "initialised"), initialised_);
}

}  // namespace flowtape
