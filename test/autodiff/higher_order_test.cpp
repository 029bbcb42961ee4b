#include <boost/test/unit_test.hpp>

#include "flowtape.hpp"
