// Second-order quantities through tangents recorded on the tape (reverse-over-forward).
//
// For a map f: N×D → N×D applied row by row (the dynamics of a continuous flow), the tangent of
// f(z) along a direction v is J v, an ordinary Var; a first-order backward through anything built
// from it gives ∂/∂θ and ∂/∂z of that quantity. So:
//   exact trace      Tr J = Σ_d e_dᵀ J e_d   (D tangent passes, one per basis direction; f itself is
//                                             recorded once, Tape::retangent does the other passes)
//   Hutchinson       εᵀ J ε                  (one pass; E[εᵀJε] = Tr J for E[εεᵀ] = I)
// Both return the value f(z) too, since a solver step needs it. Rows are independent, so the trace
// is per row (N×1). See Note [second derivatives by tangents] in tape.hpp.
#pragma once

#include <functional>

#include "autodiff/ops.hpp"

namespace flowtape {

struct ValueAndTrace {
    Var value;  // f(z), N×D
    Var trace;  // N×1
};

using RowMap = std::function<Var(Var)>;

// Tr(∂f/∂z) per row, exactly, by D tangent passes of f.
ValueAndTrace jacobian_trace(Tape& tape, Var z, const RowMap& f);

// εᵀ (∂f/∂z) ε per row for a noise matrix ε of z's shape (Gaussian or Rademacher).
ValueAndTrace hutchinson_trace(Tape& tape, Var z, const Array& noise, const RowMap& f);

// The directional derivative (J v) of f at z along v, with f(z): one tangent pass.
struct ValueAndTangent {
    Var value;
    Var tangent;
};
ValueAndTangent jvp(Tape& tape, Var z, Var v, const RowMap& f);

}  // namespace flowtape
