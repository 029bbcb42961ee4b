// AffineCoupling: the affine coupling layer of RealNVP (Dinh et al. 2017). The columns split by
// parity into an identity part A and a transformed part B; an MLP reads x_A (and the context) and
// gives a shift t and a raw log-scale r for each column of B:
//
//   forward  (data → latent)   z_A = x_A,   z_B = x_B · s + t,      log|det ∂z/∂x| = Σ_B log s
//   inverse  (latent → data)   x_A = z_A,   x_B = (z_B − t) · s⁻¹,  log|det ∂x/∂z| = −Σ_B log s
//
// with t, s functions of x_A = z_A, so the inverse takes one pass. log s = B·tanh(r / B)
// (`bounded_log_scale`, B = log_scale_bound, 3 by default) keeps s in [e^−B, e^B].
//
// Mask. A holds the even columns (0, 2, …) and B the odd ones; `flip` swaps the roles, so
// alternating layers transform every coordinate. Needs D ≥ 2 (both parts non-empty).
//
// Start. The MLP's last layer weights are scaled by 10⁻² (bias 0): t ≈ 0, s ≈ 1, near the identity.
//
// Parameters: "net.layers.k.weight", "net.layers.k.bias" (the context, if any, is concatenated to
// x_A at the MLP's input).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "flows/transforms/permutation.hpp"
#include "flows/transform.hpp"
#include "nn/mlp.hpp"

namespace flowtape {

struct CouplingConfig {
    std::size_t dim = 2;
    std::vector<std::size_t> hidden{64, 64};
    std::size_t context = 0;
    Activation activation = Activation::relu;
    bool flip = false;  // false: even columns pass through, odd ones are transformed; true: the reverse
    real log_scale_bound = 3;
};

class AffineCoupling : public Transform {
public:
    // ValueError for D < 2, a zero hidden size or a non-positive bound.
    AffineCoupling(const CouplingConfig& config, Rng& rng);
    // From {"kind": "realnvp_coupling", "dim", "hidden", "context", "activation", "flip",
    // "log_scale_bound"}.
    static std::unique_ptr<AffineCoupling> from_config(const nlohmann::json& config, Rng& rng);

    TransformResult forward(Var x, Var context = Var()) override;
    TransformResult inverse(Var z, Var context = Var()) override;
    std::size_t dim() const override { return config_.dim; }
    std::size_t context_dim() const override { return config_.context; }
    std::string kind() const override { return "realnvp_coupling"; }
    nlohmann::json config() const override;
    void collect_parameters(ParameterList& out, const std::string& prefix) override;

    // The columns passed through and the columns transformed, ascending.
    const std::vector<std::size_t>& identity_columns() const { return identity_.columns(); }
    const std::vector<std::size_t>& transformed_columns() const { return transformed_.columns(); }

private:
    struct Affine {
        Var shift;      // t, N×|B|
        Var log_scale;  // log s, N×|B|
    };
    Affine conditioner(Var x_identity, Var context);

    CouplingConfig config_;
    ColumnSelection identity_, transformed_;  // x → x_A, x → x_B
    ColumnSelection merge_;                   // [·_A, ·_B] → the input's column order
    Mlp net_;
};

}  // namespace flowtape
