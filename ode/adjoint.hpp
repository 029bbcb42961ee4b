// Neural-ODE gradients: the adjoint sensitivity method (Chen et al. 2018, Algorithm 1) and, as its
// reference, backpropagation through the solver's steps.
//
// The dynamics f(t, z; θ) are a tape function (`Dynamics`): they record their ops on z's tape and
// read their parameters θ with tape.param(p). Three ways to use them:
//   odeint_forward            z(t1) from z(t0) by Dormand–Prince, no gradient (each evaluation is
//                             recorded in no-grad mode on a scratch tape and rewound);
//   odeint_adjoint_backward   given dL/dz(t1), solves the augmented system [z, a, a_θ, a_t] from t1
//                             back to t0 (see docs/ode.md) for dL/dz0, dL/dθ, dL/dt0 and dL/dt1,
//                             with one vector–Jacobian product per evaluation on the dynamics'
//                             adjoint_tape(), reset each time, so memory does not grow with the
//                             number of steps and a second solve allocates nothing;
//   odeint                    the tape entry point: `OdeMethod::adjoint` records ONE node whose
//                             backward rule runs the adjoint solve; `OdeMethod::backprop` records
//                             every Dormand–Prince stage with ordinary ops (the step sizes are chosen
//                             from values by an untaped solve, then fixed as fractions of t1 − t0).
//
// Note [dynamics with tangents]: a continuous flow's dynamics compute Tr(∂f/∂z) with tangents
// (set_tangent / jvp on the same tape). Both methods record the dynamics on an ordinary tape in
// grad mode and take one first-order sweep through it, so tangents used inside are differentiated
// like any other node (reverse-over-forward).
//
// Note [parameters and tapes]: a Parameter has a leaf on one tape at a time. The adjoint's backward
// sweep records the dynamics on its own tape, so with OdeMethod::adjoint the dynamics' parameters
// must not be in use on the loss's tape (do not read them in the loss outside the dynamics).
#pragma once

#include <vector>

#include "autodiff/ops.hpp"
#include "ode/dopri5.hpp"

namespace flowtape::ode {

// f(t, z; θ).
class Dynamics {
public:
    Dynamics() = default;
    virtual ~Dynamics() = default;
    Dynamics(const Dynamics&) = delete;
    Dynamics& operator=(const Dynamics&) = delete;
    // Records f on z's tape: t is 1×1, z is N×S, the result N×S. Parameters through tape.param(p).
    virtual Var operator()(Var t, Var z) = 0;
    // θ: every parameter the dynamics read (the adjoint writes a gradient for each).
    virtual std::vector<Parameter*> parameters() = 0;

    // The tape the adjoint's backward solves record their vector–Jacobian products on: kept with the
    // dynamics from one solve to the next and reset, not re-created, so that a warm backward solve
    // allocates (and page-faults) nothing. Reset after each solve, so it binds no parameter between
    // solves.
    Tape& adjoint_tape() { return adjoint_tape_; }

private:
    Tape adjoint_tape_;
};

// The dynamics as a plain right-hand side: each call records f on `tape` in no-grad mode from a
// mark and rewinds to it, so the tape does not grow. Keeps references to both.
Rhs dynamics_rhs(Dynamics& dynamics, Tape& tape);

// z(t1) by Dormand–Prince. `tape` is the scratch tape for the evaluations (a local one if null);
// `observer` sees each accepted step.
Array odeint_forward(Dynamics& dynamics, const Array& z0, real t0, real t1, const OdeOptions& options = {},
                     OdeStats* stats = nullptr, Tape* tape = nullptr, const StepObserver& observer = {});

struct AdjointResult {
    Array grad_z0;     // dL/dz(t0), N×S
    real grad_t0 = 0;  // dL/dt0
    real grad_t1 = 0;  // dL/dt1
    Array z0;          // z(t0) as reconstructed by the backward solve (a check of its accuracy)
    OdeStats stats;    // of the backward solve
};

// The adjoint method from z1 = z(t1) and grad_z1 = dL/dz(t1). dL/dθ is *added* into each parameter's
// grad (as a backward sweep does). The parameters must not have a leaf on another tape.
AdjointResult odeint_adjoint_backward(Dynamics& dynamics, const Array& z1, const Array& grad_z1, real t0, real t1,
                                      const OdeOptions& options = {});

enum class OdeMethod { adjoint, backprop };

// Evaluation counts of a taped solve; the backward one is filled when the tape's backward runs.
struct OdeCounters {
    OdeStats forward;
    OdeStats backward;
};

// z(t1) on z0's tape; t0 and t1 are 1×1 Vars (gradients flow to them) or plain numbers. With the
// adjoint method the node keeps pointers to `dynamics` and `counters`: both must outlive the
// tape's backward.
Var odeint(Dynamics& dynamics, Var z0, Var t0, Var t1, const OdeOptions& options = {},
           OdeMethod method = OdeMethod::adjoint, OdeCounters* counters = nullptr);
Var odeint(Dynamics& dynamics, Var z0, real t0, real t1, const OdeOptions& options = {},
           OdeMethod method = OdeMethod::adjoint, OdeCounters* counters = nullptr);

}  // namespace flowtape::ode
