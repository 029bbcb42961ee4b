#include "autodiff/op_support.hpp"
