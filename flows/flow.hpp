// Flow: a base distribution and a chain of transforms, itself a Distribution.
//
//   log p(x) = log p_base(z) + Σ_k log|det ∂z_k/∂z_{k−1}|,   z = T_K ∘ … ∘ T_1 (x)
//
// Sampling draws z from the base and runs the inverses in reverse order.
#pragma once

#include <vector>

#include "flows/distribution.hpp"
#include "flows/transform.hpp"

namespace flowtape {

// A chain of transforms applied in order (forward: data → latent) or undone in reverse order
// (inverse), with the summed log-determinant (zeros N×1 for an empty chain). Flow and the
// flows-for-flows model (whose chain and base see different contexts) share them.
TransformResult chain_forward(const std::vector<TransformPtr>& transforms, Var x, Var context = Var());
TransformResult chain_inverse(const std::vector<TransformPtr>& transforms, Var z, Var context = Var());

class Flow : public Distribution {
public:
    Flow(DistributionPtr base, std::vector<TransformPtr> transforms);

    Var log_prob(Var x, Var context = Var()) override;
    Var sample(Tape& tape, std::size_t n, Rng& rng, Var context = Var()) override;
    SampleResult sample_with_log_prob(Tape& tape, std::size_t n, Rng& rng, Var context = Var()) override;

    // The latent map both ways, with the summed log-determinant.
    TransformResult to_latent(Var x, Var context = Var());
    TransformResult from_latent(Var z, Var context = Var());

    std::size_t dim() const override;
    std::size_t context_dim() const override;
    std::string kind() const override { return "flow"; }
    nlohmann::json config() const override;
    void set_training(bool on) override;
    void restart_noise(std::uint64_t stream) override { base_->restart_noise(stream); }
    void collect_parameters(ParameterList& out, const std::string& prefix) override;
    void collect_buffers(ParameterList& out, const std::string& prefix) override;

    Distribution& base() { return *base_; }
    const std::vector<TransformPtr>& transforms() const { return transforms_; }

private:
    DistributionPtr base_;
    std::vector<TransformPtr> transforms_;
};

}  // namespace flowtape
