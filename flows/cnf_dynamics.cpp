// The CNF vector fields: an MLP of [z, t], and the planar field whose parameters a hypernetwork of t
// produces. Equations in cnf_dynamics.hpp.
#include "flows/cnf_dynamics.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace flowtape {
namespace {

MlpConfig mlp_dynamics_config(std::size_t dim, std::vector<std::size_t> hidden, Activation activation) {
    if (dim == 0) throw ValueError("MlpDynamics: dimension must be positive, got 0");
    if (activation != Activation::tanh && activation != Activation::softplus)
        throw ValueError("MlpDynamics: activation must be tanh or softplus (smooth, with a tangent rule), got " +
                         activation_name(activation));
    MlpConfig c;
    c.inputs = dim;
    c.hidden = std::move(hidden);
    c.outputs = dim;
    c.activation = activation;
    c.context = 1;  // the time column
    return c;
}

MlpConfig hypernet_config(std::size_t dim, std::size_t width, std::vector<std::size_t> hidden) {
    if (dim == 0 || width == 0)
        throw ValueError("PlanarDynamics: dimension and width must be positive, got dim " + std::to_string(dim) +
                         ", width " + std::to_string(width));
    MlpConfig c;
    c.inputs = 1;  // t
    c.hidden = std::move(hidden);
    c.outputs = 2 * dim * width + 2 * width;  // W, b, U, g
    c.activation = Activation::tanh;
    return c;
}

std::vector<std::size_t> hidden_of(const nlohmann::json& c) { return c.at("hidden").get<std::vector<std::size_t>>(); }

}  // namespace

// ---- MlpDynamics ----

MlpDynamics::MlpDynamics(std::size_t dim, std::vector<std::size_t> hidden, Activation activation, Rng& rng)
    : net_(mlp_dynamics_config(dim, std::move(hidden), activation), rng) {}

Var MlpDynamics::velocity(Var t, Var z) {
    // t (1×1) as an N×1 column: ones ⊙ t, so the gradient reaches t (the adjoint's dL/dt).
    const std::size_t n = z.rows();
    if (ones_.shape()[0] != n || ones_.shape()[1] != 1) ones_ = xt::ones<real>({n, std::size_t(1)});
    const Var time = mul(z.tape().constant(ones_), t);
    return net_.forward(z, time);
}

nlohmann::json MlpDynamics::config() const {
    return {{"kind", kind()},
            {"dim", dim()},
            {"hidden", net_.config().hidden},
            {"activation", activation_name(net_.config().activation)}};
}

void MlpDynamics::collect_parameters(ParameterList& out, const std::string& prefix) {
    net_.collect_parameters(out, qualified_name(prefix, "net"));
}

// ---- PlanarDynamics ----

PlanarDynamics::PlanarDynamics(std::size_t dim, std::size_t width, std::vector<std::size_t> hidden, Rng& rng)
    : dim_(dim), width_(width), hypernet_(hypernet_config(dim, width, std::move(hidden)), rng) {}

Var PlanarDynamics::velocity(Var t, Var z) {
    check_input_width("PlanarDynamics", z, dim_);
    const std::size_t d = dim_, m = width_;
    const Var p = hypernet_.forward(t);  // 1×(2DM + 2M): [W (row-major D×M), b, U (row-major M×D), g]
    const Var w = reshape(cols(p, 0, d * m), d, m);
    const Var b = cols(p, d * m, d * m + m);
    const Var u = reshape(cols(p, d * m + m, 2 * d * m + m), m, d);
    const Var gate = sigmoid(reshape(cols(p, 2 * d * m + m, 2 * d * m + 2 * m), m, 1));
    const Var h = tanh(linear(z, w, b));                                     // N×M: tanh(w_mᵀ z + b_m)
    return mul_scalar(matmul(h, mul(u, gate)), 1.0 / static_cast<real>(m));  // (1/M) Σ_m σ(g_m) u_m h_m
}

PlanarDynamics::Fields PlanarDynamics::fields_at(real t) {
    Tape tape;
    NoGrad no_grad(tape);
    const std::size_t d = dim_, m = width_;
    const Array p = hypernet_.forward(tape.constant(Array{{t}})).value();
    Fields f;
    f.w = Array::from_shape({d, m});
    f.b = Array::from_shape({1, m});
    f.u = Array::from_shape({m, d});
    std::copy(p.data(), p.data() + d * m, f.w.data());
    std::copy(p.data() + d * m, p.data() + d * m + m, f.b.data());
    std::copy(p.data() + d * m + m, p.data() + 2 * d * m + m, f.u.data());
    for (std::size_t k = 0; k < m; ++k) {
        const real g = p(0, 2 * d * m + m + k);
        const real gate = 1.0 / (1.0 + std::exp(-g));
        for (std::size_t j = 0; j < d; ++j) f.u(k, j) *= gate;
    }
    return f;
}

nlohmann::json PlanarDynamics::config() const {
    return {{"kind", kind()}, {"dim", dim_}, {"width", width_}, {"hidden", hypernet_.config().hidden}};
}

void PlanarDynamics::collect_parameters(ParameterList& out, const std::string& prefix) {
    hypernet_.collect_parameters(out, qualified_name(prefix, "hypernet"));
}

// ---- the factory ----

CnfDynamicsPtr make_cnf_dynamics(const nlohmann::json& config, Rng& rng) {
    try {
        const std::string kind = config.at("kind").get<std::string>();
        const std::size_t dim = config.at("dim").get<std::size_t>();
        if (kind == "cnf_mlp")
            return std::make_unique<MlpDynamics>(dim, hidden_of(config),
                                                 activation_from_name(config.at("activation").get<std::string>()), rng);
        if (kind == "cnf_planar")
            return std::make_unique<PlanarDynamics>(dim, config.at("width").get<std::size_t>(), hidden_of(config), rng);
        throw IoError("make_cnf_dynamics: unknown kind \"" + kind + "\" (cnf_mlp or cnf_planar)");
    } catch (const nlohmann::json::exception& e) {
        throw IoError(std::string("make_cnf_dynamics: bad config ") + config.dump().substr(0, 120) + ": " + e.what());
    }
}

}  // namespace flowtape
