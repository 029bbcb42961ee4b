// MafTransform: the masked autoregressive flow layer (Papamakarios et al. 2017), an affine map
// whose shift and scale for coordinate i come from a MADE and depend only on the coordinates
// before i in the layer's ordering (degree m(j) < m(i)):
//
//   forward  (data → latent)   z_i = (x_i − μ_i(x_<i)) · s_i(x_<i),   log|det ∂z/∂x| = Σ_i log s_i
//   inverse  (latent → data)   x_i = z_i / s_i(x_<i) + μ_i(x_<i),      log|det ∂x/∂z| = −Σ_i log s_i
//
// The MADE (outputs_per_input = 2) gives column i = μ_i and column D + i = the raw scale r_i.
//
// Scale. log s_i = B · tanh(r_i / B) (`bounded_log_scale`, B = log_scale_bound, 3 by default): a
// smooth soft clamp, so s ∈ [e^−B, e^B] is bounded away from 0 and ∞ (no overflow, no division
// by ~0 in the inverse, a log-determinant that cannot run off), while near r = 0 it is exp(r)
// with slope 1, the plain MAF parameterisation. We chose it over nflows' sigmoid(r + 2) + 10⁻³,
// which caps s at ≈ 1 so that a layer can only contract (data with a small spread then need many
// layers); here a layer can expand or contract by up to e^B. B = 0 turns the clamp off: log s = r,
// the plain parameterisation of TensorFlow Probability's MAF (which the mixtures-of-flows paper
// used), with nothing to stop s from overflowing.
//
// Start. The MADE's output layer weights are scaled by `output_init_scale` (10⁻² by default; its
// bias is 0), so μ ≈ 0 and s ≈ 1: the layer starts near the identity, yet every weight gets a
// gradient from the first step. 1 keeps the plain Glorot-uniform start of the other layers.
//
// Ordering. The MADE is built with the natural ordering and sees the inputs rearranged by degree,
// x_p(:, k) = x(:, order[k]) with m(order[k]) = k + 1 (no node when the ordering is natural); z is
// put back in the input order at the end. This way the degrees are ours to store: the config keeps
// them ("degrees"), so a random ordering reloads identically.
//
// Inverse. D passes: starting from x⁽⁰⁾ = 0, x⁽ᵏ⁺¹⁾ = z / s(x⁽ᵏ⁾) + μ(x⁽ᵏ⁾). Since μ_i and s_i read
// only coordinates of smaller degree, after pass k the k + 1 coordinates of lowest degree are exact
// and stay exact, so x⁽ᴰ⁾ is the inverse. Every pass is recorded on the tape, and the masked
// weights give exactly zero sensitivity to the coordinates not yet exact, so gradients through the
// inverse (reparameterised sampling) are exact too.
//
// Parameters: "made.layers.k.weight", "made.layers.k.bias" (and "made.context.k.*" with a context).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "flows/transforms/permutation.hpp"
#include "flows/transform.hpp"
#include "nn/made.hpp"

namespace flowtape {

// log s = B · tanh(raw / B), B > 0: the soft clamp of a log-scale to (−B, B), slope 1 at 0.
// Shared by MafTransform and AffineCoupling.
Var bounded_log_scale(Var raw, real bound);


struct MafConfig {
    std::size_t dim = 2;
    std::vector<std::size_t> hidden{64, 64};  // all equal with residual blocks
    std::size_t context = 0;
    bool residual_blocks = false;
    Activation activation = Activation::relu;
    Ordering ordering = Ordering::natural;
    // The degree of each input (a permutation of 1..dim). Empty: made from `ordering` (a random
    // one drawn from the rng); given (as in a loaded config): used as is.
    std::vector<std::size_t> degrees{};
    real log_scale_bound = 3;     // B > 0, or 0 for no clamp (log s = raw)
    real output_init_scale = 1e-2;  // the MADE's output weights start at Glorot × this (> 0)
};

class MafTransform : public Transform {
public:
    // ValueError for a zero dimension, bad degrees, a non-positive bound, or a MADE the config
    // cannot build (zero or, with residual blocks, unequal hidden sizes).
    MafTransform(const MafConfig& config, Rng& rng);
    // From {"kind": "maf", "dim", "hidden", "context", "residual_blocks", "activation", "ordering",
    // "degrees", "log_scale_bound"} and optionally "output_init_scale" (default 10⁻²).
    static std::unique_ptr<MafTransform> from_config(const nlohmann::json& config, Rng& rng);

    TransformResult forward(Var x, Var context = Var()) override;
    TransformResult inverse(Var z, Var context = Var()) override;
    std::size_t dim() const override { return config_.dim; }
    std::size_t context_dim() const override { return config_.context; }
    std::string kind() const override { return "maf"; }
    nlohmann::json config() const override;
    void collect_parameters(ParameterList& out, const std::string& prefix) override;

    // Degree of input i, 1..D: z_i depends on x_j only when degrees[j] < degrees[i] (or j = i).
    const std::vector<std::size_t>& input_degrees() const { return config_.degrees; }
    const MafConfig& maf_config() const { return config_; }
    const Made& made() const { return made_; }

private:
    struct Affine {
        Var shift;      // μ, N×D
        Var log_scale;  // log s, N×D
    };
    // μ and log s for inputs in degree order.
    Affine conditioner(Var xp, Var context);

    MafConfig config_;
    Made made_;
    ColumnSelection to_degree_order_, from_degree_order_;
};

}  // namespace flowtape
