// SplineAutoregressive and SplineCoupling: conditioners, parameter layouts, the D-pass inverse and
// the configs (see nsf.hpp for the equations and flows/transforms/spline.hpp for the spline).
#include "flows/transforms/nsf.hpp"

#include <string>

#include <nlohmann/json.hpp>

#include "autodiff/ops.hpp"
#include "core/error.hpp"
#include "flows/transforms/maf.hpp"

namespace flowtape {
namespace {

std::size_t raw_per_coordinate(std::size_t bins) { return 3 * bins - 1; }

// The config checked, with its degrees filled in.
SplineAutoregressiveConfig resolve(SplineAutoregressiveConfig c, Rng& rng) {
    if (c.dim == 0) throw ValueError("SplineAutoregressive: dimension must be positive");
    check_spline_options("SplineAutoregressive", c.bins, c.spline);
    c.degrees = resolve_degrees("SplineAutoregressive", std::move(c.degrees), c.ordering, c.dim, rng);
    return c;
}

MadeConfig made_config(const SplineAutoregressiveConfig& c) {
    MadeConfig m;
    m.inputs = c.dim;
    m.hidden = c.hidden;
    m.outputs_per_input = raw_per_coordinate(c.bins);
    m.ordering = Ordering::natural;  // the transform itself rearranges the inputs by degree
    m.context = c.context;
    m.residual_blocks = c.residual_blocks;
    m.activation = c.activation;
    return m;
}

// MADE columns (j_first + k)·D + i for k < count, laid out as column i·count + k: element i's
// `count` raw values side by side, as rational_quadratic_spline reads them.
ColumnSelection made_block(std::size_t j_first, std::size_t count, std::size_t d, std::size_t bins) {
    std::vector<std::size_t> columns(d * count);
    for (std::size_t i = 0; i < d; ++i)
        for (std::size_t k = 0; k < count; ++k) columns[i * count + k] = (j_first + k) * d + i;
    return ColumnSelection(std::move(columns), raw_per_coordinate(bins) * d);
}

// Near-identity start: output weights × `scale` (10⁻², or 0 for the identity), output bias 0
// except the derivative columns.
// `is_derivative(c)` says whether output column c holds a raw derivative.
template <class IsDerivative>
void start_near_identity(Module& net, std::size_t output_layer, const SplineOptions& o, real scale,
                         IsDerivative is_derivative) {
    ParameterList params = net.parameters();
    const std::string layer = "layers." + std::to_string(output_layer);
    params.find(layer + ".weight").value() *= scale;
    Array& bias = params.find(layer + ".bias").value();
    const real identity = identity_raw_derivative(o);
    for (std::size_t c = 0; c < bias.shape()[1]; ++c) bias(0, c) = is_derivative(c) ? identity : 0.0;
}

// The spline options and bin count shared by both configs, as JSON fields.
void write_spline_fields(nlohmann::json& j, std::size_t bins, const SplineOptions& o) {
    j["bins"] = bins;
    j["tail_bound"] = o.tail_bound;
    j["min_bin_width"] = o.min_bin_width;
    j["min_bin_height"] = o.min_bin_height;
    j["min_derivative"] = o.min_derivative;
}
SplineOptions read_spline_fields(const nlohmann::json& j) {
    SplineOptions o;
    o.tail_bound = j.at("tail_bound").get<real>();
    o.min_bin_width = j.value("min_bin_width", o.min_bin_width);
    o.min_bin_height = j.value("min_bin_height", o.min_bin_height);
    o.min_derivative = j.value("min_derivative", o.min_derivative);
    return o;
}

}  // namespace

// ---- SplineAutoregressive ----

SplineAutoregressive::SplineAutoregressive(const SplineAutoregressiveConfig& config, Rng& rng)
    : config_(resolve(config, rng)), made_(made_config(config_), rng) {
    const std::size_t d = config_.dim, bins = config_.bins;
    const std::vector<std::size_t> order = degree_order(config_.degrees);
    to_degree_order_ = ColumnSelection(order, d);
    from_degree_order_ = ColumnSelection(inverse_permutation(order), d);
    widths_ = made_block(0, bins, d, bins);
    heights_ = made_block(bins, bins, d, bins);
    derivatives_ = made_block(2 * bins, bins - 1, d, bins);
    // MADE output column j·D + i is output j of input i; j ≥ 2K are the derivatives.
    start_near_identity(made_, made_.masks().size() - 1, config_.spline, config_.output_init_scale,
                        [&](std::size_t c) { return c / d >= 2 * bins; });
}

std::unique_ptr<SplineAutoregressive> SplineAutoregressive::from_config(const nlohmann::json& j, Rng& rng) {
    SplineAutoregressiveConfig c;
    c.dim = j.at("dim").get<std::size_t>();
    c.bins = j.at("bins").get<std::size_t>();
    c.spline = read_spline_fields(j);
    c.hidden = j.at("hidden").get<std::vector<std::size_t>>();
    c.context = j.at("context").get<std::size_t>();
    c.residual_blocks = j.at("residual_blocks").get<bool>();
    c.activation = activation_from_name(j.at("activation").get<std::string>());
    c.ordering = ordering_from_name(j.at("ordering").get<std::string>());
    c.degrees = j.at("degrees").get<std::vector<std::size_t>>();
    return std::make_unique<SplineAutoregressive>(c, rng);
}

SplineResult SplineAutoregressive::spline(Var values, Var conditioning, Var context, bool inverse) {
    const Var raw = made_.forward(conditioning, context);
    return rational_quadratic_spline(values, widths_.apply(raw), heights_.apply(raw), derivatives_.apply(raw), inverse,
                                     config_.spline);
}

TransformResult SplineAutoregressive::forward(Var x, Var context) {
    check_input_width("SplineAutoregressive::forward", x, config_.dim);
    const Var xp = to_degree_order_.apply(x);
    const SplineResult r = spline(xp, xp, context, false);
    return {from_degree_order_.apply(r.out), sum(r.logdet, 1)};
}

TransformResult SplineAutoregressive::inverse(Var z, Var context) {
    check_input_width("SplineAutoregressive::inverse", z, config_.dim);
    Tape& t = z.tape();
    const Var zp = to_degree_order_.apply(z);
    Var xp = t.constant(xt::zeros<real>({z.rows(), config_.dim}));
    SplineResult r;
    for (std::size_t pass = 0; pass < config_.dim; ++pass) {
        r = spline(zp, xp, context, true);
        xp = r.out;
    }
    // The last pass read the exact x for every coordinate it uses, so its log-determinant is the one at x.
    return {from_degree_order_.apply(xp), sum(r.logdet, 1)};
}

nlohmann::json SplineAutoregressive::config() const {
    nlohmann::json j = {{"kind", kind()},
                        {"dim", config_.dim},
                        {"hidden", config_.hidden},
                        {"context", config_.context},
                        {"residual_blocks", config_.residual_blocks},
                        {"activation", activation_name(config_.activation)},
                        {"ordering", ordering_name(config_.ordering)},
                        {"degrees", config_.degrees}};
    write_spline_fields(j, config_.bins, config_.spline);
    return j;
}

void SplineAutoregressive::collect_parameters(ParameterList& out, const std::string& prefix) {
    made_.collect_parameters(out, qualified_name(prefix, "made"));
}

// ---- SplineCoupling ----

namespace {

const SplineCouplingConfig& checked(const SplineCouplingConfig& c) {
    if (c.dim < 2) throw ValueError("SplineCoupling: needs dimension >= 2, got " + std::to_string(c.dim));
    check_spline_options("SplineCoupling", c.bins, c.spline);
    return c;
}

// The columns i < dim that pass unchanged (`kept`) or change: the even ones pass unless `flip`.
std::vector<std::size_t> coupling_columns(std::size_t dim, bool flip, bool kept) {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < dim; ++i)
        if (((i % 2 == 1) == flip) == kept) out.push_back(i);
    return out;
}

MlpConfig mlp_config(const SplineCouplingConfig& c, std::size_t kept, std::size_t changed) {
    MlpConfig m;
    m.inputs = kept;
    m.hidden = c.hidden;
    m.outputs = changed * raw_per_coordinate(c.bins);
    m.activation = c.activation;
    m.context = c.context;
    return m;
}

}  // namespace

SplineCoupling::SplineCoupling(const SplineCouplingConfig& config, Rng& rng)
    : config_(checked(config)),
      kept_(coupling_columns(config_.dim, config_.flip, true)),
      changed_(coupling_columns(config_.dim, config_.flip, false)),
      net_(mlp_config(config_, kept_.size(), changed_.size()), rng),
      keep_(kept_, config_.dim),
      change_(changed_, config_.dim) {
    // [kept, changed] side by side → the input's column order.
    std::vector<std::size_t> joined = kept_;
    joined.insert(joined.end(), changed_.begin(), changed_.end());
    merge_ = ColumnSelection(inverse_permutation(joined), config_.dim);
    // The Mlp's output: widths (changed·K), heights (changed·K), then derivatives.
    const std::size_t derivatives_from = 2 * changed_.size() * config_.bins;
    start_near_identity(net_, net_.layers().size() - 1, config_.spline, config_.output_init_scale,
                        [&](std::size_t c) { return c >= derivatives_from; });
}

std::unique_ptr<SplineCoupling> SplineCoupling::from_config(const nlohmann::json& j, Rng& rng) {
    SplineCouplingConfig c;
    c.dim = j.at("dim").get<std::size_t>();
    c.bins = j.at("bins").get<std::size_t>();
    c.spline = read_spline_fields(j);
    c.hidden = j.at("hidden").get<std::vector<std::size_t>>();
    c.context = j.at("context").get<std::size_t>();
    c.activation = activation_from_name(j.at("activation").get<std::string>());
    c.flip = j.at("flip").get<bool>();
    return std::make_unique<SplineCoupling>(c, rng);
}

TransformResult SplineCoupling::apply(Var in, Var context, bool inverse, const char* who) {
    check_input_width(who, in, config_.dim);
    const std::size_t block = changed_.size() * config_.bins;
    const Var kept = keep_.apply(in);
    const Var raw = net_.forward(kept, context);
    const SplineResult r = rational_quadratic_spline(change_.apply(in), cols(raw, 0, block), cols(raw, block, 2 * block),
                                                     cols(raw, 2 * block, raw.cols()), inverse, config_.spline);
    return {merge_.apply(concat({kept, r.out}, 1)), sum(r.logdet, 1)};
}

TransformResult SplineCoupling::forward(Var x, Var context) {
    return apply(x, context, false, "SplineCoupling::forward");
}

TransformResult SplineCoupling::inverse(Var z, Var context) {
    return apply(z, context, true, "SplineCoupling::inverse");
}

nlohmann::json SplineCoupling::config() const {
    nlohmann::json j = {{"kind", kind()},
                        {"dim", config_.dim},
                        {"hidden", config_.hidden},
                        {"context", config_.context},
                        {"activation", activation_name(config_.activation)},
                        {"flip", config_.flip}};
    write_spline_fields(j, config_.bins, config_.spline);
    return j;
}

void SplineCoupling::collect_parameters(ParameterList& out, const std::string& prefix) {
    net_.collect_parameters(out, qualified_name(prefix, "net"));
}

}  // namespace flowtape
