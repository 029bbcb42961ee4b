// Second derivatives through recorded tangents: Hessian-vector products, the exact Jacobian trace
// and the Hutchinson estimator εᵀJε, with their gradients, against finite differences and
// brute-force Jacobians.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "flowtape.hpp"

using namespace flowtape;

namespace {

// Dynamics of the kind continuous flows use: f(z) = tanh(softplus([z, t] W1 + b1) W2 + b2) ⊙ s + elu(z) ⊙ c
// with time t concatenated as a column; every op of it has a tangent rule.
struct Dynamics {
    Parameter w1, b1, w2, b2, s, c;
    real time = 0.3;
    Dynamics(Rng& rng, std::size_t d, std::size_t h)
        : w1("w1", rng.normal_array(d + 1, h) * 0.7), b1("b1", rng.normal_array(1, h) * 0.3),
          w2("w2", rng.normal_array(h, d) * 0.7), b2("b2", rng.normal_array(1, d) * 0.3),
          s("s", rng.uniform_array(1, d, 0.5, 1.5)), c("c", rng.normal_array(1, d) * 0.5) {}
    Var operator()(Var z) {
        Tape& t = z.tape();
        const Var time_column = t.constant(xt::ones<real>({z.rows(), std::size_t(1)}) * time);
        const Var hidden = softplus(linear(concat({z, time_column}, 1), t.param(w1), t.param(b1)));
        const Var out = tanh(linear(hidden, t.param(w2), t.param(b2)));
        return add(mul(out, t.param(s)), mul(elu(z), t.param(c)));
    }
    std::vector<Parameter*> parameters() { return {&w1, &b1, &w2, &b2, &s, &c}; }
};

// The full Jacobian of row r of f at z, by D reverse sweeps (one per output coordinate).
Array jacobian_by_reverse_sweeps(Dynamics& f, const Array& z, std::size_t r) {
    const std::size_t d = z.shape()[1];
    Array jac = xt::zeros<real>({d, d});
    for (std::size_t i = 0; i < d; ++i) {
        Tape t;
        const Var zv = t.variable(z);
        const Var y = f(zv);
        Array seed = xt::zeros<real>(y.value().shape());
        seed(r, i) = 1;
        t.backward(y, seed);
        for (std::size_t j = 0; j < d; ++j) jac(i, j) = t.grad(zv)(r, j);
    }
    return jac;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(higher_order)

BOOST_AUTO_TEST_CASE(hessian_vector_product_of_an_mlp_matches_differences_of_its_gradient) {
    Rng rng(21);
    const std::size_t d = 3, h = 8;
    Parameter w1("w1", rng.normal_array(d, h)), b1("b1", rng.normal_array(1, h)), w2("w2", rng.normal_array(h, 1));
    // f(x) = Σ_rows tanh(x W1 + b1) W2 (a scalar); x is 2×3.
    auto f = [&](Var x) {
        Tape& t = x.tape();
        return sum(matmul(tanh(linear(x, t.param(w1), t.param(b1))), t.param(w2)));
    };
    auto gradient = [&](const Array& x) {
        Tape t;
        const Var xv = t.variable(x);
        t.backward(f(xv));
        return Array(t.grad(xv));
    };
    const Array x = rng.normal_array(2, d), v = rng.normal_array(2, d);

    // Hv = ∇(∇f · v): the tangent of f along v is ∇f · v, a Var; one backward gives its gradient.
    Array hv;
    {
        Tape t;
        const Var xv = t.variable(x);
        const ValueAndTangent out = jvp(t, xv, t.constant(v), f);
        t.backward(out.tangent);
        hv = t.grad(xv);
    }

    const real step = 1e-5;
    const Array numeric = (gradient(x + step * v) - gradient(x - step * v)) / (2 * step);
    BOOST_TEST(xt::amax(xt::abs(hv - numeric))() < 1e-8);
    BOOST_TEST(xt::amax(xt::abs(hv))() > 1e-3);  // not trivially zero
}

BOOST_AUTO_TEST_CASE(exact_trace_equals_the_trace_of_the_brute_force_jacobian) {
    Rng rng(22);
    Dynamics f(rng, 3, 10);
    const Array z = rng.normal_array(4, 3);
    Tape t;
    const ValueAndTrace out = jacobian_trace(t, t.variable(z), std::ref(f));
    const Array trace_by_tangents = out.trace.value();
    t.reset();  // frees the parameters for the reference tapes
    for (std::size_t r = 0; r < 4; ++r) {
        const Array jac = jacobian_by_reverse_sweeps(f, z, r);
        real trace = 0;
        for (std::size_t i = 0; i < 3; ++i) trace += jac(i, i);
        BOOST_TEST(std::abs(trace_by_tangents(r, 0) - trace) < 1e-12);
    }
}

BOOST_AUTO_TEST_CASE(hutchinson_value_equals_eps_j_eps_of_the_brute_force_jacobian) {
    Rng rng(23);
    Dynamics f(rng, 2, 6);
    const Array z = rng.normal_array(3, 2), eps = rng.normal_array(3, 2);
    Tape t;
    const ValueAndTrace out = hutchinson_trace(t, t.variable(z), eps, std::ref(f));
    const Array quad_by_tangents = out.trace.value();
    t.reset();
    for (std::size_t r = 0; r < 3; ++r) {
        const Array jac = jacobian_by_reverse_sweeps(f, z, r);
        real quad = 0;
        for (std::size_t i = 0; i < 2; ++i)
            for (std::size_t j = 0; j < 2; ++j) quad += eps(r, i) * jac(i, j) * eps(r, j);
        BOOST_TEST(std::abs(quad_by_tangents(r, 0) - quad) < 1e-12);
    }
}

BOOST_AUTO_TEST_CASE(parameter_and_state_gradients_of_the_exact_trace) {
    Rng rng(24);
    Dynamics f(rng, 3, 8);
    const Array z = rng.normal_array(3, 3);
    // d/dθ of Σ Tr J (and of the value, which a loss also uses), against finite differences.
    auto record = [&](Tape& t) {
        const ValueAndTrace out = jacobian_trace(t, t.variable(z), std::ref(f));
        return concat({out.trace, out.value}, 1);
    };
    const GradcheckResult by_params = gradcheck_parameters(record, f.parameters());
    BOOST_TEST(by_params.ok, by_params.worst << " error " << by_params.max_error);
    const GradcheckResult by_state = gradcheck(
        [&](Tape&, const std::vector<Var>& v) { return jacobian_trace(v[0].tape(), v[0], std::ref(f)).trace; }, {z});
    BOOST_TEST(by_state.ok, by_state.worst << " error " << by_state.max_error);
}

BOOST_AUTO_TEST_CASE(parameter_and_state_gradients_of_hutchinson) {
    Rng rng(25);
    Dynamics f(rng, 2, 8);
    const Array z = rng.normal_array(5, 2), eps = rng.rademacher_array(5, 2);
    auto record = [&](Tape& t) { return hutchinson_trace(t, t.variable(z), eps, std::ref(f)).trace; };
    const GradcheckResult by_params = gradcheck_parameters(record, f.parameters());
    BOOST_TEST(by_params.ok, by_params.worst << " error " << by_params.max_error);
    const GradcheckResult by_state = gradcheck(
        [&](Tape&, const std::vector<Var>& v) { return hutchinson_trace(v[0].tape(), v[0], eps, std::ref(f)).trace; },
        {z});
    BOOST_TEST(by_state.ok, by_state.worst << " error " << by_state.max_error);
}

BOOST_AUTO_TEST_CASE(tangents_stop_after_the_trace_so_later_ops_need_no_rule) {
    Rng rng(26);
    Dynamics f(rng, 2, 4);
    Tape t;
    const Var z = t.variable(rng.normal_array(3, 2));
    const ValueAndTrace out = jacobian_trace(t, z, std::ref(f));
    // logsumexp has no tangent rule; after the trace it is an ordinary op again.
    const Var loss = sum(logsumexp(out.value, 1));
    t.backward(loss);
    BOOST_TEST(std::isfinite(t.grad(z)(0, 0)));
}

BOOST_AUTO_TEST_SUITE_END()
