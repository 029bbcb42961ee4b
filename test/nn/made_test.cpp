// Tests of MADE: the autoregressive property through the tape and through the masks, gradients,
// degrees, parameter names and errors.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <string>

#include "flowtape.hpp"
#include "nn_test_support.hpp"

using namespace flowtape;
using flowtape::test::check_input_gradients;
using flowtape::test::check_parameter_gradients;

namespace {

MadeConfig config(std::size_t d, Ordering ordering, bool residual, std::size_t context, Activation a,
                  std::size_t outputs_per_input = 2) {
    MadeConfig c;
    c.inputs = d;
    c.hidden = {12, 12, 12};
    c.outputs_per_input = outputs_per_input;
    c.ordering = ordering;
    c.residual_blocks = residual;
    c.context = context;
    c.activation = a;
    return c;
}

// Biases are zero at construction; give them values so that relu units are not all switched the
// same way and the checks see every term.
void randomize_biases(Made& made, Rng& rng) {
    const ParameterList params = made.parameters();
    for (const NamedParameter& item : params.items())
        if (item.name.ends_with(".bias")) item.parameter->value() = rng.normal_array(1, item.parameter->shape()[1]);
}

// The 0/1 reachability matrix of a product of masks (entry > 0 where some path exists).
Array reach(const Array& a, const Array& b) {
    Array out = xt::zeros<real>({a.shape()[0], b.shape()[1]});
    for (std::size_t i = 0; i < a.shape()[0]; ++i)
        for (std::size_t k = 0; k < a.shape()[1]; ++k)
            if (a(i, k) != 0)
                for (std::size_t j = 0; j < b.shape()[1]; ++j)
                    if (b(k, j) != 0) out(i, j) = 1;
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(made)

// For every output column c (for input i = c mod D) and input j, ∂out_c/∂x_j read from the tape
// after one backward from a one-hot seed is exactly 0 unless degree(j) < degree(i). With tanh, every
// allowed pair must be nonzero (every degree has a path); with relu, at least one.
BOOST_AUTO_TEST_CASE(autoregressive_through_the_tape) {
    const std::size_t d = 5, n = 3;
    for (Ordering ordering : {Ordering::natural, Ordering::reversed, Ordering::random})
        for (bool residual : {false, true})
            for (std::size_t context : {0, 2})
                for (Activation act : {Activation::relu, Activation::tanh}) {
                    BOOST_TEST_CONTEXT(ordering_name(ordering) << ", residual " << residual << ", context " << context
                                                               << ", " << activation_name(act)) {
                        Rng rng(20);
                        Made made(config(d, ordering, residual, context, act), rng);
                        randomize_biases(made, rng);
                        const std::vector<std::size_t>& degree = made.input_degrees();
                        const Array x = rng.normal_array(n, d);
                        const Array ctx = rng.normal_array(n, std::max<std::size_t>(context, 1));
                        const std::size_t columns = 2 * d;
                        std::size_t forbidden_nonzero = 0, allowed = 0, allowed_nonzero = 0;
                        Tape t;
                        for (std::size_t c = 0; c < columns; ++c) {
                            t.reset();
                            const Var xv = t.variable(x);
                            const Var out = context > 0 ? made.forward(xv, t.constant(ctx)) : made.forward(xv);
                            BOOST_TEST(out.cols() == columns);
                            Array seed = xt::zeros<real>({n, columns});
                            for (std::size_t r = 0; r < n; ++r) seed(r, c) = 1;
                            t.backward(out, seed);
                            const Array& g = t.grad(xv);
                            const std::size_t i = c % d;
                            for (std::size_t r = 0; r < n; ++r)
                                for (std::size_t j = 0; j < d; ++j) {
                                    if (degree[j] < degree[i]) {
                                        ++allowed;
                                        if (g(r, j) != 0) ++allowed_nonzero;
                                    } else if (g(r, j) != 0) {
                                        ++forbidden_nonzero;
                                    }
                                }
                        }
                        BOOST_TEST(forbidden_nonzero == 0u);
                        BOOST_TEST(allowed > 0u);
                        if (act == Activation::tanh) BOOST_TEST(allowed_nonzero == allowed);
                        else BOOST_TEST(allowed_nonzero > 0u);
                    }
                }
}

// The same property from the masks alone: composing them (with the identity for each residual
// connection), input j reaches output column c exactly when degree(j) < degree(c mod D).
BOOST_AUTO_TEST_CASE(masks_connect_exactly_the_earlier_inputs) {
    const std::size_t d = 5;
    for (Ordering ordering : {Ordering::natural, Ordering::reversed, Ordering::random})
        for (bool residual : {false, true}) {
            BOOST_TEST_CONTEXT(ordering_name(ordering) << ", residual " << residual) {
                Rng rng(21);
                Made made(config(d, ordering, residual, 0, Activation::relu), rng);
                const std::vector<Array>& masks = made.masks();
                BOOST_TEST(masks.size() == (residual ? 1u + 2 * 2 + 1 : 4u));
                Array r = masks.front();
                if (residual) {
                    for (std::size_t k = 1; k + 1 < masks.size(); k += 2) {
                        Array block = reach(masks[k], masks[k + 1]);
                        for (std::size_t u = 0; u < block.shape()[0]; ++u) block(u, u) = 1;  // h + f(h)
                        r = reach(r, block);
                    }
                } else {
                    for (std::size_t k = 1; k + 1 < masks.size(); ++k) r = reach(r, masks[k]);
                }
                r = reach(r, masks.back());
                const std::vector<std::size_t>& degree = made.input_degrees();
                for (std::size_t j = 0; j < d; ++j)
                    for (std::size_t c = 0; c < 2 * d; ++c)
                        BOOST_TEST(r(j, c) == (degree[j] < degree[c % d] ? 1.0 : 0.0), "input " << j << " column " << c);
            }
        }
}

BOOST_AUTO_TEST_CASE(input_degrees_follow_the_ordering) {
    Rng rng(22);
    const Made natural(config(4, Ordering::natural, false, 0, Activation::relu), rng);
    const Made reversed(config(4, Ordering::reversed, false, 0, Activation::relu), rng);
    const Made random(config(8, Ordering::random, false, 0, Activation::relu), rng);
    BOOST_TEST((natural.input_degrees() == std::vector<std::size_t>{1, 2, 3, 4}));
    BOOST_TEST((reversed.input_degrees() == std::vector<std::size_t>{4, 3, 2, 1}));
    std::vector<std::size_t> sorted = random.input_degrees();
    std::sort(sorted.begin(), sorted.end());
    BOOST_TEST((sorted == std::vector<std::size_t>{1, 2, 3, 4, 5, 6, 7, 8}));
    BOOST_TEST((random.input_degrees() != sorted));  // one chance in 8! of a false failure, fixed by the seed
}

// Gradients with respect to every parameter and to the inputs, tanh (no kinks).
BOOST_AUTO_TEST_CASE(gradients) {
    for (bool residual : {false, true})
        for (std::size_t context : {0, 2})
            for (std::size_t per_input : {1, 3}) {
                BOOST_TEST_CONTEXT("residual " << residual << ", context " << context << ", outputs per input "
                                               << per_input) {
                    Rng rng(23);
                    MadeConfig c = config(4, Ordering::random, residual, context, Activation::tanh, per_input);
                    c.hidden = {7, 7};
                    Made made(c, rng);
                    randomize_biases(made, rng);
                    std::vector<Array> inputs{rng.normal_array(3, 4)};
                    if (context > 0) inputs.push_back(rng.normal_array(3, context));
                    const auto f = [&](const std::vector<Var>& v) {
                        return v.size() > 1 ? made.forward(v[0], v[1]) : made.forward(v[0]);
                    };
                    check_parameter_gradients(f, inputs, made.parameters());
                    check_input_gradients(f, inputs);
                }
            }
}

// relu, with random inputs and biases: no pre-activation is near its kink for this seed.
BOOST_AUTO_TEST_CASE(gradients_relu) {
    Rng rng(24);
    MadeConfig c = config(3, Ordering::natural, true, 1, Activation::relu, 2);
    c.hidden = {6, 6};
    Made made(c, rng);
    randomize_biases(made, rng);
    const std::vector<Array> inputs{rng.normal_array(4, 3), rng.normal_array(4, 1)};
    const auto f = [&](const std::vector<Var>& v) { return made.forward(v[0], v[1]); };
    check_parameter_gradients(f, inputs, made.parameters());
    check_input_gradients(f, inputs);
}

// With one input, outputs cannot depend on it, only on the context (through the hidden layers).
BOOST_AUTO_TEST_CASE(single_input_depends_only_on_context) {
    for (bool residual : {false, true}) {
        Rng rng(25);
        Made made(config(1, Ordering::natural, residual, 2, Activation::tanh), rng);
        randomize_biases(made, rng);
        Tape t;
        const Var x = t.variable(rng.normal_array(3, 1));
        const Var ctx = t.variable(rng.normal_array(3, 2));
        const Var out = made.forward(x, ctx);
        BOOST_TEST(out.cols() == 2u);
        t.backward(sum(out));
        BOOST_TEST(xt::amax(xt::abs(t.grad(x)))() == 0.0);
        BOOST_TEST(xt::amin(xt::abs(t.grad(ctx)))() > 0.0);
    }
}

BOOST_AUTO_TEST_CASE(parameter_names) {
    Rng rng(26);
    MadeConfig c = config(3, Ordering::natural, false, 2, Activation::relu);
    c.hidden = {8, 8};
    Made made(c, rng);
    const ParameterList params = made.parameters();
    std::vector<std::string> names;
    for (const NamedParameter& item : params.items()) names.push_back(item.name);
    const std::vector<std::string> expected{"layers.0.weight",  "layers.0.bias",  "layers.1.weight",
                                            "layers.1.bias",    "layers.2.weight", "layers.2.bias",
                                            "context.0.weight", "context.0.bias", "context.1.weight",
                                            "context.1.bias"};
    BOOST_TEST(names == expected, boost::test_tools::per_element());
    BOOST_TEST((made.parameters().find("layers.2.weight").shape() == Shape{8, 6}));
    BOOST_TEST((made.parameters().find("context.1.weight").shape() == Shape{2, 8}));
}

BOOST_AUTO_TEST_CASE(errors) {
    Rng rng(27);
    MadeConfig c = config(3, Ordering::natural, true, 0, Activation::relu);
    c.hidden = {8, 6};
    BOOST_CHECK_THROW(Made(c, rng), ValueError);  // residual blocks need equal sizes
    c.hidden = {};
    BOOST_CHECK_THROW(Made(c, rng), ValueError);
    c.hidden = {8};
    c.inputs = 0;
    BOOST_CHECK_THROW(Made(c, rng), ValueError);
    c.inputs = 3;
    Made plain(c, rng);
    c.context = 2;
    Made conditional(c, rng);
    Tape t;
    const Var x = t.constant(xt::zeros<real>({4, 3}));
    const Var ctx = t.constant(xt::zeros<real>({4, 2}));
    BOOST_CHECK_THROW(plain.forward(t.constant(xt::zeros<real>({4, 2}))), ShapeError);
    BOOST_CHECK_THROW(plain.forward(x, ctx), ValueError);
    BOOST_CHECK_THROW(conditional.forward(x), ValueError);
    BOOST_CHECK_THROW(conditional.forward(x, t.constant(xt::zeros<real>({4, 1}))), ShapeError);
    try {
        plain.forward(t.constant(xt::zeros<real>({4, 2})));
    } catch (const ShapeError& e) {
        const std::string message = e.what();
        BOOST_TEST(message.find("Made") != std::string::npos, message);
        BOOST_TEST(message.find("4\u00d72") != std::string::npos, message);
    }
}

BOOST_AUTO_TEST_SUITE_END()
