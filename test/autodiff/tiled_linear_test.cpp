// Tests of tiled_linear and tile_mask (autodiff/tiled_linear.cpp):
//   - the tiles of a mask are disjoint and cover every nonzero, and a MADE staircase costs about
//     half the dense work;
//   - y, ∂x, ∂w and ∂b equal the dense linear(x, w ⊙ M, b) to rounding, with and without a bias;
//   - gradients by finite differences, and tangents against the dense op's;
//   - MaskedLinear takes the tiled product for a large sparse mask and gives the dense result;
//   - bad shapes throw.
#include <boost/test/unit_test.hpp>

#include "flowtape.hpp"

using namespace flowtape;

namespace {

// A MADE-like staircase: M(i, h) = [d(h) ≥ i + 1] with cyclic hidden degrees 1 + (h mod (in − 1)).
Array staircase(std::size_t in, std::size_t out) {
    Array m = Array::from_shape({in, out});
    for (std::size_t i = 0; i < in; ++i)
        for (std::size_t h = 0; h < out; ++h) m(i, h) = 1 + h % (in - 1) >= i + 1 ? 1.0 : 0.0;
    return m;
}

real max_abs_difference(const Array& a, const Array& b) { return xt::amax(xt::abs(a - b))(); }

}  // namespace

BOOST_AUTO_TEST_SUITE(tiled_linear_op)

BOOST_AUTO_TEST_CASE(tiles_cover_every_nonzero_once) {
    Rng rng(1);
    for (const Array& mask : {staircase(40, 70), Array(xt::cast<real>(rng.uniform_array(30, 50) < 0.3))}) {
        const WeightTiles tiles = tile_mask(mask, 16, 4);
        IndexArray covered = xt::zeros<std::int64_t>({mask.shape()[0], mask.shape()[1]});
        for (const WeightTile& t : tiles.tiles)
            for (std::size_t r = t.r0; r < t.r1; ++r)
                for (std::size_t c = t.c0; c < t.c1; ++c) covered(r, c) += 1;
        for (std::size_t r = 0; r < mask.shape()[0]; ++r)
            for (std::size_t c = 0; c < mask.shape()[1]; ++c) {
                BOOST_TEST(covered(r, c) <= 1);                         // disjoint
                if (mask(r, c) != 0) BOOST_TEST(covered(r, c) == 1);  // every nonzero inside
            }
    }
    // A staircase of 784 inputs and 1024 cyclic hidden units: about half the dense work.
    const WeightTiles made = tile_mask(staircase(784, 1024));
    BOOST_TEST(made.fraction() > 0.45);
    BOOST_TEST(made.fraction() < 0.62);
    BOOST_CHECK_THROW(tile_mask(staircase(5, 5), 0), ValueError);
}

BOOST_AUTO_TEST_CASE(equals_the_dense_masked_product_both_ways) {
    Rng rng(2);
    const Array mask = staircase(30, 45);
    const WeightTiles tiles = tile_mask(mask, 8, 2);
    const Array x = rng.normal_array(7, 30), w = rng.normal_array(30, 45) * mask, b = rng.normal_array(1, 45);
    const Array seed = rng.normal_array(7, 45);
    for (bool with_bias : {true, false}) {
        Array y[2], gx[2], gw[2], gb[2];
        for (int tiled = 0; tiled < 2; ++tiled) {
            Tape t;
            const Var xv = t.variable(x), wv = t.variable(w), bv = t.variable(b);
            const Var zero = t.constant(xt::zeros<real>({std::size_t(1), std::size_t(45)}));
            const Var yv = tiled ? tiled_linear(xv, wv, with_bias ? bv : Var(), tiles)
                                 : linear(xv, wv, with_bias ? bv : zero);
            t.backward(yv, seed);
            y[tiled] = yv.value();
            gx[tiled] = t.grad(xv);
            gw[tiled] = t.grad(wv) * mask;  // the dense op's ∂w is dense; only the mask's entries count
            gb[tiled] = t.grad(bv);
        }
        BOOST_TEST(max_abs_difference(y[0], y[1]) < 1e-12);
        BOOST_TEST(max_abs_difference(gx[0], gx[1]) < 1e-12);
        BOOST_TEST(max_abs_difference(gw[0], gw[1]) < 1e-12);
        if (with_bias) BOOST_TEST(max_abs_difference(gb[0], gb[1]) < 1e-12);
    }
}

BOOST_AUTO_TEST_CASE(gradients_and_tangents) {
    Rng rng(3);
    const Array mask = staircase(9, 13);
    const WeightTiles tiles = tile_mask(mask, 4, 2);
    const Array x = rng.normal_array(5, 9), w = rng.normal_array(9, 13) * mask, b = rng.normal_array(1, 13);
    const GradcheckResult g = gradcheck(
        [&](Tape&, const std::vector<Var>& in) { return tanh(tiled_linear(in[0], in[1], in[2], tiles)); }, {x, w, b});
    BOOST_TEST(g.ok, g.worst);
    // Tangents: along (ẋ, ẇ, ḃ) the same as the dense op's.
    const Array dx = rng.normal_array(5, 9), dw = rng.normal_array(9, 13) * mask, db = rng.normal_array(1, 13);
    Array out[2];
    for (int tiled = 0; tiled < 2; ++tiled) {
        Tape t;
        const Var xv = t.variable(x), wv = t.variable(w), bv = t.variable(b);
        t.set_tangent(xv, t.constant(dx));
        t.set_tangent(wv, t.constant(dw));
        t.set_tangent(bv, t.constant(db));
        const Var y = tiled ? tiled_linear(xv, wv, bv, tiles) : linear(xv, wv, bv);
        out[tiled] = t.tangent(y).value();
    }
    BOOST_TEST(max_abs_difference(out[0], out[1]) < 1e-12);
}

BOOST_AUTO_TEST_CASE(masked_linear_takes_it_for_large_sparse_masks) {
    Rng rng(4);
    const Array mask = staircase(300, 300);  // 90 000 entries, about half zero
    MaskedLinear layer(300, 300, mask, rng);
    BOOST_REQUIRE(layer.tiles() != nullptr);
    MaskedLinear small(10, 20, staircase(10, 20), rng);
    BOOST_TEST(small.tiles() == nullptr);  // too small to be worth the tiles
    const Array x = rng.normal_array(16, 300);
    Tape t;
    const Var xv = t.variable(x);
    const Var y = layer.forward(xv);
    const Array dense = linear(t.constant(x), t.constant(layer.weight.value() * mask), t.constant(layer.bias.value())).value();
    BOOST_TEST(max_abs_difference(y.value(), dense) < 1e-12);
    // The weight's gradient through the layer (tiled) against the dense product's, masked.
    const Array seed = rng.normal_array(16, 300);
    t.backward(y, seed);
    const Array tiled_grad = layer.weight.grad();
    Tape d;
    const Var wv = d.variable(layer.weight.value());
    d.backward(linear(d.constant(x), mul(wv, d.constant(mask)), d.constant(layer.bias.value())), seed);
    BOOST_TEST(max_abs_difference(tiled_grad, d.grad(wv)) < 1e-11);
}

BOOST_AUTO_TEST_CASE(bad_shapes_throw) {
    const WeightTiles tiles = tile_mask(staircase(6, 8), 4, 2);
    Tape t;
    const Var x = t.constant(xt::zeros<real>({3, 6})), w = t.constant(xt::zeros<real>({6, 8}));
    BOOST_CHECK_THROW(tiled_linear(t.constant(xt::zeros<real>({3, 5})), w, Var(), tiles), ShapeError);
    BOOST_CHECK_THROW(tiled_linear(x, t.constant(xt::zeros<real>({6, 7})), Var(), tiles), ShapeError);
    BOOST_CHECK_THROW(tiled_linear(x, w, t.constant(xt::zeros<real>({2, 8})), tiles), ShapeError);
}

BOOST_AUTO_TEST_SUITE_END()
