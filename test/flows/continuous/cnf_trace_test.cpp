// Tests of the closed-form trace of MLP dynamics (MlpDynamics::velocity_and_trace, Note [the
// closed-form trace of MLP dynamics] in flows/continuous/cnf_dynamics.cpp): equal to the trace by D tangent
// passes (jacobian_trace) on random inputs, for tanh and softplus and one and two hidden layers;
// its gradients in z, t and every parameter against finite differences; the fallback to tangents
// for deeper networks; and a flow's adjoint gradients the same with the closed form as with tangents.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "flowtape.hpp"

using namespace flowtape;

namespace {

struct Case {
    std::size_t dim;
    std::vector<std::size_t> hidden;
    Activation activation;
};

std::string label(const Case& c) {
    std::ostringstream s;
    s << "D = " << c.dim << ", hidden {";
    for (std::size_t k = 0; k < c.hidden.size(); ++k) s << (k ? "," : "") << c.hidden[k];
    s << "}, " << activation_name(c.activation);
    return s.str();
}

std::vector<Case> closed_form_cases() {
    std::vector<Case> out;
    for (Activation a : {Activation::tanh, Activation::softplus})
        for (std::size_t d : {1, 2, 3}) {
            out.push_back({d, {5}, a});
            out.push_back({d, {6, 4}, a});
        }
    return out;
}

// Random biases too (they start at zero), so that the slopes differ from unit to unit.
void randomise_biases(MlpDynamics& f, Rng& rng) {
    const ParameterList params = f.parameters();  // kept alive: items() refers into it
    for (const NamedParameter& p : params.items())
        if (p.name.find("bias") != std::string::npos)
            for (real& v : p.parameter->value()) v = 0.5 * rng.normal();
}

// The trace by D tangent passes of velocity: the reference.
ValueAndTrace tangent_trace(CnfDynamics& f, Tape& tape, Var t, Var z) {
    return jacobian_trace(tape, z, [&](Var zz) { return f.velocity(t, zz); });
}

real max_difference(const Array& a, const Array& b) {
    real worst = 0;
    for (std::size_t k = 0; k < a.size(); ++k)
        worst = std::max(worst, std::abs(a.data()[k] - b.data()[k]) / std::max(1.0, std::abs(b.data()[k])));
    return worst;
}

// Whether the nodes from `from` on include a tangent rule's op (tanh's tangent, tanh_jvp).
bool records_tangents(Tape& tape, std::size_t from) {
    for (std::size_t i = from; i < tape.size(); ++i)
        if (std::string(tape.node(static_cast<std::uint32_t>(i)).op) == "tanh_jvp") return true;
    return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cnf_trace)

BOOST_AUTO_TEST_CASE(closed_form_equals_the_tangent_trace) {
    Rng rng(61);
    for (const Case& c : closed_form_cases()) {
        MlpDynamics f(c.dim, c.hidden, c.activation, rng);
        randomise_biases(f, rng);
        for (int trial = 0; trial < 3; ++trial) {
            const Array z = 1.5 * rng.normal_array(4, c.dim);
            const Array t{{rng.uniform(-1, 2)}};
            Tape tape;
            const Var tv = tape.constant(t), zv = tape.constant(z);
            const ValueAndTrace closed = f.velocity_and_trace(tv, zv);
            const ValueAndTrace reference = tangent_trace(f, tape, tv, zv);
            BOOST_TEST_INFO(label(c) << ", trial " << trial);
            BOOST_TEST(closed.trace.shape() == (Shape{4, 1}));
            // The same forward pass as velocity: the same value, bit for bit.
            BOOST_TEST(max_difference(closed.value.value(), reference.value.value()) == 0.0);
            BOOST_TEST(max_difference(closed.trace.value(), reference.trace.value()) < 1e-12);
        }
    }
}

BOOST_AUTO_TEST_CASE(closed_form_gradients_pass_gradcheck) {
    Rng rng(62);
    for (const Case& c : closed_form_cases()) {
        MlpDynamics f(c.dim, c.hidden, c.activation, rng);
        randomise_biases(f, rng);
        const Array z = rng.normal_array(3, c.dim);
        const Array t{{0.4}};
        // [f, trace] as one output, so the check covers both.
        auto both = [&f](Var tv, Var zv) {
            const ValueAndTrace vt = f.velocity_and_trace(tv, zv);
            return concat({vt.value, vt.trace}, 1);
        };
        const GradcheckResult in_inputs =
            gradcheck([&](Tape&, const std::vector<Var>& v) { return both(v[1], v[0]); }, {z, t});
        BOOST_TEST(in_inputs.ok, label(c) << ", z and t: " << in_inputs.worst << " (error " << in_inputs.max_error << ")");
        const GradcheckResult in_params = gradcheck_parameters(
            [&](Tape& tape) { return both(tape.constant(t), tape.constant(z)); }, f.parameters().pointers());
        BOOST_TEST(in_params.ok, label(c) << ", parameters: " << in_params.worst << " (error " << in_params.max_error << ")");
    }
}

BOOST_AUTO_TEST_CASE(three_hidden_layers_fall_back_to_tangents) {
    Rng rng(63);
    MlpDynamics f(2, {4, 5, 3}, Activation::tanh, rng);
    randomise_biases(f, rng);
    Tape tape;
    const Var t = tape.constant(Array{{0.3}}), z = tape.constant(rng.normal_array(4, 2));
    const ValueAndTrace vt = f.velocity_and_trace(t, z);
    const ValueAndTrace reference = tangent_trace(f, tape, t, z);
    BOOST_TEST(max_difference(vt.trace.value(), reference.trace.value()) == 0.0);
}

BOOST_AUTO_TEST_CASE(the_closed_form_can_be_switched_off) {
    Rng rng(65);
    MlpDynamics f(2, {5, 7}, Activation::tanh, rng);
    randomise_biases(f, rng);
    Tape tape;
    const Var t = tape.constant(Array{{0.3}}), z = tape.constant(rng.normal_array(4, 2));
    std::size_t start = tape.size();
    f.velocity_and_trace(t, z);
    BOOST_TEST(!records_tangents(tape, start));  // the closed form: first-order ops only
    f.use_closed_form_trace(false);
    start = tape.size();
    const ValueAndTrace off = f.velocity_and_trace(t, z);
    BOOST_TEST(records_tangents(tape, start));
    const ValueAndTrace reference = tangent_trace(f, tape, t, z);
    BOOST_TEST(max_difference(off.trace.value(), reference.trace.value()) == 0.0);
}

BOOST_AUTO_TEST_CASE(adjoint_gradients_with_the_closed_form_equal_those_with_tangents) {
    const Array x{{0.5, -0.2}, {-1.0, 0.8}, {0.1, 1.4}, {1.3, 0.3}};
    for (const std::vector<std::size_t>& hidden : {std::vector<std::size_t>{6}, std::vector<std::size_t>{5, 7}}) {
        real losses[2];
        std::vector<Array> grads[2];
        for (int way = 0; way < 2; ++way) {
            Rng rng(64);  // the same parameters both ways
            auto mlp = std::make_unique<MlpDynamics>(2, hidden, Activation::tanh, rng);
            randomise_biases(*mlp, rng);
            mlp->use_closed_form_trace(way == 0);
            CnfOptions o;
            o.rtol = o.atol = 1e-10;
            ContinuousFlow flow(std::move(mlp), std::make_unique<StandardNormal>(2), o);
            flow.set_training(true);
            const ParameterList params = flow.parameters();
            params.zero_grad();
            Tape tape;
            const Var loss = neg(mean(flow.log_prob(tape.constant(x))));
            tape.backward(loss);
            losses[way] = loss.item();
            for (const NamedParameter& p : params.items()) grads[way].push_back(p.parameter->grad());
        }
        BOOST_TEST_INFO("hidden layers: " << hidden.size());
        BOOST_CHECK_SMALL(losses[0] - losses[1], 1e-12);
        BOOST_REQUIRE_EQUAL(grads[0].size(), grads[1].size());
        real worst = 0;
        for (std::size_t k = 0; k < grads[0].size(); ++k) worst = std::max(worst, max_difference(grads[0][k], grads[1][k]));
        BOOST_CHECK_LT(worst, 1e-10);
    }
}

BOOST_AUTO_TEST_SUITE_END()
