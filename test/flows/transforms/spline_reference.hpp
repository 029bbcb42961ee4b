// The unfused rational-quadratic spline: the same function as flows/transforms/spline.hpp's fused
// rational_quadratic_spline, recorded as ~20 composite tape ops (softmax, matmul, searchsorted,
// gather, select, ...). The fused op replaced it for speed; the tests hold the fused op's values,
// log-determinants and gradients to this one (spline_fused_test.cpp), whose gradients come from
// the ops' own tested rules. Same arguments and layout as the fused op; inputs must fit (the
// shapes are not checked here, the options are).
#pragma once

#include "flows/transforms/spline.hpp"

namespace flowtape::test {

SplineResult rational_quadratic_spline_reference(Var x, Var widths, Var heights, Var derivatives, bool inverse,
                                                 const SplineOptions& options = {});

}  // namespace flowtape::test
