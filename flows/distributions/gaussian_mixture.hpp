// GaussianMixture (kind "gmm"): a mixture of K Gaussians with diagonal covariances, usable as a
// flow's base distribution (Flows for Flows, multimodal bases) or on its own.
//
//   log p(x) = log Σ_k exp(log w_k + log N(x; μ_k, diag σ_k²)),   w = softmax(a)
//   log N(x; μ_k, diag σ_k²) = −½ Σ_d ((x_d − μ_kd) e^{−s_kd})² − Σ_d s_kd − (D/2) log 2π
//
// with means μ (K×D), log-scales s = log σ (K×D) and mixture logits a (1×K). log_prob builds the
// N×K matrix of log w_k + log N_k on the tape and reduces it with logsumexp, so it never underflows
// far from every component. Each of the three groups is learnable (a Parameter the optimizer sees)
// or fixed (a buffer: saved with the model, never trained), independently.
//
// Sampling draws n uniforms to pick each row's component k by w (the choice is discrete, so no
// gradient reaches a), then an n×D standard normal ε, and returns x = μ_k + σ_k ⊙ ε: reparameterised
// in μ and s, so gradients reach them when recorded with gradients on.
#pragma once

#include <vector>

#include "flows/distribution.hpp"

namespace flowtape {

// Which groups of a GaussianMixture are trained.
struct GmmLearnable {
    bool means = true;
    bool scales = true;
    bool weights = true;
};

class GaussianMixture : public Distribution {
public:
    // means K×D, log_scales K×D, logits 1×K (weights = softmax(logits)); K, D ≥ 1; finite values.
    GaussianMixture(Array means, Array log_scales, Array logits, GmmLearnable learnable = {});

    // log p(x) per row (N×1). A context, if given, is ignored: the mixture is unconditional.
    Var log_prob(Var x, Var context = Var()) override;
    Var sample(Tape& tape, std::size_t n, Rng& rng, Var context = Var()) override;

    std::size_t dim() const override { return means_.shape()[1]; }
    std::size_t components() const { return means_.shape()[0]; }
    std::string kind() const override { return "gmm"; }
    // {"kind": "gmm", "dim": D, "components": K, "learnable_means": .., "learnable_scales": ..,
    //  "learnable_weights": ..}
    nlohmann::json config() const override;
    // Learnable groups as parameters, fixed ones as buffers, under "means", "log_scales", "logits".
    void collect_parameters(ParameterList& out, const std::string& prefix) override;
    void collect_buffers(ParameterList& out, const std::string& prefix) override;

    const Array& means() const { return means_.value(); }
    const Array& log_scales() const { return log_scales_.value(); }
    const Array& logits() const { return logits_.value(); }
    // softmax(logits) as a 1×K row.
    Array weights() const;
    const GmmLearnable& learnable() const { return learnable_; }

private:
    Var use(Tape& tape, Parameter& p, bool learnable) const;

    Parameter means_, log_scales_, logits_;
    GmmLearnable learnable_;
};

// Rebuilds a mixture from its config() (the registry's factory): means drawn N(0, 1) from `rng`,
// log-scales 0 and equal weights, which a model file then overwrites. IoError for a bad config.
DistributionPtr make_gaussian_mixture(const nlohmann::json& config, Rng& rng);

// The component of each of n rows drawn with probabilities `weights` (1×K, summing to 1) from n
// uniforms of `rng`: the smallest k with u < w_0 + … + w_k (the last component if rounding leaves
// u above the total).
std::vector<std::size_t> draw_components(const Array& weights, std::size_t n, Rng& rng);

}  // namespace flowtape
