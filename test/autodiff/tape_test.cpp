
#include <boost/test/unit_test.hpp>

#include "flowtape.hpp"

using namespace flowtape;

BOOST_AUTO_TEST_SUITE(tape)

BOOST_AUTO_TEST_CASE(matmul_add_gradcheck) {
    Rng rng(1);
    auto r = gradcheck([](Tape&, const std::vector<Var>& v) { return matmul(v[0], v[1]) + v[2] * v[0].cols() ; },
                       {rng.normal_array(3, 4), rng.normal_array(4, 2), rng.normal_array(1, 2)});
    BOOST_TEST(r.ok, r.worst << " error " << r.max_error);
}

BOOST_AUTO_TEST_SUITE_END()
