// Rational-quadratic splines (Durkan et al. 2019, "Neural Spline Flows"): the pure mathematics of
// the monotone elementwise map behind the nsf transforms, recorded on the tape as one fused op (and,
// for testing, as the unfused composite of existing ops). No classes; flows/transforms/nsf.hpp wraps it with
// conditioner networks. docs/splines.md has the derivation.
//
// Each element x of an N×D input gets its own spline of K bins on [−B, B], from unnormalised
// (raw) parameters: K widths, K heights and K − 1 interior derivatives. With m_w, m_h, m_d the
// minimum bin width, height and derivative:
//
//   w_k = m_w + (1 − K m_w) softmax(raw_w)_k,   h_k likewise,           k = 0 … K−1
//   x_0 = −B,  x_k = −B + 2B Σ_{j<k} w_j,  x_K = B   (the ends pinned exactly); y_k likewise from h
//   d_0 = d_K = 1,  d_k = m_d + softplus(raw_d)_k for the interior knots k = 1 … K−1
//
// The bin widths used below are the knot differences x_{k+1} − x_k (2B times the w_k above, up to
// rounding), so that ξ stays in [0, 1]. In bin k, with ξ = (x − x_k)/(x_{k+1} − x_k), width w,
// height h and slope s = h/w:
//
//   y      = y_k + h [s ξ² + d_k ξ(1−ξ)] / [s + (d_{k+1} + d_k − 2s) ξ(1−ξ)]
//   dy/dx  = s² [d_{k+1} ξ² + 2s ξ(1−ξ) + d_k (1−ξ)²] / [s + (d_{k+1} + d_k − 2s) ξ(1−ξ)]²
//
// Inverse: for y in bin k, Δ = y − y_k and δ = d_{k+1} + d_k − 2s, ξ is the root in [0, 1] of
// a ξ² + b ξ + c = 0 with
//
//   a = h (s − d_k) + Δ δ,   b = h d_k − Δ δ,   c = −s Δ,
//
// taken in the stable form ξ = 2c / (−b − √(b² − 4ac)) (no cancellation, and finite where a = 0);
// then x = x_k + ξ w, and the log-determinant is −log dy/dx at that ξ. The discriminant equals
// (2aξ + b)² = (w · den · dy/dx)² at the root, so it is positive whenever the derivatives are.
//
// Tails: outside [−B, B] the map is the identity with log-determinant 0; the boundary derivatives
// d_0 = d_K = 1 make y and dy/dx continuous there. The fused op skips the spline for such an element;
// the composite reference evaluates its spline branch at the input clamped into [−B, B], so the
// branch that `select` discards stays finite in value and gradient and no NaN can leak from it.
#pragma once

#include "autodiff/ops.hpp"

namespace flowtape {

struct SplineOptions {
    real tail_bound = 3.0;        // B: the spline acts on [−B, B]
    real min_bin_width = 1e-3;    // m_w, as a fraction of the interval (0 < K m_w < 1)
    real min_bin_height = 1e-3;   // m_h, likewise
    real min_derivative = 1e-3;   // m_d > 0, the least slope at an interior knot
};

struct SplineResult {
    Var out;     // y (forward) or x (inverse), N×D
    Var logdet;  // elementwise log|dy/dx| (forward) or log|dx/dy| (inverse), N×D
};

// The spline applied elementwise to x (N×D). widths and heights are N×(D·K), derivatives
// N×(D·(K−1)); element (n, i) reads columns i·K … i·K + K − 1 of widths and heights and
// i·(K−1) … i·(K−1) + K − 2 of derivatives (K ≥ 2). `inverse` maps y back to x. ShapeError for
// shapes that do not fit, ValueError for bad options (B ≤ 0, a minimum ≤ 0 or K·m ≥ 1).
// One fused tape op (forward and backward written out in flows/transforms/spline.cpp); it has no tangent rule,
// so a tangent reaching it throws TapeError (no second derivatives through the spline).
SplineResult rational_quadratic_spline(Var x, Var widths, Var heights, Var derivatives, bool inverse,
                                       const SplineOptions& options = {});

// The raw interior derivative that gives exactly slope 1 after m_d + softplus: log(e^{1 − m_d} − 1).
// Zero raw widths and heights with this raw derivative make the spline the identity.
real identity_raw_derivative(const SplineOptions& options);

// ValueError naming `who` unless B > 0, every minimum is positive and K·m_w, K·m_h < 1.
void check_spline_options(const char* who, std::size_t bins, const SplineOptions& options);

}  // namespace flowtape
