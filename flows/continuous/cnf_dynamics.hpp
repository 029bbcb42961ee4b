// The vector fields of continuous normalizing flows (flows/continuous/cnf.hpp): f(z, t; θ), N×D → N×D, row by row.
//
// Two kinds, each a Module whose ops all have tangent rules (autodiff/ops.hpp [T]), so the flow can
// take Tr(∂f/∂z) by tangents (autodiff/higher_order.hpp) and the adjoint can differentiate that:
//
//   MlpDynamics (kind "cnf_mlp"):   f(z, t) = MLP([z, t])  — time concatenated to the inputs (Chen et
//       al. 2018, FFJORD), tanh or softplus between the layers, none after the last.
//       Parameters "net.layers.k.weight" / "net.layers.k.bias". With one or two hidden layers the
//       trace has a closed form that costs one N×H×H product instead of D passes (velocity_and_trace,
//       Note [the closed-form trace of MLP dynamics] in cnf_dynamics.cpp).
//
//   PlanarDynamics (kind "cnf_planar"): the paper's 2-D dynamics (Josias & Brink, after Chen et al.
//       2018's continuous planar flow): a planar-flow vector field of M units whose parameters are
//       produced from t by a hypernetwork H (an MLP 1 → hidden → 2MD + 2M, tanh):
//           [W, b, U, g] = H(t),   W: D×M (columns w_m),  b: 1×M,  U: M×D (rows u_m),  g: M×1
//           f(z, t) = (1/M) Σ_m σ(g_m) u_m tanh(w_mᵀ z + b_m)
//       The sigmoid gate σ(g_m) lets H switch units off over time; the 1/M keeps f of order one as M
//       grows. Tr ∂f/∂z = (1/M) Σ_m σ(g_m) (1 − tanh²(w_mᵀz + b_m)) u_mᵀ w_m, which the flow computes by
//       tangents like any other dynamics (the test checks it against this closed form).
//       Parameters "hypernet.layers.k.weight" / "hypernet.layers.k.bias".
//
// The paper does not print the hypernetwork's sizes; the defaults (M = 32 units, hidden 32,32) are
// ours. `make_cnf_dynamics` rebuilds either kind from its config() (model files).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "autodiff/higher_order.hpp"
#include "core/random.hpp"
#include "nn/mlp.hpp"
#include "nn/module.hpp"

namespace flowtape {

class CnfDynamics : public Module {
public:
    // f(z, t) on z's tape: t is 1×1, z is N×D; the result N×D.
    virtual Var velocity(Var t, Var z) = 0;
    // f(z, t) and Tr(∂f/∂z) per row (N×1), the exact trace the flow's augmented dynamics integrate.
    // The default takes D tangent passes of velocity (jacobian_trace); dynamics with a cheaper closed
    // form override it. Both are tape values a first-order backward differentiates in z, t and θ.
    virtual ValueAndTrace velocity_and_trace(Var t, Var z);
    virtual std::size_t dim() const = 0;
    virtual std::string kind() const = 0;
    virtual nlohmann::json config() const = 0;
};

using CnfDynamicsPtr = std::unique_ptr<CnfDynamics>;

class MlpDynamics : public CnfDynamics {
public:
    // ValueError for dim 0, a zero hidden size, or an activation other than tanh or softplus (the
    // dynamics need a smooth activation with a tangent rule).
    MlpDynamics(std::size_t dim, std::vector<std::size_t> hidden, Activation activation, Rng& rng);
    Var velocity(Var t, Var z) override;
    // The closed form for one or two hidden layers; D tangent passes for more, or when switched off.
    ValueAndTrace velocity_and_trace(Var t, Var z) override;
    // Off: the D tangent passes of CnfDynamics::velocity_and_trace even where the closed form exists
    // (the reference the tests and the speed bench compare it with). Not saved in the model file:
    // the two agree to rounding.
    void use_closed_form_trace(bool on) { closed_form_trace_ = on; }
    std::size_t dim() const override { return net_.config().outputs; }
    std::string kind() const override { return "cnf_mlp"; }
    // {"kind": "cnf_mlp", "dim": D, "hidden": [...], "activation": "tanh"}
    nlohmann::json config() const override;
    void collect_parameters(ParameterList& out, const std::string& prefix) override;

private:
    Var time_column(Var t, std::size_t n);  // t as an N×1 column
    Mlp net_;
    Array ones_;  // N×1 of ones, to broadcast t to a column (resized only when N changes)
    bool closed_form_trace_ = true;
};

class PlanarDynamics : public CnfDynamics {
public:
    // ValueError for dim 0, width 0 or a zero hidden size.
    PlanarDynamics(std::size_t dim, std::size_t width, std::vector<std::size_t> hidden, Rng& rng);
    Var velocity(Var t, Var z) override;
    std::size_t dim() const override { return dim_; }
    std::size_t width() const { return width_; }
    std::string kind() const override { return "cnf_planar"; }
    // {"kind": "cnf_planar", "dim": D, "width": M, "hidden": [...]}
    nlohmann::json config() const override;
    void collect_parameters(ParameterList& out, const std::string& prefix) override;

    // The planar parameters at time t, as values (for tests and plots): W D×M, b 1×M, U M×D (already
    // gated by σ(g)). Evaluated on a local tape, so the parameters must not be in use on another one.
    struct Fields {
        Array w, b, u;
    };
    Fields fields_at(real t);

private:
    std::size_t dim_, width_;
    Mlp hypernet_;
};

// Rebuilds dynamics from config() with fresh parameters from `rng`. IoError for an unknown kind or a
// malformed config.
CnfDynamicsPtr make_cnf_dynamics(const nlohmann::json& config, Rng& rng);

}  // namespace flowtape
