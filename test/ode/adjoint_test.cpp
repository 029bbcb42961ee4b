// The adjoint method against backpropagation through the solver's stages and against central
// finite differences: dL/dz0, dL/dθ, dL/dt0 and dL/dt1, forwards and backwards in time, for an MLP
// with time input and for CNF-style dynamics whose output holds a Jacobian trace computed with
// tangents on the same tape.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <vector>

#include "flowtape.hpp"

using namespace flowtape;

namespace {

// f(t, z) = tanh([z, t] W1 + b1) W2 + b2, time concatenated as a column.
struct TimeMlpDynamics : ode::Dynamics {
    Parameter w1, b1, w2, b2;
    TimeMlpDynamics(Rng& rng, std::size_t d, std::size_t h)
        : w1("w1", rng.normal_array(d + 1, h) * 0.8), b1("b1", rng.normal_array(1, h) * 0.3),
          w2("w2", rng.normal_array(h, d) * 0.8), b2("b2", rng.normal_array(1, d) * 0.3) {}
    Var at(Var t, Var z) {
        Tape& tape = z.tape();
        const Var time_column = mul(tape.constant(xt::ones<real>({z.rows(), std::size_t(1)})), t);
        const Var hidden = tanh(linear(concat({z, time_column}, 1), tape.param(w1), tape.param(b1)));
        return linear(hidden, tape.param(w2), tape.param(b2));
    }
    Var operator()(Var t, Var z) override { return at(t, z); }
    std::vector<Parameter*> parameters() override { return {&w1, &b1, &w2, &b2}; }
};

// A continuous normalizing flow's dynamics on the state [z, log p] (N×(D+1)):
// d/dt [z, log p] = [g(t, z), −Tr ∂g/∂z], the trace exact by D tangent passes.
struct TraceDynamics : ode::Dynamics {
    TimeMlpDynamics g;
    std::size_t d;
    TraceDynamics(Rng& rng, std::size_t d, std::size_t h) : g(rng, d, h), d(d) {}
    Var operator()(Var t, Var state) override {
        const Var z = cols(state, 0, d);
        const ValueAndTrace vt = jacobian_trace(z.tape(), z, [&](Var zz) { return g.at(t, zz); });
        return concat({vt.value, neg(vt.trace)}, 1);
    }
    std::vector<Parameter*> parameters() override { return g.parameters(); }
};

ode::OdeOptions tight() {
    ode::OdeOptions o;
    o.rtol = 1e-10;
    o.atol = 1e-10;
    return o;
}

// A nonlinear loss of the final state: Σ w ⊙ z1 + ½ Σ z1².
Var loss_of(Var z1, const Array& w) { return add(sum(mul(z1, z1.tape().constant(w))), mul_scalar(sum(square(z1)), 0.5)); }

struct Gradients {
    Array z0, t0, t1;
    std::vector<Array> params;
    real loss = 0;
};

Gradients gradients(ode::Dynamics& dynamics, const Array& z0, real t0, real t1, const Array& w, ode::OdeMethod method,
                    ode::OdeCounters* counters = nullptr) {
    for (Parameter* p : dynamics.parameters()) p->zero_grad();
    Tape tape;
    const Var z = tape.variable(z0), a = tape.variable(Array{{t0}}), b = tape.variable(Array{{t1}});
    const Var loss = loss_of(ode::odeint(dynamics, z, a, b, tight(), method, counters), w);
    tape.backward(loss);
    Gradients g{tape.grad(z), tape.grad(a), tape.grad(b), {}, loss.item()};
    for (Parameter* p : dynamics.parameters()) g.params.push_back(p->grad());
    return g;
}

// max |a − b| / max |b|: the error relative to the gradient's size.
real relative_error(const Array& a, const Array& b) {
    const real scale = std::max(xt::amax(xt::abs(b))(), 1e-12);
    return xt::amax(xt::abs(a - b))() / scale;
}

void check_adjoint_matches_backprop(ode::Dynamics& dynamics, const Array& z0, real t0, real t1, const Array& w) {
    ode::OdeCounters counters;
    const Gradients adjoint = gradients(dynamics, z0, t0, t1, w, ode::OdeMethod::adjoint, &counters);
    BOOST_TEST(counters.forward.accepted > 0u);
    BOOST_TEST(counters.backward.accepted > 0u);
    const Gradients backprop = gradients(dynamics, z0, t0, t1, w, ode::OdeMethod::backprop);
    BOOST_TEST(std::abs(adjoint.loss - backprop.loss) <= 1e-9 * std::abs(backprop.loss));
    BOOST_TEST(relative_error(adjoint.z0, backprop.z0) <= 1e-6);
    BOOST_TEST(relative_error(adjoint.t0, backprop.t0) <= 1e-6);
    BOOST_TEST(relative_error(adjoint.t1, backprop.t1) <= 1e-6);
    for (std::size_t k = 0; k < adjoint.params.size(); ++k) {
        BOOST_TEST_INFO("parameter " << dynamics.parameters()[k]->name());
        BOOST_TEST(relative_error(adjoint.params[k], backprop.params[k]) <= 1e-6);
    }
    // The gradients are not trivially zero.
    BOOST_TEST(xt::amax(xt::abs(backprop.z0))() > 1e-3);
    BOOST_TEST(std::abs(backprop.t1(0, 0)) > 1e-3);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(adjoint)

BOOST_AUTO_TEST_CASE(adjoint_equals_backprop_for_an_mlp) {
    Rng rng(7);
    TimeMlpDynamics f(rng, 2, 8);
    const Array z0 = rng.normal_array(3, 2), w = rng.normal_array(3, 2);
    check_adjoint_matches_backprop(f, z0, 0.2, 1.3, w);
}

BOOST_AUTO_TEST_CASE(adjoint_equals_backprop_backwards_in_time) {
    Rng rng(8);
    TimeMlpDynamics f(rng, 2, 8);
    const Array z0 = rng.normal_array(3, 2), w = rng.normal_array(3, 2);
    check_adjoint_matches_backprop(f, z0, 1.0, -0.5, w);
}

BOOST_AUTO_TEST_CASE(adjoint_equals_backprop_for_trace_dynamics) {
    Rng rng(9);
    TraceDynamics f(rng, 2, 6);
    Array state = xt::zeros<real>({std::size_t(4), std::size_t(3)});
    xt::view(state, xt::all(), xt::range(0, 2)) = rng.normal_array(4, 2);
    const Array w = rng.normal_array(4, 3);
    check_adjoint_matches_backprop(f, state, 0.0, 1.0, w);
}

BOOST_AUTO_TEST_CASE(adjoint_matches_finite_differences) {
    Rng rng(10);
    TimeMlpDynamics f(rng, 2, 5);
    const Array z0 = rng.normal_array(2, 2);
    ode::OdeOptions o;
    o.rtol = o.atol = 1e-12;  // the solver's own error must sit far below the difference quotient's
    GradcheckOptions g;
    g.step = 1e-4;
    g.tolerance = 1e-6;
    const GradcheckResult inputs = gradcheck(
        [&](Tape&, const std::vector<Var>& v) { return ode::odeint(f, v[0], v[1], v[2], o, ode::OdeMethod::adjoint); },
        {z0, Array{{0.1}}, Array{{0.9}}}, g);
    BOOST_TEST_INFO(inputs.worst);
    BOOST_TEST(inputs.ok);
    const GradcheckResult params = gradcheck_parameters(
        [&](Tape& tape) { return ode::odeint(f, tape.constant(z0), 0.1, 0.9, o, ode::OdeMethod::adjoint); },
        f.parameters(), g);
    BOOST_TEST_INFO(params.worst);
    BOOST_TEST(params.ok);
}

BOOST_AUTO_TEST_CASE(adjoint_records_one_node_and_backprop_every_stage) {
    Rng rng(11);
    TimeMlpDynamics f(rng, 2, 4);
    Tape tape;
    const Var z0 = tape.variable(rng.normal_array(3, 2));
    const Var t0 = tape.constant(0.0), t1 = tape.constant(2.0);
    const std::size_t before = tape.size();
    ode::OdeCounters counters;
    const Var z1 = ode::odeint(f, z0, t0, t1, tight(), ode::OdeMethod::adjoint, &counters);
    BOOST_TEST(tape.size() == before + 1);
    // The value is the untaped solve's.
    const Array direct = ode::odeint_forward(f, z0.value(), 0.0, 2.0, tight());
    BOOST_TEST(xt::amax(xt::abs(z1.value() - direct))() == 0.0);
    const Var replayed = ode::odeint(f, z0, t0, t1, tight(), ode::OdeMethod::backprop);
    BOOST_TEST(tape.size() > before + 1 + 6 * counters.forward.accepted);
    BOOST_TEST(xt::amax(xt::abs(replayed.value() - direct))() <= 1e-12);
}

BOOST_AUTO_TEST_CASE(parameters_receive_gradients_from_a_constant_input) {
    // A CNF scores constant data: the node must still run its backward for the parameters, and
    // add to (not overwrite) what their gradients already hold.
    Rng rng(12);
    TimeMlpDynamics f(rng, 2, 4);
    const Array x = rng.normal_array(3, 2);
    auto run = [&] {
        Tape tape;
        tape.backward(sum(ode::odeint(f, tape.constant(x), 0.0, 1.0, tight())));
    };
    for (Parameter* p : f.parameters()) p->zero_grad();
    run();
    const Array once = f.w1.grad();
    BOOST_TEST(xt::amax(xt::abs(once))() > 1e-3);
    run();
    BOOST_TEST(xt::amax(xt::abs(f.w1.grad() - 2.0 * once))() <= 1e-12);
}

BOOST_AUTO_TEST_CASE(a_warm_forward_solve_allocates_nothing_on_its_tape) {
    Rng rng(14);
    TimeMlpDynamics f(rng, 2, 4);
    const Array z0 = rng.normal_array(3, 2);
    Tape scratch;
    const Array first = ode::odeint_forward(f, z0, 0.0, 1.5, tight(), nullptr, &scratch);
    const std::size_t warm = scratch.allocations();
    const Array second = ode::odeint_forward(f, z0, 0.0, 1.5, tight(), nullptr, &scratch);
    BOOST_TEST(scratch.allocations() == warm);
    BOOST_TEST(scratch.size() == 0u);  // every evaluation was rewound
    BOOST_TEST(xt::amax(xt::abs(first - second))() == 0.0);
}

BOOST_AUTO_TEST_CASE(a_warm_backward_solve_allocates_nothing_on_its_tape) {
    // The adjoint records its vector–Jacobian products on the dynamics' own tape, kept between
    // solves: the second identical backward solve finds every node and buffer in place.
    Rng rng(16);
    TraceDynamics f(rng, 2, 4);
    const Array z1 = rng.normal_array(3, 3), g = rng.normal_array(3, 3);
    for (Parameter* p : f.parameters()) p->zero_grad();
    const ode::AdjointResult first = ode::odeint_adjoint_backward(f, z1, g, 0.0, 1.0, tight());
    const std::size_t warm = f.adjoint_tape().allocations();
    BOOST_TEST(warm > 0u);
    const Array grad_w1 = f.g.w1.grad();
    const ode::AdjointResult second = ode::odeint_adjoint_backward(f, z1, g, 0.0, 1.0, tight());
    BOOST_TEST(f.adjoint_tape().allocations() == warm);
    BOOST_TEST(f.adjoint_tape().size() == 0u);  // reset: no parameter stays bound to it
    BOOST_TEST(xt::amax(xt::abs(first.grad_z0 - second.grad_z0))() == 0.0);
    BOOST_TEST(xt::amax(xt::abs(f.g.w1.grad() - 2.0 * grad_w1))() == 0.0);  // added again, same values
}

BOOST_AUTO_TEST_CASE(no_grad_mode_records_no_backward) {
    Rng rng(15);
    TimeMlpDynamics f(rng, 2, 4);
    for (Parameter* p : f.parameters()) p->zero_grad();
    Tape tape;
    const Var z0 = tape.variable(rng.normal_array(3, 2));
    Var z1;
    {
        NoGrad no_grad(tape);
        z1 = ode::odeint(f, z0, 0.0, 1.0);
    }
    tape.backward(sum(add(z1, z0)));
    BOOST_TEST(xt::amax(xt::abs(tape.grad(z0) - 1.0))() == 0.0);  // only the direct path
    BOOST_TEST(xt::amax(xt::abs(f.w1.grad()))() == 0.0);
}

BOOST_AUTO_TEST_CASE(bad_times_and_shapes) {
    Rng rng(13);
    TimeMlpDynamics f(rng, 2, 4);
    Tape tape;
    const Var z0 = tape.variable(rng.normal_array(3, 2));
    BOOST_CHECK_THROW(ode::odeint(f, z0, tape.constant(Array{{0.0, 1.0}}), tape.constant(1.0)), ShapeError);
    BOOST_CHECK_THROW(ode::odeint(f, tape.variable(rng.normal_array(3, 3)), 0.0, 1.0), ShapeError);
    BOOST_CHECK_THROW(ode::odeint_adjoint_backward(f, z0.value(), Array::from_shape({2, 2}), 0.0, 1.0), ShapeError);
}

BOOST_AUTO_TEST_SUITE_END()
