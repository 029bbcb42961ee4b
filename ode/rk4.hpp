// Fixed-step classical Runge–Kutta of order 4.
//
// The state is one Array (N×S: rows are a batch, but the solver sees one state vector); the
// right-hand side writes dz/dt into a buffer it is given. An Rk4 object keeps its four stage buffers
// and a scratch state, so solving again with the same shapes allocates nothing. RK4 has no error
// control: it is the simple reference (and the convergence-order test) next to Dormand–Prince.
#pragma once

#include <cstddef>
#include <functional>

#include "core/types.hpp"

namespace flowtape::ode {

// dz/dt = f(t, z): writes f(t, z) into dz (already of z's shape).
using Rhs = std::function<void(real t, const Array& z, Array& dz)>;

class Rk4 {
public:
    // Advances z (in place) from t0 to t1 in `steps` equal steps of h = (t1 − t0) / steps; t1 < t0
    // integrates backwards. ValueError if steps is 0 or a time is not finite. Returns the number of
    // right-hand side evaluations (4 per step).
    std::size_t solve(const Rhs& f, Array& z, real t0, real t1, std::size_t steps);

private:
    Array k1_, k2_, k3_, k4_, stage_;
};

// z(t1) from z0 by `steps` RK4 steps (a convenience over Rk4::solve).
Array rk4(const Rhs& f, const Array& z0, real t0, real t1, std::size_t steps);

}  // namespace flowtape::ode
