// AffineCoupling: the parity split, the MLP conditioner and the one-pass maps (see affine_coupling.hpp).
#include "flows/transforms/affine_coupling.hpp"

#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "autodiff/ops.hpp"
#include "core/error.hpp"
#include "flows/transforms/maf.hpp"

namespace flowtape {
namespace {

const CouplingConfig& checked(const CouplingConfig& c) {
    if (c.dim < 2)
        throw ValueError("AffineCoupling: needs dimension >= 2 (an identity and a transformed part), got " +
                         std::to_string(c.dim));
    if (!(c.log_scale_bound > 0) || !std::isfinite(c.log_scale_bound))
        throw ValueError("AffineCoupling: log_scale_bound must be positive and finite, got " +
                         std::to_string(c.log_scale_bound));
    return c;
}

// The columns of parity `parity` (0 even, 1 odd) of 0..dim−1.
std::vector<std::size_t> columns_of_parity(std::size_t dim, std::size_t parity) {
    std::vector<std::size_t> out;
    for (std::size_t i = parity; i < dim; i += 2) out.push_back(i);
    return out;
}

// For [x_A, x_B] side by side, the position of each input column: merged(:, i) = parts(:, where[i]).
std::vector<std::size_t> merge_positions(const std::vector<std::size_t>& a, const std::vector<std::size_t>& b) {
    std::vector<std::size_t> where(a.size() + b.size());
    for (std::size_t k = 0; k < a.size(); ++k) where[a[k]] = k;
    for (std::size_t k = 0; k < b.size(); ++k) where[b[k]] = a.size() + k;
    return where;
}

MlpConfig mlp_config(const CouplingConfig& c, std::size_t identity_count, std::size_t transformed_count) {
    MlpConfig m;
    m.inputs = identity_count;
    m.hidden = c.hidden;
    m.outputs = 2 * transformed_count;  // [t, r]
    m.activation = c.activation;
    m.context = c.context;
    return m;
}

}  // namespace

AffineCoupling::AffineCoupling(const CouplingConfig& config, Rng& rng)
    : config_(checked(config)),
      identity_(columns_of_parity(config.dim, config.flip ? 1 : 0), config.dim),
      transformed_(columns_of_parity(config.dim, config.flip ? 0 : 1), config.dim),
      merge_(merge_positions(identity_.columns(), transformed_.columns()), config.dim),
      net_(mlp_config(config, identity_.columns().size(), transformed_.columns().size()), rng) {
    // Start near the identity: small last-layer weights give t ≈ 0 and log s ≈ 0.
    ParameterList params = net_.parameters();
    params.find("layers." + std::to_string(net_.layers().size() - 1) + ".weight").value() *= 1e-2;
}

std::unique_ptr<AffineCoupling> AffineCoupling::from_config(const nlohmann::json& j, Rng& rng) {
    CouplingConfig c;
    c.dim = j.at("dim").get<std::size_t>();
    c.hidden = j.at("hidden").get<std::vector<std::size_t>>();
    c.context = j.at("context").get<std::size_t>();
    c.activation = activation_from_name(j.at("activation").get<std::string>());
    c.flip = j.at("flip").get<bool>();
    c.log_scale_bound = j.at("log_scale_bound").get<real>();
    return std::make_unique<AffineCoupling>(c, rng);
}

AffineCoupling::Affine AffineCoupling::conditioner(Var x_identity, Var context) {
    const std::size_t b = transformed_.columns().size();
    const Var out = net_.forward(x_identity, context);
    return {cols(out, 0, b), bounded_log_scale(cols(out, b, 2 * b), config_.log_scale_bound)};
}

TransformResult AffineCoupling::forward(Var x, Var context) {
    check_input_width("AffineCoupling::forward", x, config_.dim);
    const Var xa = identity_.apply(x);
    const Affine a = conditioner(xa, context);
    const Var zb = add(mul(transformed_.apply(x), exp(a.log_scale)), a.shift);
    return {merge_.apply(concat({xa, zb}, 1)), sum(a.log_scale, 1)};
}

TransformResult AffineCoupling::inverse(Var z, Var context) {
    check_input_width("AffineCoupling::inverse", z, config_.dim);
    const Var za = identity_.apply(z);
    const Affine a = conditioner(za, context);
    const Var xb = mul(sub(transformed_.apply(z), a.shift), exp(neg(a.log_scale)));
    return {merge_.apply(concat({za, xb}, 1)), neg(sum(a.log_scale, 1))};
}

nlohmann::json AffineCoupling::config() const {
    return {{"kind", kind()},
            {"dim", config_.dim},
            {"hidden", config_.hidden},
            {"context", config_.context},
            {"activation", activation_name(config_.activation)},
            {"flip", config_.flip},
            {"log_scale_bound", config_.log_scale_bound}};
}

void AffineCoupling::collect_parameters(ParameterList& out, const std::string& prefix) {
    net_.collect_parameters(out, qualified_name(prefix, "net"));
}

}  // namespace flowtape
