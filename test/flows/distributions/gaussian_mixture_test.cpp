// Tests of GaussianMixture: log_prob against the mixture formula evaluated directly, gradients by
// finite differences (parameters, input, reparameterised samples), the sampler's moments against
// the mixture's mean and covariance, fixed versus learnable groups, the registry, bad input.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <numbers>

#include <nlohmann/json.hpp>

#include "flowtape.hpp"

using namespace flowtape;

namespace {

// K = 3 components in D = 2, well separated, unequal weights and scales.
GaussianMixture make_mixture(GmmLearnable learnable = {}) {
    const Array means{{-2.0, 0.5}, {1.5, 1.0}, {0.0, -2.5}};
    const Array log_scales{{-0.3, 0.2}, {0.1, -0.5}, {0.4, 0.0}};
    const Array logits{{0.2, -0.4, 0.7}};
    return GaussianMixture(means, log_scales, logits, learnable);
}

// log Σ_k w_k Π_d N(x_d; μ_kd, σ_kd²), straight from the definition (no log-space tricks: the
// test points are close enough to the components for the densities not to underflow).
real direct_log_density(const GaussianMixture& g, const Array& x, std::size_t row) {
    const Array w = g.weights();
    real density = 0;
    for (std::size_t k = 0; k < g.components(); ++k) {
        real component = 1;
        for (std::size_t d = 0; d < g.dim(); ++d) {
            const real sigma = std::exp(g.log_scales()(k, d));
            const real u = (x(row, d) - g.means()(k, d)) / sigma;
            component *= std::exp(-0.5 * u * u) / (sigma * std::sqrt(2 * std::numbers::pi));
        }
        density += w(0, k) * component;
    }
    return std::log(density);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gaussian_mixture)

BOOST_AUTO_TEST_CASE(log_prob_matches_the_mixture_formula) {
    GaussianMixture g = make_mixture();
    Rng rng(1);
    const Array x = rng.normal_array(20, 2) * 2.0;
    Tape t;
    const Array lp = g.log_prob(t.constant(x)).value();
    BOOST_TEST_REQUIRE((shape_of(lp) == Shape{20, 1}));
    for (std::size_t i = 0; i < 20; ++i) BOOST_TEST(std::abs(lp(i, 0) - direct_log_density(g, x, i)) < 1e-12);
    // The weights are the softmax of the logits.
    const Array w = g.weights();
    const real z = std::exp(0.2) + std::exp(-0.4) + std::exp(0.7);
    BOOST_TEST(std::abs(w(0, 0) - std::exp(0.2) / z) < 1e-15);
    BOOST_TEST(std::abs(w(0, 2) - std::exp(0.7) / z) < 1e-15);
}

BOOST_AUTO_TEST_CASE(log_prob_stays_finite_far_from_every_component) {
    // Densities underflow to 0 there, the log-space sum must not: compare with the dominant term.
    GaussianMixture g(Array{{0.0}, {1.0}}, Array{{0.0}, {0.0}}, Array{{0.0, 0.0}});
    Tape t;
    const real lp = g.log_prob(t.constant(Array{{60.0}})).item();
    // log(½N(60; 0, 1) + ½N(60; 1, 1)) = log ½ + log N(60; 1, 1) + log(1 + e^{−59.5}).
    const real expected = std::log(0.5) - 0.5 * 59.0 * 59.0 - 0.5 * std::log(2 * std::numbers::pi) + std::exp(-59.5);
    BOOST_TEST(std::isfinite(lp));
    BOOST_TEST(std::abs(lp - expected) < 1e-9);
}

BOOST_AUTO_TEST_CASE(log_prob_passes_gradcheck) {
    GaussianMixture g = make_mixture();
    Rng rng(2);
    const Array x = rng.normal_array(6, 2) * 1.5;
    const GradcheckResult gp =
        gradcheck_parameters([&](Tape& t) { return g.log_prob(t.constant(x)); }, g.parameters().pointers());
    BOOST_TEST(gp.ok, "parameters: " << gp.worst << " error " << gp.max_error);
    BOOST_TEST(g.parameters().size() == 3u);
    // With respect to x (the mixture as a flow's base receives gradients through z).
    Parameter input("x", x);
    const GradcheckResult gx = gradcheck_parameters([&](Tape& t) { return g.log_prob(t.param(input)); }, {&input});
    BOOST_TEST(gx.ok, "x: " << gx.worst << " error " << gx.max_error);
}

BOOST_AUTO_TEST_CASE(samples_are_reparameterised_in_means_and_scales) {
    // With the same seed the same components and ε are drawn, so x = μ_k + σ_k ε is a smooth
    // function of μ and s: its gradient must match finite differences.
    GaussianMixture g = make_mixture();
    const ParameterList params = g.parameters();
    std::vector<Parameter*> continuous{&params.find("means"), &params.find("log_scales")};
    const GradcheckResult r = gradcheck_parameters(
        [&](Tape& t) {
            Rng rng(3);
            return g.sample(t, 8, rng);
        },
        continuous);
    BOOST_TEST(r.ok, r.worst << " error " << r.max_error);
}

BOOST_AUTO_TEST_CASE(sampler_moments_match_the_mixture) {
    // Mean m = Σ w_k μ_k; covariance C = Σ w_k (diag σ_k² + μ_k μ_kᵀ) − m mᵀ. Each sample mean is
    // within 5 standard errors sqrt(C_dd / n); each sample covariance within 5 standard errors
    // estimated from the samples' products.
    GaussianMixture g = make_mixture();
    const std::size_t n = 10000, dim = 2;
    Tape t;
    NoGrad no_grad(t);
    Rng rng(4);
    const Array x = g.sample(t, n, rng).value();
    BOOST_TEST_REQUIRE((shape_of(x) == Shape{n, dim}));
    const Array w = g.weights();
    std::vector<real> m(dim, 0.0);
    Array second = xt::zeros<real>({dim, dim});
    for (std::size_t k = 0; k < g.components(); ++k)
        for (std::size_t i = 0; i < dim; ++i) {
            m[i] += w(0, k) * g.means()(k, i);
            for (std::size_t j = 0; j < dim; ++j)
                second(i, j) += w(0, k) * (g.means()(k, i) * g.means()(k, j) +
                                           (i == j ? std::exp(2 * g.log_scales()(k, i)) : 0.0));
        }
    for (std::size_t i = 0; i < dim; ++i) {
        real mean = 0;
        for (std::size_t r = 0; r < n; ++r) mean += x(r, i);
        mean /= n;
        const real cov_ii = second(i, i) - m[i] * m[i];
        BOOST_TEST(std::abs(mean - m[i]) < 5 * std::sqrt(cov_ii / n), "mean " << i << ": " << mean << " vs " << m[i]);
    }
    for (std::size_t i = 0; i < dim; ++i)
        for (std::size_t j = 0; j <= i; ++j) {
            const real expected = second(i, j) - m[i] * m[j];
            std::vector<real> products(n);
            real mean = 0;
            for (std::size_t r = 0; r < n; ++r) mean += (products[r] = (x(r, i) - m[i]) * (x(r, j) - m[j]));
            mean /= n;
            real var = 0;
            for (real p : products) var += (p - mean) * (p - mean);
            var /= (n - 1);
            BOOST_TEST(std::abs(mean - expected) < 5 * std::sqrt(var / n),
                       "cov(" << i << ", " << j << "): " << mean << " vs " << expected);
        }
}

BOOST_AUTO_TEST_CASE(component_draws_follow_the_weights) {
    const Array w{{0.1, 0.6, 0.3}};
    Rng rng(5);
    const std::size_t n = 20000;
    const std::vector<std::size_t> k = draw_components(w, n, rng);
    std::vector<real> counts(3, 0);
    for (std::size_t c : k) counts.at(c) += 1;
    for (std::size_t j = 0; j < 3; ++j) {
        const real p = w(0, j);
        BOOST_TEST(std::abs(counts[j] / n - p) < 5 * std::sqrt(p * (1 - p) / n));
    }
}

BOOST_AUTO_TEST_CASE(fixed_groups_are_buffers_not_parameters) {
    GmmLearnable learnable;
    learnable.means = false;
    learnable.weights = false;
    GaussianMixture g = make_mixture(learnable);
    const ParameterList params = g.parameters();
    BOOST_TEST_REQUIRE(params.size() == 1u);
    BOOST_TEST(params.items()[0].name == "log_scales");
    ParameterList buffers;
    g.collect_buffers(buffers, "base");
    BOOST_TEST_REQUIRE(buffers.size() == 2u);
    BOOST_TEST(buffers.items()[0].name == "base.means");
    BOOST_TEST(buffers.items()[1].name == "base.logits");
    // A backward pass reaches the learnable group only; the fixed ones get no gradient.
    Tape t;
    t.backward(sum(g.log_prob(t.constant(Array{{0.3, -0.2}}))));
    BOOST_TEST(xt::amax(xt::abs(params.items()[0].parameter->grad()))() > 0);
    BOOST_TEST(xt::amax(xt::abs(buffers.items()[0].parameter->grad()))() == 0);
}

BOOST_AUTO_TEST_CASE(registry_rebuilds_the_architecture) {
    GmmLearnable learnable;
    learnable.scales = false;
    GaussianMixture g = make_mixture(learnable);
    const nlohmann::json c = g.config();
    BOOST_TEST(c["kind"] == "gmm");
    Rng rng(6);
    DistributionPtr rebuilt = make_distribution(c, rng);
    BOOST_TEST(rebuilt->kind() == "gmm");
    BOOST_TEST(rebuilt->dim() == 2u);
    BOOST_TEST(rebuilt->config() == c);
    auto& mixture = dynamic_cast<GaussianMixture&>(*rebuilt);
    BOOST_TEST(mixture.components() == 3u);
    BOOST_TEST(!mixture.learnable().scales);
    BOOST_TEST(mixture.learnable().means);
    nlohmann::json bad = c;
    bad["components"] = 0;
    BOOST_CHECK_THROW(make_distribution(bad, rng), IoError);
}

BOOST_AUTO_TEST_CASE(bad_input_throws) {
    BOOST_CHECK_THROW(GaussianMixture(Array{{0.0, 0.0}}, Array{{0.0}}, Array{{0.0}}), ShapeError);
    BOOST_CHECK_THROW(GaussianMixture(Array{{0.0}}, Array{{0.0}}, Array{{0.0, 1.0}}), ShapeError);
    BOOST_CHECK_THROW(GaussianMixture(Array{{NAN}}, Array{{0.0}}, Array{{0.0}}), ValueError);
    GaussianMixture g = make_mixture();
    Tape t;
    try {
        g.log_prob(t.constant(Array{{1.0, 2.0, 3.0}}));
        BOOST_FAIL("expected a ShapeError");
    } catch (const ShapeError& e) {
        BOOST_TEST(std::string(e.what()).find("GaussianMixture::log_prob") != std::string::npos);
        BOOST_TEST(std::string(e.what()).find("1\u00d73") != std::string::npos);
    }
    Rng rng(7);
    BOOST_CHECK_THROW(g.sample(t, 0, rng), ValueError);
}

BOOST_AUTO_TEST_SUITE_END()
