// MafTransform: degrees, the MADE conditioner, the forward map and the D-pass inverse (see maf.hpp).
#include "flows/transforms/maf.hpp"

#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "autodiff/ops.hpp"
#include "core/error.hpp"

namespace flowtape {

Var bounded_log_scale(Var raw, real bound) { return mul_scalar(tanh(mul_scalar(raw, 1 / bound)), bound); }

namespace {

// The config with its degrees filled in from the ordering (a random one drawn from rng) and checked.
MafConfig resolve(MafConfig c, Rng& rng) {
    const std::size_t d = c.dim;
    if (d == 0) throw ValueError("MafTransform: dimension must be positive");
    if (!(c.log_scale_bound >= 0) || !std::isfinite(c.log_scale_bound))
        throw ValueError("MafTransform: log_scale_bound must be finite and ≥ 0 (0: no clamp), got " +
                         std::to_string(c.log_scale_bound));
    if (!(c.output_init_scale > 0) || !std::isfinite(c.output_init_scale))
        throw ValueError("MafTransform: output_init_scale must be positive and finite, got " +
                         std::to_string(c.output_init_scale));
    c.degrees = resolve_degrees("MafTransform", std::move(c.degrees), c.ordering, d, rng);
    return c;
}

MadeConfig made_config(const MafConfig& c) {
    MadeConfig m;
    m.inputs = c.dim;
    m.hidden = c.hidden;
    m.outputs_per_input = 2;
    m.ordering = Ordering::natural;  // the MAF itself rearranges the inputs by degree
    m.context = c.context;
    m.residual_blocks = c.residual_blocks;
    m.activation = c.activation;
    return m;
}


// z = (x − μ) · exp(log s), the forward affine map.
Var affine_forward(Var x, Var shift, Var log_scale) { return mul(sub(x, shift), exp(log_scale)); }
// x = z · exp(−log s) + μ, its inverse.
Var affine_inverse(Var z, Var shift, Var log_scale) { return add(mul(z, exp(neg(log_scale))), shift); }

}  // namespace

MafTransform::MafTransform(const MafConfig& config, Rng& rng)
    : config_(resolve(config, rng)), made_(made_config(config_), rng) {
    const std::vector<std::size_t> order = degree_order(config_.degrees);
    to_degree_order_ = ColumnSelection(order, config_.dim);
    from_degree_order_ = ColumnSelection(inverse_permutation(order), config_.dim);
    // Start near the identity: small output weights give μ ≈ 0 and log s ≈ 0.
    ParameterList params = made_.parameters();
    Array& w = params.find("layers." + std::to_string(made_.masks().size() - 1) + ".weight").value();
    if (config_.output_init_scale != 1) w *= config_.output_init_scale;
}

std::unique_ptr<MafTransform> MafTransform::from_config(const nlohmann::json& j, Rng& rng) {
    MafConfig c;
    c.dim = j.at("dim").get<std::size_t>();
    c.hidden = j.at("hidden").get<std::vector<std::size_t>>();
    c.context = j.at("context").get<std::size_t>();
    c.residual_blocks = j.at("residual_blocks").get<bool>();
    c.activation = activation_from_name(j.at("activation").get<std::string>());
    c.ordering = ordering_from_name(j.at("ordering").get<std::string>());
    c.degrees = j.at("degrees").get<std::vector<std::size_t>>();
    c.log_scale_bound = j.at("log_scale_bound").get<real>();
    c.output_init_scale = j.value("output_init_scale", 1e-2);  // files before it had 10⁻²
    return std::make_unique<MafTransform>(c, rng);
}

MafTransform::Affine MafTransform::conditioner(Var xp, Var context) {
    const std::size_t d = config_.dim;
    const Var out = made_.forward(xp, context);
    const Var raw = cols(out, d, 2 * d);
    return {cols(out, 0, d), config_.log_scale_bound > 0 ? bounded_log_scale(raw, config_.log_scale_bound) : raw};
}

TransformResult MafTransform::forward(Var x, Var context) {
    check_input_width("MafTransform::forward", x, config_.dim);
    const Var xp = to_degree_order_.apply(x);
    const Affine a = conditioner(xp, context);
    const Var zp = affine_forward(xp, a.shift, a.log_scale);
    return {from_degree_order_.apply(zp), sum(a.log_scale, 1)};
}

TransformResult MafTransform::inverse(Var z, Var context) {
    check_input_width("MafTransform::inverse", z, config_.dim);
    Tape& t = z.tape();
    const Var zp = to_degree_order_.apply(z);
    Var xp = t.constant(xt::zeros<real>({z.rows(), config_.dim}));
    Affine a;
    for (std::size_t pass = 0; pass < config_.dim; ++pass) {
        a = conditioner(xp, context);
        xp = affine_inverse(zp, a.shift, a.log_scale);
    }
    // The last pass read the exact x for every coordinate it uses, so its log s is the one at x.
    return {from_degree_order_.apply(xp), neg(sum(a.log_scale, 1))};
}

nlohmann::json MafTransform::config() const {
    return {{"kind", kind()},
            {"dim", config_.dim},
            {"hidden", config_.hidden},
            {"context", config_.context},
            {"residual_blocks", config_.residual_blocks},
            {"activation", activation_name(config_.activation)},
            {"ordering", ordering_name(config_.ordering)},
            {"degrees", config_.degrees},
            {"log_scale_bound", config_.log_scale_bound},
            {"output_init_scale", config_.output_init_scale}};
}

void MafTransform::collect_parameters(ParameterList& out, const std::string& prefix) {
    made_.collect_parameters(out, qualified_name(prefix, "made"));
}

}  // namespace flowtape
