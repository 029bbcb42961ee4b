// Gradient clipping by the global norm over all parameters.
#pragma once

#include "nn/module.hpp"

namespace flowtape {

// The global norm ‖g‖ = sqrt(Σ over all parameters and entries of g²) before clipping. If it
// exceeds max_norm, every gradient is scaled by max_norm / ‖g‖, so the new norm is max_norm;
// otherwise nothing changes. ValueError unless max_norm > 0; NonFiniteError naming the parameter
// if a gradient is NaN or infinite (nothing is changed then).
real clip_grad_norm(const ParameterList& params, real max_norm);

}  // namespace flowtape
