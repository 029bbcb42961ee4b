// Gaussian mixture fitted by EM with full covariances (scikit-learn's GaussianMixture,
// covariance_type='full'). Not to be confused with flows/distributions/gaussian_mixture.hpp, the mixture base distribution on the
// tape: this one is plain arrays, for clustering.
//
// Initialisation: k-means labels (cluster/kmeans.hpp) as hard responsibilities, from which the first
// weights, means and covariances are estimated (sklearn's init_params='kmeans'); or given parameters.
// EM: the E step computes log responsibilities by log-sum-exp; the M step re-estimates
//   n_c = Σ_i r_ic + 10ε,  π_c = n_c / N,  μ_c = Σ_i r_ic x_i / n_c,
//   Σ_c = Σ_i r_ic (x_i − μ_c)(x_i − μ_c)ᵀ / n_c + reg_covar·I.
// It stops when the mean log-likelihood (computed in the E step, before the M step, so it never
// decreases) changes by less than tol, or after max_iter steps. With n_init > 1 the EM is run from
// n_init k-means initialisations, drawn from rng one after another, and the run with the highest
// final mean log-likelihood (sklearn's lower_bound_; the earlier run on ties) is kept; a last E step
// with its parameters gives the labels.
//
// Densities use the lower Cholesky factor L of each covariance (LAPACK potrf, then trtri for L⁻¹):
// log N(x; μ, Σ) = −½(D log 2π + ‖L⁻¹(x − μ)‖²) − Σ log L_jj, with L⁻¹(x − μ) for a block of rows at
// once by one BLAS trmm. The M step's covariance is one BLAS syrk per block of rows, on
// √r_ic (x_i − μ_c), skipping the rows whose responsibility is exactly 0 (on 784-pixel MNIST with
// k = 10, four rows in five). A step costs about k·N·D² flops for the E step and up to as much for
// the M step; memory is O(N·k + k·D²). `threads` spreads the components of both steps over threads; each
// component is computed in the same order whatever the thread count, so the bits do not depend on
// it. With threads > 1, OPENBLAS_NUM_THREADS=1 keeps OpenBLAS's own pool from competing for the cores.
#pragma once

#include <cstddef>
#include <vector>

#include "cluster/clustering.hpp"
#include "core/random.hpp"
#include "core/types.hpp"

namespace flowtape::cluster {

struct GaussianMixtureOptions {
    std::size_t k = 1;        // components, 1 ≤ k ≤ distinct points
    double reg_covar = 1e-6;  // added to every covariance's diagonal
    double tol = 1e-3;        // on the change of the mean log-likelihood
    int max_iter = 100;
    int n_init = 1;           // EM runs from their own k-means initialisations; the best is kept
    std::size_t threads = 1;  // components' E and M steps at once; the result does not depend on it
};

struct GaussianMixtureFit {
    Clustering clustering;              // finish_clustering of `components` (renumbered, every label used)
    Labels components;                  // the most responsible component of each row, in 0..k−1
    std::vector<double> weights;        // k, sum to 1
    Array means;                        // k×D
    std::vector<Array> covariances;     // k of D×D
    double mean_log_likelihood = 0;     // of the last E step (sklearn's lower_bound_)
    std::vector<double> log_likelihood_trace;  // one per EM step, non-decreasing up to rounding
    bool converged = false;
    int iterations = 0;
};

// The best of opt.n_init EM runs from k-means initialisation. Throws ValueError for empty/non-finite
// X, k = 0 or k > N, fewer than k distinct points, reg_covar < 0, tol < 0, max_iter < 1, n_init < 1,
// threads = 0, or a covariance that is not positive definite (only with reg_covar = 0).
GaussianMixtureFit gaussian_mixture(const Array& X, const GaussianMixtureOptions& opt, Rng& rng);

// EM from given weights (k), means (k×D) and covariances (k of D×D, symmetric positive definite);
// opt.k and opt.n_init are ignored (k is taken from the means; every run would be the same).
// Deterministic: matches sklearn given weights_init, means_init and precisions_init = Σ⁻¹.
GaussianMixtureFit gaussian_mixture_from(const Array& X, const std::vector<double>& weights, const Array& means,
                                         const std::vector<Array>& covariances, const GaussianMixtureOptions& opt);

// log p(x) under the mixture for each row of X (sklearn's score_samples).
std::vector<double> log_density(const GaussianMixtureFit& fit, const Array& X);

// The most responsible component for each row of X.
Labels predict(const GaussianMixtureFit& fit, const Array& X);

// n points drawn from the mixture (sklearn's sample): a component per row with probability π_c
// (by inverting the cumulative weights with one uniform), then μ_c + L_c z with z standard normal
// and L_c the lower Cholesky factor of Σ_c. Rows in draw order; every draw comes from rng.
Array sample(const GaussianMixtureFit& fit, std::size_t n, Rng& rng);

}  // namespace flowtape::cluster
