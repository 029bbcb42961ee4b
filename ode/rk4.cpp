// Classical RK4: k1 = f(t, z), k2 = f(t + h/2, z + h/2 k1), k3 = f(t + h/2, z + h/2 k2),
// k4 = f(t + h, z + h k3), z ← z + h (k1 + 2 k2 + 2 k3 + k4) / 6.
#include "ode/rk4.hpp"

#include <cmath>
#include <string>

#include "core/error.hpp"
#include "ode/tableau.hpp"

namespace flowtape::ode {

std::size_t Rk4::solve(const Rhs& f, Array& z, real t0, real t1, std::size_t steps) {
    if (steps == 0) throw ValueError("rk4: needs at least one step, got 0");
    if (!std::isfinite(t0) || !std::isfinite(t1))
        throw ValueError("rk4: times must be finite, got t0 = " + std::to_string(t0) + ", t1 = " + std::to_string(t1));
    using namespace tableau;
    const Shape s = shape_of(z);
    for (Array* a : {&k1_, &k2_, &k3_, &k4_, &stage_}) ensure_shape(*a, s);
    const real h = (t1 - t0) / static_cast<real>(steps);
    for (std::size_t n = 0; n < steps; ++n) {
        // t from the step count, not by summing h, so the last step ends at t1 up to rounding.
        const real t = t0 + static_cast<real>(n) * h;
        f(t, z, k1_);
        xt::noalias(stage_) = z + (0.5 * h) * k1_;
        f(t + rk4_c[1] * h, stage_, k2_);
        xt::noalias(stage_) = z + (0.5 * h) * k2_;
        f(t + rk4_c[2] * h, stage_, k3_);
        xt::noalias(stage_) = z + h * k3_;
        f(t + rk4_c[3] * h, stage_, k4_);
        xt::noalias(z) += h * (rk4_b[0] * k1_ + rk4_b[1] * k2_ + rk4_b[2] * k3_ + rk4_b[3] * k4_);
    }
    return 4 * steps;
}

Array rk4(const Rhs& f, const Array& z0, real t0, real t1, std::size_t steps) {
    Array z = z0;
    Rk4 solver;
    solver.solve(f, z, t0, t1, steps);
    return z;
}

}  // namespace flowtape::ode
