// Tests of BoundedToNormal (flows/transforms/bounded_to_normal.hpp) and of the normal CDF and
// quantile it stands on (the round trip, Jacobian and gradients are in the property test over
// every transform, transform_properties_test.cpp, and the ops' gradients and tangents in the
// autodiff suites):
//   - Φ and Φ⁻¹ at known values and Φ(Φ⁻¹(p)) = p to 1e−14 (relative) from p = 1e−300 to 1 − 1e−12;
//   - from_data widens the range by one gap of n − 3 on each side, n the Kish effective size;
//     the sums of parts of the rows add up to the bounds of all of them;
//   - the tails: values a hair inside or exactly on the bounds give finite z and log-determinants
//     (a sample lands on a bound when Φ(z) rounds to 0 or 1); rows outside the bounds a
//     log-determinant of −∞ (zero density) and the centre's z, leaving the other rows of the
//     batch as they are alone; NaN, bad bounds or data, a ValueError;
//   - a standard normal pulled back through it is the uniform density on its box, 1/area at
//     every point.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>

#include "flowtape.hpp"

using namespace flowtape;

BOOST_AUTO_TEST_SUITE(bounded_to_normal)

BOOST_AUTO_TEST_CASE(the_normal_cdf_and_quantile_agree_with_known_values_and_invert_each_other) {
    BOOST_TEST(normal_quantile_scalar(0.5) == 0.0, boost::test_tools::tolerance(1e-15));
    BOOST_TEST(normal_quantile_scalar(0.975) == 1.959963984540054, boost::test_tools::tolerance(1e-14));
    BOOST_TEST(normal_quantile_scalar(0.025) == -1.959963984540054, boost::test_tools::tolerance(1e-14));
    BOOST_TEST(normal_quantile_scalar(1e-10) == -6.361340902404056, boost::test_tools::tolerance(1e-14));
    BOOST_TEST(normal_cdf_scalar(-1.0) == 0.15865525393145705, boost::test_tools::tolerance(1e-14));
    BOOST_TEST(std::isinf(normal_quantile_scalar(0.0)));
    BOOST_TEST(std::isinf(normal_quantile_scalar(1.0)));
    BOOST_TEST(std::isnan(normal_quantile_scalar(-0.1)));
    BOOST_TEST(std::isnan(normal_quantile_scalar(1.5)));
    for (const real p : {1e-300, 1e-100, 1e-20, 1e-10, 1e-4, 0.01, 0.2, 0.4999, 0.5, 0.6, 0.9, 0.999, 1 - 1e-12}) {
        const real z = normal_quantile_scalar(p);
        BOOST_TEST(std::isfinite(z));
        BOOST_TEST(normal_cdf_scalar(z) == p, boost::test_tools::tolerance(1e-14));
    }
    // Monotone across the switch at ½.
    BOOST_TEST(normal_quantile_scalar(0.5 - 1e-12) < normal_quantile_scalar(0.5 + 1e-12));
}

BOOST_AUTO_TEST_CASE(from_data_widens_the_range_by_one_gap_of_the_effective_sample_size) {
    Array x = Array::from_shape({std::size_t(5), std::size_t(2)});
    const real c0[] = {0, 1, 2, 3, 4}, c1[] = {-1, 7, 3, 3, 2};
    for (std::size_t i = 0; i < 5; ++i) {
        x(i, 0) = c0[i];
        x(i, 1) = c1[i];
    }
    const auto t = BoundedToNormal::from_data(x);  // n = 5: one gap of (max − min)/2 each side
    BOOST_TEST(t->lo()(0, 0) == -2.0, boost::test_tools::tolerance(1e-14));
    BOOST_TEST(t->hi()(0, 0) == 6.0, boost::test_tools::tolerance(1e-14));
    BOOST_TEST(t->lo()(0, 1) == -5.0, boost::test_tools::tolerance(1e-14));
    BOOST_TEST(t->hi()(0, 1) == 11.0, boost::test_tools::tolerance(1e-14));
    // Weights (1, 1, 1, 1, 2): n = 36/8 = 4.5, gap (max − min)/1.5.
    Array w = xt::ones<real>({std::size_t(5), std::size_t(1)});
    w(4, 0) = 2;
    const auto tw = BoundedToNormal::from_data(x, &w);
    BOOST_TEST(tw->hi()(0, 0) == 4 + 4 / 1.5, boost::test_tools::tolerance(1e-14));
    BOOST_TEST(tw->lo()(0, 0) == -4 / 1.5, boost::test_tools::tolerance(1e-14));
    // Too few rows, one value in a column, bad weights.
    BOOST_CHECK_THROW(BoundedToNormal::from_data(xt::view(x, xt::range(0, 3), xt::all())), ValueError);
    Array flat = x;
    xt::view(flat, xt::all(), 1) = 2.0;
    BOOST_CHECK_THROW(BoundedToNormal::from_data(flat), ValueError);
    Array negative = w;
    negative(0, 0) = -1;
    BOOST_CHECK_THROW(BoundedToNormal::from_data(x, &negative), ValueError);
    // The config keeps the bounds.
    Rng rng(1);
    const auto back = BoundedToNormal::from_config(t->config(), rng);
    BOOST_TEST(back->lo() == t->lo());
    BOOST_TEST(back->hi() == t->hi());
}

// The sums of row sets add up to those of their union (data-parallel training reduces shards this
// way): the bounds of parts added equal from_data of all the rows, an empty part changes nothing.
BOOST_AUTO_TEST_CASE(range_sums_of_parts_add_up_to_the_bounds_of_all_rows) {
    Rng rng(4);
    const Array x = rng.normal_array(40, 3);
    Array w = rng.uniform_array(40, 1);
    RangeSums sums;
    const std::size_t cuts[] = {0, 13, 13, 29, 40};  // parts [0, 13), [13, 13) (empty), [13, 29), [29, 40)
    for (std::size_t k = 0; k + 1 < 5; ++k) {
        const Array part = xt::view(x, xt::range(cuts[k], cuts[k + 1]), xt::all());
        const Array part_w = xt::view(w, xt::range(cuts[k], cuts[k + 1]), xt::all());
        sums.add(RangeSums::of(part, &part_w));
    }
    const auto parts = BoundedToNormal::from_sums(sums), all = BoundedToNormal::from_data(x, &w);
    for (std::size_t j = 0; j < 3; ++j) {
        BOOST_TEST(parts->lo()(0, j) == all->lo()(0, j), boost::test_tools::tolerance(1e-13));
        BOOST_TEST(parts->hi()(0, j) == all->hi()(0, j), boost::test_tools::tolerance(1e-13));
    }
    BOOST_CHECK_THROW(BoundedToNormal::from_sums(RangeSums{}), ValueError);  // no rows at all
    RangeSums other_width = RangeSums::of(rng.normal_array(5, 2));
    BOOST_CHECK_THROW(sums.add(other_width), ShapeError);
}

BOOST_AUTO_TEST_CASE(the_tails_are_finite_inside_the_bounds_and_the_density_zero_outside) {
    const Array lo = {{-1.0}}, hi = {{3.0}};
    BoundedToNormal t(lo, hi);
    Tape tape;
    const Array near = {{-1.0 + 1e-12}, {3.0 - 1e-9}, {1.0}};
    const TransformResult r = t.forward(tape.constant(near));
    for (std::size_t i = 0; i < 3; ++i) {
        BOOST_TEST(std::isfinite(r.out.value()(i, 0)));
        BOOST_TEST(std::isfinite(r.logdet.value()(i, 0)));
    }
    BOOST_TEST(r.out.value()(0, 0) < -7.0);  // Φ⁻¹(2.5e−13)
    BOOST_TEST(r.out.value()(2, 0) == 0.0, boost::test_tools::tolerance(1e-15));  // the middle maps to 0
    // At the middle, log|dz/dx| = −log 4 + ½ log 2π.
    BOOST_TEST(r.logdet.value()(2, 0) == -std::log(4.0) + 0.5 * std::log(2 * std::acos(-1.0)), boost::test_tools::tolerance(1e-14));
    // The inverse of far latent values stays inside the box.
    const Array far = {{-30.0}, {30.0}};
    const Array back = t.inverse(tape.constant(far)).out.value();
    BOOST_TEST(back(0, 0) >= -1.0);
    BOOST_TEST(back(1, 0) <= 3.0);
    // Rows outside the bounds: zero density, z of the centre; the inside row is as alone.
    const Array mixed = {{-1.5}, {0.5}, {3.5}, {-2.0}, {7.0}};
    const Var xm = tape.variable(mixed);
    const TransformResult m = t.forward(xm);
    const Array alone = t.forward(tape.constant(Array{{0.5}})).logdet.value();
    for (std::size_t i : {0u, 2u, 3u, 4u}) {
        BOOST_TEST(m.logdet.value()(i, 0) == -std::numeric_limits<real>::infinity());
        BOOST_TEST(m.out.value()(i, 0) == 0.0, boost::test_tools::tolerance(1e-15));
    }
    BOOST_TEST(m.logdet.value()(1, 0) == alone(0, 0));
    // Exactly on a bound (where the inverse puts a latent value beyond ±8.2): inside, finite, z at
    // the edge of what double precision can tell from the bound.
    const TransformResult edge = t.forward(tape.constant(Array{{-1.0}, {3.0}}));
    BOOST_TEST(edge.out.value()(0, 0) < -37.0);
    BOOST_TEST(edge.out.value()(1, 0) > 8.0);
    for (std::size_t i : {0u, 1u}) BOOST_TEST(std::isfinite(edge.logdet.value()(i, 0)));
    const Array at_hi = t.inverse(tape.constant(Array{{9.0}})).out.value();
    BOOST_TEST(at_hi(0, 0) == 3.0);  // Φ(9) rounds to 1
    BOOST_TEST(std::isfinite(t.forward(tape.constant(at_hi)).logdet.value()(0, 0)));
    // Gradients of z: the inside row's dz/dx = 1/(width · φ(z)), none through the rows outside.
    tape.backward(sum(m.out));
    const real z1 = m.out.value()(1, 0);
    BOOST_TEST(tape.grad(xm)(1, 0) == 1.0 / (4.0 * std::exp(-0.5 * z1 * z1) / std::sqrt(2 * std::acos(-1.0))),
               boost::test_tools::tolerance(1e-12));
    for (std::size_t i : {0u, 2u, 3u, 4u}) BOOST_TEST(tape.grad(xm)(i, 0) == 0.0);
    BOOST_CHECK_THROW(t.forward(tape.constant(Array{{std::nan("")}})), ValueError);
    BOOST_CHECK_THROW(BoundedToNormal(Array{{1.0}}, Array{{1.0}}), ValueError);
    BOOST_CHECK_THROW(BoundedToNormal(Array{{0.0, 0.0}}, Array{{1.0}}), ValueError);
}

BOOST_AUTO_TEST_CASE(a_standard_normal_pulled_back_is_uniform_on_the_box) {
    // z = Φ⁻¹(u) with z ~ N(0, I) makes u uniform: p(x) = 1/3 on the box (−1, 2) × (0, 1).
    std::vector<TransformPtr> transforms;
    transforms.push_back(std::make_unique<BoundedToNormal>(Array{{-1.0, 0.0}}, Array{{2.0, 1.0}}));
    Rng rng(3);
    FlowSpec spec;
    spec.dim = 2;
    Flow flow(make_base_distribution(spec, rng), std::move(transforms));
    const std::size_t g = 50;
    Array cells = Array::from_shape({g * g, std::size_t(2)});
    for (std::size_t i = 0; i < g; ++i)
        for (std::size_t j = 0; j < g; ++j) {
            cells(i * g + j, 0) = -1.0 + 3.0 * (static_cast<real>(j) + 0.5) / static_cast<real>(g);
            cells(i * g + j, 1) = (static_cast<real>(i) + 0.5) / static_cast<real>(g);
        }
    const Array lp = log_prob_rows(flow, cells);
    for (std::size_t k = 0; k < g * g; ++k) BOOST_TEST(lp(k, 0) == -std::log(3.0), boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_SUITE_END()
