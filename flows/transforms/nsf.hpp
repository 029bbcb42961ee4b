// Neural spline flows (Durkan et al. 2019): rational-quadratic spline transforms whose raw spline
// parameters come from a conditioner network. The spline itself is flows/transforms/spline.hpp; these classes
// only wire a network to it. Each transformed coordinate x_i gets K bins on [−B, B] (identity tails
// outside) from P = 3K − 1 raw numbers: K widths, K heights, K − 1 interior derivatives.
//
// SplineAutoregressive (kind "nsf"): z_i = RQS(x_i; θ_i(x_<i)), θ from a MADE with
// outputs_per_input = P, so z_i depends on x_j only for degree m(j) < m(i) and
// log|det ∂z/∂x| = Σ_i log RQS'(x_i). As in MafTransform, the MADE uses the natural ordering and sees
// the inputs rearranged by degree; its output column j·D + i (output j of input i) is picked into
// the spline's layout, widths column i·K + k = MADE column k·D + i, and likewise heights (j = K + k)
// and derivatives (j = 2K + k). Inverse: D passes, x⁽⁰⁾ = 0, x⁽ᵏ⁺¹⁾ = RQS⁻¹(z; θ(x⁽ᵏ⁾)); after
// pass k the k + 1 coordinates of lowest degree are exact, so x⁽ᴰ⁾ is the inverse (and, the masked
// weights giving exactly zero sensitivity to the rest, so are its gradients).
//
// SplineCoupling (kind "nsf_coupling"): the coordinates of one parity pass unchanged and condition
// the others, z_keep = x_keep, z_change = RQS(x_change; θ(x_keep, context)), θ from an Mlp whose
// output holds the changed coordinates' widths (column i·K + k), then heights, then derivatives.
// As in AffineCoupling, the even columns (0, 2, …) pass unchanged and the odd ones change; `flip`
// swaps the roles, so alternating layers change every coordinate. The inverse is one pass. Needs D ≥ 2.
//
// Start. The conditioner's output weights are scaled by output_init_scale (10⁻² by default) and its
// output bias is 0 for widths and heights and identity_raw_derivative() for the derivatives, so
// every spline starts within about 10⁻² of the identity, and every weight gets a gradient from the
// first step. output_init_scale = 0 (a zero last layer: uniform bins, unit interior derivatives)
// starts at the identity itself, to rounding (the flows-for-flows paper's top flow).
//
// Parameters: "made.layers.k.*" (and "made.context.k.*") for nsf, "net.layers.k.*" for nsf_coupling.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "core/random.hpp"
#include "flows/transforms/permutation.hpp"
#include "flows/transforms/spline.hpp"
#include "flows/transform.hpp"
#include "nn/made.hpp"
#include "nn/mlp.hpp"

namespace flowtape {

struct SplineAutoregressiveConfig {
    std::size_t dim = 2;
    std::size_t bins = 8;                     // K ≥ 2
    SplineOptions spline;                     // tail bound B and the minimums
    std::vector<std::size_t> hidden{64, 64};  // all equal with residual blocks
    std::size_t context = 0;
    bool residual_blocks = false;
    Activation activation = Activation::relu;
    Ordering ordering = Ordering::natural;
    // The degree of each input (a permutation of 1..dim). Empty: made from `ordering` (a random
    // one drawn from the rng); given (as in a loaded config): used as is.
    std::vector<std::size_t> degrees;
    real output_init_scale = 1e-2;  // the start (above); 0: the identity
};

class SplineAutoregressive : public Transform {
public:
    // ValueError for a zero dimension, bad degrees, bad spline options or a MADE the config cannot build.
    SplineAutoregressive(const SplineAutoregressiveConfig& config, Rng& rng);
    // From {"kind": "nsf", "dim", "bins", "tail_bound", "hidden", "context", "residual_blocks",
    // "activation", "ordering", "degrees"} and optionally "min_bin_width", "min_bin_height",
    // "min_derivative" (default 10⁻³ each).
    static std::unique_ptr<SplineAutoregressive> from_config(const nlohmann::json& config, Rng& rng);

    TransformResult forward(Var x, Var context = Var()) override;
    TransformResult inverse(Var z, Var context = Var()) override;
    std::size_t dim() const override { return config_.dim; }
    std::size_t context_dim() const override { return config_.context; }
    std::string kind() const override { return "nsf"; }
    nlohmann::json config() const override;
    void collect_parameters(ParameterList& out, const std::string& prefix) override;

    const std::vector<std::size_t>& input_degrees() const { return config_.degrees; }
    const SplineAutoregressiveConfig& spline_config() const { return config_; }

private:
    // The spline applied to inputs in degree order, its parameters computed from `conditioning`.
    SplineResult spline(Var values, Var conditioning, Var context, bool inverse);

    SplineAutoregressiveConfig config_;
    Made made_;
    ColumnSelection to_degree_order_, from_degree_order_;
    ColumnSelection widths_, heights_, derivatives_;  // MADE columns → the spline's layout
};

struct SplineCouplingConfig {
    std::size_t dim = 2;                      // ≥ 2
    std::size_t bins = 8;                     // K ≥ 2
    SplineOptions spline;
    std::vector<std::size_t> hidden{64, 64};
    std::size_t context = 0;
    Activation activation = Activation::relu;
    bool flip = false;  // false: even columns pass unchanged, odd ones change; true: the reverse
    real output_init_scale = 1e-2;  // the start (above); 0: the identity
};

class SplineCoupling : public Transform {
public:
    // ValueError for dim < 2, bad spline options or a zero hidden size.
    SplineCoupling(const SplineCouplingConfig& config, Rng& rng);
    // From {"kind": "nsf_coupling", "dim", "bins", "tail_bound", "hidden", "context", "activation",
    // "flip"} and optionally the minimums as for "nsf".
    static std::unique_ptr<SplineCoupling> from_config(const nlohmann::json& config, Rng& rng);

    TransformResult forward(Var x, Var context = Var()) override;
    TransformResult inverse(Var z, Var context = Var()) override;
    std::size_t dim() const override { return config_.dim; }
    std::size_t context_dim() const override { return config_.context; }
    std::string kind() const override { return "nsf_coupling"; }
    nlohmann::json config() const override;
    void collect_parameters(ParameterList& out, const std::string& prefix) override;

    const SplineCouplingConfig& spline_config() const { return config_; }

private:
    TransformResult apply(Var in, Var context, bool inverse, const char* who);

    SplineCouplingConfig config_;
    std::vector<std::size_t> kept_, changed_;  // column indices
    Mlp net_;
    ColumnSelection keep_, change_, merge_;
};

}  // namespace flowtape
