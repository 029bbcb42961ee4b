// The accuracy of the tanh op's own vectorised formula (Note [a tanh the compiler vectorises] in
// autodiff/elementwise.cpp) against std::tanh and, where long double is wider than double, against
// tanhl (nearly exact at double precision): a dense sweep of [−25, 25], a geometric sweep of the
// tiny and the large magnitudes, and the special values.
//
// Bounds, from the formula's error analysis (ulp of the reference value): at most 2.5 ulp from the
// exact tanh; glibc documents at most 2 ulp for its own tanh, so at most 4 ulp between the two.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "flowtape.hpp"

using namespace flowtape;

namespace {

constexpr real kInf = std::numeric_limits<real>::infinity();

// tanh through the op, in chunks of awkward sizes so that the vector loop's remainder (a width
// that is not a multiple of 2, 4 or 8) is exercised too.
std::vector<real> op_tanh(const std::vector<real>& x) {
    static const std::size_t chunks[] = {1, 7, 1000, 65537, 3};
    std::vector<real> y;
    y.reserve(x.size());
    std::size_t begin = 0, c = 0;
    while (begin < x.size()) {
        const std::size_t n = std::min(chunks[c++ % 5], x.size() - begin);
        Array row = Array::from_shape({std::size_t(1), n});
        std::copy_n(x.begin() + static_cast<std::ptrdiff_t>(begin), n, row.data());
        Tape t;
        const Array& v = tanh(t.constant(row)).value();
        y.insert(y.end(), v.begin(), v.end());
        begin += n;
    }
    return y;
}

// The distance in representable doubles (ulps) between two finite doubles of the same sign.
std::uint64_t ulps_apart(real a, real b) {
    std::int64_t ia, ib;
    std::memcpy(&ia, &a, sizeof a);
    std::memcpy(&ib, &b, sizeof b);
    return static_cast<std::uint64_t>(ia > ib ? ia - ib : ib - ia);
}

// |got − exact| in ulps of the exact value (as a double), exact given in long double.
long double ulps_from(real got, long double exact) {
    const real e = static_cast<real>(exact);
    const real ulp = std::nextafter(std::abs(e), kInf) - std::abs(e);
    return std::abs(static_cast<long double>(got) - exact) / ulp;
}

// Every point of [−25, 25] in steps of about 1e-5 (offset so that the points are not round
// numbers), then ± 10^e for e from −320 to 3 in steps of 1/1000.
std::vector<real> sweep() {
    std::vector<real> x;
    for (long k = -2500000; k <= 2500000; ++k) x.push_back(1e-5 * static_cast<real>(k) + 3.7e-7);
    for (int e = -320000; e <= 3000; ++e) {
        const real v = std::pow(10.0, e / 1000.0);
        x.push_back(v);
        x.push_back(-v);
    }
    return x;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tanh_accuracy)

BOOST_AUTO_TEST_CASE(within_four_ulp_of_std_tanh_and_odd) {
    const std::vector<real> x = sweep();
    const std::vector<real> y = op_tanh(x);
    std::uint64_t worst = 0;
    real worst_x = 0;
    std::size_t asymmetric = 0;
    for (std::size_t k = 0; k < x.size(); ++k) {
        const real ref = std::tanh(x[k]);
        if (std::signbit(y[k]) != std::signbit(ref)) {
            worst = std::numeric_limits<std::uint64_t>::max();
            worst_x = x[k];
            break;
        }
        const std::uint64_t d = ulps_apart(y[k], ref);
        if (d > worst) {
            worst = d;
            worst_x = x[k];
        }
    }
    BOOST_TEST(worst <= 4u, "worst " << worst << " ulp from std::tanh at x = " << worst_x);
    // Odd: tanh(−x) = −tanh(x) exactly (the formula works on |x| and copies the sign).
    std::vector<real> minus(x.size());
    for (std::size_t k = 0; k < x.size(); ++k) minus[k] = -x[k];
    const std::vector<real> ym = op_tanh(minus);
    for (std::size_t k = 0; k < x.size(); ++k) asymmetric += ym[k] != -y[k];
    BOOST_TEST(asymmetric == 0u);
}

BOOST_AUTO_TEST_CASE(within_two_and_a_half_ulp_of_the_exact_value) {
    if (std::numeric_limits<long double>::digits <= std::numeric_limits<real>::digits) {
        BOOST_TEST_MESSAGE("long double is no wider than double here: only the comparison with std::tanh runs");
        return;
    }
    const std::vector<real> x = sweep();
    const std::vector<real> y = op_tanh(x);
    long double worst = 0;
    real worst_x = 0;
    for (std::size_t k = 0; k < x.size(); ++k) {
        const long double e = ulps_from(y[k], std::tanh(static_cast<long double>(x[k])));
        if (!(e <= worst)) {
            worst = e;
            worst_x = x[k];
        }
    }
    BOOST_TEST(worst <= 2.5L, "worst " << static_cast<double>(worst) << " ulp from tanhl at x = " << worst_x);
}

BOOST_AUTO_TEST_CASE(tiny_large_and_special_values) {
    const real tiny = std::numeric_limits<real>::denorm_min(), max = std::numeric_limits<real>::max();
    const std::vector<real> x{0.0,  -0.0,  tiny, -tiny, 1e-300, -1e-300, 1e-17, 2.2e-308, 19.1, -19.1,
                              20.0, -20.0, 25.0, 1e300, -max,   kInf,    -kInf, std::numeric_limits<real>::quiet_NaN()};
    const std::vector<real> y = op_tanh(x);
    // tanh x = x in double for the tiny magnitudes, with the sign of zero kept.
    for (std::size_t k = 0; k < 8; ++k) {
        BOOST_TEST(y[k] == x[k], "tanh(" << x[k] << ") = " << y[k]);
        BOOST_TEST(std::signbit(y[k]) == std::signbit(x[k]));
    }
    // ±1 exactly once |x| > 19.06, and at ±∞.
    for (std::size_t k = 8; k < 17; ++k) BOOST_TEST(y[k] == std::copysign(1.0, x[k]), "tanh(" << x[k] << ") = " << y[k]);
    BOOST_TEST(std::isnan(y[17]));
}

BOOST_AUTO_TEST_SUITE_END()
