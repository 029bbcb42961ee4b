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
    for (std::size_t k = 0; k < d; ++k) {
        // Column k of every row is 1: the tangent is J e_k, and its column k is J_kk.
        xt::view(basis, xt::all(), k) = 1.0;
        if (k > 0) xt::view(basis, xt::all(), k - 1) = 0.0;
        const ValueAndTangent step = jvp(tape, z, tape.constant(basis), f);
        const Var diagonal = cols(step.tangent, k, k + 1);
        out.trace = out.trace.valid() ? add(out.trace, diagonal) : diagonal;
        out.value = step.value;
    }
    return out;
}

ValueAndTrace hutchinson_trace(Tape& tape, Var z, const Array& noise, const RowMap& f) {
    if (shape_of(noise) != z.shape())
        throw ShapeError("hutchinson_trace: noise " + shape_string(shape_of(noise)) + " and z " +
                         shape_string(z.shape()) + " differ");
    const Var eps = tape.constant(noise);
    const ValueAndTangent step = jvp(tape, z, eps, f);
    return {step.value, sum(mul(eps, step.tangent), 1)};
}

}  // namespace flowtape
