// Rational-quadratic splines on the tape; the equations are in flows/transforms/spline.hpp's opening comment.
//
// `rational_quadratic_spline` is a single fused tape op with its forward and backward side by side:
// per element, a plain loop builds the knots, finds the bin, evaluates the rational function and its
// log-slope (or the inverse root), and the backward differentiates exactly those steps by hand. The
// same mathematics recorded as ~20 composite ops is the unfused reference the tests hold it to
// (test/flows/transforms/spline_reference.cpp). A fused op earns its place by measured speed: the
// composite version made the nsf training step 1.5× its gemm time (docs/splines.md has the numbers).
//
// Note [fused outputs]. A tape node has one value, so the fused node holds both outputs stacked,
// (2N)×D: y (or x, inverse) in rows [0, N), the log-determinant in rows [N, 2N). Two `rows` slices
// hand them out as ordinary Vars; their backward rules fill the two halves of the node's gradient
// before its own backward runs. Each slice costs a copy of N×D, negligible next to the spline.
//
// Note [what the fused node saves]. Per element e (row e = n·D + i of an M×(2K+7) array, M = N·D):
// the width and height softmaxes p and q (K each; the backward needs every entry to differentiate
// the softmax), then the element's bin: x_k, x_{k+1}, y_k, y_{k+1}, d_k, d_{k+1} and ξ. The bin
// index is in the node's index array (−1 for an element in the tails). The backward needs two
// constants, 2B(1 − K m_w) and 2B(1 − K m_h) (s0, s1), and the direction (axis). Everything lives in
// the node's own buffers, so a warm step allocates nothing.
//
// Gradients of the fused op. Within its bin, y and L = log dy/dx are functions of (ξ, s, h, y_k,
// d_k, d_{k+1}); the chain rule through ξ = (x − x_k)/w, s = h/w, w = x_{k+1} − x_k, h = y_{k+1} − y_k
// gives adjoints for x and the six bin quantities. The inverse uses the implicit function theorem
// on y = F(x; θ): with A = ḡ_x − ḡ_L ∂L/∂x the total adjoint of the output x, ∂y gets A/F′ and θ gets
// the forward rule's adjoints for (ȳ, L̄) = (−A/F′, −ḡ_L). A knot x_j (0 < j < K) is −B + 2B Σ_{i<j} f_i,
// so its adjoint reaches every fraction f_i with i < j; only knots k and k + 1 have one, so each
// fraction's adjoint is one of three values and no prefix sum is needed. The pinned ends pass nothing.
// Then the softmax's own rule, and σ(raw) for the interior derivatives.
//
// Note [finite tails]. The fused op simply skips the spline for an element in the tails: identity,
// log-determinant 0, no gradient to its parameters.
#include "flows/transforms/spline.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.hpp"

namespace flowtape {
namespace {

constexpr std::size_t kBinSaved = 7;  // x_k, x_{k+1}, y_k, y_{k+1}, d_k, d_{k+1}, ξ

// softmax of K raw values into p, shifted by their maximum as the softmax op is.
void softmax_into(const real* raw, std::size_t bins, real* p) {
    real top = raw[0];
    for (std::size_t j = 1; j < bins; ++j) top = std::max(top, raw[j]);
    real total = 0;
    for (std::size_t j = 0; j < bins; ++j) {
        p[j] = std::exp(raw[j] - top);
        total += p[j];
    }
    const real inv = 1.0 / total;
    for (std::size_t j = 0; j < bins; ++j) p[j] *= inv;
}

real softplus_of(real r) { return std::max(r, 0.0) + std::log1p(std::exp(-std::abs(r))); }
real sigmoid_of(real r) {
    const real e = std::exp(-std::abs(r));
    return r >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

// The knots of one coordinate (x or y) from its softmax p: knot 0 is −B, knot K is B (pinned), knot
// j in between is −B + 2B Σ_{i<j} (m + (1 − K m) p_i), summed in order as the reference does.
struct KnotRow {
    const real* p;
    std::size_t bins;
    real minimum, bound;
};

struct Interval {
    std::size_t bin;
    real lo, hi;  // knots bin and bin + 1
};

// The bin of v ∈ [−B, B]: the last k ≤ K − 1 with knot_k ≤ v (as searchsorted), and its knots.
Interval find_bin(const KnotRow& r, real v) {
    const real scale = 1.0 - static_cast<real>(r.bins) * r.minimum;
    real running = 0, lo = -r.bound;
    for (std::size_t j = 1; j < r.bins; ++j) {
        running += r.p[j - 1] * scale + r.minimum;
        const real knot = running * (2 * r.bound) - r.bound;
        if (knot > v) return {j - 1, lo, knot};
        lo = knot;
    }
    return {r.bins - 1, lo, r.bound};
}

// Knots k and k + 1 for a known bin k.
Interval bin_knots(const KnotRow& r, std::size_t k) {
    const real scale = 1.0 - static_cast<real>(r.bins) * r.minimum;
    real running = 0, lo = -r.bound, hi = r.bound;
    for (std::size_t j = 1; j <= k + 1 && j < r.bins; ++j) {
        running += r.p[j - 1] * scale + r.minimum;
        if (j == k) lo = running * (2 * r.bound) - r.bound;
        if (j == k + 1) hi = running * (2 * r.bound) - r.bound;
    }
    return {k, lo, hi};
}

// One element's bin: its knots and the derivatives at them.
struct BinValues {
    real x0, x1, y0, y1, d0, d1;
};

// The terms of the bin's rational function at ξ shared by y, dy/dx and their gradients.
struct Rational {
    real w, h, s, xi, t;  // width, height, slope h/w, ξ, ξ(1 − ξ)
    real delta;           // d_{k+1} + d_k − 2s
    real den;             // s + δ ξ(1 − ξ)
    real slope_num;       // d_{k+1} ξ² + 2s ξ(1 − ξ) + d_k (1 − ξ)²
};

Rational rational_at(const BinValues& b, real xi) {
    Rational r;
    r.w = b.x1 - b.x0;
    r.h = b.y1 - b.y0;
    r.s = r.h / r.w;
    r.xi = xi;
    r.t = xi * (1 - xi);
    r.delta = b.d1 + b.d0 - 2 * r.s;
    r.den = r.s + r.delta * r.t;
    r.slope_num = b.d1 * xi * xi + 2 * r.s * r.t + b.d0 * (1 - xi) * (1 - xi);
    return r;
}

// log dy/dx = 2 log s + log[d_{k+1} ξ² + 2s ξ(1−ξ) + d_k (1−ξ)²] − 2 log[s + δ ξ(1−ξ)].
real log_slope(const Rational& r) { return 2 * std::log(r.s) + std::log(r.slope_num) - 2 * std::log(r.den); }

// y = y_k + h [s ξ² + d_k ξ(1−ξ)] / [s + δ ξ(1−ξ)].
real forward_value(const BinValues& b, const Rational& r) {
    return b.y0 + r.h * (r.s * r.xi * r.xi + b.d0 * r.t) / r.den;
}

// The root ξ = 2c / (−b − √(b² − 4ac)) of the bin's quadratic for y (clamped into [−B, B]).
real inverse_xi(const BinValues& b, real y) {
    const real h = b.y1 - b.y0, s = h / (b.x1 - b.x0);
    const real rise = y - b.y0, rise_delta = rise * (b.d1 + b.d0 - 2 * s);
    const real qa = h * (s - b.d0) + rise_delta, qb = h * b.d0 - rise_delta, qc = -(s * rise);
    return 2 * qc / (-qb - std::sqrt(qb * qb - 4 * (qa * qc)));
}

// Adjoints of x and the bin's six quantities, for adjoints ay of y and al of L = log dy/dx.
struct BinAdjoint {
    real x, x0, x1, y0, y1, d0, d1;
};

BinAdjoint forward_adjoint(const BinValues& b, const Rational& r, real ay, real al) {
    const real xi = r.xi, rest = 1 - xi, t = r.t, q = r.den, q2 = q * q, num = r.slope_num;
    const real p = r.s * xi * xi + b.d0 * t;  // (y − y_k) / h = p / q
    // Partials of y and L in (ξ, s, h, d_k, d_{k+1}), each holding the others fixed.
    const real y_xi = r.h * r.s * num / q2;  // w · dy/dx
    const real y_s = r.h * (xi * xi * q - p * (1 - 2 * t)) / q2;
    const real y_h = p / q;
    const real y_d0 = r.h * t * (q - p) / q2;
    const real y_d1 = -r.h * t * p / q2;
    const real l_xi = 2 * (b.d1 * xi + r.s * (1 - 2 * xi) - b.d0 * rest) / num - 2 * r.delta * (1 - 2 * xi) / q;
    const real l_s = 2 / r.s + 2 * t / num - 2 * (1 - 2 * t) / q;
    const real l_d0 = rest * rest / num - 2 * t / q;
    const real l_d1 = xi * xi / num - 2 * t / q;
    // Through ξ = (x − x_k)/w, s = h/w, w = x_{k+1} − x_k, h = y_{k+1} − y_k.
    const real g_xi = ay * y_xi + al * l_xi, g_s = ay * y_s + al * l_s;
    const real g_h = ay * y_h + g_s / r.w;
    const real g_w = -(g_s * r.s + g_xi * xi) / r.w;
    return {g_xi / r.w, -g_xi / r.w - g_w, g_w, ay - g_h, g_h, ay * y_d0 + al * l_d0, ay * y_d1 + al * l_d1};
}

// dst (+)= v: overwrite when beta is 0 (stale memory), add when 1.
void put(real& dst, real v, real beta) { dst = beta == 0 ? v : dst + v; }

// The adjoints of knots k (lo) and k + 1 (hi) of one coordinate, passed to its K raw values: knot j
// (0 < j < K) reaches fraction f_i for i < j with factor 2B, f = m + (1 − K m) p, then softmax's rule
// ∂raw_i = p_i (∂p_i − Σ_j p_j ∂p_j). `scale` is 2B (1 − K m).
void knots_to_raw(const real* p, std::size_t bins, std::size_t k, real lo, real hi, real scale, real* out,
                  real beta) {
    const real a = k > 0 ? lo : 0.0, b = k + 1 < bins ? hi : 0.0;
    real dot = 0;  // Σ_i p_i ∂p_i / scale
    for (std::size_t i = 0; i <= k; ++i) dot += p[i] * (i < k ? a + b : b);
    for (std::size_t i = 0; i < bins; ++i) {
        const real gp = (i < k ? a : 0.0) + (i <= k ? b : 0.0);
        put(out[i], scale * p[i] * (gp - dot), beta);
    }
}

// The four inputs' gradient buffers (null if an input needs none). An input passed twice would be
// handed back live but unwritten the second time, so it is zero-filled once and only added to.
struct GradTargets {
    Array* g[4];
    real beta[4];
};

GradTargets grad_targets(Tape& t, const Node& n) {
    GradTargets out{};
    for (std::size_t k = 0; k < 4; ++k) {
        out.g[k] = t.grad_for_write(n.input(k), out.beta[k]);
        for (std::size_t j = 0; j < k; ++j) {
            if (n.input(j) != n.input(k) || !out.g[k]) continue;
            if (out.beta[j] == 0) out.g[j]->fill(0);
            out.beta[j] = out.beta[k] = 1;
        }
    }
    return out;
}

struct SplineShape {
    std::size_t n, d, bins;
};

SplineShape shape_of_node(Tape& t, const Node& node) {
    const Array& x = t.node(node.input(0)).value;
    const std::size_t d = x.shape()[1];
    return {x.shape()[0], d, t.node(node.input(1)).value.shape()[1] / d};
}

// ---- rational_quadratic_spline: backward (forward below) ----
void spline_backward(Tape& t, std::uint32_t self) {
    const Node& node = t.node(self);
    const SplineShape sh = shape_of_node(t, node);
    const std::size_t m = sh.n * sh.d, bins = sh.bins, stride = 2 * bins + kBinSaved;
    const bool inverse = node.axis != 0;
    const real* raw_d = t.node(node.input(3)).value.data();
    const real* gy = node.grad.data();
    const real* gl = node.grad.data() + m;  // Note [fused outputs]
    const GradTargets out = grad_targets(t, node);
    for (std::size_t e = 0; e < m; ++e) {
        const std::int64_t bin = node.index.data()[e];
        const std::size_t wk = e * bins, dk = e * (bins - 1);  // the element's first raw column
        if (bin < 0) {  // tails: the identity
            if (out.g[0]) put(out.g[0]->data()[e], gy[e], out.beta[0]);
            for (std::size_t j = 0; j < bins; ++j) {
                if (out.g[1]) put(out.g[1]->data()[wk + j], 0.0, out.beta[1]);
                if (out.g[2]) put(out.g[2]->data()[wk + j], 0.0, out.beta[2]);
                if (out.g[3] && j + 1 < bins) put(out.g[3]->data()[dk + j], 0.0, out.beta[3]);
            }
            continue;
        }
        const std::size_t k = static_cast<std::size_t>(bin);
        const real* saved = node.saved.data() + e * stride;
        const real* bv = saved + 2 * bins;
        const BinValues b{bv[0], bv[1], bv[2], bv[3], bv[4], bv[5]};
        const Rational r = rational_at(b, bv[6]);
        BinAdjoint a;
        if (!inverse) {
            a = forward_adjoint(b, r, gy[e], gl[e]);
        } else {
            // Implicit function theorem on y = F(x): see the gradients paragraph at the top.
            const real slope = r.s * r.s * r.slope_num / (r.den * r.den);
            const real l_x = (2 * (b.d1 * r.xi + r.s * (1 - 2 * r.xi) - b.d0 * (1 - r.xi)) / r.slope_num -
                              2 * r.delta * (1 - 2 * r.xi) / r.den) / r.w;
            const real total = (gy[e] - gl[e] * l_x) / slope;
            a = forward_adjoint(b, r, -total, -gl[e]);
            a.x = total;
        }
        if (out.g[0]) put(out.g[0]->data()[e], a.x, out.beta[0]);
        if (out.g[1]) knots_to_raw(saved, bins, k, a.x0, a.x1, node.s0, out.g[1]->data() + wk, out.beta[1]);
        if (out.g[2]) knots_to_raw(saved + bins, bins, k, a.y0, a.y1, node.s1, out.g[2]->data() + wk, out.beta[2]);
        if (out.g[3]) {
            real* gd = out.g[3]->data() + dk;
            for (std::size_t j = 0; j + 1 < bins; ++j) {  // raw_d column j is the derivative at knot j + 1
                real v = 0;
                if (j + 1 == k) v += a.d0 * sigmoid_of(raw_d[dk + j]);
                if (j == k) v += a.d1 * sigmoid_of(raw_d[dk + j]);
                put(gd[j], v, out.beta[3]);
            }
        }
    }
}

// ---- rational_quadratic_spline: forward ----
// One element: its softmaxes into `saved`, the bin, the output and the log-determinant.
void spline_element(const real* rw, const real* rh, const real* rd, real v, std::size_t bins, bool inverse,
                    const SplineOptions& o, real* saved, std::int64_t& bin, real& out, real& logdet) {
    if (!(v >= -o.tail_bound && v <= o.tail_bound)) {  // tails (and NaN): the identity
        bin = -1;
        out = v;
        logdet = 0;
        return;
    }
    real* p = saved;
    real* q = saved + bins;
    softmax_into(rw, bins, p);
    softmax_into(rh, bins, q);
    const KnotRow xs{p, bins, o.min_bin_width, o.tail_bound}, ys{q, bins, o.min_bin_height, o.tail_bound};
    const Interval found = inverse ? find_bin(ys, v) : find_bin(xs, v);
    const Interval other = inverse ? bin_knots(xs, found.bin) : bin_knots(ys, found.bin);
    const std::size_t k = found.bin;
    const Interval& xk = inverse ? other : found;
    const Interval& yk = inverse ? found : other;
    const real d0 = k == 0 ? 1.0 : o.min_derivative + softplus_of(rd[k - 1]);
    const real d1 = k + 1 == bins ? 1.0 : o.min_derivative + softplus_of(rd[k]);
    const BinValues b{xk.lo, xk.hi, yk.lo, yk.hi, d0, d1};
    const real xi = inverse ? inverse_xi(b, v) : (v - b.x0) / (b.x1 - b.x0);
    const Rational r = rational_at(b, xi);
    bin = static_cast<std::int64_t>(k);
    out = inverse ? b.x0 + xi * r.w : forward_value(b, r);
    logdet = inverse ? -log_slope(r) : log_slope(r);
    real* bv = saved + 2 * bins;
    bv[0] = b.x0, bv[1] = b.x1, bv[2] = b.y0, bv[3] = b.y1, bv[4] = b.d0, bv[5] = b.d1, bv[6] = xi;
}

Var fused_spline(Var x, Var widths, Var heights, Var derivatives, bool inverse, const SplineOptions& o) {
    Tape& t = x.tape();
    const std::size_t n = x.rows(), d = x.cols(), bins = widths.cols() / d, m = n * d;
    const std::uint32_t i = t.push("rational_quadratic_spline", spline_backward, {x, widths, heights, derivatives}, {2 * n, d});
    Node& node = t.node(i);
    node.axis = inverse ? 1 : 0;
    node.s0 = 2 * o.tail_bound * (1.0 - static_cast<real>(bins) * o.min_bin_width);
    node.s1 = 2 * o.tail_bound * (1.0 - static_cast<real>(bins) * o.min_bin_height);
    Array& saved = t.saved(i, {m, 2 * bins + kBinSaved});  // Note [what the fused node saves]
    IndexArray& bin = t.index(i, m, 1);
    const real *xv = x.value().data(), *rw = widths.value().data(), *rh = heights.value().data(),
               *rd = derivatives.value().data();
    real* value = node.value.data();
    for (std::size_t e = 0; e < m; ++e)
        spline_element(rw + e * bins, rh + e * bins, rd + e * (bins - 1), xv[e], bins, inverse, o,
                       saved.data() + e * (2 * bins + kBinSaved), bin.data()[e], value[e], value[m + e]);
    return t.finish(i, nullptr);  // no tangent rule: second derivatives of the spline are not needed
}

std::string option_values(const SplineOptions& o) {
    return "tail_bound " + std::to_string(o.tail_bound) + ", min_bin_width " + std::to_string(o.min_bin_width) +
           ", min_bin_height " + std::to_string(o.min_bin_height) + ", min_derivative " +
           std::to_string(o.min_derivative);
}

// Checks the shapes and options of a spline call and returns K; ShapeError or ValueError naming `who`.
std::size_t check_spline_inputs(const char* who, Var x, Var widths, Var heights, Var derivatives,
                                const SplineOptions& o) {
    const std::size_t n = x.rows(), d = x.cols();
    if (n == 0 || d == 0) throw ValueError(std::string(who) + ": needs a non-empty input, got x " + shape_string(x.shape()));
    const std::size_t bins = widths.cols() / d;
    const bool fits = widths.rows() == n && widths.cols() == d * bins && heights.shape() == widths.shape() &&
                      bins >= 1 && derivatives.shape() == Shape{n, d * (bins - 1)};
    if (!fits)
        throw ShapeError(std::string(who) + ": x " + shape_string(x.shape()) + " needs widths and heights N×(D·K) and derivatives N×(D·(K−1)) with N = " +
                         std::to_string(n) + ", D = " + std::to_string(d) + ", got widths " + shape_string(widths.shape()) +
                         ", heights " + shape_string(heights.shape()) + ", derivatives " +
                         shape_string(derivatives.shape()));
    check_spline_options(who, bins, o);
    return bins;
}

}  // namespace

void check_spline_options(const char* who, std::size_t bins, const SplineOptions& o) {
    const real k = static_cast<real>(bins);
    const bool ok = bins >= 2 && std::isfinite(o.tail_bound) && o.tail_bound > 0 && o.min_bin_width > 0 &&
                    o.min_bin_height > 0 && o.min_derivative > 0 && std::isfinite(o.min_derivative) &&
                    k * o.min_bin_width < 1 && k * o.min_bin_height < 1;
    if (!ok)
        throw ValueError(std::string(who) + ": bad spline options for " + std::to_string(bins) + " bins (" +
                         option_values(o) +
                         "); needs at least 2 bins, a finite tail bound > 0, minimums > 0 and bins * min < 1");
}

real identity_raw_derivative(const SplineOptions& o) { return std::log(std::expm1(1.0 - o.min_derivative)); }

SplineResult rational_quadratic_spline(Var x, Var widths, Var heights, Var derivatives, bool inverse,
                                       const SplineOptions& o) {
    check_spline_inputs("rational_quadratic_spline", x, widths, heights, derivatives, o);
    const Var both = fused_spline(x, widths, heights, derivatives, inverse, o);  // Note [fused outputs]
    const std::size_t n = x.rows();
    return {rows(both, 0, n), rows(both, n, 2 * n)};
}

}  // namespace flowtape
