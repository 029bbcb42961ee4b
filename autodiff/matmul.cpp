// Matrix product, transpose and the fused linear layer. Products go to BLAS gemm (through
// xtensor-blas) and write straight into the node's value or the input's gradient, so no
// temporary matrix is made in a step.
#include "autodiff/op_support.hpp"
#include "core/xtensor_blas.hpp"

namespace flowtape {

using detail::TangentSum;

namespace {

// C = α op(A) op(B) + β C, C already sized. Empty inner dimensions give β C (BLAS is not called
// with a zero size, which some implementations reject).
void gemm(const Array& a, const Array& b, Array& c, bool trans_a, bool trans_b, real beta) {
    const std::size_t inner = trans_a ? a.shape()[0] : a.shape()[1];
    if (c.size() == 0) return;
    if (inner == 0) {
        if (beta == 0) c.fill(0);
        return;
    }
    xt::blas::gemm(a, b, c, trans_a, trans_b, 1.0, beta);
}

void check_product(const char* op, Shape a, Shape b) {
    if (a[1] != b[0])
        throw ShapeError(std::string(op) + ": shapes " + shape_string(a) + " and " + shape_string(b) +
                         " do not fit (inner sizes " + std::to_string(a[1]) + " and " + std::to_string(b[0]) + ")");
}

// ∂a += g bᵀ and ∂b += aᵀ g for y = a b: shared by matmul and linear.
void product_backward(Tape& t, const Node& n) {
    const Array& a = t.node(n.inputs[0]).value;
    const Array& b = t.node(n.inputs[1]).value;
    real beta = 0;
    if (Array* ga = t.grad_for_write(n.inputs[0], beta)) gemm(n.grad, b, *ga, false, true, beta);
    if (Array* gb = t.grad_for_write(n.inputs[1], beta)) gemm(a, n.grad, *gb, true, false, beta);
}

}  // namespace

// ---- matmul: y = a b ----
static void matmul_backward(Tape& t, std::uint32_t self) { product_backward(t, t.node(self)); }
static Var matmul_tangent(Tape& t, std::uint32_t self) {
    // ẏ = ȧ b + a ḃ
    const Node& n = t.node(self);
    const Var ta = t.tangent_or_none(n.inputs[0]), tb = t.tangent_or_none(n.inputs[1]);
    TangentSum s;
    if (ta.valid()) s.add(matmul(ta, t.var(n.inputs[1])));
    if (tb.valid()) s.add(matmul(t.var(n.inputs[0]), tb));
    return s.get();
}
Var matmul(Var a, Var b) {
    Tape& t = a.tape();
    check_product("matmul", a.shape(), b.shape());
    const std::uint32_t i = t.push("matmul", matmul_backward, {a, b}, {a.rows(), b.cols()});
    gemm(a.value(), b.value(), t.node(i).value, false, false, 0.0);
    return t.finish(i, matmul_tangent);
}

// ---- transpose: y = aᵀ ----
static void transpose_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    t.accumulate(n.inputs[0], xt::transpose(n.grad));
}
static Var transpose_tangent(Tape& t, std::uint32_t self) { return transpose(t.tangent_or_none(t.node(self).inputs[0])); }
Var transpose(Var a) {
    Tape& t = a.tape();
    const std::uint32_t i = t.push("transpose", transpose_backward, {a}, {a.cols(), a.rows()});
    xt::noalias(t.node(i).value) = xt::transpose(a.value());
    return t.finish(i, transpose_tangent);
}

// ---- linear: y = x w + b, b a 1×M row ----
static void linear_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    product_backward(t, n);
    // ∂b = Σ_rows g, summed straight into the bias gradient.
    real beta = 0;
    if (Array* gb = t.grad_for_write(n.inputs[2], beta)) {
        const std::size_t rows = n.grad.shape()[0], m = n.grad.shape()[1];
        real* out = gb->data();
        if (beta == 0) std::fill_n(out, m, 0.0);
        for (std::size_t r = 0; r < rows; ++r) {
            const real* g = n.grad.data() + r * m;
            for (std::size_t c = 0; c < m; ++c) out[c] += g[c];
        }
    }
}
static Var linear_tangent(Tape& t, std::uint32_t self) {
    // ẏ = ẋ w + x ẇ + ḃ
    const Node& n = t.node(self);
    const Var tx = t.tangent_or_none(n.inputs[0]), tw = t.tangent_or_none(n.inputs[1]);
    const Var tb = t.tangent_or_none(n.inputs[2]);
    TangentSum s;
    if (tx.valid()) s.add(matmul(tx, t.var(n.inputs[1])));
    if (tw.valid()) s.add(matmul(t.var(n.inputs[0]), tw));
    if (tb.valid()) s.add(tb);
    Var total = s.get();
    // A tangent only in b is a row: broadcast it to the output's shape.
    if (total.valid() && total.rows() != n.value.shape()[0])
        total = add(total, t.constant(xt::zeros<real>(n.value.shape())));
    return total;
}
Var linear(Var x, Var w, Var b) {
    Tape& t = x.tape();
    check_product("linear", x.shape(), w.shape());
    if (b.rows() != 1 || b.cols() != w.cols())
        throw ShapeError("linear: bias must be 1\u00d7" + std::to_string(w.cols()) + ", got " + shape_string(b.shape()));
    const std::uint32_t i = t.push("linear", linear_backward, {x, w, b}, {x.rows(), w.cols()});
    Array& y = t.node(i).value;
    // Each row starts as the bias; gemm then adds x w (β = 1). One loop rather than a copy per row,
    // which for narrow layers was a library call per 64 numbers.
    const std::size_t rows = y.shape()[0], m = y.shape()[1];
    const real* bias = b.value().data();
    real* out = y.data();
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < m; ++c) out[r * m + c] = bias[c];
    gemm(x.value(), w.value(), y, false, false, 1.0);
    return t.finish(i, linear_tangent);
}

}  // namespace flowtape
