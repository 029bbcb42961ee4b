// Tests of training: Adam (the optimum of a quadratic, the first step, weight decay), learning-rate
// schedules, gradient clipping, and an MLP fitting a curve.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cmath>
#include <numbers>

#include "flowtape.hpp"

using namespace flowtape;

namespace {

// L(θ) = ½ (θ − c) A (θ − c)ᵀ for a row θ, recorded on the tape. A is symmetric positive definite.
Var quadratic(Tape& t, Parameter& theta, const Array& c, const Array& a) {
    const Var d = t.param(theta) - t.constant(c);
    return 0.5 * sum(matmul(d, t.constant(a)) * d);
}

// Runs Adam on the quadratic for `steps` steps with the learning rate from `schedule`.
void minimize(Parameter& theta, const Array& c, const Array& a, AdamOptions options, const LrSchedule& schedule,
              std::size_t steps) {
    ParameterList params;
    params.add("theta", theta);
    Adam adam(params, options);
    Tape t;
    for (std::size_t s = 0; s < steps; ++s) {
        adam.set_lr(schedule.at(s));
        t.reset();
        t.backward(quadratic(t, theta, c, a));
        adam.step();
        adam.zero_grad();
    }
    BOOST_TEST(adam.steps() == steps);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(adam)

BOOST_AUTO_TEST_CASE(reaches_the_minimum_of_a_quadratic) {
    // A = B Bᵀ + I: symmetric positive definite, condition number about 10.
    const Array b{{1.0, 2.0, 0.0}, {0.5, -1.0, 1.0}, {0.0, 1.0, 1.5}};
    Array a = xt::zeros<real>({3, 3});
    for (std::size_t i = 0; i < 3; ++i)
        for (std::size_t j = 0; j < 3; ++j) {
            for (std::size_t k = 0; k < 3; ++k) a(i, j) += b(i, k) * b(j, k);
            if (i == j) a(i, j) += 1;
        }
    const Array c{{1.0, -2.0, 0.5}};
    Parameter theta("theta", xt::zeros<real>({1, 3}));
    minimize(theta, c, a, AdamOptions{}, LrSchedule::cosine(0.05, 3000), 3000);
    for (std::size_t i = 0; i < 3; ++i) BOOST_TEST(std::abs(theta.value()(0, i) - c(0, i)) < 1e-6);
}

BOOST_AUTO_TEST_CASE(weight_decay_moves_the_minimum) {
    // With decay λ, Adam minimises L + ½λ‖θ‖²: for diagonal A, θᵢ = aᵢ cᵢ / (aᵢ + λ).
    const Array a{{2.0, 0.0}, {0.0, 0.5}};
    const Array c{{1.0, -3.0}};
    const real lambda = 0.25;
    Parameter theta("theta", xt::zeros<real>({1, 2}));
    AdamOptions o;
    o.weight_decay = lambda;
    minimize(theta, c, a, o, LrSchedule::cosine(0.05, 3000), 3000);
    for (std::size_t i = 0; i < 2; ++i)
        BOOST_TEST(std::abs(theta.value()(0, i) - a(i, i) * c(0, i) / (a(i, i) + lambda)) < 1e-6);
}

BOOST_AUTO_TEST_CASE(first_step_moves_each_coordinate_by_lr) {
    // Bias correction makes m̂ = g and v̂ = g² at step 1: each coordinate moves by lr·|g|/(|g| + ε)
    // against its gradient, whatever the gradient's scale. Without the correction it would move by
    // lr·0.1/sqrt(0.001) ≈ 3.2 lr.
    Parameter p("p", Array{{1.0, -2.0, 0.5, 3.0}});
    p.grad() = Array{{0.01, -1.0, 250.0, -1e5}};
    ParameterList params;
    params.add("p", p);
    const real lr = 0.01;
    Adam adam(params, AdamOptions{lr});
    const Array before = p.value();
    adam.step();
    for (std::size_t i = 0; i < 4; ++i) {
        const real g = p.grad()(0, i);
        const real moved = p.value()(0, i) - before(0, i);
        BOOST_TEST(moved == -std::copysign(lr, g), boost::test_tools::tolerance(1e-5));
    }
}

// Ten steps with weight decay against the textbook update written out term by term (Kingma & Ba,
// Algorithm 1, with PyTorch's L2 decay added to the gradient): the implementation folds the bias
// corrections into the step size, which must change nothing beyond rounding.
BOOST_AUTO_TEST_CASE(matches_the_textbook_update_over_several_steps) {
    const Array start{{1.0, -2.0, 0.5, 3.0, 1e-3}};
    Parameter p("p", start);
    ParameterList params;
    params.add("p", p);
    AdamOptions o{0.05};
    o.weight_decay = 0.1;
    Adam adam(params, o);
    Array theta = start, m = xt::zeros<real>({1, 5}), v = xt::zeros<real>({1, 5});
    for (int t = 1; t <= 10; ++t) {
        for (std::size_t i = 0; i < 5; ++i)  // some gradient that changes from step to step
            p.grad()(0, i) = std::sin(3.0 * t + static_cast<real>(i)) * std::pow(10.0, static_cast<real>(i) - 2.0);
        for (std::size_t i = 0; i < 5; ++i) {
            const real g = p.grad()(0, i) + o.weight_decay * theta(0, i);
            m(0, i) = o.beta1 * m(0, i) + (1 - o.beta1) * g;
            v(0, i) = o.beta2 * v(0, i) + (1 - o.beta2) * g * g;
            const real m_hat = m(0, i) / (1 - std::pow(o.beta1, t));
            const real v_hat = v(0, i) / (1 - std::pow(o.beta2, t));
            theta(0, i) -= o.lr * m_hat / (std::sqrt(v_hat) + o.eps);
        }
        adam.step();
        for (std::size_t i = 0; i < 5; ++i)
            BOOST_TEST(p.value()(0, i) == theta(0, i), boost::test_tools::tolerance(1e-13));
    }
}

BOOST_AUTO_TEST_CASE(rejects_bad_options_and_gradients) {
    Parameter p("p", Array{{1.0}});
    ParameterList params;
    params.add("p", p);
    BOOST_CHECK_THROW(Adam(params, AdamOptions{-1.0}), ValueError);
    AdamOptions o;
    o.beta2 = 1.0;
    BOOST_CHECK_THROW(Adam(params, o), ValueError);
    Adam adam(params);
    BOOST_CHECK_THROW(adam.set_lr(NAN), ValueError);
    p.grad()(0, 0) = NAN;
    BOOST_CHECK_THROW(adam.step(), NonFiniteError);
    p.grad()(0, 0) = -INFINITY;
    BOOST_CHECK_THROW(adam.step(), NonFiniteError);
    BOOST_TEST(p.value()(0, 0) == 1.0);  // nothing changed
    BOOST_TEST(adam.steps() == 0u);
    adam.zero_grad();
    BOOST_TEST(p.grad()(0, 0) == 0.0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(schedule)

BOOST_AUTO_TEST_CASE(constant) {
    const LrSchedule s = LrSchedule::constant(0.3);
    BOOST_TEST(s.at(0) == 0.3);
    BOOST_TEST(s.at(12345) == 0.3);
    BOOST_CHECK_THROW(LrSchedule::constant(-1), ValueError);
}

BOOST_AUTO_TEST_CASE(exponential) {
    const LrSchedule s = LrSchedule::exponential(0.1, 0.9);
    BOOST_TEST(s.at(0) == 0.1);
    BOOST_TEST(s.at(50) == 0.1 * std::pow(0.9, 50), boost::test_tools::tolerance(1e-14));
    BOOST_TEST(s.at(100) == 0.1 * std::pow(0.9, 100), boost::test_tools::tolerance(1e-14));
    for (std::size_t t : {0, 7, 99}) BOOST_TEST(s.at(t + 1) / s.at(t) == 0.9, boost::test_tools::tolerance(1e-14));
    BOOST_CHECK_THROW(LrSchedule::exponential(0.1, 0), ValueError);
}

BOOST_AUTO_TEST_CASE(cosine) {
    const LrSchedule s = LrSchedule::cosine(0.2, 100);
    BOOST_TEST(s.at(0) == 0.2);
    BOOST_TEST(s.at(50) == 0.1, boost::test_tools::tolerance(1e-14));
    BOOST_TEST(s.at(25) == 0.1 * (1 + std::cos(std::numbers::pi / 4)), boost::test_tools::tolerance(1e-14));
    BOOST_TEST(s.at(100) == 0.0);
    BOOST_TEST(s.at(1000) == 0.0);
    for (std::size_t t = 0; t < 100; ++t) BOOST_TEST(s.at(t + 1) < s.at(t));
    BOOST_CHECK_THROW(LrSchedule::cosine(0.1, 0), ValueError);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(gradient_clipping)

BOOST_AUTO_TEST_CASE(scales_to_the_max_norm) {
    Parameter a("a", xt::zeros<real>({1, 2})), b("b", xt::zeros<real>({1, 1}));
    a.grad() = Array{{3.0, 0.0}};
    b.grad() = Array{{-4.0}};
    ParameterList params;
    params.add("a", a);
    params.add("b", b);
    BOOST_TEST(clip_grad_norm(params, 1.0) == 5.0);
    BOOST_TEST(a.grad()(0, 0) == 0.6, boost::test_tools::tolerance(1e-15));
    BOOST_TEST(a.grad()(0, 1) == 0.0);
    BOOST_TEST(b.grad()(0, 0) == -0.8, boost::test_tools::tolerance(1e-15));
    // The norm after clipping is the max norm.
    BOOST_TEST(clip_grad_norm(params, 10.0) == 1.0, boost::test_tools::tolerance(1e-15));
}

BOOST_AUTO_TEST_CASE(leaves_small_gradients_alone) {
    Parameter a("a", xt::zeros<real>({2, 2}));
    a.grad() = Array{{0.1, -0.2}, {0.3, 0.05}};
    const Array before = a.grad();
    ParameterList params;
    params.add("a", a);
    const real norm = clip_grad_norm(params, 1.0);
    BOOST_TEST(norm == std::sqrt(0.01 + 0.04 + 0.09 + 0.0025), boost::test_tools::tolerance(1e-15));
    BOOST_TEST((a.grad() == before));
}

BOOST_AUTO_TEST_CASE(huge_gradients_and_errors) {
    Parameter a("a", xt::zeros<real>({1, 2}));
    a.grad() = Array{{3e300, 4e300}};  // the sum of squares would overflow
    ParameterList params;
    params.add("a", a);
    BOOST_TEST(clip_grad_norm(params, 1.0) == 5e300, boost::test_tools::tolerance(1e-14));
    BOOST_TEST(a.grad()(0, 1) == 0.8, boost::test_tools::tolerance(1e-14));
    BOOST_CHECK_THROW(clip_grad_norm(params, 0.0), ValueError);
    a.grad()(0, 0) = INFINITY;
    BOOST_CHECK_THROW(clip_grad_norm(params, 1.0), NonFiniteError);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(fit)

// An Mlp (tanh, 1→32→32→1) trained by Adam on y = sin(2x), x on a grid of [−2, 2], reaches a mean
// squared error below 1e-3 in 2000 steps (the time is printed, not tested: speed lives in bench/).
BOOST_AUTO_TEST_CASE(mlp_fits_a_sine) {
    const auto start = std::chrono::steady_clock::now();
    const std::size_t n = 128;
    Array x = Array::from_shape({n, 1}), y = Array::from_shape({n, 1});
    for (std::size_t k = 0; k < n; ++k) {
        x(k, 0) = -2.0 + 4.0 * static_cast<real>(k) / static_cast<real>(n - 1);
        y(k, 0) = std::sin(2 * x(k, 0));
    }
    Rng rng(30);
    MlpConfig c;
    c.hidden = {32, 32};
    c.activation = Activation::tanh;
    Mlp net(c, rng);
    Adam adam(net.parameters(), AdamOptions{});
    const std::size_t steps = 2000;
    const LrSchedule schedule = LrSchedule::cosine(1e-2, steps);
    Tape t;
    real mse = INFINITY;
    for (std::size_t s = 0; s < steps; ++s) {
        adam.set_lr(schedule.at(s));
        t.reset();
        const Var loss = mean(square(net.forward(t.constant(x)) - t.constant(y)));
        mse = loss.item();
        t.backward(loss);
        adam.step();
        adam.zero_grad();
    }
    // The error of the final parameters, in no-grad mode.
    t.reset();
    {
        NoGrad no_grad(t);
        mse = mean(square(net.forward(t.constant(x)) - t.constant(y))).item();
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    BOOST_TEST_MESSAGE("sine fit: mse " << mse << " after " << steps << " steps, " << seconds << " s");
    BOOST_TEST(mse < 1e-3);
}

BOOST_AUTO_TEST_SUITE_END()
