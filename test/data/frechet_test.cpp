// Tests of the Fréchet distance (data/frechet.hpp):
//   - the moments of rows: the mean and the (n − 1) covariance, by hand;
//   - the symmetric square root squares back to the matrix, and of a diagonal is the diagonal's;
//   - d² of two Gaussians against closed forms: 0 for equal moments; ‖Δμ‖² for equal covariances;
//     Σ(σ₁ − σ₂)² for diagonal (commuting) covariances; and for 1-D, (μ₁ − μ₂)² + (σ₁ − σ₂)²;
//   - symmetry d²(a, b) = d²(b, a) for non-commuting covariances, where the formula is not symmetric
//     term by term; a rank-deficient covariance (rounding makes eigenvalues slightly negative);
//   - bad input: too few rows, NaN, dimensions that differ.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "core/error.hpp"
#include "core/random.hpp"
#include "core/xtensor_blas.hpp"
#include "data/frechet.hpp"

using namespace flowtape;
using namespace flowtape::data;

namespace {

FeatureMoments moments(const Array& mean, const Array& covariance) { return {mean, covariance}; }

}  // namespace

BOOST_AUTO_TEST_SUITE(frechet)

BOOST_AUTO_TEST_CASE(moments_of_rows_by_hand) {
    const Array x = {{1.0, 2.0}, {3.0, 0.0}, {5.0, 4.0}};
    const FeatureMoments m = FeatureMoments::of_rows(x);
    BOOST_TEST(m.mean(0, 0) == 3.0, boost::test_tools::tolerance(1e-15));
    BOOST_TEST(m.mean(0, 1) == 2.0, boost::test_tools::tolerance(1e-15));
    // Deviations (−2, 0), (0, −2), (2, 2): Σ = [[8, 4], [4, 8]] / 2.
    BOOST_TEST(m.covariance(0, 0) == 4.0, boost::test_tools::tolerance(1e-14));
    BOOST_TEST(m.covariance(0, 1) == 2.0, boost::test_tools::tolerance(1e-14));
    BOOST_TEST(m.covariance(1, 0) == 2.0, boost::test_tools::tolerance(1e-14));
    BOOST_TEST(m.covariance(1, 1) == 4.0, boost::test_tools::tolerance(1e-14));
}

BOOST_AUTO_TEST_CASE(the_square_root_squares_back) {
    const Array s = {{4.0, 1.0, 0.5}, {1.0, 3.0, -0.2}, {0.5, -0.2, 2.0}};
    const Array r = symmetric_sqrt(s);
    const Array back = xt::linalg::dot(r, r);
    for (std::size_t i = 0; i < 3; ++i)
        for (std::size_t j = 0; j < 3; ++j) {
            BOOST_TEST(back(i, j) == s(i, j), boost::test_tools::tolerance(1e-12));
            BOOST_TEST(r(i, j) == r(j, i), boost::test_tools::tolerance(1e-14));
        }
    const Array diag = symmetric_sqrt(Array{{9.0, 0.0}, {0.0, 0.25}});
    BOOST_TEST(diag(0, 0) == 3.0, boost::test_tools::tolerance(1e-14));
    BOOST_TEST(diag(1, 1) == 0.5, boost::test_tools::tolerance(1e-14));
    BOOST_TEST(std::abs(diag(0, 1)) < 1e-14);
}

BOOST_AUTO_TEST_CASE(closed_forms) {
    const Array s = {{2.0, 0.3}, {0.3, 1.0}};
    BOOST_TEST(std::abs(frechet_distance(moments(Array{{1.0, 2.0}}, s), moments(Array{{1.0, 2.0}}, s))) < 1e-12);
    // Equal covariances: the means' squared distance.
    BOOST_TEST(frechet_distance(moments(Array{{1.0, 2.0}}, s), moments(Array{{4.0, -2.0}}, s)) == 25.0,
               boost::test_tools::tolerance(1e-12));
    // Diagonal covariances: Σ (σ₁ − σ₂)² + ‖Δμ‖².
    const Array a = {{4.0, 0.0}, {0.0, 9.0}}, b = {{1.0, 0.0}, {0.0, 16.0}};
    BOOST_TEST(frechet_distance(moments(Array{{0.0, 0.0}}, a), moments(Array{{1.0, 0.0}}, b)) ==
                   1.0 + (2.0 - 1.0) * (2.0 - 1.0) + (3.0 - 4.0) * (3.0 - 4.0),
               boost::test_tools::tolerance(1e-12));
    // One dimension.
    BOOST_TEST(frechet_distance(moments(Array{{0.5}}, Array{{0.04}}), moments(Array{{-0.5}}, Array{{1.0}})) ==
                   1.0 + 0.8 * 0.8,
               boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(symmetric_for_covariances_that_do_not_commute) {
    const Array a = {{3.0, 1.2}, {1.2, 1.0}}, b = {{0.5, -0.4}, {-0.4, 2.0}};
    const FeatureMoments p = moments(Array{{0.1, 0.2}}, a), q = moments(Array{{-0.3, 0.0}}, b);
    const real ab = frechet_distance(p, q), ba = frechet_distance(q, p);
    BOOST_TEST(ab == ba, boost::test_tools::tolerance(1e-12));
    // Brute force in 2-D: tr((A^½ B A^½)^½) = √(tr M + 2√det M) for the 2×2 symmetric PSD M.
    const Array root = symmetric_sqrt(a);
    const Array m = xt::linalg::dot(xt::linalg::dot(root, b), root);
    const real det = m(0, 0) * m(1, 1) - m(0, 1) * m(1, 0);
    const real cross = std::sqrt(m(0, 0) + m(1, 1) + 2 * std::sqrt(det));
    const real expected = 0.16 + 0.04 + 3.0 + 1.0 + 0.5 + 2.0 - 2 * cross;
    BOOST_TEST(ab == expected, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(ab > 0);
}

BOOST_AUTO_TEST_CASE(samples_of_one_gaussian_come_close_and_a_rank_deficient_covariance_is_fine) {
    Rng rng(5);
    const Array x = rng.normal_array(20000, 3), y = rng.normal_array(20000, 3);
    const real d = frechet_distance(FeatureMoments::of_rows(x), FeatureMoments::of_rows(y));
    BOOST_TEST(d >= 0);
    BOOST_TEST(d < 0.01);
    // Rows on a line in 3-D: Σ has rank 1; the distance to itself is 0, to a shifted copy ‖Δμ‖².
    Array line = Array::from_shape({50, 3});
    for (std::size_t i = 0; i < 50; ++i)
        for (std::size_t j = 0; j < 3; ++j) line(i, j) = static_cast<real>(i) * (j + 1) * 0.1;
    const FeatureMoments l = FeatureMoments::of_rows(line);
    BOOST_TEST(std::abs(frechet_distance(l, l)) < 1e-9);
    FeatureMoments shifted = l;
    shifted.mean(0, 0) += 2;
    // Near-zero eigenvalues carry rounding of about ε‖Σ‖ (‖Σ‖ ≈ 30 here), and their square roots
    // √(ε‖Σ‖) ≈ 1e-7 each: the trace term is good to about 1e-6 for a singular Σ, not to ε.
    BOOST_TEST(std::abs(frechet_distance(l, shifted) - 4.0) < 1e-5);
}

BOOST_AUTO_TEST_CASE(bad_input) {
    BOOST_CHECK_THROW(FeatureMoments::of_rows(Array{{1.0, 2.0}}), ValueError);
    Array nan = {{1.0, 2.0}, {3.0, NAN}};
    BOOST_CHECK_THROW(FeatureMoments::of_rows(nan), ValueError);
    try {
        FeatureMoments::of_rows(nan);
    } catch (const ValueError& e) {
        BOOST_TEST(std::string(e.what()).find("row 1 column 1") != std::string::npos, e.what());
    }
    const FeatureMoments two = moments(Array{{0.0, 0.0}}, Array{{1.0, 0.0}, {0.0, 1.0}});
    const FeatureMoments one = moments(Array{{0.0}}, Array{{1.0}});
    BOOST_CHECK_THROW(frechet_distance(two, one), ShapeError);
    BOOST_CHECK_THROW(symmetric_sqrt(Array{{1.0, 2.0}}), ShapeError);
}

BOOST_AUTO_TEST_SUITE_END()
