// RK4: exact on constant derivatives, order 4 (the log-log slope of the global error against the
// step) on ODEs with closed-form solutions, forwards and backwards in time.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "test/ode/problems.hpp"

using namespace flowtape;
using namespace ode_test;

BOOST_AUTO_TEST_SUITE(rk4)

BOOST_AUTO_TEST_CASE(exact_for_a_constant_derivative) {
    const Problem p = problems()[0];
    for (std::size_t steps : {1, 3, 10}) {
        const Array z = ode::rk4(p.f, initial_state(), 0.0, 2.0, steps);
        BOOST_TEST(max_abs_diff(z, p.exact(2.0)) < 1e-13);
    }
}

// Least-squares slope of log(error) against log(h) over halving steps.
BOOST_AUTO_TEST_CASE(convergence_order_is_four) {
    const real t0 = 0.0, t1 = 2.0;
    for (const Problem& p : problems()) {
        if (p.name == "constant") continue;  // no error to measure
        std::vector<real> log_h, log_err;
        ode::Rk4 solver;
        for (std::size_t steps : {8, 16, 32, 64, 128}) {
            Array z = initial_state();
            BOOST_TEST(solver.solve(p.f, z, t0, t1, steps) == 4 * steps);
            const real err = max_abs_diff(z, p.exact(t1));
            log_h.push_back(std::log((t1 - t0) / static_cast<real>(steps)));
            log_err.push_back(std::log(err));
        }
        const real n = static_cast<real>(log_h.size());
        real mx = 0, my = 0;
        for (std::size_t i = 0; i < log_h.size(); ++i) mx += log_h[i] / n, my += log_err[i] / n;
        real sxy = 0, sxx = 0;
        for (std::size_t i = 0; i < log_h.size(); ++i)
            sxy += (log_h[i] - mx) * (log_err[i] - my), sxx += (log_h[i] - mx) * (log_h[i] - mx);
        const real slope = sxy / sxx;
        BOOST_TEST_INFO("problem " << p.name << " slope " << slope);
        BOOST_TEST((slope > 3.8 && slope < 4.2));
    }
}

BOOST_AUTO_TEST_CASE(backwards_in_time_recovers_the_start) {
    for (const Problem& p : problems()) {
        const Array z1 = p.exact(1.5);
        const Array z0 = ode::rk4(p.f, z1, 1.5, 0.0, 200);
        BOOST_TEST_INFO("problem " << p.name);
        BOOST_TEST(max_abs_diff(z0, initial_state()) < 1e-8);
    }
}

BOOST_AUTO_TEST_CASE(rejects_zero_steps_and_non_finite_times) {
    const Problem p = problems()[1];
    BOOST_CHECK_THROW(ode::rk4(p.f, initial_state(), 0.0, 1.0, 0), ValueError);
    BOOST_CHECK_THROW(ode::rk4(p.f, initial_state(), 0.0, std::nan(""), 4), ValueError);
}

BOOST_AUTO_TEST_SUITE_END()
