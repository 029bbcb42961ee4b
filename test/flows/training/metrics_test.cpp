// Tests of the evaluation metrics: the average log-likelihood and bits per dimension of a standard
// normal on fixed data against the closed form, the KL divergence of two Gaussians against its
// closed form (normalised: within the Monte Carlo error; self-normalised: against the limit that
// estimator converges to), KL(q‖q) = 0, and the input checks.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <numbers>

#include "flowtape.hpp"

using namespace flowtape;

namespace {

const real kLog2Pi = std::log(2 * std::numbers::pi);

// log N(x; μ, diag σ²) per row, for a target with a known density.
Array gaussian_log_density(const Array& x, const Array& mean, const Array& log_scale) {
    const std::size_t n = x.shape()[0], d = x.shape()[1];
    Array out = xt::empty<real>({n, std::size_t(1)});
    for (std::size_t i = 0; i < n; ++i) {
        real lp = 0;
        for (std::size_t j = 0; j < d; ++j) {
            const real u = (x(i, j) - mean(0, j)) * std::exp(-log_scale(0, j));
            lp += -0.5 * u * u - log_scale(0, j) - 0.5 * kLog2Pi;
        }
        out(i, 0) = lp;
    }
    return out;
}

// KL(N(μq, σq²) ‖ N(μp, σp²)) summed over independent coordinates.
real gaussian_kl(const Array& mq, const Array& sq, const Array& mp, const Array& sp) {
    real kl = 0;
    for (std::size_t j = 0; j < mq.shape()[1]; ++j) {
        const real vq = std::exp(2 * sq(0, j)), vp = std::exp(2 * sp(0, j));
        kl += sp(0, j) - sq(0, j) + (vq + (mq(0, j) - mp(0, j)) * (mq(0, j) - mp(0, j))) / (2 * vp) - 0.5;
    }
    return kl;
}

// log ∫ N(x; a, A) N(x; b, B) dx = log N(a; b, A + B), per coordinate, summed.
real log_overlap(const Array& ma, const Array& sa, const Array& mb, const Array& sb) {
    real total = 0;
    for (std::size_t j = 0; j < ma.shape()[1]; ++j) {
        const real v = std::exp(2 * sa(0, j)) + std::exp(2 * sb(0, j));
        const real d = ma(0, j) - mb(0, j);
        total += -0.5 * d * d / v - 0.5 * std::log(2 * std::numbers::pi * v);
    }
    return total;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(metrics)

BOOST_AUTO_TEST_CASE(average_log_likelihood_of_a_standard_normal_is_the_closed_form) {
    // log N(x; 0, I) = −½‖x‖² − (D/2) log 2π for each row; mean and standard error by hand.
    const Array x{{0.0, 1.0}, {2.0, -1.0}, {0.5, 0.5}, {-1.5, 3.0}, {1.0, 1.0}};
    StandardNormal g(2);
    std::vector<real> lp;
    for (std::size_t i = 0; i < 5; ++i) lp.push_back(-0.5 * (x(i, 0) * x(i, 0) + x(i, 1) * x(i, 1)) - kLog2Pi);
    real mean = 0;
    for (real v : lp) mean += v / 5;
    real var = 0;
    for (real v : lp) var += (v - mean) * (v - mean) / 4;
    for (std::size_t batch : {2u, 4096u}) {  // batching must not change anything
        const Estimate e = average_log_likelihood(g, x, nullptr, batch);
        BOOST_TEST(e.n == 5u);
        BOOST_TEST(std::abs(e.mean - mean) < 1e-14);
        BOOST_TEST(std::abs(e.error - std::sqrt(var / 5)) < 1e-14);
        const Estimate bits = bits_per_dimension(g, x, nullptr, batch);
        BOOST_TEST(std::abs(bits.mean - (-mean / (2 * std::numbers::ln2))) < 1e-14);
        BOOST_TEST(std::abs(bits.error - std::sqrt(var / 5) / (2 * std::numbers::ln2)) < 1e-14);
    }
}

BOOST_AUTO_TEST_CASE(kl_of_two_gaussians_matches_the_closed_form) {
    const Array mq{{0.3, -0.5}}, sq{{-0.2, 0.1}}, mp{{0.0, 0.0}}, sp{{0.0, 0.3}};
    DiagonalGaussian q(mq, sq, false);
    const auto target = [&](const Array& x) { return gaussian_log_density(x, mp, sp); };
    const real exact = gaussian_kl(mq, sq, mp, sp);
    Rng rng(21);
    const KlEstimate kl = kl_divergence(q, target, 20000, rng, false);
    BOOST_TEST(!kl.self_normalised);
    BOOST_TEST(kl.n == 20000u);
    BOOST_TEST(kl.kl.n == 20000u);
    BOOST_TEST(kl.kl.error > 0);
    BOOST_TEST(kl.kl.error < 0.01);  // a useful estimate, so the next check has teeth
    BOOST_TEST(std::abs(kl.kl.mean - exact) < 4 * kl.kl.error, kl.kl.mean << " vs " << exact << " ± " << kl.kl.error);

    // Self-normalised over the samples, the estimate converges to KL + log E_q[p] − log E_q[q]
    // = KL + log ∫pq − log ∫q² (see metrics.hpp), known in closed form for Gaussians; and it is
    // blind to the target's normalisation.
    const real limit = exact + log_overlap(mq, sq, mp, sp) - log_overlap(mq, sq, mq, sq);
    Rng rng2(22);
    const KlEstimate sn = kl_divergence(q, target, 20000, rng2, true);
    BOOST_TEST(sn.self_normalised);
    BOOST_TEST(sn.kl.error > 0);
    BOOST_TEST(std::abs(sn.kl.mean - limit) < 4 * sn.kl.error, sn.kl.mean << " vs " << limit << " ± " << sn.kl.error);
    Rng rng3(22);
    const KlEstimate shifted =
        kl_divergence(q, [&](const Array& x) { return Array(target(x) + 7.5); }, 20000, rng3, true);
    BOOST_TEST(std::abs(shifted.kl.mean - sn.kl.mean) < 1e-9);
}

// kl_from_log_densities is the arithmetic of kl_divergence on given log densities: a small case by
// hand (Δ = 0.1, 0.3: mean 0.2, error std(Δ)/√2 = 0.1), the self-normalised mean against its
// definition, and the input checks.
BOOST_AUTO_TEST_CASE(kl_from_log_densities_by_hand) {
    const std::vector<real> log_q{-1.0, -2.0}, log_p{-1.1, -2.3};
    const KlEstimate kl = kl_from_log_densities(log_q, log_p, false);
    BOOST_TEST(std::abs(kl.kl.mean - 0.2) < 1e-15);
    BOOST_TEST(std::abs(kl.kl.error - 0.1) < 1e-15);
    const KlEstimate sn = kl_from_log_densities(log_q, log_p, true);
    const real expected = 0.2 + std::log((std::exp(-1.1) + std::exp(-2.3)) / 2) - std::log((std::exp(-1.0) + std::exp(-2.0)) / 2);
    BOOST_TEST(sn.self_normalised);
    BOOST_TEST(std::abs(sn.kl.mean - expected) < 1e-15);
    BOOST_CHECK_THROW(kl_from_log_densities({-1.0, -2.0}, {-1.0}, false), ShapeError);
    BOOST_CHECK_THROW(kl_from_log_densities({-1.0}, {-1.0}, false), ValueError);
}

BOOST_AUTO_TEST_CASE(kl_of_a_distribution_to_itself_is_zero) {
    // log q = log p at every sample, so every term is 0: the estimate and its error are 0.
    GaussianMixture q(Array{{-1.0, 0.0}, {1.5, 0.5}}, Array{{0.0, -0.3}, {0.2, 0.1}}, Array{{0.3, -0.3}});
    const auto log_q = [&](const Array& x) {
        Tape t;
        NoGrad no_grad(t);
        return Array(q.log_prob(t.constant(x)).value());
    };
    for (bool self_normalised : {false, true}) {
        Rng rng(23);
        const KlEstimate kl = kl_divergence(q, log_q, 5000, rng, self_normalised);
        BOOST_TEST(std::abs(kl.kl.mean) < 1e-12);
        BOOST_TEST(kl.kl.error < 1e-12);
    }
}

BOOST_AUTO_TEST_CASE(bad_input_throws) {
    StandardNormal g(2);
    BOOST_CHECK_THROW(average_log_likelihood(g, Array{{1.0, 2.0}}), ValueError);  // one row
    BOOST_CHECK_THROW(average_log_likelihood(g, xt::zeros<real>({4, 3})), ShapeError);
    BOOST_CHECK_THROW(bits_per_dimension(g, xt::zeros<real>({4, 2}), nullptr, 0), ValueError);
    Array with_nan = xt::zeros<real>({4, 2});
    with_nan(2, 0) = NAN;
    try {
        average_log_likelihood(g, with_nan);
        BOOST_FAIL("expected NonFiniteError");
    } catch (const NonFiniteError& e) {
        BOOST_TEST(std::string(e.what()).find("row 2") != std::string::npos, e.what());
    }
    Rng rng(24);
    const auto wrong_shape = [](const Array& x) { return Array(xt::zeros<real>({x.shape()[0], std::size_t(2)})); };
    BOOST_CHECK_THROW(kl_divergence(g, wrong_shape, 100, rng, false), ShapeError);
    const auto zero_density = [](const Array& x) {
        Array out = xt::zeros<real>({x.shape()[0], std::size_t(1)});
        out(3, 0) = -INFINITY;
        return out;
    };
    try {
        kl_divergence(g, zero_density, 100, rng, false);
        BOOST_FAIL("expected NonFiniteError");
    } catch (const NonFiniteError& e) {
        BOOST_TEST(std::string(e.what()).find("infinite") != std::string::npos, e.what());
    }
    BOOST_CHECK_THROW(kl_divergence(g, wrong_shape, 1, rng, false), ValueError);
}

BOOST_AUTO_TEST_SUITE_END()
