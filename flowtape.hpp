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
#include "nn/activation.hpp"
#include "nn/adam.hpp"
#include "nn/clip.hpp"
#include "nn/init.hpp"
#include "nn/linear.hpp"
#include "nn/made.hpp"
#include "nn/mlp.hpp"
#include "nn/module.hpp"
#include "nn/schedule.hpp"
