// BatchNorm: batch normalisation as a bijection, placed between MAF layers (Papamakarios et al.
// 2017, section 3.4):
//
//   forward   z = (x − m) / sqrt(v + ε) · e^γ̃ + β,   log|det ∂z/∂x| = Σ_i (γ̃_i − ½ log(v_i + ε))
//   inverse   x = (z − β) · e^−γ̃ · sqrt(v + ε) + m,  log|det ∂x/∂z| = −Σ_i (γ̃_i − ½ log(v_i + ε))
//
// with trainable 1×D rows γ̃ = log γ ("log_gamma", so γ > 0) and β ("beta"), both 0 at the start.
//
// Training mode: m and v are the batch's column mean and (biased) variance, recorded on the tape,
// so the loss is differentiated through them (the rows of a batch are coupled, and the log-det
// above is the per-row term the MAF paper uses). Each such forward also updates the running
// statistics, r ← (1 − momentum) r + momentum · (batch value), the variance unbiased (× N/(N−1))
// so that the running variance converges to the data's. Evaluation mode: m and v are the running
// statistics ("running_mean", "running_var", buffers listed by collect_buffers, starting at 0 and
// 1), and the map is an ordinary per-row bijection.
//
// The inverse always uses the running statistics: it starts from latent points, whose batch says
// nothing about the data's statistics. (In training mode it is therefore the inverse of the
// evaluation-mode forward.) A transform starts in training mode.
#pragma once

#include "core/random.hpp"
#include "flows/transform.hpp"

namespace flowtape {

class BatchNorm : public Transform {
public:
    // ValueError for dim = 0, momentum outside (0, 1] or eps ≤ 0.
    explicit BatchNorm(std::size_t dim, real momentum = 0.1, real eps = 1e-5);
    // From {"kind": "batchnorm", "dim", "momentum", "eps"}; rng unused.
    static std::unique_ptr<BatchNorm> from_config(const nlohmann::json& config, Rng& rng);

    // In training mode, ValueError for a batch of fewer than 2 rows. The context is ignored.
    TransformResult forward(Var x, Var context = Var()) override;
    TransformResult inverse(Var z, Var context = Var()) override;
    std::size_t dim() const override { return beta_.shape()[1]; }
    std::string kind() const override { return "batchnorm"; }
    nlohmann::json config() const override;
    void set_training(bool on) override { training_ = on; }
    void collect_parameters(ParameterList& out, const std::string& prefix) override;
    void collect_buffers(ParameterList& out, const std::string& prefix) override;

    bool training() const { return training_; }
    const Array& running_mean() const { return running_mean_.value(); }
    const Array& running_var() const { return running_var_.value(); }

private:
    TransformResult forward_batch(Var x);    // training mode
    TransformResult forward_running(Var x);  // evaluation mode
    void update_running(const Array& mean, const Array& variance, std::size_t rows);
    Var per_row(Var scalar, std::size_t rows);

    Parameter log_gamma_, beta_;
    Parameter running_mean_, running_var_;  // buffers
    real momentum_, eps_;
    bool training_ = true;
    Array zeros_;  // N×1, to repeat the log-determinant over the rows
};

}  // namespace flowtape
