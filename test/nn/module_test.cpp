// Tests of the parameter registry and of seeded, reproducible construction.
#include <boost/test/unit_test.hpp>

#include <string>

#include "flowtape.hpp"
#include "nn_test_support.hpp"

using namespace flowtape;
using flowtape::test::same_values;

BOOST_AUTO_TEST_SUITE(parameter_list)

BOOST_AUTO_TEST_CASE(add_find_append) {
    Parameter a("a", xt::ones<real>({2, 3})), b("b", xt::ones<real>({1, 4}));
    ParameterList list;
    list.add("x.a", a);
    list.add("x.b", b);
    BOOST_TEST(list.size() == 2u);
    BOOST_TEST(list.scalar_count() == 10u);
    BOOST_TEST(&list.find("x.b") == &b);
    BOOST_TEST((list.pointers() == std::vector<Parameter*>{&a, &b}));
    Parameter c("c", xt::ones<real>({1, 1}));
    ParameterList other;
    other.add("y.c", c);
    list.append(other);
    BOOST_TEST(list.size() == 3u);
    BOOST_TEST(list.items()[2].name == "y.c");
    a.grad().fill(2);
    c.grad().fill(3);
    list.zero_grad();
    BOOST_TEST(xt::amax(a.grad())() == 0.0);
    BOOST_TEST(c.grad()(0, 0) == 0.0);
}

BOOST_AUTO_TEST_CASE(duplicate_name) {
    Parameter a("a", xt::ones<real>({1, 1})), b("b", xt::ones<real>({1, 1}));
    ParameterList list;
    list.add("w", a);
    BOOST_CHECK_THROW(list.add("w", b), ValueError);
    BOOST_TEST(list.size() == 1u);
    BOOST_CHECK_THROW(list.append(list), ValueError);
}

BOOST_AUTO_TEST_CASE(find_missing_names_it) {
    ParameterList list;
    try {
        list.find("layers.7.weight");
        BOOST_FAIL("find did not throw");
    } catch (const ValueError& e) {
        BOOST_TEST(std::string(e.what()).find("layers.7.weight") != std::string::npos, e.what());
    }
}

BOOST_AUTO_TEST_CASE(qualified_names) {
    BOOST_TEST(qualified_name("", "weight") == "weight");
    BOOST_TEST(qualified_name("layers.0", "weight") == "layers.0.weight");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(determinism)

BOOST_AUTO_TEST_CASE(same_seed_same_model) {
    MadeConfig c;
    c.inputs = 6;
    c.hidden = {10, 10};
    c.ordering = Ordering::random;
    c.context = 2;
    Rng r1(42), r2(42), r3(43);
    Made m1(c, r1), m2(c, r2), m3(c, r3);
    BOOST_TEST(same_values(m1.parameters(), m2.parameters()));
    BOOST_TEST((m1.input_degrees() == m2.input_degrees()));
    BOOST_TEST(!same_values(m1.parameters(), m3.parameters()));

    MlpConfig mc;
    mc.inputs = 3;
    mc.hidden = {5};
    Rng s1(7), s2(7), s3(8);
    Mlp a(mc, s1), b(mc, s2), d(mc, s3);
    BOOST_TEST(same_values(a.parameters(), b.parameters()));
    BOOST_TEST(!same_values(a.parameters(), d.parameters()));
}

BOOST_AUTO_TEST_SUITE_END()
