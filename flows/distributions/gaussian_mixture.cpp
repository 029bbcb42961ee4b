// GaussianMixture: the component log-densities on the tape, reduced by logsumexp; the sampler by
// a discrete component draw and the reparameterised μ + σ ε.
#include "flows/distributions/gaussian_mixture.hpp"

#include <cmath>
#include <numbers>

#include <nlohmann/json.hpp>

#include "autodiff/ops.hpp"
#include "core/error.hpp"

namespace flowtape {
namespace {

const real kLogTwoPi = std::log(2 * std::numbers::pi);

void check_finite(const char* what, const Array& a) {
    for (real v : a)
        if (!std::isfinite(v))
            throw ValueError(std::string("GaussianMixture: ") + what + " " + shape_string(shape_of(a)) +
                             " holds a non-finite value (" + std::to_string(v) + ")");
}

// w = softmax(a) along the row, shifted by the maximum so that no exponential overflows.
Array softmax_row(const Array& logits) {
    const std::size_t k = logits.shape()[1];
    real top = logits(0, 0);
    for (std::size_t j = 1; j < k; ++j) top = std::max(top, logits(0, j));
    Array w = xt::empty<real>({std::size_t(1), k});
    real total = 0;
    for (std::size_t j = 0; j < k; ++j) total += (w(0, j) = std::exp(logits(0, j) - top));
    for (std::size_t j = 0; j < k; ++j) w(0, j) /= total;
    return w;
}

// log N(x; μ_k, diag σ_k²) per row (N×1) for the k-th rows of means and log_scales.
Var component_log_density(Var x, Var means, Var log_scales, std::size_t k) {
    const Var mu = rows(means, k, k + 1);
    const Var s = rows(log_scales, k, k + 1);
    const Var u = mul(sub(x, mu), exp(neg(s)));
    const real d = static_cast<real>(x.cols());
    return add_scalar(sub(mul_scalar(sum(square(u), 1), -0.5), sum(s)), -0.5 * d * kLogTwoPi);
}

}  // namespace

GaussianMixture::GaussianMixture(Array means, Array log_scales, Array logits, GmmLearnable learnable)
    : means_("means", std::move(means)),
      log_scales_("log_scales", std::move(log_scales)),
      logits_("logits", std::move(logits)),
      learnable_(learnable) {
    const Shape m = means_.shape();
    if (m[0] == 0 || m[1] == 0 || log_scales_.shape() != m || logits_.shape() != Shape{1, m[0]})
        throw ShapeError("GaussianMixture: means and log_scales must both be K×D and logits 1×K with K, D ≥ 1, got " +
                         shape_string(m) + ", " + shape_string(log_scales_.shape()) + " and " +
                         shape_string(logits_.shape()));
    check_finite("means", means_.value());
    check_finite("log_scales", log_scales_.value());
    check_finite("logits", logits_.value());
}

Var GaussianMixture::use(Tape& tape, Parameter& p, bool learnable) const {
    return learnable ? tape.param(p) : tape.constant(p.value());
}

Var GaussianMixture::log_prob(Var x, Var) {
    if (x.cols() != dim())
        throw ShapeError("GaussianMixture::log_prob: expected " + std::to_string(dim()) + " columns, got " +
                         shape_string(x.shape()));
    Tape& t = x.tape();
    const Var means = use(t, means_, learnable_.means);
    const Var log_scales = use(t, log_scales_, learnable_.scales);
    const Var log_weights = log_softmax(use(t, logits_, learnable_.weights), 1);  // 1×K
    std::vector<Var> columns;
    columns.reserve(components());
    for (std::size_t k = 0; k < components(); ++k) columns.push_back(component_log_density(x, means, log_scales, k));
    const Var joint = add(concat(columns, 1), log_weights);  // N×K: log w_k + log N_k
    return logsumexp(joint, 1);
}

std::vector<std::size_t> draw_components(const Array& weights, std::size_t n, Rng& rng) {
    const std::size_t k = weights.shape()[1];
    std::vector<std::size_t> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = rng.categorical({weights.data(), k});
    return out;
}

Var GaussianMixture::sample(Tape& tape, std::size_t n, Rng& rng, Var) {
    if (n == 0) throw ValueError("GaussianMixture::sample: n must be positive, got 0");
    const std::vector<std::size_t> chosen = draw_components(weights(), n, rng);
    IndexArray index = xt::empty<std::int64_t>({n, dim()});
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t d = 0; d < dim(); ++d) index(i, d) = static_cast<std::int64_t>(chosen[i]);
    const Var eps = tape.constant(rng.normal_array(n, dim()));
    const Var mu = gather(use(tape, means_, learnable_.means), index, 0);
    const Var sigma = gather(exp(use(tape, log_scales_, learnable_.scales)), index, 0);
    return add(mu, mul(sigma, eps));
}

Array GaussianMixture::weights() const { return softmax_row(logits_.value()); }

nlohmann::json GaussianMixture::config() const {
    return {{"kind", kind()},
            {"dim", dim()},
            {"components", components()},
            {"learnable_means", learnable_.means},
            {"learnable_scales", learnable_.scales},
            {"learnable_weights", learnable_.weights}};
}

void GaussianMixture::collect_parameters(ParameterList& out, const std::string& prefix) {
    if (learnable_.means) out.add(qualified_name(prefix, "means"), means_);
    if (learnable_.scales) out.add(qualified_name(prefix, "log_scales"), log_scales_);
    if (learnable_.weights) out.add(qualified_name(prefix, "logits"), logits_);
}

DistributionPtr make_gaussian_mixture(const nlohmann::json& config, Rng& rng) {
    const auto positive = [&](const char* key) {
        const nlohmann::json& v = config.at(key);
        if (!v.is_number_unsigned() || v.get<std::size_t>() == 0)
            throw IoError(std::string("make_gaussian_mixture: \"") + key + "\" must be a positive integer, got " + v.dump());
        return v.get<std::size_t>();
    };
    const std::size_t d = positive("dim"), k = positive("components");
    GmmLearnable learnable;
    learnable.means = config.at("learnable_means").get<bool>();
    learnable.scales = config.at("learnable_scales").get<bool>();
    learnable.weights = config.at("learnable_weights").get<bool>();
    return std::make_unique<GaussianMixture>(rng.normal_array(k, d), xt::zeros<real>({k, d}),
                                             xt::zeros<real>({std::size_t(1), k}), learnable);
}

void GaussianMixture::collect_buffers(ParameterList& out, const std::string& prefix) {
    if (!learnable_.means) out.add(qualified_name(prefix, "means"), means_);
    if (!learnable_.scales) out.add(qualified_name(prefix, "log_scales"), log_scales_);
    if (!learnable_.weights) out.add(qualified_name(prefix, "logits"), logits_);
}

}  // namespace flowtape
