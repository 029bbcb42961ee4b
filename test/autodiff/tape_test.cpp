// The tape itself: memory reuse across steps, misuse errors, anomaly mode, no-grad mode, and inner
// gradients with mark / backward_to / rewind.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <string>

#include "flowtape.hpp"

using namespace flowtape;

namespace {

bool mentions(const std::exception& e, const std::string& a, const std::string& b = "") {
    const std::string what = e.what();
    return what.find(a) != std::string::npos && what.find(b) != std::string::npos;
}

// One "training step" of a two-layer tanh network on a fixed batch; returns the loss.
real record_step(Tape& t, Parameter& w1, Parameter& b1, Parameter& w2, const Array& batch) {
    const Var x = t.constant(batch);
    const Var h = tanh(linear(x, t.param(w1), t.param(b1)));
    const Var y = matmul(h, t.param(w2));
    const Var loss = mean(square(y - 1.0));
    t.backward(loss);
    return loss.item();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tape)

BOOST_AUTO_TEST_CASE(a_warm_step_allocates_nothing) {
    Rng rng(3);
    Parameter w1("w1", rng.normal_array(4, 16)), b1("b1", rng.normal_array(1, 16)), w2("w2", rng.normal_array(16, 2));
    const Array batch = rng.normal_array(32, 4);
    Tape t;
    record_step(t, w1, b1, w2, batch);
    t.reset();
    record_step(t, w1, b1, w2, batch);  // the first reuse may still size gradient buffers
    const std::size_t warm = t.allocations();
    BOOST_TEST(warm > 0u);
    for (int step = 0; step < 3; ++step) {
        t.reset();
        record_step(t, w1, b1, w2, batch);
    }
    BOOST_TEST(t.allocations() == warm);
    // A step with another batch size must resize: the counter is not frozen.
    t.reset();
    record_step(t, w1, b1, w2, rng.normal_array(48, 4));
    BOOST_TEST(t.allocations() > warm);
}

BOOST_AUTO_TEST_CASE(parameter_gradients_accumulate_until_cleared) {
    Parameter p("p", Array({{2.0, -3.0}}));
    for (int k = 1; k <= 2; ++k) {
        Tape t;
        t.backward(sum(square(t.param(p))));  // d/dp Σp² = 2p
        BOOST_TEST(p.grad()(0, 0) == 4.0 * k);
        BOOST_TEST(p.grad()(0, 1) == -6.0 * k);
    }
    p.zero_grad();
    BOOST_TEST(p.grad()(0, 0) == 0.0);
}

BOOST_AUTO_TEST_CASE(a_parameter_used_twice_on_one_tape_is_one_leaf) {
    Parameter p("p", Array({{3.0}}));
    Tape t;
    const Var a = t.param(p), b = t.param(p);
    BOOST_TEST(a.index() == b.index());
    t.backward(mul(a, b));  // d/dp p² = 2p
    BOOST_TEST(p.grad()(0, 0) == 6.0);
}

BOOST_AUTO_TEST_CASE(a_stale_var_is_refused) {
    Tape t;
    const Var x = t.variable(Array({{1.0}}));
    t.reset();
    BOOST_CHECK_EXCEPTION(exp(x), TapeError, [](const TapeError& e) { return mentions(e, "stale"); });
    BOOST_CHECK_EXCEPTION(t.backward(x), TapeError, [](const TapeError& e) { return mentions(e, "stale"); });
}

BOOST_AUTO_TEST_CASE(a_var_from_another_tape_is_refused) {
    Tape t1, t2;
    const Var a = t1.variable(Array({{1.0}}));
    const Var b = t2.variable(Array({{1.0}}));
    BOOST_CHECK_EXCEPTION(add(a, b), TapeError, [](const TapeError& e) { return mentions(e, "another tape"); });
}

BOOST_AUTO_TEST_CASE(backward_twice_is_refused_until_reset) {
    Tape t;
    const Var x = t.variable(Array({{2.0}}));
    const Var y = square(x);
    t.backward(y);
    BOOST_CHECK_EXCEPTION(t.backward(y), TapeError, [](const TapeError& e) { return mentions(e, "reset"); });
    t.reset();
    const Var x2 = t.variable(Array({{2.0}}));
    t.backward(square(x2));
    BOOST_TEST(t.grad(x2)(0, 0) == 4.0);
}

BOOST_AUTO_TEST_CASE(backward_needs_a_scalar_loss) {
    Tape t;
    const Var x = t.variable(Array({{1.0, 2.0}}));
    BOOST_CHECK_EXCEPTION(t.backward(x), ShapeError, [](const ShapeError& e) { return mentions(e, "backward", "1\u00d72"); });
}

BOOST_AUTO_TEST_CASE(a_parameter_on_two_tapes_is_refused) {
    Parameter p("layer.weight", Array({{1.0}}));
    Tape t1;
    t1.param(p);
    {
        Tape t2;
        BOOST_CHECK_EXCEPTION(t2.param(p), TapeError,
                              [](const TapeError& e) { return mentions(e, "layer.weight", "another tape"); });
        t1.reset();
        t2.param(p);  // free again after the first tape's reset
    }
    t1.param(p);  // and after the second tape is destroyed
}

BOOST_AUTO_TEST_CASE(a_parameter_may_move_while_on_a_tape) {
    std::vector<Parameter> params;
    params.emplace_back("a", Array({{2.0}}));
    Tape t;
    const Var a = t.param(params[0]);
    for (int k = 0; k < 20; ++k) params.emplace_back(std::to_string(k), Array({{1.0}}));  // reallocates
    t.backward(square(a));
    BOOST_TEST(params[0].grad()(0, 0) == 4.0);
}

BOOST_AUTO_TEST_CASE(a_parameter_destroyed_before_its_tape) {
    Tape t;
    Var y;
    {
        Parameter p("temporary", Array({{2.0}}));
        y = square(t.param(p));
    }
    t.backward(y);  // the leaf no longer forwards to the destroyed parameter
    t.reset();
}

BOOST_AUTO_TEST_CASE(shape_mismatch_names_the_op_and_both_shapes) {
    Tape t;
    const Var a = t.constant(Array::from_shape({3, 4}));
    const Var b = t.constant(Array::from_shape({5, 2}));
    BOOST_CHECK_EXCEPTION(matmul(a, b), ShapeError,
                          [](const ShapeError& e) { return mentions(e, "matmul", "3\u00d74") && mentions(e, "5\u00d72"); });
    const Var c = t.constant(Array::from_shape({2, 4}));
    BOOST_CHECK_EXCEPTION(add(a, c), ShapeError,
                          [](const ShapeError& e) { return mentions(e, "add", "3\u00d74") && mentions(e, "2\u00d74"); });
}

BOOST_AUTO_TEST_CASE(no_grad_mode_records_nothing_to_differentiate) {
    Parameter p("p", Array({{1.5}}));
    Tape t;
    {
        NoGrad guard(t);
        const Var y = square(t.param(p));
        BOOST_TEST(y.item() == 2.25);
        BOOST_TEST(t.node(y.index()).backward == nullptr);
        t.backward(y);
    }
    BOOST_TEST(p.grad()(0, 0) == 0.0);
    BOOST_TEST(t.grad_enabled());
}

BOOST_AUTO_TEST_CASE(anomaly_mode_names_the_first_non_finite_value) {
    Tape t;
    t.set_anomaly_mode(true);
    const Var x = t.variable(Array({{1.0, -1.0}}));
    BOOST_CHECK_EXCEPTION(log(x), NonFiniteError, [](const NonFiniteError& e) { return mentions(e, "'log'", "value"); });
}

BOOST_AUTO_TEST_CASE(anomaly_mode_names_the_op_whose_gradient_is_not_finite) {
    Tape t;
    t.set_anomaly_mode(true);
    const Var x = t.variable(Array({{0.0, 4.0}}));
    const Var y = sum(sqrt(x));  // finite value, infinite gradient at 0
    BOOST_CHECK_EXCEPTION(t.backward(y), NonFiniteError,
                          [](const NonFiniteError& e) { return mentions(e, "'sqrt'", "gradient"); });
}

BOOST_AUTO_TEST_CASE(without_anomaly_mode_non_finite_values_pass_silently_through_ops) {
    Tape t;
    const Var x = t.variable(Array({{-1.0}}));
    BOOST_TEST(std::isnan(log(x).item()));
}

BOOST_AUTO_TEST_CASE(inner_gradients_do_not_grow_the_tape) {
    // The adjoint method's pattern: at every evaluation, a vector-Jacobian product of f(z) = tanh(z W)
    // with respect to z and W, then rewind. The tape stays the same length and the results are exact.
    Rng rng(7);
    Parameter w("w", rng.normal_array(3, 3));
    const Array z0 = rng.normal_array(4, 3), seed = rng.normal_array(4, 3);
    Tape t;
    const Var wl = t.param(w);
    const std::size_t before = t.size();
    for (int k = 0; k < 5; ++k) {
        const Mark m = t.mark();
        const Var z = t.variable(z0);
        const Var y = tanh(matmul(z, wl));
        t.backward_to(y, seed, m);
        // Reference: ∂z = (seed ⊙ (1 − y²)) Wᵀ, ∂W = zᵀ (seed ⊙ (1 − y²)).
        const Array inner = seed * (1.0 - y.value() * y.value());
        Array dz = xt::zeros<real>({4, 3}), dw = xt::zeros<real>({3, 3});
        for (std::size_t r = 0; r < 4; ++r)
            for (std::size_t c = 0; c < 3; ++c)
                for (std::size_t j = 0; j < 3; ++j) {
                    dz(r, c) += inner(r, j) * w.value()(c, j);
                    dw(c, j) += z0(r, c) * inner(r, j);
                }
        BOOST_TEST(xt::allclose(t.grad(z), dz, 1e-12, 1e-12));
        BOOST_TEST(xt::allclose(t.grad(wl), dw, 1e-12, 1e-12));
        t.rewind(m);
        BOOST_TEST(t.size() == before);
    }
    BOOST_TEST(w.grad()(0, 0) == 0.0);  // backward_to never writes Parameter::grad
}

BOOST_AUTO_TEST_CASE(rewind_unbinds_parameters_made_after_the_mark) {
    Parameter p("p", Array({{1.0}}));
    Tape t1, t2;
    const Mark m = t1.mark();
    t1.param(p);
    t1.rewind(m);
    t2.param(p);  // p is free again
}

BOOST_AUTO_TEST_CASE(an_empty_output_cannot_seed_a_sweep) {
    Tape t;
    const Var x = t.variable(Array::from_shape({0, 3}));
    BOOST_CHECK_THROW(t.backward(x, Array::from_shape({0, 3})), ValueError);
}

BOOST_AUTO_TEST_SUITE_END()
