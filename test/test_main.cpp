// The Boost.Test entry point shared by every suite. Meson's boost dependency links the shared
// Boost.Test library and defines BOOST_TEST_DYN_LINK.
#define BOOST_TEST_MODULE flowtape
#include <boost/test/unit_test.hpp>
