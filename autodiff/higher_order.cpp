#include "autodiff/higher_order.hpp"

namespace flowtape {

ValueAndTangent jvp(Tape& tape, Var z, Var v, const RowMap& f) {
    tape.set_tangent(z, v);
    ValueAndTangent out;
    try {
        out.value = f(z);
    } catch (...) {
        tape.clear_tangents();
        throw;
    }
    out.tangent = tape.tangent(out.value);
    tape.clear_tangents();
    return out;
}

ValueAndTrace jacobian_trace(Tape& tape, Var z, const RowMap& f) {
    const std::size_t n = z.rows(), d = z.cols();
    if (d == 0) throw ValueError("jacobian_trace: z has no columns");
    ValueAndTrace out;
    Array basis = xt::zeros<real>({n, d});
    // f is recorded once, with the first direction; the others retangent the recorded ops (the
    // values of f are the same for every direction, only the tangents differ).
    const Mark start = tape.mark();
    for (std::size_t k = 0; k < d; ++k) {
        // Column k of every row is 1: the tangent is J e_k, and its column k is J_kk.
        xt::view(basis, xt::all(), k) = 1.0;
        if (k > 0) xt::view(basis, xt::all(), k - 1) = 0.0;
        const Var direction = tape.constant(basis);
        if (k == 0) out.value = jvp(tape, z, direction, f).value;
        else tape.retangent(start, z, direction);
        const Var diagonal = cols(tape.tangent(out.value), k, k + 1);
        out.trace = out.trace.valid() ? add(out.trace, diagonal) : diagonal;
    }
    return out;
}

ValueAndTrace hutchinson_trace(Tape& tape, Var z, const Array& noise, const RowMap& f) {
    if (shape_of(noise) != z.shape())
        throw ShapeError("hutchinson_trace: noise " + shape_string(shape_of(noise)) + " and z " +
                         shape_string(z.shape()) + " differ");
    const Var eps = tape.constant(noise);
    const ValueAndTangent step = jvp(tape, z, eps, f);
    return {step.value, dot_rows(eps, step.tangent)};
}

}  // namespace flowtape
