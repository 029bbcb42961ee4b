// Dormand–Prince 5(4): the global error follows the tolerance on ODEs with closed-form solutions,
// backwards integration, the evaluation count (FSAL), agreement with Boost.Odeint's dopri5 as an
// independent oracle, and clear errors for stiff, singular and non-finite problems.
#include <boost/test/unit_test.hpp>

#include <boost/numeric/odeint.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "test/ode/problems.hpp"

using namespace flowtape;
using namespace ode_test;

namespace {

ode::OdeOptions tolerances(real tol) {
    ode::OdeOptions o;
    o.rtol = tol;
    o.atol = tol;
    return o;
}

// The largest error in units of the tolerance: max_i |z_i − exact_i| / (atol + rtol |exact_i|).
real error_in_tolerances(const Array& z, const Array& exact, real tol) {
    real worst = 0;
    for (std::size_t i = 0; i < z.size(); ++i)
        worst = std::max(worst, std::abs(z.data()[i] - exact.data()[i]) / (tol + tol * std::abs(exact.data()[i])));
    return worst;
}

// The message of the flowtape::Error that `run` throws, or "" if none.
template <class F>
std::string error_message(F run) {
    try {
        run();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

// Van der Pol, μ = 1: x'' − μ(1 − x²)x' + x = 0 as a first-order system on one row.
void van_der_pol(real, const Array& z, Array& dz) {
    dz(0, 0) = z(0, 1);
    dz(0, 1) = (1 - z(0, 0) * z(0, 0)) * z(0, 1) - z(0, 0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dopri5)

BOOST_AUTO_TEST_CASE(global_error_follows_the_tolerance) {
    for (const Problem& p : problems()) {
        real previous = 0;
        for (real tol : {1e-4, 1e-6, 1e-8, 1e-10}) {
            ode::OdeStats stats;
            const Array z = ode::dopri5(p.f, initial_state(), 0.0, 3.0, tolerances(tol), &stats);
            const real err = error_in_tolerances(z, p.exact(3.0), tol);
            BOOST_TEST_INFO("problem " << p.name << " tol " << tol << " error " << err << " tolerances, "
                                       << stats.accepted << " steps");
            BOOST_TEST(err <= 10.0);
            // Tighter tolerances take more steps (none needed for a constant derivative, solved exactly).
            if (p.name != "constant") BOOST_TEST(static_cast<real>(stats.accepted) > previous);
            previous = static_cast<real>(stats.accepted);
        }
    }
}

BOOST_AUTO_TEST_CASE(backwards_in_time) {
    for (const Problem& p : problems()) {
        const Array z0 = ode::dopri5(p.f, p.exact(2.5), 2.5, -0.5, tolerances(1e-9));
        BOOST_TEST_INFO("problem " << p.name);
        BOOST_TEST(error_in_tolerances(z0, p.exact(-0.5), 1e-9) <= 10.0);
    }
}

BOOST_AUTO_TEST_CASE(statistics_count_fsal_evaluations) {
    const Problem p = problems()[1];
    // Chosen first step: one evaluation at t0, then six per step (accepted or rejected).
    ode::OdeOptions o = tolerances(1e-8);
    o.first_step = 1.0;  // far too large: the controller must reject before it settles
    ode::OdeStats stats;
    std::vector<real> times;
    Array z = initial_state();
    ode::Dopri5 solver(o);
    stats = solver.solve(p.f, z, 0.0, 2.0, [&](real t, const Array&) { times.push_back(t); });
    BOOST_TEST(stats.rejected > 0u);
    BOOST_TEST(stats.fevals == 1 + 6 * stats.steps());
    BOOST_TEST(times.size() == stats.accepted);
    BOOST_TEST(times.back() == 2.0);
    for (std::size_t i = 1; i < times.size(); ++i) BOOST_TEST(times[i] > times[i - 1]);
    // Automatic first step: one more evaluation, for Hairer's probe.
    const ode::OdeStats automatic = ode::Dopri5(tolerances(1e-8)).solve(p.f, z, 2.0, 4.0);
    BOOST_TEST(automatic.fevals == 2 + 6 * automatic.steps());
    // Equal times: nothing to do.
    BOOST_TEST(solver.solve(p.f, z, 4.0, 4.0).fevals == 0u);
}

BOOST_AUTO_TEST_CASE(agrees_with_boost_odeint_dopri5) {
    namespace odeint = boost::numeric::odeint;
    using State = std::vector<double>;
    const real t1 = 10.0;
    // A reference far tighter than both: RK4 with 40000 steps (global error ~ h⁴ ≈ 4e-15).
    const Array reference = ode::rk4(van_der_pol, Array{{2.0, 0.0}}, 0.0, t1, 40000);
    for (real tol : {1e-6, 1e-9}) {
        const Array ours = ode::dopri5(van_der_pol, Array{{2.0, 0.0}}, 0.0, t1, tolerances(tol));
        State x{2.0, 0.0};
        auto system = [](const State& s, State& ds, double) {
            ds[0] = s[1];
            ds[1] = (1 - s[0] * s[0]) * s[1] - s[0];
        };
        odeint::integrate_adaptive(odeint::make_controlled(tol, tol, odeint::runge_kutta_dopri5<State>()), system, x,
                                   0.0, t1, 0.01);
        const Array theirs{{x[0], x[1]}};
        BOOST_TEST_INFO("tol " << tol << " ours (" << ours(0, 0) << ", " << ours(0, 1) << ") boost (" << x[0] << ", " << x[1]
                                << ") reference (" << reference(0, 0) << ", " << reference(0, 1) << ")");
        BOOST_TEST(max_abs_diff(ours, theirs) <= 100 * tol);
        BOOST_TEST(max_abs_diff(ours, reference) <= 100 * tol);
        BOOST_TEST(max_abs_diff(theirs, reference) <= 100 * tol);
    }
}

BOOST_AUTO_TEST_CASE(stiff_problem_hits_the_step_limit) {
    ode::OdeOptions o = tolerances(1e-6);
    o.max_steps = 50;
    const std::string message = error_message([&] {
        ode::dopri5([](real t, const Array& z, Array& dz) { xt::noalias(dz) = -1e6 * (z - std::cos(t)); },
                    Array{{0.0}}, 0.0, 1.0, o);
    });
    BOOST_TEST_INFO(message);
    BOOST_TEST(message.find("max_steps = 50") != std::string::npos);
    BOOST_TEST(message.find("at t = ") != std::string::npos);
    BOOST_CHECK_THROW(ode::dopri5([](real t, const Array& z, Array& dz) { xt::noalias(dz) = -1e6 * (z - std::cos(t)); },
                                  Array{{0.0}}, 0.0, 1.0, o),
                      SolverError);
}

BOOST_AUTO_TEST_CASE(blow_up_underflows_the_step) {
    // z' = z², z(0) = 1: z = 1 / (1 − t) blows up at t = 1.
    auto run = [] {
        ode::dopri5([](real, const Array& z, Array& dz) { xt::noalias(dz) = z * z; }, Array{{1.0}}, 0.0, 2.0,
                    tolerances(1e-8));
    };
    BOOST_CHECK_THROW(run(), SolverError);
    const std::string message = error_message(run);
    BOOST_TEST_INFO(message);
    BOOST_TEST(message.find("fell below the minimum") != std::string::npos);
    BOOST_TEST(message.find("at t = 1 ") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_chosen_minimum_step_stops_earlier) {
    // The same blow-up with min_step = 1e-3: the step falls below it well before t = 1.
    ode::OdeOptions o = tolerances(1e-8);
    o.min_step = 1e-3;
    const std::string message = error_message([&] {
        ode::dopri5([](real, const Array& z, Array& dz) { xt::noalias(dz) = z * z; }, Array{{1.0}}, 0.0, 2.0, o);
    });
    BOOST_TEST_INFO(message);
    BOOST_TEST(message.find("fell below the minimum 0.001 at t = 0.9") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(singular_derivative_is_an_error_near_the_singularity) {
    // z' = 1 / (1 − t): unbounded at t = 1.
    const std::string message = error_message([] {
        ode::dopri5([](real t, const Array&, Array& dz) { dz.fill(1.0 / (1.0 - t)); }, Array{{0.0}}, 0.0, 2.0,
                    tolerances(1e-8));
    });
    BOOST_TEST_INFO(message);
    BOOST_TEST(message.find("t = 1") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(non_finite_derivative_names_the_time) {
    // z' = √(1 − t) is NaN past t = 1.
    auto run = [] {
        ode::dopri5([](real t, const Array&, Array& dz) { dz.fill(std::sqrt(1.0 - t)); }, Array{{0.0}}, 0.0, 2.0,
                    tolerances(1e-6));
    };
    BOOST_CHECK_THROW(run(), NonFiniteError);
    const std::string message = error_message(run);
    BOOST_TEST_INFO(message);
    BOOST_TEST(message.find("non-finite derivative at t = 1") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(bad_options_and_inputs) {
    const Problem p = problems()[1];
    ode::OdeOptions o;
    o.rtol = o.atol = 0;
    BOOST_CHECK_THROW(ode::Dopri5{o}, ValueError);
    o = {};
    o.min_factor = 2;
    BOOST_CHECK_THROW(ode::Dopri5{o}, ValueError);
    BOOST_CHECK_THROW(ode::dopri5(p.f, initial_state(), 0.0, INFINITY), ValueError);
    Array bad = initial_state();
    bad(0, 0) = NAN;
    BOOST_CHECK_THROW(ode::dopri5(p.f, bad, 0.0, 1.0), NonFiniteError);
}

BOOST_AUTO_TEST_SUITE_END()
