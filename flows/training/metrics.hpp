// Evaluating a trained distribution: the average log-likelihood on a test set, bits per dimension,
// and the KL divergence D(q‖p) of a model q to a target p whose log-density is known, each with its
// Monte Carlo standard error. Everything runs in no-grad mode, in batches, with the model in
// evaluation mode (set_training(false); it is left there).
#pragma once

#include <functional>
#include <vector>

#include "flows/distribution.hpp"

namespace flowtape {

// A Monte Carlo estimate: the mean over n terms and its standard error.
struct Estimate {
    real mean = 0;
    real error = 0;  // standard error of the mean
    std::size_t n = 0;
};

// The mean of log p(x_i) over the N rows and its standard error s/√N (s the sample standard
// deviation, with N − 1). ValueError for fewer than 2 rows; ShapeError for a dimension or context
// that does not fit the model; NonFiniteError naming the row if some log p is not finite.
Estimate average_log_likelihood(Distribution& model, const Array& x, const Array* context = nullptr,
                                std::size_t batch = 4096);

// −log₂ p(x) / D averaged over the rows: −mean / (D ln 2), error / (D ln 2) (same checks).
Estimate bits_per_dimension(Distribution& model, const Array& x, const Array* context = nullptr,
                            std::size_t batch = 4096);

struct KlEstimate {
    Estimate kl;
    bool self_normalised = false;  // which estimator produced `kl` (see kl_divergence)
    std::size_t n = 0;             // samples drawn from q
};

// D(q‖p) = E_q[log q(x) − log p(x)] from n samples x_i ~ q, as eq. (16) of the piecewise-flows
// paper. `target_log_prob` maps an m×D array of points to the m×1 array of log p.
//
// self_normalised = false: p and q are normalised densities and, with Δ_i = log q(x_i) − log p(x_i),
//     KL = mean Δ_i ± std(Δ)/√n                                              (eq. 16)
//
// self_normalised = true, as the code released with the piecewise-flows paper
// (github.com/htjb/piecewise_normalizing_flows, benchmarks.py, calc_kl): both densities are
// normalised over the samples themselves,
//     log q̃_i = log q_i − log Σ_j q_j,   log p̃_i = log p_i − log Σ_j p_j,
//     KL = (1/n) Σ_i (log q̃_i − log p̃_i) = mean Δ_i + log Σ_j p_j − log Σ_j q_j,
// an unweighted mean over the samples (not Σ_i q̃_i log(q̃_i/p̃_i)). It needs p only up to a constant,
// and it is 0 when p ∝ q; for p ≠ q it converges to KL + log(E_q[p] / E_q[q]), not to KL itself.
// Its error is by the delta method over the three sample means it is made of: the standard error
// of ψ_i = Δ_i + p_i/p̄ − q_i/q̄ (p̄, q̄ the sample means of p and q), i.e. std(ψ)/√n. (The paper's
// code reports std(Δ)/√n, which leaves out the fluctuation of the two normalisers.)
//
// q must be unconditional. ValueError for n < 2; ShapeError if target_log_prob returns another
// shape; NonFiniteError naming the sample if log q or log p is not finite there (an infinite KL;
// the paper's code drops samples whose log q is not finite). Samples are drawn in batches of 4096 on a
// no-grad tape that is reset before target_log_prob runs, so the target may evaluate q itself.
KlEstimate kl_divergence(Distribution& q, const std::function<Array(const Array&)>& target_log_prob, std::size_t n,
                         Rng& rng, bool self_normalised);

// The same two estimators from given log q(x_i) and log p(x_i) at samples x_i ~ q (for a q that is
// not a Distribution, e.g. an EM-fitted mixture). ShapeError for lengths that differ, ValueError for
// fewer than 2.
KlEstimate kl_from_log_densities(const std::vector<real>& log_q, const std::vector<real>& log_p, bool self_normalised);

}  // namespace flowtape
