// Reductions along an axis: sum, mean, logsumexp, and the softmax family that normalises along
// one. Axis 0 reduces over rows (N×D → 1×D), axis 1 over columns (N×D → N×1); sum and mean can
// also reduce every element (→ 1×1).
//
// The loops run over the raw buffers: each reduction visits a set of "lines" (the rows for axis 1,
// the columns for axis 0), so one loop body serves both axes. Backward rules of logsumexp and the
// softmaxes recompute the exponentials they need from the stored output instead of saving an array.
//
// Note [logsumexp of non-finite rows]: log Σ exp(x) is computed as m + log Σ exp(x − m) with m the
// line's maximum, so no exponential overflows and finite input never gives NaN. When m is not
// finite the shift is skipped: a line of −∞ gives −∞ (log 0) with a zero gradient, a line holding
// +∞ gives +∞, and a NaN anywhere in the line gives NaN. Softmax of a line of −∞ is 0/0 = NaN, as
// it has no meaning; anomaly mode reports it.
#include <cmath>
#include <limits>

#include "autodiff/op_support.hpp"

namespace flowtape {

namespace {

constexpr int kAll = -1;  // node.axis of sum(x) and mean(x), which reduce every element

Shape reduced_shape(Shape s, int axis) {
    if (axis == kAll) return {1, 1};
    return axis == 0 ? Shape{1, s[1]} : Shape{s[0], 1};
}

std::size_t axis_length(Shape s, int axis) { return axis == kAll ? s[0] * s[1] : s[axis]; }

// ValueError "<op>: axis 1 of 3×0 is empty" for ops that need at least one element per line.
void require_nonempty_axis(const char* op, Shape s, int axis) {
    if (axis_length(s, axis) == 0)
        throw ValueError(std::string(op) + ": axis " + std::to_string(axis) + " of " + shape_string(s) +
                         " is empty (needs at least one element to reduce)");
}

// The lines a reduction along `axis` runs over: line l, element k sits at data()[l·stride + k·step],
// and the reduced output of line l at data()[l].
struct Lines {
    std::size_t count, length, stride, step;
};
Lines lines_of(Shape s, int axis) { return axis == 1 ? Lines{s[0], s[1], s[1], 1} : Lines{s[1], s[0], 1, s[1]}; }

// y = scale · Σ x over `axis` (kAll, 0 or 1); y has the reduced shape.
void sum_into(Array& y, const Array& x, int axis, real scale) {
    const std::size_t rows = x.shape()[0], cols = x.shape()[1];
    const real* in = x.data();
    real* out = y.data();
    if (axis == kAll) {
        real s = 0;
        for (std::size_t k = 0; k < x.size(); ++k) s += in[k];
        out[0] = scale * s;
    } else if (axis == 1) {
        for (std::size_t r = 0; r < rows; ++r) {
            real s = 0;
            for (std::size_t c = 0; c < cols; ++c) s += in[r * cols + c];
            out[r] = scale * s;
        }
    } else {  // row by row, so that the reads stay contiguous
        std::fill_n(out, cols, 0.0);
        for (std::size_t r = 0; r < rows; ++r)
            for (std::size_t c = 0; c < cols; ++c) out[c] += in[r * cols + c];
        for (std::size_t c = 0; c < cols; ++c) out[c] *= scale;
    }
}

// Input i's gradient += scale · g, with g of a reduced shape (1×1, 1×D or N×1) broadcast back to
// the input's shape.
void accumulate_broadcast(Tape& t, std::uint32_t i, const Array& g, real scale) {
    real beta = 0;
    Array* dst = t.grad_for_write(i, beta);
    if (!dst) return;
    const std::size_t rows = dst->shape()[0], cols = dst->shape()[1];
    const bool one_row = g.shape()[0] == 1, one_col = g.shape()[1] == 1;
    real* out = dst->data();
    for (std::size_t r = 0; r < rows; ++r) {
        const real* grow = g.data() + (one_row ? 0 : r * g.shape()[1]);
        real* orow = out + r * cols;
        for (std::size_t c = 0; c < cols; ++c) {
            const real v = scale * grow[one_col ? 0 : c];
            orow[c] = beta == 0 ? v : orow[c] + v;
        }
    }
}

// The shift that keeps exp(x − shift) from overflowing: the maximum when it is finite, else 0
// (see Note [logsumexp of non-finite rows]).
real line_shift(const real* x, std::size_t length, std::size_t step) {
    real m = -std::numeric_limits<real>::infinity();
    for (std::size_t k = 0; k < length; ++k) m = std::max(m, x[k * step]);
    return std::isfinite(m) ? m : 0.0;
}

void require_temperature(const char* op, real temperature) {
    if (!(temperature > 0) || !std::isfinite(temperature))
        throw ValueError(std::string(op) + ": the temperature must be positive and finite, got " +
                         std::to_string(temperature));
}

}  // namespace

// ---- sum: y = Σ x, over every element (axis kAll) or along an axis ----
// mean shares the rule: node.s0 holds the scale (1 for sum, 1/length for mean).
static void sum_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    accumulate_broadcast(t, n.inputs[0], n.grad, n.s0);
}
static Var sum_tangent(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    const Var tx = t.tangent_or_none(n.inputs[0]);
    return n.axis == kAll ? sum(tx) : sum(tx, n.axis);
}
static Var reduce_sum(const char* op, Var x, int axis, real scale, TangentFn tangent) {
    Tape& t = x.tape();
    const std::uint32_t i = t.push(op, sum_backward, {x}, reduced_shape(x.shape(), axis));
    Node& n = t.node(i);
    n.axis = axis;
    n.s0 = scale;
    sum_into(n.value, x.value(), axis, scale);
    return t.finish(i, tangent);
}
Var sum(Var x) { return reduce_sum("sum", x, kAll, 1.0, sum_tangent); }
Var sum(Var x, int axis) {
    detail::require_axis("sum", axis);
    return reduce_sum("sum", x, axis, 1.0, sum_tangent);
}

// ---- dot_rows: y_n = Σ_j a_nj b_nj, N×D, N×D → N×1 ----
// The same as sum(mul(a, b), 1) without the N×D product: a CNF's closed-form trace and Hutchinson's
// εᵀ(Jε) take it at every function evaluation, where that product and its broadcast gradient were
// two more passes over an N×H array each way.
static void dot_rows_backward(Tape& t, std::uint32_t self) {
    // ∂a = g ⊙ b, ∂b = g ⊙ a, g (N×1) broadcast along each row.
    const Node& n = t.node(self);
    const Array& a = t.node(n.inputs[0]).value;
    const Array& b = t.node(n.inputs[1]).value;
    const std::size_t rows = a.shape()[0], cols = a.shape()[1];
    for (int k = 0; k < 2; ++k) {
        real beta = 0;
        Array* dst = t.grad_for_write(n.inputs[k], beta);
        if (!dst) continue;
        const real* other = (k == 0 ? b : a).data();
        real* out = dst->data();
        for (std::size_t r = 0; r < rows; ++r) {
            const real g = n.grad.data()[r];
            if (beta == 0)
                for (std::size_t c = 0; c < cols; ++c) out[r * cols + c] = g * other[r * cols + c];
            else
                for (std::size_t c = 0; c < cols; ++c) out[r * cols + c] += g * other[r * cols + c];
        }
    }
}
static Var dot_rows_tangent(Tape& t, std::uint32_t self) {
    // ẏ = dot_rows(ȧ, b) + dot_rows(a, ḃ)
    const Node& n = t.node(self);
    const Var ta = t.tangent_or_none(n.inputs[0]), tb = t.tangent_or_none(n.inputs[1]);
    detail::TangentSum s;
    if (ta.valid()) s.add(dot_rows(ta, t.var(n.inputs[1])));
    if (tb.valid()) s.add(dot_rows(t.var(n.inputs[0]), tb));
    return s.get();
}
Var dot_rows(Var a, Var b) {
    detail::require_same_shape("dot_rows", a.shape(), b.shape());
    Tape& t = a.tape();
    const std::uint32_t i = t.push("dot_rows", dot_rows_backward, {a, b}, {a.rows(), 1});
    const std::size_t rows = a.rows(), cols = a.cols();
    const real* x = a.value().data();
    const real* y = b.value().data();
    real* out = t.node(i).value.data();
    // Eight running sums per row, added pairwise at the end: the compiler vectorises that (one sum
    // would be a chain of dependent additions, which it may not reorder), and the order is fixed, so
    // the result does not depend on the machine.
    constexpr std::size_t kLanes = 8;
    for (std::size_t r = 0; r < rows; ++r) {
        const real* xr = x + r * cols;
        const real* yr = y + r * cols;
        real lane[kLanes] = {};
        std::size_t c = 0;
        for (; c + kLanes <= cols; c += kLanes)
            for (std::size_t l = 0; l < kLanes; ++l) lane[l] += xr[c + l] * yr[c + l];
        for (std::size_t l = 0; c < cols; ++c, ++l) lane[l] += xr[c] * yr[c];
        for (std::size_t width = kLanes / 2; width > 0; width /= 2)
            for (std::size_t l = 0; l < width; ++l) lane[l] += lane[l + width];
        out[r] = lane[0];
    }
    return t.finish(i, dot_rows_tangent);
}

// ---- mean: y = Σ x / n ----
static Var mean_tangent(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    const Var tx = t.tangent_or_none(n.inputs[0]);
    return n.axis == kAll ? mean(tx) : mean(tx, n.axis);
}
Var mean(Var x) {
    detail::require_nonempty("mean", x.shape());
    return reduce_sum("mean", x, kAll, 1.0 / static_cast<real>(x.value().size()), mean_tangent);
}
Var mean(Var x, int axis) {
    detail::require_axis("mean", axis);
    require_nonempty_axis("mean", x.shape(), axis);
    return reduce_sum("mean", x, axis, 1.0 / static_cast<real>(axis_length(x.shape(), axis)), mean_tangent);
}

// ---- logsumexp: y = log Σ exp x along an axis (no tangent rule) ----
// Note [negligible softmax weights]. A line's softmax weight exp(x − y) below e^−690 (≈ 3·10⁻³⁰⁰)
// is taken as exactly 0 in logsumexp's gradient. Such weights arise in mixtures whose components
// differ by hundreds of nats, and left as they are they make the gradients flowing into those
// components subnormal numbers, on which every multiplication (gemm included) runs several times
// slower: measured on the mixtures-of-flows paper's MNIST model, the backward sweep took 2.6 s per
// step with zeros and 4–17 s in the early steps without. A term that small changes no sum it joins
// (the line's weights add to 1, and 10⁻³⁰⁰ is far below a double's 10⁻¹⁶ resolution of 1).
constexpr real kNegligibleLogWeight = -690;

static void logsumexp_backward(Tape& t, std::uint32_t self) {
    // ∂x = g ⊙ exp(x − y) = g ⊙ softmax(x); zero on a line of −∞ (where y = −∞), and for weights
    // below e^−690 (Note [negligible softmax weights]).
    const Node& n = t.node(self);
    real beta = 0;
    Array* dst = t.grad_for_write(n.inputs[0], beta);
    if (!dst) return;
    const Array& x = t.node(n.inputs[0]).value;
    const Lines L = lines_of(shape_of(x), n.axis);
    for (std::size_t l = 0; l < L.count; ++l) {
        const real y = n.value.data()[l], g = n.grad.data()[l];
        const bool empty_mass = y == -std::numeric_limits<real>::infinity();
        const real* in = x.data() + l * L.stride;
        real* out = dst->data() + l * L.stride;
        for (std::size_t k = 0; k < L.length; ++k) {
            const real d = in[k * L.step] - y;
            const real v = empty_mass || d < kNegligibleLogWeight ? 0.0 : g * std::exp(d);
            out[k * L.step] = beta == 0 ? v : out[k * L.step] + v;
        }
    }
}
Var logsumexp(Var x, int axis) {
    detail::require_axis("logsumexp", axis);
    require_nonempty_axis("logsumexp", x.shape(), axis);
    Tape& t = x.tape();
    const std::uint32_t i = t.push("logsumexp", logsumexp_backward, {x}, reduced_shape(x.shape(), axis));
    Node& n = t.node(i);
    n.axis = axis;
    const Lines L = lines_of(x.shape(), axis);
    for (std::size_t l = 0; l < L.count; ++l) {
        const real* in = x.value().data() + l * L.stride;
        const real shift = line_shift(in, L.length, L.step);
        real s = 0;
        for (std::size_t k = 0; k < L.length; ++k) s += std::exp(in[k * L.step] - shift);
        n.value.data()[l] = shift + std::log(s);
    }
    return t.finish(i, nullptr);
}

// ---- softmax: y = exp(x/T) / Σ exp(x/T) along an axis, T = node.s0 (no tangent rule) ----
static void softmax_backward(Tape& t, std::uint32_t self) {
    // ∂x = (1/T) y ⊙ (g − Σ g ⊙ y), the sum along the line.
    const Node& n = t.node(self);
    real beta = 0;
    Array* dst = t.grad_for_write(n.inputs[0], beta);
    if (!dst) return;
    const real inv_t = 1.0 / n.s0;
    const Lines L = lines_of(shape_of(n.value), n.axis);
    for (std::size_t l = 0; l < L.count; ++l) {
        const real* y = n.value.data() + l * L.stride;
        const real* g = n.grad.data() + l * L.stride;
        real* out = dst->data() + l * L.stride;
        real gy = 0;
        for (std::size_t k = 0; k < L.length; ++k) gy += g[k * L.step] * y[k * L.step];
        for (std::size_t k = 0; k < L.length; ++k) {
            const std::size_t e = k * L.step;
            const real v = inv_t * y[e] * (g[e] - gy);
            out[e] = beta == 0 ? v : out[e] + v;
        }
    }
}
Var softmax(Var x, int axis, real temperature) {
    detail::require_axis("softmax", axis);
    require_nonempty_axis("softmax", x.shape(), axis);
    require_temperature("softmax", temperature);
    Tape& t = x.tape();
    const std::uint32_t i = t.push("softmax", softmax_backward, {x}, x.shape());
    Node& n = t.node(i);
    n.axis = axis;
    n.s0 = temperature;
    const real inv_t = 1.0 / temperature;
    const Lines L = lines_of(x.shape(), axis);
    for (std::size_t l = 0; l < L.count; ++l) {
        const real* in = x.value().data() + l * L.stride;
        real* out = n.value.data() + l * L.stride;
        const real shift = line_shift(in, L.length, L.step);
        real s = 0;
        for (std::size_t k = 0; k < L.length; ++k) {
            out[k * L.step] = std::exp((in[k * L.step] - shift) * inv_t);
            s += out[k * L.step];
        }
        const real inv_s = 1.0 / s;
        for (std::size_t k = 0; k < L.length; ++k) out[k * L.step] *= inv_s;
    }
    return t.finish(i, nullptr);
}

// ---- log_softmax: y = x/T − log Σ exp(x/T) along an axis, T = node.s0 (no tangent rule) ----
static void log_softmax_backward(Tape& t, std::uint32_t self) {
    // ∂x = (1/T) (g − exp(y) Σ g), the sum along the line; exp(y) is the softmax.
    const Node& n = t.node(self);
    real beta = 0;
    Array* dst = t.grad_for_write(n.inputs[0], beta);
    if (!dst) return;
    const real inv_t = 1.0 / n.s0;
    const Lines L = lines_of(shape_of(n.value), n.axis);
    for (std::size_t l = 0; l < L.count; ++l) {
        const real* y = n.value.data() + l * L.stride;
        const real* g = n.grad.data() + l * L.stride;
        real* out = dst->data() + l * L.stride;
        real gs = 0;
        for (std::size_t k = 0; k < L.length; ++k) gs += g[k * L.step];
        for (std::size_t k = 0; k < L.length; ++k) {
            const std::size_t e = k * L.step;
            const real v = inv_t * (g[e] - std::exp(y[e]) * gs);
            out[e] = beta == 0 ? v : out[e] + v;
        }
    }
}
Var log_softmax(Var x, int axis, real temperature) {
    detail::require_axis("log_softmax", axis);
    require_nonempty_axis("log_softmax", x.shape(), axis);
    require_temperature("log_softmax", temperature);
    Tape& t = x.tape();
    const std::uint32_t i = t.push("log_softmax", log_softmax_backward, {x}, x.shape());
    Node& n = t.node(i);
    n.axis = axis;
    n.s0 = temperature;
    const real inv_t = 1.0 / temperature;
    const Lines L = lines_of(x.shape(), axis);
    for (std::size_t l = 0; l < L.count; ++l) {
        const real* in = x.value().data() + l * L.stride;
        real* out = n.value.data() + l * L.stride;
        const real shift = line_shift(in, L.length, L.step);
        // out = (x − shift)/T first, then subtract the line's log Σ exp of it.
        real s = 0;
        for (std::size_t k = 0; k < L.length; ++k) {
            out[k * L.step] = (in[k * L.step] - shift) * inv_t;
            s += std::exp(out[k * L.step]);
        }
        const real log_s = std::log(s);
        for (std::size_t k = 0; k < L.length; ++k) out[k * L.step] -= log_s;
    }
    return t.finish(i, nullptr);
}

}  // namespace flowtape
