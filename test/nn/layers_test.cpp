// Tests of the dense layers and the MLP: values, gradients (parameters and inputs), errors.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "flowtape.hpp"
#include "nn_test_support.hpp"

using namespace flowtape;
using flowtape::test::check_input_gradients;
using flowtape::test::check_parameter_gradients;

BOOST_AUTO_TEST_SUITE(activation)

BOOST_AUTO_TEST_CASE(names_round_trip) {
    for (Activation a : {Activation::relu, Activation::tanh, Activation::elu, Activation::softplus,
                         Activation::sigmoid, Activation::identity})
        BOOST_TEST((activation_from_name(activation_name(a)) == a));
    BOOST_CHECK_THROW(activation_from_name("swish"), ValueError);
}

BOOST_AUTO_TEST_CASE(values) {
    Tape t;
    const Var x = t.constant(Array{{-1.5, 0.5}});
    const Array& relu_y = activate(x, Activation::relu).value();
    BOOST_TEST(relu_y(0, 0) == 0.0);
    BOOST_TEST(relu_y(0, 1) == 0.5);
    BOOST_TEST(activate(x, Activation::tanh).value()(0, 0) == std::tanh(-1.5), boost::test_tools::tolerance(1e-15));
    BOOST_TEST(activate(x, Activation::elu).value()(0, 0) == std::expm1(-1.5), boost::test_tools::tolerance(1e-15));
    BOOST_TEST(activate(x, Activation::softplus).value()(0, 1) == std::log1p(std::exp(0.5)),
               boost::test_tools::tolerance(1e-15));
    BOOST_TEST(activate(x, Activation::sigmoid).value()(0, 1) == 1 / (1 + std::exp(-0.5)),
               boost::test_tools::tolerance(1e-15));
    BOOST_TEST(activate(x, Activation::identity).index() == x.index());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(init)

BOOST_AUTO_TEST_CASE(glorot_bounds_and_spread) {
    Rng rng(5);
    const Array w = glorot_uniform(rng, 30, 20);
    BOOST_TEST(w.shape()[0] == 30u);
    BOOST_TEST(w.shape()[1] == 20u);
    const real bound = std::sqrt(6.0 / 50);
    real lo = 0, hi = 0, sum_sq = 0;
    for (real v : w) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
        sum_sq += v * v;
    }
    BOOST_TEST(lo >= -bound);
    BOOST_TEST(hi < bound);
    // Both ends are reached, and the variance is bound²/3 (600 draws: about 6% standard error).
    BOOST_TEST(lo < -0.9 * bound);
    BOOST_TEST(hi > 0.9 * bound);
    BOOST_TEST(sum_sq / 600 == bound * bound / 3, boost::test_tools::tolerance(0.2));
    BOOST_CHECK_THROW(glorot_uniform(rng, 0, 0), ValueError);
    BOOST_TEST((zeros(2, 3) == xt::zeros<real>({2, 3})));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(linear_layer)

BOOST_AUTO_TEST_CASE(value_is_xw_plus_b) {
    Rng rng(1);
    Linear layer(3, 2, rng);
    layer.bias.value() = Array{{0.25, -0.5}};
    const Array x = rng.normal_array(4, 3);
    Tape t;
    const Array& y = layer.forward(t.constant(x)).value();
    for (std::size_t n = 0; n < 4; ++n)
        for (std::size_t j = 0; j < 2; ++j) {
            real expected = layer.bias.value()(0, j);
            for (std::size_t i = 0; i < 3; ++i) expected += x(n, i) * layer.weight.value()(i, j);
            BOOST_TEST(y(n, j) == expected, boost::test_tools::tolerance(1e-14));
        }
    BOOST_TEST(layer.in_features() == 3u);
    BOOST_TEST(layer.out_features() == 2u);
}

BOOST_AUTO_TEST_CASE(gradients) {
    Rng rng(2);
    Linear layer(4, 3, rng);
    layer.bias.value() = rng.normal_array(1, 3);
    const auto f = [&](const std::vector<Var>& v) { return layer.forward(v[0]); };
    const std::vector<Array> inputs{rng.normal_array(5, 4)};
    check_parameter_gradients(f, inputs, layer.parameters());
    check_input_gradients(f, inputs);
}

BOOST_AUTO_TEST_CASE(errors) {
    Rng rng(3);
    BOOST_CHECK_THROW(Linear(0, 2, rng), ValueError);
    Linear layer(3, 2, rng);
    Tape t;
    BOOST_CHECK_THROW(layer.forward(t.constant(xt::zeros<real>({4, 2}))), ShapeError);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(masked_linear)

Array checkerboard(std::size_t in, std::size_t out) {
    Array m = Array::from_shape({in, out});
    for (std::size_t i = 0; i < in; ++i)
        for (std::size_t j = 0; j < out; ++j) m(i, j) = (i + j) % 2 == 0 ? 1 : 0;
    return m;
}

BOOST_AUTO_TEST_CASE(mask_applies_at_every_call) {
    Rng rng(4);
    MaskedLinear layer(3, 4, checkerboard(3, 4), rng);
    // Masked-out weights start at 0; even if one is changed, the output ignores it.
    BOOST_TEST(layer.weight.value()(0, 1) == 0.0);
    BOOST_TEST(layer.weight.value()(0, 0) != 0.0);
    layer.weight.value()(0, 1) = 5.0;
    layer.bias.value() = rng.normal_array(1, 4);
    const Array x = rng.normal_array(2, 3);
    Tape t;
    const Array& y = layer.forward(t.constant(x)).value();
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t j = 0; j < 4; ++j) {
            real expected = layer.bias.value()(0, j);
            real scale = std::abs(expected);  // Σ|terms|: the sum's rounding error is relative to it
            for (std::size_t i = 0; i < 3; ++i) {
                const real term = x(n, i) * layer.weight.value()(i, j) * layer.mask()(i, j);
                expected += term;
                scale += std::abs(term);
            }
            // BLAS may sum in another order or with FMA; the output can be small by cancellation.
            BOOST_TEST(std::abs(y(n, j) - expected) <= 1e-14 * scale);
        }
}

BOOST_AUTO_TEST_CASE(gradients) {
    Rng rng(5);
    MaskedLinear layer(4, 5, checkerboard(4, 5), rng);
    layer.bias.value() = rng.normal_array(1, 5);
    const auto f = [&](const std::vector<Var>& v) { return layer.forward(v[0]); };
    const std::vector<Array> inputs{rng.normal_array(3, 4)};
    check_parameter_gradients(f, inputs, layer.parameters());
    check_input_gradients(f, inputs);
    // The gradient of a masked-out weight is exactly zero.
    layer.weight.zero_grad();
    Tape t;
    t.backward(sum(layer.forward(t.constant(inputs[0]))));
    BOOST_TEST(layer.weight.grad()(0, 1) == 0.0);
    BOOST_TEST(layer.weight.grad()(0, 0) != 0.0);
}

BOOST_AUTO_TEST_CASE(errors) {
    Rng rng(6);
    BOOST_CHECK_THROW(MaskedLinear(3, 4, checkerboard(4, 3), rng), ShapeError);
    Array bad = checkerboard(3, 4);
    bad(1, 1) = 0.5;
    BOOST_CHECK_THROW(MaskedLinear(3, 4, bad, rng), ValueError);
    MaskedLinear layer(3, 4, checkerboard(3, 4), rng);
    Tape t;
    BOOST_CHECK_THROW(layer.forward(t.constant(xt::zeros<real>({2, 4}))), ShapeError);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(mlp)

// Gradients for every activation, with and without a context. Inputs are drawn at random: the
// probability that a relu pre-activation lies within the finite-difference step of its kink is
// negligible (and the draw is fixed by the seed).
BOOST_AUTO_TEST_CASE(gradients_every_activation) {
    for (Activation a : {Activation::relu, Activation::tanh, Activation::elu, Activation::softplus,
                         Activation::sigmoid, Activation::identity}) {
        for (std::size_t context : {0, 2}) {
            BOOST_TEST_CONTEXT("activation " << activation_name(a) << ", context " << context) {
                Rng rng(7);
                MlpConfig c;
                c.inputs = 3;
                c.hidden = {6, 5};
                c.outputs = 2;
                c.activation = a;
                c.context = context;
                Mlp net(c, rng);
                for (Parameter* p : net.parameters().pointers())
                    if (p->shape()[0] == 1) p->value() = rng.normal_array(1, p->shape()[1]);  // nonzero biases
                std::vector<Array> inputs{rng.normal_array(4, 3)};
                if (context > 0) inputs.push_back(rng.normal_array(4, context));
                const auto f = [&](const std::vector<Var>& v) {
                    return v.size() > 1 ? net.forward(v[0], v[1]) : net.forward(v[0]);
                };
                check_parameter_gradients(f, inputs, net.parameters());
                check_input_gradients(f, inputs);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(context_is_concatenated_after_the_input) {
    // An Mlp with 2 inputs and 1 context column draws the same weights as one with 3 inputs, so
    // forward(x, c) must equal forward([x, c]).
    MlpConfig with_context;
    with_context.inputs = 2;
    with_context.context = 1;
    with_context.hidden = {5};
    MlpConfig plain = with_context;
    plain.inputs = 3;
    plain.context = 0;
    Rng rng_a(8), rng_b(8);
    Mlp a(with_context, rng_a), b(plain, rng_b);
    Rng data(9);
    const Array x = data.normal_array(4, 2), c = data.normal_array(4, 1);
    Tape t;
    const Array& ya = a.forward(t.constant(x), t.constant(c)).value();
    const Array& yb = b.forward(t.constant(xt::concatenate(xt::xtuple(x, c), 1))).value();
    BOOST_TEST((ya == yb));
}

BOOST_AUTO_TEST_CASE(parameter_names) {
    Rng rng(10);
    MlpConfig c;
    c.hidden = {4};
    Mlp net(c, rng);
    const ParameterList params = net.parameters();
    BOOST_TEST(params.size() == 4u);
    BOOST_TEST(params.items()[0].name == "layers.0.weight");
    BOOST_TEST(params.items()[3].name == "layers.1.bias");
    BOOST_TEST(params.scalar_count() == 1u * 4 + 4 + 4 * 1 + 1);
    ParameterList nested;
    net.collect_parameters(nested, "flow.2.net");
    BOOST_TEST(nested.items()[1].name == "flow.2.net.layers.0.bias");
}

BOOST_AUTO_TEST_CASE(errors) {
    Rng rng(11);
    MlpConfig c;
    c.inputs = 2;
    c.context = 3;
    c.hidden = {4};
    Mlp net(c, rng);
    Tape t;
    const Var x = t.constant(xt::zeros<real>({5, 2}));
    BOOST_CHECK_THROW(net.forward(x), ValueError);                                           // missing context
    BOOST_CHECK_THROW(net.forward(x, t.constant(xt::zeros<real>({4, 3}))), ShapeError);      // wrong rows
    BOOST_CHECK_THROW(net.forward(x, t.constant(xt::zeros<real>({5, 2}))), ShapeError);      // wrong width
    BOOST_CHECK_THROW(net.forward(t.constant(xt::zeros<real>({5, 3})), x), ShapeError);      // wrong input
    MlpConfig no_context = c;
    no_context.context = 0;
    Mlp plain(no_context, rng);
    BOOST_CHECK_THROW(plain.forward(x, t.constant(xt::zeros<real>({5, 3}))), ValueError);  // unexpected
    MlpConfig zero_hidden = c;
    zero_hidden.hidden = {4, 0};
    BOOST_CHECK_THROW(Mlp(zero_hidden, rng), ValueError);
}

BOOST_AUTO_TEST_SUITE_END()
