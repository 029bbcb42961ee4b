// Ops that move values without computing new ones: column and row slices, concatenation,
// reshape, gather, where and stop_gradient, and the (non-differentiable) bin search used by
// splines. Every index and shape is checked before anything is written; a bad one throws
// ShapeError (shapes that do not fit) or ValueError (an index value out of range) naming the op.
//
// Backward rules scatter the output gradient back to where each value came from. A slice's input
// gets zeros outside the slice, so those rules first make the input's gradient live (zero-filled
// if nothing was there yet) and then add into the part that was read.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "autodiff/op_support.hpp"

namespace flowtape {

namespace {

// Input i's gradient, ready for `+=`: zero-filled if it holds nothing yet this sweep. Null when
// the input needs no gradient.
Array* grad_to_add(Tape& t, std::uint32_t i) {
    real beta = 0;
    Array* g = t.grad_for_write(i, beta);
    if (g && beta == 0) g->fill(0);
    return g;
}

// dst[k] (+)= src[k] for k < n: overwrite when beta is 0 (the buffer holds stale memory), add when 1.
void copy_or_add(real* dst, const real* src, std::size_t n, real beta) {
    if (beta == 0) std::copy_n(src, n, dst);
    else
        for (std::size_t k = 0; k < n; ++k) dst[k] += src[k];
}

// A zero constant of shape s, the tangent of a part that carries none.
Var zeros(Tape& t, Shape s) {
    const std::uint32_t i = t.push("constant", nullptr, {}, s);
    t.node(i).value.fill(0);
    return t.finish(i, nullptr);
}

Var tangent_or_zeros(Tape& t, std::uint32_t input) {
    const Var v = t.tangent_or_none(input);
    return v.valid() ? v : zeros(t, shape_of(t.node(input).value));
}

std::string range_string(std::size_t begin, std::size_t end) {
    return "[" + std::to_string(begin) + ", " + std::to_string(end) + ")";
}

}  // namespace

// ---- cols: y = x[:, begin:end], begin in node.s0 ----
static void cols_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    Array* g = grad_to_add(t, n.inputs[0]);
    if (!g) return;
    const std::size_t begin = static_cast<std::size_t>(n.s0), width = n.value.shape()[1];
    const std::size_t rows = g->shape()[0], cols = g->shape()[1];
    for (std::size_t r = 0; r < rows; ++r) copy_or_add(g->data() + r * cols + begin, n.grad.data() + r * width, width, 1.0);
}
static Var cols_tangent(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    const std::size_t begin = static_cast<std::size_t>(n.s0);
    return cols(t.tangent_or_none(n.inputs[0]), begin, begin + n.value.shape()[1]);
}
Var cols(Var x, std::size_t begin, std::size_t end) {
    if (begin > end || end > x.cols())
        throw ShapeError("cols: range " + range_string(begin, end) + " does not fit " + shape_string(x.shape()) +
                         " (needs begin <= end <= " + std::to_string(x.cols()) + ")");
    Tape& t = x.tape();
    const std::uint32_t i = t.push("cols", cols_backward, {x}, {x.rows(), end - begin});
    Node& n = t.node(i);
    n.s0 = static_cast<real>(begin);
    const std::size_t width = end - begin, cols = x.cols();
    for (std::size_t r = 0; r < x.rows(); ++r)
        std::copy_n(x.value().data() + r * cols + begin, width, n.value.data() + r * width);
    return t.finish(i, cols_tangent);
}

// ---- rows: y = x[begin:end, :], begin in node.s0 ----
static void rows_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    Array* g = grad_to_add(t, n.inputs[0]);
    if (!g) return;
    const std::size_t begin = static_cast<std::size_t>(n.s0), cols = g->shape()[1];
    copy_or_add(g->data() + begin * cols, n.grad.data(), n.grad.size(), 1.0);
}
static Var rows_tangent(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    const std::size_t begin = static_cast<std::size_t>(n.s0);
    return rows(t.tangent_or_none(n.inputs[0]), begin, begin + n.value.shape()[0]);
}
Var rows(Var x, std::size_t begin, std::size_t end) {
    if (begin > end || end > x.rows())
        throw ShapeError("rows: range " + range_string(begin, end) + " does not fit " + shape_string(x.shape()) +
                         " (needs begin <= end <= " + std::to_string(x.rows()) + ")");
    Tape& t = x.tape();
    const std::uint32_t i = t.push("rows", rows_backward, {x}, {end - begin, x.cols()});
    Node& n = t.node(i);
    n.s0 = static_cast<real>(begin);
    std::copy_n(x.value().data() + begin * x.cols(), n.value.size(), n.value.data());
    return t.finish(i, rows_tangent);
}

// ---- concat: parts side by side (axis 1) or stacked (axis 0) ----
// Along axis 0 each part is one contiguous block of the output; along axis 1 each part fills a
// band of columns in every row.
static void concat_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    const std::size_t out_cols = n.value.shape()[1];
    std::size_t offset = 0;  // first row (axis 0) or column (axis 1) of the current part
    for (std::size_t k = 0; k < n.arity(); ++k) {
        const std::uint32_t part = n.input(k);
        const std::size_t rows = t.node(part).value.shape()[0], cols = t.node(part).value.shape()[1];
        real beta = 0;
        if (Array* g = t.grad_for_write(part, beta)) {
            if (n.axis == 0) {
                copy_or_add(g->data(), n.grad.data() + offset * out_cols, rows * cols, beta);
            } else {
                for (std::size_t r = 0; r < rows; ++r)
                    copy_or_add(g->data() + r * cols, n.grad.data() + r * out_cols + offset, cols, beta);
            }
        }
        offset += n.axis == 0 ? rows : cols;
    }
}
static Var concat_tangent(Tape& t, std::uint32_t self) {
    // The tangent of a concatenation is the concatenation of the parts' tangents (zero where a
    // part carries none).
    std::vector<Var> parts;
    const std::size_t count = t.node(self).arity();
    parts.reserve(count);
    for (std::size_t k = 0; k < count; ++k) parts.push_back(tangent_or_zeros(t, t.node(self).input(k)));
    return concat(parts, t.node(self).axis);
}
Var concat(const std::vector<Var>& parts, int axis) {
    detail::require_axis("concat", axis);
    if (parts.empty()) throw ValueError("concat: needs at least one part");
    Tape& t = parts[0].tape();
    // The kept dimension must agree; the concatenated one adds up.
    const int kept = 1 - axis;
    Shape out = parts[0].shape();
    out[axis] = 0;
    for (std::size_t k = 0; k < parts.size(); ++k) {
        const Shape s = parts[k].shape();
        if (s[kept] != out[kept])
            throw ShapeError("concat: along axis " + std::to_string(axis) + " every part needs " +
                             std::to_string(out[kept]) + (axis == 0 ? " columns" : " rows") + ", but part 0 is " +
                             shape_string(parts[0].shape()) + " and part " + std::to_string(k) + " is " +
                             shape_string(s));
        out[axis] += s[axis];
    }
    const std::uint32_t i = t.push("concat", concat_backward, parts, out);
    Node& n = t.node(i);
    n.axis = axis;
    std::size_t offset = 0;
    for (const Var& p : parts) {
        const Array& v = p.value();
        const std::size_t rows = v.shape()[0], cols = v.shape()[1];
        if (axis == 0) {
            std::copy_n(v.data(), v.size(), n.value.data() + offset * out[1]);
            offset += rows;
        } else {
            for (std::size_t r = 0; r < rows; ++r)
                std::copy_n(v.data() + r * cols, cols, n.value.data() + r * out[1] + offset);
            offset += cols;
        }
    }
    return t.finish(i, concat_tangent);
}

// ---- reshape: the same elements in row-major order, another shape ----
static void reshape_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    real beta = 0;
    if (Array* g = t.grad_for_write(n.inputs[0], beta)) copy_or_add(g->data(), n.grad.data(), n.grad.size(), beta);
}
static Var reshape_tangent(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    return reshape(t.tangent_or_none(n.inputs[0]), n.value.shape()[0], n.value.shape()[1]);
}
Var reshape(Var x, std::size_t rows, std::size_t cols) {
    if (rows * cols != x.value().size())
        throw ShapeError("reshape: cannot reshape " + shape_string(x.shape()) + " (" + std::to_string(x.value().size()) +
                         " elements) to " + shape_string({rows, cols}) + " (" + std::to_string(rows * cols) +
                         " elements)");
    Tape& t = x.tape();
    const std::uint32_t i = t.push("reshape", reshape_backward, {x}, {rows, cols});
    std::copy_n(x.value().data(), x.value().size(), t.node(i).value.data());
    return t.finish(i, reshape_tangent);
}

// ---- gather: axis 1: y(n, j) = x(n, index(n, j)); axis 0: y(i, m) = x(index(i, m), m) ----
// The index is copied into node.index; the backward rule scatters with += so that repeated
// indices add up. No tangent rule.
static void gather_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    Array* g = grad_to_add(t, n.inputs[0]);
    if (!g) return;
    const std::size_t rows = n.value.shape()[0], cols = n.value.shape()[1];
    for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t c = 0; c < cols; ++c) {
            const std::size_t k = static_cast<std::size_t>(n.index(r, c));
            if (n.axis == 1) (*g)(r, k) += n.grad(r, c);
            else (*g)(k, c) += n.grad(r, c);
        }
    }
}
Var take_rows(Var x, const std::vector<std::size_t>& rows) {
    IndexArray index = xt::zeros<std::int64_t>({rows.size(), x.cols()});
    for (std::size_t r = 0; r < rows.size(); ++r)
        for (std::size_t c = 0; c < x.cols(); ++c) index(r, c) = static_cast<std::int64_t>(rows[r]);
    return gather(x, index, 0);
}

Var gather(Var x, const IndexArray& index, int axis) {
    detail::require_axis("gather", axis);
    const Shape xs = x.shape();
    const std::size_t index_rows = index.shape()[0], index_cols = index.shape()[1];
    // The dimension that is not indexed must match x's.
    const int other = 1 - axis;
    const std::size_t index_other = other == 0 ? index_rows : index_cols;
    if (index_other != xs[other])
        throw ShapeError("gather: index " + shape_string({index_rows, index_cols}) + " does not fit x " +
                         shape_string(xs) + " along axis " + std::to_string(axis) + " (needs " +
                         std::to_string(xs[other]) + (other == 0 ? " rows)" : " columns)"));
    for (std::size_t r = 0; r < index_rows; ++r) {
        for (std::size_t c = 0; c < index_cols; ++c) {
            const std::int64_t k = index(r, c);
            if (k < 0 || static_cast<std::size_t>(k) >= xs[axis])
                throw ValueError("gather: index " + std::to_string(k) + " at (" + std::to_string(r) + ", " +
                                 std::to_string(c) + ") is out of range for axis " + std::to_string(axis) + " of x " +
                                 shape_string(xs));
        }
    }
    Tape& t = x.tape();
    const std::uint32_t i = t.push("gather", gather_backward, {x}, {index_rows, index_cols});
    IndexArray& saved_index = t.index(i, index_rows, index_cols);
    std::copy_n(index.data(), index.size(), saved_index.data());
    Node& n = t.node(i);
    n.axis = axis;
    const Array& xv = x.value();
    for (std::size_t r = 0; r < index_rows; ++r) {
        for (std::size_t c = 0; c < index_cols; ++c) {
            const std::size_t k = static_cast<std::size_t>(index(r, c));
            n.value(r, c) = axis == 1 ? xv(r, k) : xv(k, c);
        }
    }
    return t.finish(i, nullptr);
}

// ---- where: y = mask ? a : b, the mask kept in node.saved as 1/0 ----
static Var select_by_reals(const Array& mask01, Var a, Var b);
static void select_backward(Tape& t, std::uint32_t self) {
    // ∂a = g where the mask holds, ∂b = g elsewhere. Plain loops: an xt::where expression is several
    // times slower on training-sized arrays.
    const Node& n = t.node(self);
    const real* g = n.grad.data();
    const real* mask = n.saved.data();
    for (int side = 0; side < 2; ++side) {
        real beta = 0;
        Array* dst = t.grad_for_write(n.inputs[side], beta);
        if (!dst) continue;
        const bool keep_where = side == 0;  // a takes the masked entries, b the others
        real* out = dst->data();
        if (beta == 0) std::fill_n(out, n.grad.size(), 0.0);
        for (std::size_t k = 0; k < n.grad.size(); ++k) {
            const real gk = g[k];  // loaded unconditionally, so the compiler can select without branching
            out[k] += (mask[k] > 0) == keep_where ? gk : 0.0;
        }
    }
}
static Var select_tangent(Tape& t, std::uint32_t self) {
    // ẏ = mask ? ȧ : ḃ
    const Node& n = t.node(self);
    return select_by_reals(n.saved, tangent_or_zeros(t, n.inputs[0]), tangent_or_zeros(t, n.inputs[1]));
}
// Pushes the node of select(mask, a, b) after checking the shapes; the caller fills node.saved.
static std::uint32_t push_select(Shape mask, Var a, Var b) {
    if (a.shape() != mask || b.shape() != mask)
        throw ShapeError("select: mask " + shape_string(mask) + ", a " + shape_string(a.shape()) + " and b " +
                         shape_string(b.shape()) + " must have one shape");
    return a.tape().push("select", select_backward, {a, b}, mask);
}
static Var finish_select(Tape& t, std::uint32_t i, Var a, Var b) {
    Node& n = t.node(i);
    const real* mask = n.saved.data();
    const real* av = a.value().data();
    const real* bv = b.value().data();
    for (std::size_t k = 0; k < n.value.size(); ++k) {
        const real ak = av[k], bk = bv[k];
        n.value.data()[k] = mask[k] > 0 ? ak : bk;
    }
    return t.finish(i, select_tangent);
}
// select() with the mask given as 1/0 reals (for the tangent rule, which reads node.saved).
static Var select_by_reals(const Array& mask01, Var a, Var b) {
    Tape& t = a.tape();
    const std::uint32_t i = push_select(shape_of(mask01), a, b);
    xt::noalias(t.saved(i, shape_of(mask01))) = mask01;
    return finish_select(t, i, a, b);
}
Var select(const Mask& mask, Var a, Var b) {
    Tape& t = a.tape();
    const Shape s{mask.shape()[0], mask.shape()[1]};
    const std::uint32_t i = push_select(s, a, b);
    Array& m = t.saved(i, s);
    for (std::size_t k = 0; k < mask.size(); ++k) m.data()[k] = mask.data()[k] ? 1.0 : 0.0;
    return finish_select(t, i, a, b);
}

// ---- stop_gradient: y = x, with no gradient and a zero tangent ----
static Var stop_gradient_tangent(Tape&, std::uint32_t) {
    return Var();  // no tangent: nothing flows through, forward or backward
}
Var stop_gradient(Var x) {
    Tape& t = x.tape();
    const std::uint32_t i = t.push("stop_gradient", nullptr, {x}, x.shape());
    Node& n = t.node(i);
    n.needs_grad = false;  // nothing flows back, so ops built on it alone need no gradient either
    xt::noalias(n.value) = x.value();
    return t.finish(i, stop_gradient_tangent);
}

// ---- searchsorted: the bin of each value, no gradient ----
IndexArray searchsorted(const Array& edges, const Array& values) {
    const std::size_t edge_rows = edges.shape()[0], edge_count = edges.shape()[1];
    const std::size_t rows = values.shape()[0], cols = values.shape()[1];
    if (edge_rows != 1 && edge_rows != rows)
        throw ShapeError("searchsorted: edges " + shape_string(shape_of(edges)) + " must have 1 row or one row per row of values " +
                         shape_string(shape_of(values)));
    if (edge_count < 2)
        throw ValueError("searchsorted: needs at least 2 edges per row (1 bin), got edges " + shape_string(shape_of(edges)));
    for (std::size_t r = 0; r < edge_rows; ++r) {
        for (std::size_t k = 0; k + 1 < edge_count; ++k) {
            // Written so that a NaN edge fails too.
            if (!(edges(r, k) <= edges(r, k + 1)))
                throw ValueError("searchsorted: edges row " + std::to_string(r) + " is not ascending at " +
                                 std::to_string(k) + " (" + std::to_string(edges(r, k)) + " then " +
                                 std::to_string(edges(r, k + 1)) + ")");
        }
    }
    const std::int64_t last_bin = static_cast<std::int64_t>(edge_count) - 2;
    IndexArray bins = IndexArray::from_shape({rows, cols});
    for (std::size_t r = 0; r < rows; ++r) {
        const real* e = edges.data() + (edge_rows == 1 ? 0 : r * edge_count);
        for (std::size_t c = 0; c < cols; ++c) {
            const real v = values(r, c);
            // The first edge greater than v ends v's bin; clamping puts values left of the edges in
            // bin 0 and values at or right of the last edge in the last bin. A NaN value goes to
            // bin 0 (it stays NaN in whatever is computed from it).
            const std::int64_t upper = std::upper_bound(e, e + edge_count, v) - e;
            bins(r, c) = std::isnan(v) ? 0 : std::clamp<std::int64_t>(upper - 1, 0, last_bin);
        }
    }
    return bins;
}

}  // namespace flowtape
