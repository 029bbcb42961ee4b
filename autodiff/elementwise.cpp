// Elementwise functions of one Var: exp, log, powers, the activations and clamp. Each op's forward,
// backward and (for the ops marked [T] in ops.hpp) tangent rule sit side by side.
//
// Forwards write into the node's value with xt::noalias, or with a plain loop over .data() where a
// numerically careful or faster scalar formula is used (tanh, softplus, log_sigmoid, the piecewise
// ops). Backward rules add into the input's gradient with Tape::accumulate and a lazy expression,
// so no temporary array is made; the piecewise ones (relu, elu, clamp) use a branch-free loop
// instead, see accumulate_each.
// Tangent rules are written in tape ops (mul, add, ...) so that they can themselves be
// differentiated: a piecewise factor such as [x > 0] becomes a constant node, whose derivative is
// zero away from the kink.
//
// Values out of a function's domain (log or sqrt of a negative number) give NaN as std does; they
// do not throw, and anomaly mode reports them.
#include <bit>
#include <cmath>
#include <limits>
#include <cstdint>

#include "autodiff/op_support.hpp"

namespace flowtape {

namespace {

const Array& input_value(Tape& t, std::uint32_t self) { return t.node(t.node(self).inputs[0]).value; }
Var input_var(Tape& t, std::uint32_t self) { return t.var(t.node(self).inputs[0]); }
Var input_tangent(Tape& t, std::uint32_t self) { return t.tangent_or_none(t.node(self).inputs[0]); }

// Pushes the node of a unary elementwise op (the output has the input's shape) and returns its index.
std::uint32_t push_unary(const char* op, BackwardFn backward, Var x) {
    return x.tape().push(op, backward, {x}, x.shape());
}

// y[k] = f(x[k]) over the raw buffers, for scalar formulas that do not read well as expressions.
template <class F>
void map_into(Array& y, const Array& x, F f) {
    const real* in = x.data();
    real* out = y.data();
    const std::size_t n = x.size();
    for (std::size_t k = 0; k < n; ++k) out[k] = f(in[k]);
}

// A constant node holding the indicator [pred(x)] (1 or 0) per element: the derivative factor of a
// piecewise op, for its tangent rule. Written straight into the new node (no temporary array).
template <class Pred>
Var indicator(Tape& t, const Array& x, Pred pred) {
    const std::uint32_t i = t.push("constant", nullptr, {}, shape_of(x));
    map_into(t.node(i).value, x, [&](real v) { return pred(v) ? 1.0 : 0.0; });
    return t.finish(i, nullptr);
}

// Adds f(k) into the gradient of input `input` (the first unless said) for every element k, straight
// into the buffer. For the
// piecewise rules (relu, elu, clamp): their f is written so that the compiler selects rather than
// branches on the sign of x, which is unpredictable on real data; a branching loop or an xt::where
// expression measured over 10× slower on 1024×128 (0.6 ms against 0.05 ms).
template <class F>
void accumulate_each(Tape& t, std::uint32_t self, F f, std::size_t input = 0) {
    real beta = 0;
    Array* g = t.grad_for_write(t.node(self).inputs[input], beta);
    if (!g) return;
    real* out = g->data();
    const std::size_t n = g->size();
    if (beta == 0)
        for (std::size_t k = 0; k < n; ++k) out[k] = f(k);
    else
        for (std::size_t k = 0; k < n; ++k) out[k] += f(k);
}

// Note [a tanh the compiler vectorises]: std::tanh is a call per element that GCC cannot vectorise,
// and in CNF training tanh took a third of the time. tanh_into computes, per element, with a = |x|:
//     y = 2 min(a, 20),   k = ⌊y / ln 2⌋,   r = y − k ln 2 ∈ [0, ln 2)    (ln 2 split in two parts,
//                                                                          so k·ln2_hi is exact)
//     eʸ − 1 = 2ᵏ (eʳ − 1) + (2ᵏ − 1),   eʳ − 1 = r + r² (1/2 + r q(r))
//     tanh a = (eʸ − 1) / ((eʸ − 1) + 2),  with the sign of x.
// q is a degree-9 polynomial fitted by us (Chebyshev interpolation of (eʳ − 1 − r − r²/2)/r³ on
// [−0.002, ln 2 + 0.002] in 50-digit arithmetic, relative error 4e-18 in eʳ − 1). Rounding k down
// rather than to nearest keeps r ≥ 0, so 2ᵏ(eʳ − 1) + (2ᵏ − 1) adds positive terms and never
// cancels; for |x| < ln2/2, k = 0 and eʸ − 1 is the polynomial itself, accurate relative to y,
// so tiny x give tanh x = x exactly (no separate small-|x| branch). Above |x| = 20 tanh is 1 in
// double (it is from 19.06 on), hence the clamp, which also keeps eʸ finite. Measured over a dense
// sweep (test/autodiff/tanh_test.cpp): at most 2.3 ulp from the exactly rounded value, 3 ulp from
// glibc's tanh; ±0, ±∞ and NaN come out as std::tanh's.
//
// Every step is branch-free arithmetic (k and 2ᵏ by the 1.5·2⁵² rounding trick and the bits of
// the sum, no float→int conversion), so the loop vectorises; the clamp's select needs
// -fno-trapping-math (meson.build). On x86-64 the loop is also compiled for the x86-64-v3 (AVX2, FMA)
// and -v4 (AVX-512) levels and picked at load time (target_clones): 4 or 8 elements at a time instead
// of 2, and fused multiply-adds in the polynomial (1.6× faster again). So the last bit can differ between machines
// with and without FMA, as OpenBLAS's kernels already make gemm differ; the bounds above hold for
// every clone (the test runs the one the machine picks; both were measured).
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#define FLOWTAPE_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FLOWTAPE_VECTOR_CLONES
#endif

inline real tanh_kernel(real x) {
    constexpr real kShifter = 0x1.8p52;  // x + 1.5·2⁵² rounds x to an integer held in the low bits
    constexpr real kInvLn2 = 1.4426950408889634;
    constexpr real kLn2Hi = 0.6931467056274414;      // ln 2 with its 32 low mantissa bits cleared
    constexpr real kLn2Lo = 4.7493250390316726e-07;  // ln 2 − kLn2Hi
    real a = std::abs(x);
    a = 20.0 < a ? 20.0 : a;  // written so that NaN passes through
    const real y = 2.0 * a;
    const real shifted = (y * kInvLn2 - 0.5) + kShifter;  // round(y/ln2 − 1/2) = ⌊y/ln2⌋ (ties aside)
    const real k = shifted - kShifter;
    // The low bits of `shifted` are k (0 ≤ k ≤ 58): k + 1023 shifted into the exponent field is 2ᵏ.
    const real two_k = std::bit_cast<real>((std::bit_cast<std::uint64_t>(shifted) + 1023) << 52);
    const real r = (y - k * kLn2Hi) - k * kLn2Lo;
    real q = 2.7321482795366375e-09;
    q = q * r + 2.4058625363967106e-08;
    q = q * r + 2.764004702992316e-07;
    q = q * r + 2.7553201149977955e-06;
    q = q * r + 2.4801713292888478e-05;
    q = q * r + 0.00019841267509785115;
    q = q * r + 0.0013888888913454653;
    q = q * r + 0.00833333333320407;
    q = q * r + 0.041666666666669176;
    q = q * r + 0.16666666666666666;
    const real expm1_r = r + r * r * (0.5 + r * q);
    const real expm1_y = two_k * expm1_r + (two_k - 1.0);
    return std::copysign(expm1_y / (expm1_y + 2.0), x);
}

FLOWTAPE_VECTOR_CLONES void tanh_into(real* __restrict out, const real* __restrict in, std::size_t n) {
    for (std::size_t k = 0; k < n; ++k) out[k] = tanh_kernel(in[k]);
}

// log(1 + eˣ) without overflow: max(x, 0) + log1p(e^−|x|), accurate to rounding for every x; it
// gives x itself for x ≥ 37 and eˣ for very negative x, 0 at −1000 (never NaN or ∞ for finite x).
real softplus_scalar(real x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))); }

}  // namespace

// ---- exp: y = eˣ ----
static void exp_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    t.accumulate(n.inputs[0], n.grad * n.value);
}
static Var exp_tangent(Tape& t, std::uint32_t self) {
    // ẏ = y ⊙ ẋ
    return mul(t.var(self), input_tangent(t, self));
}
Var exp(Var x) {
    Tape& t = x.tape();
    const std::uint32_t i = push_unary("exp", exp_backward, x);
    xt::noalias(t.node(i).value) = xt::exp(x.value());
    return t.finish(i, exp_tangent);
}

// ---- log: y = log x ----
static void log_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    t.accumulate(n.inputs[0], n.grad / input_value(t, self));
}
static Var log_tangent(Tape& t, std::uint32_t self) {
    // ẏ = ẋ / x
    return div(input_tangent(t, self), input_var(t, self));
}
Var log(Var x) {
    Tape& t = x.tape();
    const std::uint32_t i = push_unary("log", log_backward, x);
    xt::noalias(t.node(i).value) = xt::log(x.value());
    return t.finish(i, log_tangent);
}

// ---- log1p: y = log(1 + x) ----
static void log1p_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    t.accumulate(n.inputs[0], n.grad / (1.0 + input_value(t, self)));
}
static Var log1p_tangent(Tape& t, std::uint32_t self) {
    // ẏ = ẋ / (1 + x)
    return div(input_tangent(t, self), add_scalar(input_var(t, self), 1.0));
}
Var log1p(Var x) {
    Tape& t = x.tape();
    const std::uint32_t i = push_unary("log1p", log1p_backward, x);
    xt::noalias(t.node(i).value) = xt::log1p(x.value());
    return t.finish(i, log1p_tangent);
}

// ---- sqrt: y = √x ----
static void sqrt_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    t.accumulate(n.inputs[0], n.grad / (2.0 * n.value));
}
static Var sqrt_tangent(Tape& t, std::uint32_t self) {
    // ẏ = ẋ / (2y)
    return div(input_tangent(t, self), mul_scalar(t.var(self), 2.0));
}
Var sqrt(Var x) {
    Tape& t = x.tape();
    const std::uint32_t i = push_unary("sqrt", sqrt_backward, x);
    xt::noalias(t.node(i).value) = xt::sqrt(x.value());
    return t.finish(i, sqrt_tangent);
}

// ---- square: y = x² ----
static void square_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    t.accumulate(n.inputs[0], 2.0 * n.grad * input_value(t, self));
}
static Var square_tangent(Tape& t, std::uint32_t self) {
    // ẏ = 2x ⊙ ẋ
    return mul(mul_scalar(input_var(t, self), 2.0), input_tangent(t, self));
}
Var square(Var x) {
    Tape& t = x.tape();
    const std::uint32_t i = push_unary("square", square_backward, x);
    const Array& xv = x.value();
    xt::noalias(t.node(i).value) = xv * xv;
    return t.finish(i, square_tangent);
}

// ---- one_minus_square: y = 1 − x² (the slope of tanh from its output, tanh' = 1 − tanh²) ----
// One node instead of square, neg and add_scalar: tanh's tangent rule and the closed-form CNF trace
// (flows/continuous/cnf_dynamics.cpp) record it at every function evaluation.
static void one_minus_square_backward(Tape& t, std::uint32_t self) {
    const real* g = t.node(self).grad.data();
    const real* x = input_value(t, self).data();
    accumulate_each(t, self, [=](std::size_t k) { return -2.0 * g[k] * x[k]; });
}
static Var one_minus_square_tangent(Tape& t, std::uint32_t self) {
    // ẏ = −2x ⊙ ẋ
    return mul(mul_scalar(input_var(t, self), -2.0), input_tangent(t, self));
}
Var one_minus_square(Var x) {
    Tape& t = x.tape();
    const std::uint32_t i = push_unary("one_minus_square", one_minus_square_backward, x);
    map_into(t.node(i).value, x.value(), [](real v) { return 1.0 - v * v; });
    return t.finish(i, one_minus_square_tangent);
}

// ---- pow: y = x^p, p a constant (node.s0) ----
static void pow_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    const real p = n.s0;
    t.accumulate(n.inputs[0], p * n.grad * xt::pow(input_value(t, self), p - 1.0));
}
static Var pow_tangent(Tape& t, std::uint32_t self) {
    // ẏ = p x^(p−1) ⊙ ẋ
    const real p = t.node(self).s0;
    return mul(mul_scalar(pow(input_var(t, self), p - 1.0), p), input_tangent(t, self));
}
Var pow(Var x, real p) {
    Tape& t = x.tape();
    const std::uint32_t i = push_unary("pow", pow_backward, x);
    t.node(i).s0 = p;
    xt::noalias(t.node(i).value) = xt::pow(x.value(), p);
    return t.finish(i, pow_tangent);
}

// ---- abs: y = |x| (no tangent rule) ----
static void abs_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    t.accumulate(n.inputs[0], n.grad * xt::sign(input_value(t, self)));  // sign(0) = 0
}
Var abs(Var x) {
    Tape& t = x.tape();
    const std::uint32_t i = push_unary("abs", abs_backward, x);
    xt::noalias(t.node(i).value) = xt::abs(x.value());
    return t.finish(i, nullptr);
}

// ---- tanh: y = tanh x ----
static void tanh_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    t.accumulate(n.inputs[0], n.grad * (1.0 - n.value * n.value));
}
static Var tanh_tangent(Tape& t, std::uint32_t self) {
    // ẏ = (1 − y²) ⊙ ẋ
    const Var dx = input_tangent(t, self);
    return dx.valid() ? tanh_jvp(t.var(self), dx) : Var();
}
Var tanh(Var x) {
    Tape& t = x.tape();
    const std::uint32_t i = push_unary("tanh", tanh_backward, x);
    tanh_into(t.node(i).value.data(), x.value().data(), x.value().size());
    return t.finish(i, tanh_tangent);
}

// ---- tanh_jvp: out = (1 − y²) ⊙ v, tanh's tangent from its output y ----
// One node where mul(one_minus_square(y), v) made two, each an N×H array written forward and read
// back twice: Hutchinson's trace records it for every tanh layer at every evaluation.
static void tanh_jvp_backward(Tape& t, std::uint32_t self) {
    // ∂y = −2 g ⊙ y ⊙ v, ∂v = g ⊙ (1 − y²)
    const Node& n = t.node(self);
    const real* g = n.grad.data();
    const real* y = t.node(n.inputs[0]).value.data();
    const real* v = t.node(n.inputs[1]).value.data();
    accumulate_each(t, self, [=](std::size_t k) { return -2.0 * g[k] * y[k] * v[k]; }, 0);
    accumulate_each(t, self, [=](std::size_t k) { return g[k] * (1.0 - y[k] * y[k]); }, 1);
}
static Var tanh_jvp_tangent(Tape& t, std::uint32_t self) {
    // d/ds [(1 − y²) ⊙ v] = −2 y ⊙ ẏ ⊙ v + (1 − y²) ⊙ v̇
    const Node& n = t.node(self);
    const Var y = t.var(n.inputs[0]), v = t.var(n.inputs[1]);
    const Var ty = t.tangent_or_none(n.inputs[0]), tv = t.tangent_or_none(n.inputs[1]);
    detail::TangentSum s;
    if (ty.valid()) s.add(mul(mul_scalar(mul(y, ty), -2.0), v));
    if (tv.valid()) s.add(tanh_jvp(y, tv));
    return s.get();
}
Var tanh_jvp(Var y, Var v) {
    detail::require_same_shape("tanh_jvp", y.shape(), v.shape());
    Tape& t = y.tape();
    const std::uint32_t i = t.push("tanh_jvp", tanh_jvp_backward, {y, v}, y.shape());
    const real* yv = y.value().data();
    const real* vv = v.value().data();
    real* out = t.node(i).value.data();
    for (std::size_t k = 0, count = y.value().size(); k < count; ++k) out[k] = (1.0 - yv[k] * yv[k]) * vv[k];
    return t.finish(i, tanh_jvp_tangent);
}

// ---- sigmoid: y = 1 / (1 + e⁻ˣ) ----
static void sigmoid_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    t.accumulate(n.inputs[0], n.grad * n.value * (1.0 - n.value));
}
static Var sigmoid_tangent(Tape& t, std::uint32_t self) {
    // ẏ = y (1 − y) ⊙ ẋ
    const Var y = t.var(self);
    return mul(mul(y, add_scalar(neg(y), 1.0)), input_tangent(t, self));
}
Var sigmoid(Var x) {
    Tape& t = x.tape();
    const std::uint32_t i = push_unary("sigmoid", sigmoid_backward, x);
    // 1 / (1 + e⁻ˣ) is safe for every x: e⁻ˣ overflows to +∞ only where the result is 0 anyway.
    xt::noalias(t.node(i).value) = 1.0 / (1.0 + xt::exp(-x.value()));
    return t.finish(i, sigmoid_tangent);
}

// ---- relu: y = max(x, 0) ----
static void relu_backward(Tape& t, std::uint32_t self) {
    const real* g = t.node(self).grad.data();
    const real* x = input_value(t, self).data();
    accumulate_each(t, self, [=](std::size_t k) {
        const real gk = g[k];  // loaded unconditionally, so the compiler can select without branching
        return x[k] > 0 ? gk : 0.0;
    });
}
static Var relu_tangent(Tape& t, std::uint32_t self) {
    // ẏ = [x > 0] ⊙ ẋ
    const Var positive = indicator(t, input_value(t, self), [](real v) { return v > 0; });
    return mul(positive, input_tangent(t, self));
}
Var relu(Var x) {
    Tape& t = x.tape();
    const std::uint32_t i = push_unary("relu", relu_backward, x);
    // Written so that NaN passes through (NaN < 0 is false) rather than turning into 0.
    map_into(t.node(i).value, x.value(), [](real v) { return v < 0 ? 0.0 : v; });
    return t.finish(i, relu_tangent);
}

// ---- elu: y = x for x > 0, α(eˣ − 1) otherwise (α in node.s0) ----
static void elu_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    const real* g = n.grad.data();
    const real* x = input_value(t, self).data();
    const real* y = n.value.data();
    const real alpha = n.s0;
    // For x ≤ 0, dy/dx = α eˣ = y + α.
    accumulate_each(t, self, [=](std::size_t k) {
        // A two-entry table rather than ?:, which GCC compiles to a branch on the sign of x, and
        // that branch is unpredictable on real data (6× slower here on 1024×128).
        const real slope[2] = {y[k] + alpha, 1.0};
        return g[k] * slope[x[k] > 0];
    });
}
static Var elu_tangent(Tape& t, std::uint32_t self) {
    // ẏ = (1 + [x ≤ 0] ⊙ (y + α − 1)) ⊙ ẋ: the factor is 1 for x > 0 and y + α = α eˣ otherwise,
    // written through y so that its own derivative (α eˣ on the left) is recorded.
    const real alpha = t.node(self).s0;
    const Var left = indicator(t, input_value(t, self), [](real v) { return !(v > 0); });
    const Var factor = add_scalar(mul(left, add_scalar(t.var(self), alpha - 1.0)), 1.0);
    return mul(factor, input_tangent(t, self));
}
Var elu(Var x, real alpha) {
    Tape& t = x.tape();
    const std::uint32_t i = push_unary("elu", elu_backward, x);
    t.node(i).s0 = alpha;
    map_into(t.node(i).value, x.value(), [alpha](real v) { return v > 0 ? v : alpha * std::expm1(v); });
    return t.finish(i, elu_tangent);
}

// ---- softplus: y = log(1 + eˣ) ----
static void softplus_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    // σ(x) = 1 / (1 + e⁻ˣ): 0 (not NaN) when e⁻ˣ overflows.
    t.accumulate(n.inputs[0], n.grad / (1.0 + xt::exp(-input_value(t, self))));
}
static Var softplus_tangent(Tape& t, std::uint32_t self) {
    // ẏ = σ(x) ⊙ ẋ
    return mul(sigmoid(input_var(t, self)), input_tangent(t, self));
}
Var softplus(Var x) {
    Tape& t = x.tape();
    const std::uint32_t i = push_unary("softplus", softplus_backward, x);
    map_into(t.node(i).value, x.value(), softplus_scalar);
    return t.finish(i, softplus_tangent);
}

// ---- log_sigmoid: y = log σ(x) = −softplus(−x) ----
static void log_sigmoid_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    // σ(−x) = 1 / (1 + eˣ)
    t.accumulate(n.inputs[0], n.grad / (1.0 + xt::exp(input_value(t, self))));
}
static Var log_sigmoid_tangent(Tape& t, std::uint32_t self) {
    // ẏ = σ(−x) ⊙ ẋ
    return mul(sigmoid(neg(input_var(t, self))), input_tangent(t, self));
}
Var log_sigmoid(Var x) {
    Tape& t = x.tape();
    const std::uint32_t i = push_unary("log_sigmoid", log_sigmoid_backward, x);
    map_into(t.node(i).value, x.value(), [](real v) { return -softplus_scalar(-v); });
    return t.finish(i, log_sigmoid_tangent);
}

// ---- normal_cdf: y = Φ(x) = ½ erfc(−x/√2) ----
// erfc keeps the relative precision of Φ in the lower tail, where 1 − Φ(−x) would lose it.
static const real kInvSqrt2Pi = 1 / std::sqrt(2 * std::acos(-1.0));

real normal_cdf_scalar(real x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

static real normal_pdf_scalar(real x) { return kInvSqrt2Pi * std::exp(-0.5 * x * x); }

// φ(x) on the tape, for the tangent rules.
static Var normal_pdf(Var x) { return mul_scalar(exp(mul_scalar(square(x), -0.5)), kInvSqrt2Pi); }

static void normal_cdf_backward(Tape& t, std::uint32_t self) {
    const real* g = t.node(self).grad.data();
    const real* x = input_value(t, self).data();
    accumulate_each(t, self, [=](std::size_t k) { return g[k] * normal_pdf_scalar(x[k]); });
}
static Var normal_cdf_tangent(Tape& t, std::uint32_t self) {
    // ẏ = φ(x) ⊙ ẋ
    return mul(normal_pdf(input_var(t, self)), input_tangent(t, self));
}
Var normal_cdf(Var x) {
    Tape& t = x.tape();
    const std::uint32_t i = push_unary("normal_cdf", normal_cdf_backward, x);
    map_into(t.node(i).value, x.value(), normal_cdf_scalar);
    return t.finish(i, normal_cdf_tangent);
}

// ---- normal_quantile: y = Φ⁻¹(u) ----
// Φ⁻¹(p) for 0 < p ≤ ½: a start from Abramowitz & Stegun 26.2.23 (error below 4.5e−4), then
// Newton steps on log Φ(z) − log p. log Φ is concave and increasing, so the steps never overshoot
// once left of the root and converge quadratically; in log space they keep their relative
// precision in the far tail, where Φ(z) − p would underflow.
static real lower_quantile(real p) {
    const real t = std::sqrt(-2 * std::log(p));
    real z = -(t - (2.515517 + 0.802853 * t + 0.010328 * t * t) / (1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t));
    const real log_p = std::log(p);
    for (int step = 0; step < 8; ++step) {
        const real cdf = normal_cdf_scalar(z), pdf = normal_pdf_scalar(z);
        if (!(cdf > 0) || !(pdf > 0)) break;  // below about 1e−308 the start is as good as it gets
        const real delta = (std::log(cdf) - log_p) * cdf / pdf;
        z -= delta;
        if (std::abs(delta) <= 1e-15 * (1 + std::abs(z))) break;
    }
    return z;
}

real normal_quantile_scalar(real u) {
    if (std::isnan(u) || u < 0 || u > 1) return std::numeric_limits<real>::quiet_NaN();
    if (u == 0) return -std::numeric_limits<real>::infinity();
    if (u == 1) return std::numeric_limits<real>::infinity();
    return u <= 0.5 ? lower_quantile(u) : -lower_quantile(1 - u);  // 1 − u is exact for u ≥ ½
}

static void normal_quantile_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    const real* g = n.grad.data();
    const real* y = n.value.data();
    accumulate_each(t, self, [=](std::size_t k) { return g[k] / normal_pdf_scalar(y[k]); });
}
static Var normal_quantile_tangent(Tape& t, std::uint32_t self) {
    // ẏ = u̇ / φ(y)
    return div(input_tangent(t, self), normal_pdf(t.var(self)));
}
Var normal_quantile(Var u) {
    Tape& t = u.tape();
    const std::uint32_t i = push_unary("normal_quantile", normal_quantile_backward, u);
    map_into(t.node(i).value, u.value(), normal_quantile_scalar);
    return t.finish(i, normal_quantile_tangent);
}

// ---- clamp: y = min(max(x, lo), hi), bounds in node.s0, node.s1 (no tangent rule) ----
static void clamp_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    const real* g = n.grad.data();
    const real* x = input_value(t, self).data();
    const real lo = n.s0, hi = n.s1;
    accumulate_each(t, self, [=](std::size_t k) {
        const real gk = g[k], xk = x[k];
        return xk >= lo && xk <= hi ? gk : 0.0;
    });
}
Var clamp(Var x, real lo, real hi) {
    if (!(lo <= hi))
        throw ValueError("clamp: needs lo <= hi, got lo = " + std::to_string(lo) + " and hi = " + std::to_string(hi));
    Tape& t = x.tape();
    const std::uint32_t i = push_unary("clamp", clamp_backward, x);
    t.node(i).s0 = lo;
    t.node(i).s1 = hi;
    map_into(t.node(i).value, x.value(), [lo, hi](real v) { return v < lo ? lo : (v > hi ? hi : v); });
    return t.finish(i, nullptr);
}

}  // namespace flowtape
