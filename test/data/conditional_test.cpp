// Tests of the conditional data sets (data/conditional.hpp): the rotation's direction and 1/√2
// scale, the radial scale, the conditions' values and range, the mean of s, reproducibility and
// errors.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "flowtape.hpp"

using namespace flowtape;

BOOST_AUTO_TEST_SUITE(conditional_datasets)

BOOST_AUTO_TEST_CASE(rotation_turns_counter_clockwise_and_scales_by_one_over_root_two) {
    const Array p{{1.0, 0.0}, {0.0, 2.0}};
    const Array r = rotate_points(p, 90);
    const real k = 1 / std::sqrt(2.0);
    BOOST_TEST(std::abs(r(0, 0)) < 1e-15);
    BOOST_TEST(r(0, 1) == k, boost::test_tools::tolerance(1e-14));
    BOOST_TEST(r(1, 0) == -2 * k, boost::test_tools::tolerance(1e-14));
    BOOST_TEST(std::abs(r(1, 1)) < 1e-15);
    const Array zero = rotate_points(p, 0);  // the scale applies at 0° too
    BOOST_TEST(zero(1, 1) == 2 * k, boost::test_tools::tolerance(1e-14));
    const Array s = scale_points(p, 0.75);
    BOOST_TEST(s(1, 1) == 1.5);
    BOOST_TEST(apply_condition("rotation", p, 1.0)(0, 0) == 0.5, boost::test_tools::tolerance(1e-14));  // 45°
    BOOST_CHECK_THROW(rotate_points(Array::from_shape({2, 3}), 10), ShapeError);
}

BOOST_AUTO_TEST_CASE(conditions_move_each_row_by_its_own_value) {
    const std::size_t n = 4000;
    for (const std::string& kind : condition_names()) {
        Rng a(3), b(3);
        const ConditionalSample c = make_conditional_dataset(kind, "four-circles", n, a);
        Rng plain(3);
        const Dataset base = make_dataset("four-circles", n, plain);
        BOOST_TEST((c.x == make_conditional_dataset(kind, "four-circles", n, b).x));  // the same seed, the same rows
        real mean = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const real v = c.condition(i, 0);
            const auto [lo, hi] = condition_range(kind);
            BOOST_TEST((v >= lo && v <= hi));
            const real norm_in = std::hypot(base.x(i, 0), base.x(i, 1)), norm_out = std::hypot(c.x(i, 0), c.x(i, 1));
            if (kind == "rotation") {
                BOOST_TEST(std::abs(v * 45 - std::round(v * 45)) < 1e-12);  // integer degrees
                BOOST_TEST(norm_out == norm_in / std::sqrt(2.0), boost::test_tools::tolerance(1e-12));
                const Array back = apply_condition(kind, xt::view(base.x, xt::range(i, i + 1), xt::all()), v);
                BOOST_TEST(back(0, 0) == c.x(i, 0), boost::test_tools::tolerance(1e-12));
            } else {
                BOOST_TEST(norm_out == norm_in * v, boost::test_tools::tolerance(1e-12));
            }
            mean += v / n;
        }
        // E[0.5 + 0.5√u] = 0.5 + 0.5·2/3; E[a/45] for a uniform on 0..45 = 1/2. Standard deviations
        // below 0.3: five standard errors are under 0.025.
        BOOST_TEST(mean == (kind == "rotation" ? 0.5 : 0.5 + 1.0 / 3), boost::test_tools::tolerance(0.05));
    }
    Rng rng(1);
    BOOST_CHECK_THROW(make_conditional_dataset("shear", "four-circles", 10, rng), ValueError);
    BOOST_CHECK_THROW(condition_range("shear"), ValueError);
}

BOOST_AUTO_TEST_SUITE_END()
