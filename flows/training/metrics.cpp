// The evaluation metrics: log p in batches on a no-grad tape, then plain sample statistics.
#include "flows/training/metrics.hpp"

#include <cmath>
#include <numbers>
#include <vector>

#include "autodiff/ops.hpp"
#include "core/error.hpp"

namespace flowtape {
namespace {

std::string value_string(real v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    return std::to_string(v);
}

// The sample mean of `terms` and its standard error s/√n (s with n − 1); n ≥ 2.
Estimate mean_with_error(const std::vector<real>& terms) {
    const std::size_t n = terms.size();
    real mean = 0;
    for (real v : terms) mean += v;
    mean /= static_cast<real>(n);
    real squares = 0;
    for (real v : terms) squares += (v - mean) * (v - mean);
    const real variance = squares / static_cast<real>(n - 1);
    return {mean, std::sqrt(variance / static_cast<real>(n)), n};
}

// log Σ_i exp(a_i) − log n, shifted by the maximum.
real log_mean_exp(const std::vector<real>& a) {
    real top = a[0];
    for (real v : a) top = std::max(top, v);
    real total = 0;
    for (real v : a) total += std::exp(v - top);
    return top + std::log(total / static_cast<real>(a.size()));
}

void check_rows(const char* who, Distribution& model, const Array& x, const Array* context, std::size_t batch) {
    const Shape xs = shape_of(x);
    if (xs[0] < 2)
        throw ValueError(std::string(who) + ": needs at least 2 rows to estimate an error, got " + shape_string(xs));
    if (xs[1] != model.dim())
        throw ShapeError(std::string(who) + ": data " + shape_string(xs) + " has " + std::to_string(xs[1]) +
                         " columns but the model (" + model.kind() + ") has dimension " + std::to_string(model.dim()));
    if (batch == 0) throw ValueError(std::string(who) + ": batch must be at least 1, got 0");
    const std::size_t c = model.context_dim();
    if (c == 0 && context)
        throw ValueError(std::string(who) + ": the model (" + model.kind() + ") takes no context, got a context " +
                         shape_string(shape_of(*context)));
    if (c > 0 && !context)
        throw ValueError(std::string(who) + ": the model (" + model.kind() + ") needs a context " +
                         shape_string({xs[0], c}) + ", got none");
    if (c > 0 && shape_of(*context) != Shape{xs[0], c})
        throw ShapeError(std::string(who) + ": context " + shape_string(shape_of(*context)) + " does not fit data " +
                         shape_string(xs) + " (expected " + shape_string({xs[0], c}) + ")");
}

// log p(x_i) for every row, in batches, in no-grad and evaluation mode; NonFiniteError naming the
// first row where it is not finite.
std::vector<real> log_probs(const char* who, Distribution& model, const Array& x, const Array* context,
                            std::size_t batch) {
    check_rows(who, model, x, context, batch);
    model.set_training(false);
    const std::size_t n = x.shape()[0];
    std::vector<real> out;
    out.reserve(n);
    Tape t;
    for (std::size_t begin = 0; begin < n; begin += batch) {
        const std::size_t end = std::min(n, begin + batch);
        t.reset();
        NoGrad no_grad(t);
        const Var xv = t.constant(xt::view(x, xt::range(begin, end), xt::all()));
        const Var cv = context ? t.constant(xt::view(*context, xt::range(begin, end), xt::all())) : Var();
        const Array& lp = model.log_prob(xv, cv).value();
        for (std::size_t i = 0; i < end - begin; ++i) {
            if (!std::isfinite(lp(i, 0)))
                throw NonFiniteError(std::string(who) + ": log p is " + value_string(lp(i, 0)) + " at row " +
                                     std::to_string(begin + i) + " of " + shape_string(shape_of(x)));
            out.push_back(lp(i, 0));
        }
    }
    t.reset();
    return out;
}

}  // namespace

Estimate average_log_likelihood(Distribution& model, const Array& x, const Array* context, std::size_t batch) {
    return mean_with_error(log_probs("average_log_likelihood", model, x, context, batch));
}

Estimate bits_per_dimension(Distribution& model, const Array& x, const Array* context, std::size_t batch) {
    const Estimate ll = mean_with_error(log_probs("bits_per_dimension", model, x, context, batch));
    const real scale = static_cast<real>(model.dim()) * std::numbers::ln2;
    return {-ll.mean / scale, ll.error / scale, ll.n};
}

KlEstimate kl_divergence(Distribution& q, const std::function<Array(const Array&)>& target_log_prob, std::size_t n,
                         Rng& rng, bool self_normalised) {
    if (n < 2) throw ValueError("kl_divergence: needs at least 2 samples to estimate an error, got " + std::to_string(n));
    if (q.context_dim() > 0)
        throw ValueError("kl_divergence: q (" + q.kind() + ") is conditional (context dimension " +
                         std::to_string(q.context_dim()) + "); the KL needs an unconditional model");
    q.set_training(false);
    constexpr std::size_t kBatch = 4096;
    std::vector<real> log_q, log_p;
    log_q.reserve(n);
    log_p.reserve(n);
    Tape t;
    for (std::size_t begin = 0; begin < n; begin += kBatch) {
        const std::size_t m = std::min(n - begin, kBatch);
        Array x, lq_batch;
        {
            NoGrad no_grad(t);
            const SampleResult s = q.sample_with_log_prob(t, m, rng);
            x = s.x.value();
            lq_batch = s.log_prob.value();
        }
        t.reset();  // q's parameters are free again, should the target use q itself
        const Array target = target_log_prob(x);
        if (shape_of(target) != Shape{m, 1})
            throw ShapeError("kl_divergence: target_log_prob returned " + shape_string(shape_of(target)) + " for " +
                             shape_string(shape_of(x)) + " points (expected " + shape_string({m, 1}) + ")");
        for (std::size_t i = 0; i < m; ++i) {
            const real lq = lq_batch(i, 0), lp = target(i, 0);
            if (!std::isfinite(lq))
                throw NonFiniteError("kl_divergence: log q is " + value_string(lq) + " at sample " +
                                     std::to_string(begin + i) + " of " + std::to_string(n));
            if (!std::isfinite(lp))
                throw NonFiniteError("kl_divergence: the target's log p is " + value_string(lp) + " at sample " +
                                     std::to_string(begin + i) + " of " + std::to_string(n) +
                                     (lp < 0 ? " (p = 0 where q > 0: the KL divergence is infinite)" : ""));
            log_q.push_back(lq);
            log_p.push_back(lp);
        }
    }

    return kl_from_log_densities(log_q, log_p, self_normalised);
}

KlEstimate kl_from_log_densities(const std::vector<real>& log_q, const std::vector<real>& log_p, bool self_normalised) {
    const std::size_t n = log_q.size();
    if (log_p.size() != n)
        throw ShapeError("kl_from_log_densities: " + std::to_string(n) + " values of log q but " +
                         std::to_string(log_p.size()) + " of log p");
    if (n < 2) throw ValueError("kl_from_log_densities: needs at least 2 samples to estimate an error, got " + std::to_string(n));
    std::vector<real> delta(n);
    for (std::size_t i = 0; i < n; ++i) delta[i] = log_q[i] - log_p[i];
    if (!self_normalised) return {mean_with_error(delta), false, n};

    // mean Δ + log p̄ − log q̄, with the error of ψ_i = Δ_i + p_i/p̄ − q_i/q̄ (see the header).
    const real log_p_bar = log_mean_exp(log_p), log_q_bar = log_mean_exp(log_q);
    std::vector<real> psi(n);
    for (std::size_t i = 0; i < n; ++i)
        psi[i] = delta[i] + std::exp(log_p[i] - log_p_bar) - std::exp(log_q[i] - log_q_bar);
    const Estimate mean_delta = mean_with_error(delta);
    const Estimate influence = mean_with_error(psi);
    return {{mean_delta.mean + log_p_bar - log_q_bar, influence.error, n}, true, n};
}

}  // namespace flowtape
