// ResampledGaussian (kind "resampled_gaussian"): the resampled base distribution of Stimper,
// Schölkopf & Hernández-Lobato (2022), "Resampling base distributions of normalizing flows"
// (AISTATS, arXiv:2110.15828): learned accept/reject sampling (LARS) of a standard normal proposal.
//
// The density (the paper's learned accept/reject sampling with truncation after T proposals; we
// could not check the paper's equation numbers against its text, so we name the formulas instead).
// Proposal π = N(0, I_D);
// acceptance probability a(z) = σ(h(z)) ∈ (0, 1) with h an MLP (D → hidden → 1, "accept.*");
// Z = E_π[a(z)] the mean acceptance. Rejection sampling stopped after T trials (the T-th proposal is
// taken whatever a says) has the density
//
//   p(z) = (1 − α_T) a(z) π(z) / Z + α_T π(z),    α_T = (1 − Z)^{T−1},
//
// α_T being the probability that the first T − 1 proposals are all rejected. It integrates to 1 for
// every T ≥ 1 (T = 1 gives π itself, T → ∞ the untruncated a π / Z). We evaluate it in log space:
//
//   log p(z) = log π(z) + logsumexp( log(1 − α_T) + log σ(h(z)) − log Z,   log α_T ),
//            (computed as v + softplus(u − v) for logsumexp(u, v))
//   log α_T  = (T − 1) log1p(−Z),
//
// which stays finite wherever the acceptance underflows. Z enters clamped to [10⁻¹², 1 − 10⁻¹²]
// (the gradient is zero beyond the bounds; a mean of sigmoids only reaches them when saturated).
//
// Z, as in the paper's maximum-likelihood training (Z and its gradient by Monte Carlo, a running
// average for the value; ε is the hyperparameter of its experiments, and these details were checked
// against the behaviour of the authors' public reference code, not copied from it):
//  - Training mode: each log_prob draws n_z_samples fresh proposals z'_j ~ π (n_z_samples = 0: as
//    many as x has rows, as the authors' reference code does) and records the Monte Carlo estimate
//    Ẑ = mean_j σ(h(z'_j)) on the tape. The running estimate is updated as the exponential moving
//    average Z̄ ← (1 − ε) Z̄ + ε Ẑ (ε = "eps" is the EMA's weight of the new batch; the first batch
//    sets Z̄ = Ẑ). log p uses the *value* Z̄ with the *gradient* of Ẑ:
//        Z = Z̄ + (Ẑ − stop_gradient(Ẑ)),
//    so ∂Z/∂θ is estimated without bias by ∂Ẑ/∂θ of the batch, while the value is the
//    lower-variance running average. (Any training-mode log_prob updates Z̄, including the one in
//    sample_with_log_prob; evaluation mode changes nothing.)
//  - Evaluation mode: Z = Z̄, a constant (log_prob is then deterministic and per-row). If Z̄ has
//    never been set (a fresh model used straight away), it is first estimated from 2¹⁴ proposals.
//  Z̄ is the 1×1 buffer "z_estimate" (−1 while unset), saved in model files, so load(save(m)) gives
//  the same log_prob bit for bit. `estimate_normaliser(n, rng)` replaces Z̄ by a fresh estimate from
//  n proposals (e.g. after training, where Z̄ lags the last steps by ~1/ε batches).
//
// Randomness. log_prob has no Rng argument (the Distribution interface), so the training-mode
// proposals come from the distribution's own Rng, seeded from config "seed" at construction (and
// restarted from it by a rebuild from the config). sample() uses the Rng it is given.
//
// Sampling (truncated rejection sampling): for each row, proposals z ~ π are drawn and
// accepted with probability a(z) (u ~ U(0, 1), accepted when u < a(z)); after T − 1 rejections
// the T-th proposal is taken. All pending rows are processed together, one proposal each per round.
// Samples are not reparameterised (no gradient flows through them).
//
// Start. The MLP's last layer starts at zero (weights and bias), so a ≡ ½ and p = π exactly: the
// base starts as the standard normal, as in the reference implementation.
//
// Context: none; a context passed in (as Flow does) is ignored.
#pragma once

#include <cstdint>
#include <vector>

#include "flows/distribution.hpp"
#include "nn/mlp.hpp"

namespace flowtape {

struct ResampledGaussianConfig {
    std::size_t dim = 2;
    std::vector<std::size_t> hidden{256, 256};  // of the acceptance MLP
    Activation activation = Activation::relu;
    std::size_t truncation = 100;  // T ≥ 1, the maximum number of proposals per sample
    real eps = 0.1;                // in (0, 1]: weight of the new batch in the running Z estimate
    std::size_t n_z_samples = 0;   // proposals per training-mode log_prob; 0: the batch's rows
    std::uint64_t seed = 0;        // of the internal Rng for those proposals
};

// α_T = (1 − Z)^{T−1}: the probability that T − 1 proposals are all rejected when the mean
// acceptance is Z. ValueError unless 0 ≤ Z ≤ 1 and T ≥ 1.
real truncation_weight(real z, std::size_t truncation);

// log p = log π + logsumexp(log(1 − α_T) + log_a − log Z, log α_T) per row, on the tape:
// log_pi and log_a N×1, z a 1×1 Var in (0, 1) (not clamped here), T ≥ 2. For T = 1 use log_pi.
Var resampled_log_prob(Var log_pi, Var log_a, Var z, std::size_t truncation);

class ResampledGaussian : public Distribution {
public:
    // ValueError for dim = 0, a zero hidden size, T = 0 or eps outside (0, 1]. rng initialises the MLP.
    ResampledGaussian(const ResampledGaussianConfig& config, Rng& rng);
    // From config(): {"kind": "resampled_gaussian", "dim", "hidden", "activation", "T", "eps",
    // "n_z_samples", "seed"}.
    static std::unique_ptr<ResampledGaussian> from_config(const nlohmann::json& config, Rng& rng);

    // Training mode: updates the running Z from fresh proposals (see above). ShapeError unless x has
    // dim columns.
    Var log_prob(Var x, Var context = Var()) override;
    Var sample(Tape& tape, std::size_t n, Rng& rng, Var context = Var()) override;

    // The training-mode log_prob with the given proposals (m×D) in place of fresh ones: records Ẑ
    // from them and updates the running estimate. (log_prob in training mode draws the proposals
    // and calls this; tests use it to make the estimate deterministic.)
    Var log_prob_with_proposals(Var x, const Array& proposals);

    // σ(h(z)) per row (N×1) for plain arrays, computed on a private tape in no-grad mode.
    Array acceptance(const Array& z);
    // Sets the running estimate Z̄ to the mean acceptance over n proposals from rng (n ≥ 1).
    void estimate_normaliser(std::size_t n, Rng& rng);
    // Z̄ (−1 while unset), and setting it (ValueError unless 0 < z ≤ 1).
    real normaliser() const { return z_estimate_.value()(0, 0); }
    void set_normaliser(real z);

    std::size_t dim() const override { return config_.dim; }
    std::string kind() const override { return "resampled_gaussian"; }
    nlohmann::json config() const override;
    void set_training(bool on) override { training_ = on; }
    bool training() const { return training_; }
    void collect_parameters(ParameterList& out, const std::string& prefix) override;
    void collect_buffers(ParameterList& out, const std::string& prefix) override;

    const ResampledGaussianConfig& settings() const { return config_; }

private:
    Var log_prob_given_z(Var x, Var z);
    // Mean acceptance over n proposals from rng, on `tape` in no-grad mode (rewound afterwards).
    real mean_acceptance(Tape& tape, std::size_t n, Rng& rng);

    ResampledGaussianConfig config_;
    Mlp net_;
    Parameter z_estimate_;  // buffer: 1×1, the running Z̄ (−1 while unset)
    Rng rng_;               // training-mode proposals
    bool training_ = true;
};

}  // namespace flowtape
