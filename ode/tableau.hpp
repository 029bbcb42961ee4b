// Butcher tableaus of the explicit Runge–Kutta methods in ode/ (internal to the solvers).
//
// A tableau is data: the solvers (rk4.cpp, dopri5.cpp) and the tape replay of Dormand–Prince for
// backpropagation through the solver (adjoint.cpp) read the same coefficients, so the values and the
// recorded steps cannot drift apart. See docs/ode.md for the tables written out.
#pragma once

#include "core/types.hpp"

namespace flowtape::ode::tableau {

// Classical RK4: c = (0, 1/2, 1/2, 1), a = diag(1/2, 1/2, 1), b = (1/6, 1/3, 1/3, 1/6).
inline constexpr real rk4_c[4] = {0.0, 0.5, 0.5, 1.0};
inline constexpr real rk4_b[4] = {1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6};

// Dormand–Prince 5(4) (Dormand & Prince 1980; Hairer, Nørsett & Wanner, Table II.5.2). Seven stages;
// the 5th-order weights b equal the last row of a (c7 = 1), so the seventh stage is the first of the
// next step (FSAL). `e` is b − b̂, the 5th- minus the 4th-order weights: the local error estimate is
// h Σ e_i k_i.
inline constexpr int dopri5_stages = 7;
inline constexpr real dopri5_c[7] = {0.0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1.0, 1.0};
inline constexpr real dopri5_a[7][6] = {
    {0, 0, 0, 0, 0, 0},
    {1.0 / 5, 0, 0, 0, 0, 0},
    {3.0 / 40, 9.0 / 40, 0, 0, 0, 0},
    {44.0 / 45, -56.0 / 15, 32.0 / 9, 0, 0, 0},
    {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729, 0, 0},
    {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656, 0},
    {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84},
};
inline constexpr real dopri5_b[7] = {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84, 0};
inline constexpr real dopri5_e[7] = {71.0 / 57600,      0,          -71.0 / 16695, 71.0 / 1920,
                                     -17253.0 / 339200, 22.0 / 525, -1.0 / 40};

}  // namespace flowtape::ode::tableau
