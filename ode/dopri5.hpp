// Adaptive Dormand–Prince 5(4): the workhorse explicit solver (MATLAB's ode45, SciPy's RK45,
// torchdiffeq's dopri5).
//
// Each step takes seven stages (six new right-hand side evaluations: the last stage of an accepted
// step is the first of the next, FSAL), advances with the 5th-order solution and estimates the
// local error from the embedded 4th-order one. The error is measured in Hairer's RMS norm,
//     ‖err‖ = sqrt( mean_i (err_i / (atol + rtol · max(|z_i|, |z_new_i|)))² ),
// over the whole state array (all rows and columns are one vector). A step with ‖err‖ ≤ 1 is
// accepted; either way the next step is h · clamp(safety · ‖err‖^(−1/5), min_factor, max_factor)
// (never growing right after a rejection). The first step comes from Hairer's algorithm (HNW I,
// II.4) unless given. Integration backwards (t1 < t0) uses negative steps.
//
// Failures are errors, never hangs or silent NaNs: SolverError when the step count reaches
// max_steps (a stiff problem) or the step falls below the minimum (a singularity), NonFiniteError
// when the right-hand side returns a NaN or an infinity; each message names the time, the step and
// the state. Tableau and equations: ode/tableau.hpp and docs/ode.md.
#pragma once

#include <cstddef>
#include <functional>
#include <limits>

#include "ode/rk4.hpp"

namespace flowtape::ode {

struct OdeOptions {
    real rtol = 1e-6;
    real atol = 1e-8;
    real first_step = 0;  // 0: choose it (Hairer's algorithm)
    // Steps smaller than max(min_step, 16 ε |t|) throw SolverError.
    real min_step = 0;
    real max_step = std::numeric_limits<real>::infinity();
    std::size_t max_steps = 100000;  // accepted plus rejected steps
    real safety = 0.9;
    real min_factor = 0.2;   // the most a step may shrink at once
    real max_factor = 10.0;  // the most it may grow at once
};

// ValueError naming `who` and the field unless the options make sense (tolerances ≥ 0 and not both
// 0, 0 < safety ≤ 1, 0 < min_factor ≤ 1 ≤ max_factor, max_steps > 0, steps ≥ 0).
void check_options(const char* who, const OdeOptions& options);

struct OdeStats {
    std::size_t fevals = 0;    // right-hand side evaluations, including the initial-step probe
    std::size_t accepted = 0;  // accepted steps
    std::size_t rejected = 0;  // rejected steps
    std::size_t steps() const { return accepted + rejected; }
};

// Called after each accepted step with the new time and state.
using StepObserver = std::function<void(real t, const Array& z)>;

class Dopri5 {
public:
    explicit Dopri5(OdeOptions options = {});
    const OdeOptions& options() const { return options_; }

    // Advances z (in place) from t0 to t1 and returns this solve's statistics. The stage buffers are
    // kept, so another solve with the same shapes allocates nothing.
    OdeStats solve(const Rhs& f, Array& z, real t0, real t1, const StepObserver& observer = {});

private:
    real initial_step(const Rhs& f, real t0, real t1, const Array& z, OdeStats& stats);
    real error_norm(const Array& z, const Array& z_new, real h);
    void evaluate(const Rhs& f, real t, const Array& z, Array& dz, real step, OdeStats& stats);

    OdeOptions options_;
    Array k_[7];
    Array stage_, z_new_;
};

// z(t1) from z0 (a convenience over Dopri5::solve); `stats` receives the statistics if given.
Array dopri5(const Rhs& f, const Array& z0, real t0, real t1, const OdeOptions& options = {},
             OdeStats* stats = nullptr);

}  // namespace flowtape::ode
