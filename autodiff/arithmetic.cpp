// + − ⊙ ÷, negation and scalar shift/scale: forward, backward and tangent of each, side by side.
#include "autodiff/op_support.hpp"

namespace flowtape {
namespace detail {

Shape broadcast_shapes(const char* op, Shape a, Shape b) {
    Shape out{};
    for (int d = 0; d < 2; ++d) {
        if (a[d] == b[d] || b[d] == 1) out[d] = a[d];
        else if (a[d] == 1) out[d] = b[d];
        else
            throw ShapeError(std::string(op) + ": shapes " + shape_string(a) + " and " + shape_string(b) +
                             " do not broadcast (each dimension must be equal or 1)");
    }
    return out;
}

void require_same_shape(const char* op, Shape a, Shape b) {
    if (a != b)
        throw ShapeError(std::string(op) + ": shapes " + shape_string(a) + " and " + shape_string(b) +
                         " differ (it takes two arrays of one shape)");
}

void require_nonempty(const char* op, Shape s) {
    if (s[0] == 0 || s[1] == 0) throw ValueError(std::string(op) + ": needs a non-empty input, got " + shape_string(s));
}

void require_axis(const char* op, int axis) {
    if (axis != 0 && axis != 1)
        throw ValueError(std::string(op) + ": axis must be 0 (over rows) or 1 (over columns), got " + std::to_string(axis));
}

}  // namespace detail

using detail::TangentSum;

namespace {
const Array& in_value(Tape& t, std::uint32_t self, int k) { return t.node(t.node(self).inputs[k]).value; }

// The tangent of a sum is the sum of the operands' tangents, each of its operand's shape. When only
// broadcast operands carry one (a row added to a matrix), that sum is smaller than the output:
// broadcast it by adding a zero constant of the output's shape.
Var broadcast_tangent(Tape& t, Var tangent, std::uint32_t self) {
    const Shape out = shape_of(t.node(self).value);
    if (!tangent.valid() || tangent.shape() == out) return tangent;
    const std::uint32_t zeros = t.push("constant", nullptr, {}, out);
    t.node(zeros).value.fill(0);
    return add(tangent, t.finish(zeros, nullptr));
}
}  // namespace

// ---- add: y = a + b ----
static void add_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    t.accumulate(n.inputs[0], n.grad);
    t.accumulate(n.inputs[1], n.grad);
}
static Var add_tangent(Tape& t, std::uint32_t self) {
    TangentSum s;
    s.add(t.tangent_or_none(t.node(self).inputs[0]));
    s.add(t.tangent_or_none(t.node(self).inputs[1]));
    return broadcast_tangent(t, s.get(), self);
}
Var add(Var a, Var b) {
    Tape& t = a.tape();
    const std::uint32_t i = t.push("add", add_backward, {a, b}, detail::broadcast_shapes("add", a.shape(), b.shape()));
    xt::noalias(t.node(i).value) = a.value() + b.value();
    return t.finish(i, add_tangent);
}

// ---- sub: y = a − b ----
static void sub_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    t.accumulate(n.inputs[0], n.grad);
    t.accumulate(n.inputs[1], -n.grad);
}
static Var sub_tangent(Tape& t, std::uint32_t self) {
    TangentSum s;
    s.add(t.tangent_or_none(t.node(self).inputs[0]));
    const Var tb = t.tangent_or_none(t.node(self).inputs[1]);
    if (tb.valid()) s.add(neg(tb));
    return broadcast_tangent(t, s.get(), self);
}
Var sub(Var a, Var b) {
    Tape& t = a.tape();
    const std::uint32_t i = t.push("sub", sub_backward, {a, b}, detail::broadcast_shapes("sub", a.shape(), b.shape()));
    xt::noalias(t.node(i).value) = a.value() - b.value();
    return t.finish(i, sub_tangent);
}

// ---- mul: y = a ⊙ b ----
static void mul_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    if (t.needs_grad(n.inputs[0])) t.accumulate(n.inputs[0], n.grad * in_value(t, self, 1));
    if (t.needs_grad(n.inputs[1])) t.accumulate(n.inputs[1], n.grad * in_value(t, self, 0));
}
static Var mul_tangent(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    const Var a = t.var(n.inputs[0]), b = t.var(n.inputs[1]);
    const Var ta = t.tangent_or_none(n.inputs[0]), tb = t.tangent_or_none(n.inputs[1]);
    TangentSum s;
    if (ta.valid()) s.add(mul(ta, b));
    if (tb.valid()) s.add(mul(a, tb));
    return s.get();
}
Var mul(Var a, Var b) {
    Tape& t = a.tape();
    const std::uint32_t i = t.push("mul", mul_backward, {a, b}, detail::broadcast_shapes("mul", a.shape(), b.shape()));
    xt::noalias(t.node(i).value) = a.value() * b.value();
    return t.finish(i, mul_tangent);
}

// ---- div: y = a / b ----
static void div_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    const Array& b = in_value(t, self, 1);
    if (t.needs_grad(n.inputs[0])) t.accumulate(n.inputs[0], n.grad / b);
    if (t.needs_grad(n.inputs[1])) t.accumulate(n.inputs[1], -n.grad * n.value / b);
}
static Var div_tangent(Tape& t, std::uint32_t self) {
    // ẏ = ȧ / b − y ⊙ ḃ / b
    const Node& n = t.node(self);
    const Var b = t.var(n.inputs[1]), y = t.var(self);
    const Var ta = t.tangent_or_none(n.inputs[0]), tb = t.tangent_or_none(n.inputs[1]);
    TangentSum s;
    if (ta.valid()) s.add(div(ta, b));
    if (tb.valid()) s.add(neg(div(mul(y, tb), b)));
    return s.get();
}
Var div(Var a, Var b) {
    Tape& t = a.tape();
    const std::uint32_t i = t.push("div", div_backward, {a, b}, detail::broadcast_shapes("div", a.shape(), b.shape()));
    xt::noalias(t.node(i).value) = a.value() / b.value();
    return t.finish(i, div_tangent);
}

// ---- neg: y = −a ----
static void neg_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    t.accumulate(n.inputs[0], -n.grad);
}
static Var neg_tangent(Tape& t, std::uint32_t self) { return neg(t.tangent_or_none(t.node(self).inputs[0])); }
Var neg(Var a) {
    Tape& t = a.tape();
    const std::uint32_t i = t.push("neg", neg_backward, {a}, a.shape());
    xt::noalias(t.node(i).value) = -a.value();
    return t.finish(i, neg_tangent);
}

// ---- add_scalar: y = a + c ----
static void add_scalar_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    t.accumulate(n.inputs[0], n.grad);
}
static Var add_scalar_tangent(Tape& t, std::uint32_t self) { return t.tangent_or_none(t.node(self).inputs[0]); }
Var add_scalar(Var a, real c) {
    Tape& t = a.tape();
    const std::uint32_t i = t.push("add_scalar", add_scalar_backward, {a}, a.shape());
    xt::noalias(t.node(i).value) = a.value() + c;
    return t.finish(i, add_scalar_tangent);
}

// ---- mul_scalar: y = c · a ----
static void mul_scalar_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    t.accumulate(n.inputs[0], n.s0 * n.grad);
}
static Var mul_scalar_tangent(Tape& t, std::uint32_t self) {
    return mul_scalar(t.tangent_or_none(t.node(self).inputs[0]), t.node(self).s0);
}
Var mul_scalar(Var a, real c) {
    Tape& t = a.tape();
    const std::uint32_t i = t.push("mul_scalar", mul_scalar_backward, {a}, a.shape());
    t.node(i).s0 = c;
    xt::noalias(t.node(i).value) = c * a.value();
    return t.finish(i, mul_scalar_tangent);
}

}  // namespace flowtape
