// The unfused reference spline for the tests (see spline_reference.hpp).
//
// The reference's layout. The N×D input is flattened to M = N·D rows of one element each; the raw
// parameters are reshaped alongside, to M×K and M×(K−1). Knot positions and derivatives are M×(K+1)
// arrays, and each element's bin quantities are picked out of them by `gather` with the bin index
// from `searchsorted` (no gradient: the bin is piecewise constant in the input). The cumulative sums
// that place the knots are one matmul with a constant 0/1 matrix (K is small).
//
// Note [finite tails in the reference]. `select(inside, spline, x)` differentiates both branches and sends a zero
// gradient into the one not taken; a zero times a NaN is still NaN. So the reference's spline branch
// is always fed the input clamped into [−B, B], where every quantity is finite (ξ ∈ [0, 1], positive
// denominators and derivatives), and the tails cost nothing numerically.
#include "spline_reference.hpp"

#include "autodiff/ops.hpp"

namespace flowtape::test {
namespace {

// The knots of every element's spline, each (N·D)×(K+1): positions x_k, y_k and derivatives d_k.
struct Knots {
    Var x, y, derivative;
};

// The quantities of each element's own bin, each (N·D)×1.
struct Bin {
    Var x, width, y, height, d_left, d_right;
};

// Constant (N·D)×1 columns, made once per call from one buffer.
Var constant_column(Tape& t, Array& buffer, real value) {
    buffer.fill(value);
    return t.constant(buffer);
}

// K×(K−1) with ones where row ≤ column: (w U)_j = Σ_{k ≤ j} w_k, the interior cumulative sums.
Array interior_sum_matrix(std::size_t bins) {
    Array u = Array::from_shape({bins, bins - 1});
    for (std::size_t k = 0; k < bins; ++k)
        for (std::size_t j = 0; j + 1 < bins; ++j) u(k, j) = k <= j ? 1.0 : 0.0;
    return u;
}

// m + (1 − K m) softmax(raw) along each row: sizes that sum to 1, each at least m.
Var bin_fractions(Var raw, real minimum) {
    const real bins = static_cast<real>(raw.cols());
    return add_scalar(mul_scalar(softmax(raw, 1), 1.0 - bins * minimum), minimum);
}

// [−B, −B + 2B Σ_{k≤0} f_k, …, −B + 2B Σ_{k≤K−2} f_k, B]: the ends are pinned exactly rather than
// left to the rounding of a sum of K fractions, so that y(±B) = ±B and the tails join.
Var knot_positions(Var fractions, Var sum_matrix, Var lower_end, Var upper_end, real bound) {
    const Var interior = add_scalar(mul_scalar(matmul(fractions, sum_matrix), 2 * bound), -bound);
    return concat({lower_end, interior, upper_end}, 1);
}

// [1, m_d + softplus(raw_1), …, m_d + softplus(raw_{K−1}), 1]: slope 1 at both ends to match the tails.
Var knot_derivatives(Var raw, real minimum, Var ones) {
    return concat({ones, add_scalar(softplus(raw), minimum), ones}, 1);
}

Knots make_knots(Tape& t, Var raw_widths, Var raw_heights, Var raw_derivatives, const SplineOptions& o) {
    const std::size_t rows = raw_widths.rows(), bins = raw_widths.cols();
    Array column = Array::from_shape({rows, 1});
    const Var lower = constant_column(t, column, -o.tail_bound);
    const Var upper = constant_column(t, column, o.tail_bound);
    const Var ones = constant_column(t, column, 1.0);
    const Var sums = t.constant(interior_sum_matrix(bins));
    return {knot_positions(bin_fractions(raw_widths, o.min_bin_width), sums, lower, upper, o.tail_bound),
            knot_positions(bin_fractions(raw_heights, o.min_bin_height), sums, lower, upper, o.tail_bound),
            knot_derivatives(raw_derivatives, o.min_derivative, ones)};
}

// Each element's bin: knots k and k + 1 for k = bin(r, 0).
Bin gather_bin(const Knots& knots, const IndexArray& bin) {
    const IndexArray next = bin + std::int64_t(1);
    const Var x0 = gather(knots.x, bin, 1), x1 = gather(knots.x, next, 1);
    const Var y0 = gather(knots.y, bin, 1), y1 = gather(knots.y, next, 1);
    return {x0, sub(x1, x0), y0, sub(y1, y0), gather(knots.derivative, bin, 1), gather(knots.derivative, next, 1)};
}

// The bin's quantities that both directions share.
struct BinShape {
    Var slope;  // s = h / w
    Var delta;  // d_{k+1} + d_k − 2s
};
BinShape bin_shape(const Bin& b) {
    const Var s = div(b.height, b.width);
    return {s, sub(add(b.d_right, b.d_left), mul_scalar(s, 2.0))};
}

// The terms of the bin's rational function at ξ that y and dy/dx share.
struct RationalTerms {
    Var xi, rest, xi_rest;  // ξ, 1 − ξ, ξ(1 − ξ)
    Var denominator;        // s + δ ξ(1 − ξ), at least min(s, d_k, d_{k+1}) > 0 for ξ ∈ [0, 1]
};
RationalTerms terms_at(const BinShape& shape, Var xi) {
    const Var rest = 1.0 - xi;
    const Var xi_rest = mul(xi, rest);
    return {xi, rest, xi_rest, add(shape.slope, mul(shape.delta, xi_rest))};
}

// log dy/dx = 2 log s + log[d_{k+1} ξ² + 2s ξ(1−ξ) + d_k (1−ξ)²] − 2 log[s + δ ξ(1−ξ)].
Var log_slope(const Bin& b, const BinShape& shape, const RationalTerms& r) {
    const Var numerator = add(add(mul(b.d_right, square(r.xi)), mul(mul_scalar(shape.slope, 2.0), r.xi_rest)),
                              mul(b.d_left, square(r.rest)));
    return sub(add(mul_scalar(log(shape.slope), 2.0), log(numerator)), mul_scalar(log(r.denominator), 2.0));
}

// y = y_k + h [s ξ² + d_k ξ(1−ξ)] / [s + δ ξ(1−ξ)] in the element's bin.
SplineResult spline_forward(Var x, const Knots& knots) {
    const Bin b = gather_bin(knots, searchsorted(knots.x.value(), x.value()));
    const BinShape shape = bin_shape(b);
    const RationalTerms r = terms_at(shape, div(sub(x, b.x), b.width));
    const Var numerator = mul(b.height, add(mul(shape.slope, square(r.xi)), mul(b.d_left, r.xi_rest)));
    return {add(b.y, div(numerator, r.denominator)), log_slope(b, shape, r)};
}

// The root ξ = 2c / (−b − √(b² − 4ac)) of the bin's quadratic, then x = x_k + ξ w.
SplineResult spline_inverse(Var y, const Knots& knots) {
    const Bin b = gather_bin(knots, searchsorted(knots.y.value(), y.value()));
    const BinShape shape = bin_shape(b);
    const Var rise = sub(y, b.y);  // Δ = y − y_k ∈ [0, h]
    const Var rise_delta = mul(rise, shape.delta);
    const Var qa = add(mul(b.height, sub(shape.slope, b.d_left)), rise_delta);
    const Var qb = sub(mul(b.height, b.d_left), rise_delta);
    const Var qc = neg(mul(shape.slope, rise));
    const Var discriminant = sub(square(qb), mul_scalar(mul(qa, qc), 4.0));
    const Var xi = div(mul_scalar(qc, 2.0), sub(neg(qb), sqrt(discriminant)));
    return {add(b.x, mul(xi, b.width)), neg(log_slope(b, shape, terms_at(shape, xi)))};
}


}  // namespace

SplineResult rational_quadratic_spline_reference(Var x, Var widths, Var heights, Var derivatives, bool inverse,
                                                 const SplineOptions& o) {
    const std::size_t n = x.rows(), d = x.cols();
    const std::size_t bins = widths.cols() / d;
    check_spline_options("rational_quadratic_spline_reference", bins, o);
    // One element per row; see the layout note at the top of the file.
    const std::size_t m = n * d;
    Tape& t = x.tape();
    const Knots knots = make_knots(t, reshape(widths, m, bins), reshape(heights, m, bins),
                                   reshape(derivatives, m, bins - 1), o);
    const Var flat = reshape(x, m, 1);
    const Var clamped = clamp(flat, -o.tail_bound, o.tail_bound);  // Note [finite tails in the reference]
    const SplineResult inside = inverse ? spline_inverse(clamped, knots) : spline_forward(clamped, knots);

    Mask in_interval = Mask::from_shape({m, 1});
    const Array& v = flat.value();
    for (std::size_t k = 0; k < m; ++k) in_interval.data()[k] = v.data()[k] >= -o.tail_bound && v.data()[k] <= o.tail_bound;
    Array zero = xt::zeros<real>({m, std::size_t(1)});
    const Var out = select(in_interval, inside.out, flat);
    const Var logdet = select(in_interval, inside.logdet, t.constant(zero));
    return {reshape(out, n, d), reshape(logdet, n, d)};
}

}  // namespace flowtape::test
