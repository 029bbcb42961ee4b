// Tests of the area-averaging image resize (data/image_resize.hpp): a constant image stays
// constant; the mean intensity is kept exactly (28 → 16, 28 → 7, 5 → 3); an integer factor gives
// block means; 28 → 16 by hand for one pixel; the same size is the identity; bad shapes throw.
#include <boost/test/unit_test.hpp>

#include "core/error.hpp"
#include "core/random.hpp"
#include "data/image_resize.hpp"

using namespace flowtape;
using namespace flowtape::data;

BOOST_AUTO_TEST_SUITE(image_resize)

BOOST_AUTO_TEST_CASE(constant_and_mean_are_kept) {
    const Array c = xt::ones<real>({2, 28 * 28}) * 0.3;
    const Array r = resize_images(c, 28, 16);
    BOOST_TEST(r.shape()[1] == 256u);
    for (real v : r) BOOST_TEST(v == 0.3, boost::test_tools::tolerance(1e-14));
    Rng rng(3);
    for (const auto& [from, to] : {std::pair<std::size_t, std::size_t>{28, 16}, {28, 7}, {5, 3}}) {
        const Array x = rng.uniform_array(3, from * from);
        const Array y = resize_images(x, from, to);
        for (std::size_t k = 0; k < 3; ++k) {
            real a = 0, b = 0;
            for (std::size_t j = 0; j < from * from; ++j) a += x(k, j);
            for (std::size_t j = 0; j < to * to; ++j) b += y(k, j);
            BOOST_TEST(a / static_cast<real>(from * from) == b / static_cast<real>(to * to), boost::test_tools::tolerance(1e-13));
        }
    }
}

BOOST_AUTO_TEST_CASE(integer_factors_are_block_means_and_one_pixel_by_hand) {
    Rng rng(4);
    const Array x = rng.uniform_array(1, 28 * 28);
    const Array y = resize_images(x, 28, 14);
    for (std::size_t r = 0; r < 14; ++r)
        for (std::size_t c = 0; c < 14; ++c) {
            const real block = (x(0, 2 * r * 28 + 2 * c) + x(0, 2 * r * 28 + 2 * c + 1) + x(0, (2 * r + 1) * 28 + 2 * c) +
                                x(0, (2 * r + 1) * 28 + 2 * c + 1)) / 4;
            BOOST_TEST(y(0, r * 14 + c) == block, boost::test_tools::tolerance(1e-14));
        }
    // 28 → 16: output cell 0 covers input [0, 1.75) on each axis: weights 1/1.75 and 0.75/1.75.
    const real w0 = 1 / 1.75, w1 = 0.75 / 1.75;
    const Array z = resize_images(x, 28, 16);
    const real expected = w0 * w0 * x(0, 0) + w0 * w1 * x(0, 1) + w1 * w0 * x(0, 28) + w1 * w1 * x(0, 29);
    BOOST_TEST(z(0, 0) == expected, boost::test_tools::tolerance(1e-14));
    const Array same = resize_images(x, 28, 28);
    for (std::size_t j = 0; j < 784; ++j) BOOST_TEST(same(0, j) == x(0, j), boost::test_tools::tolerance(1e-15));
}

BOOST_AUTO_TEST_CASE(bad_shapes) {
    BOOST_CHECK_THROW(resize_images(xt::zeros<real>({1, 783}), 28, 16), ValueError);
    BOOST_CHECK_THROW(resize_images(xt::zeros<real>({1, 784}), 28, 0), ValueError);
    BOOST_CHECK_THROW(resize_images(xt::zeros<real>({1, 784}), 0, 16), ValueError);
}

BOOST_AUTO_TEST_SUITE_END()
