// flowtape: normalizing flows on a reverse-mode tape over xtensor. This umbrella header includes
// the public API.
#pragma once

#include "autodiff/gradcheck.hpp"
#include "autodiff/higher_order.hpp"
#include "autodiff/ops.hpp"
#include "autodiff/parameter.hpp"
#include "autodiff/tape.hpp"
#include "core/error.hpp"
#include "core/random.hpp"
#include "core/types.hpp"
