// The CNF vector fields: an MLP of [z, t] (with its closed-form trace), and the planar field whose
// parameters a hypernetwork of t produces. Equations in cnf_dynamics.hpp.
#include "flows/continuous/cnf_dynamics.hpp"

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

// σ'(a) for the dynamics' activations, from the pre-activation a and the output h = σ(a):
// tanh' = 1 − h², softplus' = sigmoid(a).
Var activation_slope(Activation activation, Var a, Var h) {
    return activation == Activation::tanh ? one_minus_square(h) : sigmoid(a);
}

}  // namespace

// ---- CnfDynamics ----

ValueAndTrace CnfDynamics::velocity_and_trace(Var t, Var z) {
    return jacobian_trace(z.tape(), z, [this, t](Var zz) { return velocity(t, zz); });
}

// ---- MlpDynamics ----

MlpDynamics::MlpDynamics(std::size_t dim, std::vector<std::size_t> hidden, Activation activation, Rng& rng)
    : net_(mlp_dynamics_config(dim, std::move(hidden), activation), rng) {}

Var MlpDynamics::time_column(Var t, std::size_t n) {
    // ones ⊙ t, so the gradient reaches t (the adjoint's dL/dt).
    if (ones_.shape()[0] != n || ones_.shape()[1] != 1) ones_ = xt::ones<real>({n, std::size_t(1)});
    return mul(t.tape().constant(ones_), t);
}

Var MlpDynamics::velocity(Var t, Var z) { return net_.forward(z, time_column(t, z.rows())); }

// Note [the closed-form trace of MLP dynamics]: rows are points, x = [z, t] (1×(D+1)), weights in×out.
// Write W1z for the first D rows of W1 (those that multiply z), aₖ for the pre-activations, hₖ = σ(aₖ),
// and dₖ = σ'(aₖ) (a row of H_k slopes). Per row,
//   one hidden layer:   f = σ(x W1 + b1) W2 + b2
//       ∂f_j/∂z_i = Σ_a W1z[i,a] d1[a] W2[a,j]
//       Tr = Σ_a d1[a] c[a],            c[a] = Σ_i W1z[i,a] W2[a,i]       → trace = d1 c    (N×1)
//   two hidden layers:  f = σ(σ(x W1 + b1) W2 + b2) W3 + b3
//       ∂f_j/∂z_i = Σ_{a,b} W1z[i,a] d1[a] W2[a,b] d2[b] W3[b,j]
//       Tr = Σ_{a,b} d1[a] K[a,b] d2[b],  K = W2 ⊙ M,  M[a,b] = Σ_i W1z[i,a] W3[b,i], M = (W3 W1z)ᵀ
//                                                                   → trace = rowsum((d1 K) ⊙ d2)
// K depends on the parameters only (H1×H2, made once per evaluation from a D-term product), so the
// trace costs one N×H1×H2 gemm where D tangent passes cost D of them (and their tangent ops); and it
// is made of first-order ops (linear, matmul, mul, dot_rows, the slopes), so the adjoint's backward sweep
// differentiates it in z, t and θ with no tangents at all. Its gradients are those ops' rules, e.g.
// ∂K = d1ᵀ (g ⊙ d2) and ∂d1 = (g ⊙ d2) Kᵀ for a trace gradient g (N×1, broadcast along columns).
// With three or more hidden layers the diagonal closes a loop through every layer (an N×H³ sum),
// so the tangent passes are cheaper there and velocity_and_trace falls back to them.
ValueAndTrace MlpDynamics::velocity_and_trace(Var t, Var z) {
    const std::size_t hidden = net_.config().hidden.size();
    if (!closed_form_trace_ || (hidden != 1 && hidden != 2)) return CnfDynamics::velocity_and_trace(t, z);
    check_input_width("MlpDynamics", z, dim());
    Tape& tape = z.tape();
    const Activation act = net_.config().activation;
    std::vector<Linear>& layers = net_.layers();
    // The forward pass exactly as Mlp::forward records it, so f is the same value as velocity's.
    const Var x = concat({z, time_column(t, z.rows())}, 1);
    const Var w1 = tape.param(layers[0].weight);
    const Var a1 = linear(x, w1, tape.param(layers[0].bias));
    const Var h1 = activate(a1, act);
    const Var d1 = activation_slope(act, a1, h1);
    const Var w1z = rows(w1, 0, dim());
    if (hidden == 1) {
        const Var w2 = tape.param(layers[1].weight);
        const Var f = linear(h1, w2, tape.param(layers[1].bias));
        const Var c = dot_rows(transpose(w1z), w2);  // H1×1: c[a] = Σ_i W1z[i,a] W2[a,i]
        return {f, matmul(d1, c)};
    }
    const Var w2 = tape.param(layers[1].weight);
    const Var a2 = linear(h1, w2, tape.param(layers[1].bias));
    const Var h2 = activate(a2, act);
    const Var d2 = activation_slope(act, a2, h2);
    const Var w3 = tape.param(layers[2].weight);
    const Var f = linear(h2, w3, tape.param(layers[2].bias));
    const Var k = mul(w2, transpose(matmul(w3, w1z)));  // K = W2 ⊙ (W3 W1z)ᵀ
    return {f, dot_rows(matmul(d1, k), d2)};
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
