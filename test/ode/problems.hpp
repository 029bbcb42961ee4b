// ODEs with closed-form solutions, shared by the solver tests. Each state is N×S with several rows
// (a batch), integrated as one vector.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "flowtape.hpp"

namespace ode_test {

using flowtape::Array;
using flowtape::real;

struct Problem {
    std::string name;
    flowtape::ode::Rhs f;
    std::function<Array(real t)> exact;  // z(t)
};

inline Array initial_state() { return Array{{1.0, -0.5}, {0.3, 2.0}, {-1.2, 0.7}}; }

// A damped rotation A = [[−a, −ω], [ω, −a]] acting on each row: z' = z Aᵀ, z(t) = z0 exp(At)ᵀ with
// exp(At) = e^(−at) [[cos ωt, −sin ωt], [sin ωt, cos ωt]].
inline constexpr real decay = 0.3, omega = 2.0;

inline std::vector<Problem> problems() {
    const Array z0 = initial_state();
    std::vector<Problem> out;
    out.push_back({"constant",
                   [](real, const Array&, Array& dz) {
                       for (std::size_t r = 0; r < dz.shape()[0]; ++r) {
                           dz(r, 0) = 1.5;
                           dz(r, 1) = -0.25 * static_cast<real>(r + 1);
                       }
                   },
                   [z0](real t) {
                       Array z = z0;
                       for (std::size_t r = 0; r < z.shape()[0]; ++r) {
                           z(r, 0) += 1.5 * t;
                           z(r, 1) += -0.25 * static_cast<real>(r + 1) * t;
                       }
                       return z;
                   }});
    out.push_back({"linear",
                   [](real, const Array& z, Array& dz) {
                       for (std::size_t r = 0; r < z.shape()[0]; ++r) {
                           dz(r, 0) = -decay * z(r, 0) - omega * z(r, 1);
                           dz(r, 1) = omega * z(r, 0) - decay * z(r, 1);
                       }
                   },
                   [z0](real t) {
                       const real e = std::exp(-decay * t), c = std::cos(omega * t), s = std::sin(omega * t);
                       Array z = z0;
                       for (std::size_t r = 0; r < z.shape()[0]; ++r) {
                           z(r, 0) = e * (c * z0(r, 0) - s * z0(r, 1));
                           z(r, 1) = e * (s * z0(r, 0) + c * z0(r, 1));
                       }
                       return z;
                   }});
    out.push_back({"cosine", [](real t, const Array&, Array& dz) { dz.fill(std::cos(t)); },
                   [z0](real t) { return Array(z0 + std::sin(t)); }});
    out.push_back({"exponential", [](real, const Array& z, Array& dz) { xt::noalias(dz) = z; },
                   [z0](real t) { return Array(z0 * std::exp(t)); }});
    return out;
}

inline real max_abs_diff(const Array& a, const Array& b) { return xt::amax(xt::abs(a - b))(); }

}  // namespace ode_test
