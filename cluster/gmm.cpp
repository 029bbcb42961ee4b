// EM for a full-covariance Gaussian mixture (see gmm.hpp).
#include "cluster/gmm.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>

#include "cluster/agglomerative.hpp"
#include "cluster/kmeans.hpp"
#include "core/error.hpp"

namespace flowtape::cluster {

namespace {

// The mixture's parameters with, per component, L⁻¹ (L the lower Cholesky factor of Σ) and
// −Σ_j log L_jj, which is all a density needs.
struct Model {
    std::vector<double> weights;
    Array means;
    std::vector<Array> covariances;
    std::vector<Array> inv_chol;
    std::vector<double> log_det_half;  // −½ log det Σ
};

// Lower Cholesky factor of a symmetric D×D matrix; throws when it is not positive definite.
Array cholesky(const Array& S, std::size_t component) {
    const std::size_t d = S.shape()[0];
    Array L = xt::zeros<double>({d, d});
    for (std::size_t j = 0; j < d; ++j) {
        double diag = S(j, j);
        for (std::size_t l = 0; l < j; ++l) diag -= L(j, l) * L(j, l);
        if (!(diag > 0))
            throw ValueError("gaussian_mixture: covariance of component " + std::to_string(component) +
                             " is not positive definite (collapsed component; raise reg_covar)");
        L(j, j) = std::sqrt(diag);
        for (std::size_t i = j + 1; i < d; ++i) {
            double v = S(i, j);
            for (std::size_t l = 0; l < j; ++l) v -= L(i, l) * L(j, l);
            L(i, j) = v / L(j, j);
        }
    }
    return L;
}

// L⁻¹ of a lower-triangular L by forward substitution, column by column of the identity.
Array lower_inverse(const Array& L) {
    const std::size_t d = L.shape()[0];
    Array inv = xt::zeros<double>({d, d});
    for (std::size_t c = 0; c < d; ++c)
        for (std::size_t i = c; i < d; ++i) {
            double v = i == c ? 1.0 : 0.0;
            for (std::size_t l = c; l < i; ++l) v -= L(i, l) * inv(l, c);
            inv(i, c) = v / L(i, i);
        }
    return inv;
}

void factorise(Model& m) {
    const std::size_t k = m.covariances.size();
    m.inv_chol.resize(k);
    m.log_det_half.resize(k);
    for (std::size_t c = 0; c < k; ++c) {
        const Array L = cholesky(m.covariances[c], c);
        m.inv_chol[c] = lower_inverse(L);
        double s = 0;
        for (std::size_t j = 0; j < L.shape()[0]; ++j) s -= std::log(L(j, j));
        m.log_det_half[c] = s;
    }
}

// log π_c + log N(x_i; μ_c, Σ_c) into wlp (N×k).
void weighted_log_prob(const Model& m, const Array& X, Array& wlp) {
    const std::size_t n = X.shape()[0], d = X.shape()[1], k = m.weights.size();
    ensure_shape(wlp, {n, k});
    const double log_2pi = std::log(2 * std::numbers::pi);
    std::vector<double> diff(d);
    for (std::size_t c = 0; c < k; ++c) {
        const Array& P = m.inv_chol[c];
        const double constant = -0.5 * static_cast<double>(d) * log_2pi + m.log_det_half[c] + std::log(m.weights[c]);
        for (std::size_t i = 0; i < n; ++i) {
            for (std::size_t j = 0; j < d; ++j) diff[j] = X(i, j) - m.means(c, j);
            double q = 0;
            for (std::size_t j = 0; j < d; ++j) {
                double y = 0;
                for (std::size_t l = 0; l <= j; ++l) y += P(j, l) * diff[l];
                q += y * y;
            }
            wlp(i, c) = constant - 0.5 * q;
        }
    }
}

// Turns wlp into log responsibilities in place; returns the log-density of each row (log-sum-exp).
std::vector<double> normalise_rows(Array& wlp) {
    const std::size_t n = wlp.shape()[0], k = wlp.shape()[1];
    std::vector<double> lse(n);
    for (std::size_t i = 0; i < n; ++i) {
        double top = -std::numeric_limits<double>::infinity();
        for (std::size_t c = 0; c < k; ++c) top = std::max(top, wlp(i, c));
        double s = 0;
        for (std::size_t c = 0; c < k; ++c) s += std::exp(wlp(i, c) - top);
        lse[i] = top + std::log(s);
        for (std::size_t c = 0; c < k; ++c) wlp(i, c) -= lse[i];
    }
    return lse;
}

// E step: log responsibilities into log_resp, returns the mean log-likelihood.
double e_step(const Model& m, const Array& X, Array& log_resp) {
    weighted_log_prob(m, X, log_resp);
    const std::vector<double> lse = normalise_rows(log_resp);
    double s = 0;
    for (const double v : lse) s += v;
    const double mean = s / static_cast<double>(lse.size());
    if (!std::isfinite(mean)) throw ValueError("gaussian_mixture: log-likelihood became non-finite");
    return mean;
}

// Weights (unnormalised: n_c), means and covariances from responsibilities `resp` (N×k).
void estimate_parameters(const Array& X, const Array& resp, double reg_covar, Model& m) {
    const std::size_t n = X.shape()[0], d = X.shape()[1], k = resp.shape()[1];
    m.weights.assign(k, 0.0);
    m.means = xt::zeros<double>({k, d});
    m.covariances.assign(k, Array(xt::zeros<double>({d, d})));
    for (std::size_t c = 0; c < k; ++c) {
        double nk = 0;
        for (std::size_t i = 0; i < n; ++i) nk += resp(i, c);
        nk += 10 * std::numeric_limits<double>::epsilon();  // keeps an empty component finite
        m.weights[c] = nk;
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < d; ++j) m.means(c, j) += resp(i, c) * X(i, j);
        for (std::size_t j = 0; j < d; ++j) m.means(c, j) /= nk;
        Array& S = m.covariances[c];
        for (std::size_t i = 0; i < n; ++i) {
            const double r = resp(i, c);
            for (std::size_t a = 0; a < d; ++a) {
                const double da = r * (X(i, a) - m.means(c, a));
                for (std::size_t b = 0; b <= a; ++b) S(a, b) += da * (X(i, b) - m.means(c, b));
            }
        }
        for (std::size_t a = 0; a < d; ++a) {
            for (std::size_t b = 0; b <= a; ++b) {
                S(a, b) /= nk;
                S(b, a) = S(a, b);
            }
            S(a, a) += reg_covar;
        }
    }
}

void check_options(const GaussianMixtureOptions& opt) {
    if (!(opt.reg_covar >= 0)) throw ValueError("gaussian_mixture: reg_covar = " + std::to_string(opt.reg_covar) + " must be ≥ 0");
    if (!(opt.tol >= 0)) throw ValueError("gaussian_mixture: tol = " + std::to_string(opt.tol) + " must be ≥ 0");
    if (opt.max_iter < 1) throw ValueError("gaussian_mixture: max_iter = " + std::to_string(opt.max_iter) + " must be ≥ 1");
}

Labels argmax_rows(const Array& A) {
    Labels out(A.shape()[0]);
    for (std::size_t i = 0; i < A.shape()[0]; ++i) {
        std::size_t best = 0;
        for (std::size_t c = 1; c < A.shape()[1]; ++c)
            if (A(i, c) > A(i, best)) best = c;
        out[i] = static_cast<std::int64_t>(best);
    }
    return out;
}

GaussianMixtureFit run_em(const Array& X, Model m, const GaussianMixtureOptions& opt) {
    factorise(m);
    GaussianMixtureFit fit;
    Array log_resp, resp;
    double ll = -std::numeric_limits<double>::infinity();
    for (int it = 1; it <= opt.max_iter; ++it) {
        const double previous = ll;
        ll = e_step(m, X, log_resp);
        fit.log_likelihood_trace.push_back(ll);
        fit.iterations = it;
        // M step.
        ensure_shape(resp, shape_of(log_resp));
        xt::noalias(resp) = xt::exp(log_resp);
        estimate_parameters(X, resp, opt.reg_covar, m);
        double total = 0;
        for (const double w : m.weights) total += w;
        for (double& w : m.weights) w /= total;
        factorise(m);
        if (std::abs(ll - previous) < opt.tol) {
            fit.converged = true;
            break;
        }
    }
    e_step(m, X, log_resp);  // labels consistent with the final parameters
    fit.components = argmax_rows(log_resp);
    fit.clustering = finish_clustering(X, fit.components);
    fit.clustering.iterations = fit.iterations;
    fit.mean_log_likelihood = ll;
    fit.weights = m.weights;
    fit.means = m.means;
    fit.covariances = m.covariances;
    return fit;
}

Model model_of(const GaussianMixtureFit& fit) {
    Model m;
    m.weights = fit.weights;
    m.means = fit.means;
    m.covariances = fit.covariances;
    factorise(m);
    return m;
}

void check_new_points(const GaussianMixtureFit& fit, const Array& X, const std::string& who) {
    check_points(X, who);
    if (X.shape()[1] != fit.means.shape()[1])
        throw ShapeError(who + ": X is " + shape_string(shape_of(X)) + " but the mixture has dimension " +
                         std::to_string(fit.means.shape()[1]));
}

}  // namespace

GaussianMixtureFit gaussian_mixture(const Array& X, const GaussianMixtureOptions& opt, Rng& rng) {
    check_points(X, "gaussian_mixture");
    check_k(opt.k, X.shape()[0], "gaussian_mixture");
    check_options(opt);
    check_distinct_points(X, opt.k, "gaussian_mixture");
    const std::size_t n = X.shape()[0];
    KMeansOptions km;
    km.k = opt.k;
    km.n_init = 1;  // as sklearn's initialisation
    const Clustering init = kmeans(X, km, rng);
    Array resp = xt::zeros<double>({n, opt.k});
    for (std::size_t i = 0; i < n; ++i) resp(i, static_cast<std::size_t>(init.labels[i])) = 1.0;
    Model m;
    estimate_parameters(X, resp, opt.reg_covar, m);
    for (double& w : m.weights) w /= static_cast<double>(n);
    return run_em(X, std::move(m), opt);
}

GaussianMixtureFit gaussian_mixture_from(const Array& X, const std::vector<double>& weights, const Array& means,
                                         const std::vector<Array>& covariances, const GaussianMixtureOptions& opt) {
    check_points(X, "gaussian_mixture_from");
    check_options(opt);
    const std::size_t k = means.shape()[0], d = X.shape()[1];
    if (k == 0 || means.shape()[1] != d || weights.size() != k || covariances.size() != k)
        throw ShapeError("gaussian_mixture_from: X is " + shape_string(shape_of(X)) + ", means " +
                         shape_string(shape_of(means)) + ", " + std::to_string(weights.size()) + " weights, " +
                         std::to_string(covariances.size()) + " covariances");
    for (std::size_t c = 0; c < k; ++c) {
        if (covariances[c].shape()[0] != d || covariances[c].shape()[1] != d)
            throw ShapeError("gaussian_mixture_from: covariance " + std::to_string(c) + " is " +
                             shape_string(shape_of(covariances[c])) + ", expected " + std::to_string(d) + "×" +
                             std::to_string(d));
        if (!(weights[c] > 0))
            throw ValueError("gaussian_mixture_from: weight " + std::to_string(c) + " = " + std::to_string(weights[c]) + " must be > 0");
    }
    Model m;
    m.weights = weights;
    m.means = means;
    m.covariances = covariances;
    return run_em(X, std::move(m), opt);
}

std::vector<double> log_density(const GaussianMixtureFit& fit, const Array& X) {
    check_new_points(fit, X, "gaussian_mixture log_density");
    Array wlp;
    weighted_log_prob(model_of(fit), X, wlp);
    return normalise_rows(wlp);
}

Labels predict(const GaussianMixtureFit& fit, const Array& X) {
    check_new_points(fit, X, "gaussian_mixture predict");
    Array wlp;
    weighted_log_prob(model_of(fit), X, wlp);
    return argmax_rows(wlp);
}

Array sample(const GaussianMixtureFit& fit, std::size_t n, Rng& rng) {
    const std::size_t k = fit.weights.size(), d = fit.means.shape()[1];
    std::vector<Array> chol;
    for (std::size_t c = 0; c < k; ++c) chol.push_back(cholesky(fit.covariances[c], c));
    Array out = Array::from_shape({n, d});
    std::vector<double> z(d);
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t c = rng.categorical(fit.weights);
        for (std::size_t j = 0; j < d; ++j) z[j] = rng.normal();
        for (std::size_t j = 0; j < d; ++j) {
            double v = fit.means(c, j);
            for (std::size_t l = 0; l <= j; ++l) v += chol[c](j, l) * z[l];
            out(i, j) = v;
        }
    }
    return out;
}

}  // namespace flowtape::cluster
