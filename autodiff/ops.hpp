// The differentiable ops. Each takes its tape from its inputs and appends one node.
//
// Shapes: values are 2-D. Binary elementwise ops broadcast explicitly: each dimension of the two
// operands must be equal or 1, so a row (1×D) applies to every row of an N×D operand, a column
// (N×1) to every column, and a 1×1 scalar to everything; the gradient of a broadcast operand is
// summed back to its shape. Anything else throws ShapeError naming the op and both shapes.
//
// Tangents (forward-mode, recorded on the tape; see Note [second derivatives by tangents] in
// tape.hpp): ops marked [T] have a tangent rule. Others throw if a tangent reaches them.
//
// Each op's forward, backward and tangent rule sit side by side in the file named in brackets.
#pragma once

#include <vector>

#include "autodiff/tape.hpp"

namespace flowtape {

using Mask = xt::xtensor<bool, 2>;

// ---- arithmetic.cpp ----
Var add(Var a, Var b);  // [T] a + b
Var sub(Var a, Var b);  // [T] a − b
Var mul(Var a, Var b);  // [T] a ⊙ b;  ∂a = g ⊙ b, ∂b = g ⊙ a
Var div(Var a, Var b);  // [T] a / b;  ∂a = g / b, ∂b = −g ⊙ a / b²
Var neg(Var a);         // [T] −a
Var add_scalar(Var a, real c);  // [T] a + c
Var mul_scalar(Var a, real c);  // [T] c · a

inline Var operator+(Var a, Var b) { return add(a, b); }
inline Var operator-(Var a, Var b) { return sub(a, b); }
inline Var operator*(Var a, Var b) { return mul(a, b); }
inline Var operator/(Var a, Var b) { return div(a, b); }
inline Var operator-(Var a) { return neg(a); }
inline Var operator+(Var a, real c) { return add_scalar(a, c); }
inline Var operator+(real c, Var a) { return add_scalar(a, c); }
inline Var operator-(Var a, real c) { return add_scalar(a, -c); }
inline Var operator-(real c, Var a) { return add_scalar(neg(a), c); }
inline Var operator*(Var a, real c) { return mul_scalar(a, c); }
inline Var operator*(real c, Var a) { return mul_scalar(a, c); }
inline Var operator/(Var a, real c) { return mul_scalar(a, 1.0 / c); }

// ---- matmul.cpp ----
Var matmul(Var a, Var b);          // [T] (N×K)(K×M) through BLAS gemm; ∂a = g bᵀ, ∂b = aᵀ g
Var transpose(Var a);              // [T]
Var linear(Var x, Var w, Var b);   // [T] x w + b with b a 1×M row, fused into one gemm

// ---- tiled_linear.cpp ----
// The rectangles [r0, r1) × [c0, c1) of an in×out weight that hold every nonzero of a 0/1 mask,
// for products that skip the zeros of a masked weight (a MADE's masks are about half zeros). See
// tiled_linear.cpp for how they are found.
struct WeightTile {
    std::size_t r0, r1, c0, c1;
};
struct WeightTiles {
    std::size_t in = 0, out = 0;
    std::vector<WeightTile> tiles;  // disjoint
    // Σ tile areas / (in·out): the share of the dense product's work the tiles do.
    double fraction() const;
};
// Rectangles covering the nonzeros of a mask whose rows fall into runs where each row's nonzeros
// lie within the row above's (a MADE mask), each run's staircase split recursively down to
// rectangles of min_cols columns or min_rows rows (Note [covering a staircase]). Any mask gets a
// correct cover; staircases get a tight one. ValueError for min_cols = 0.
WeightTiles tile_mask(const Array& mask, std::size_t min_cols = 256, std::size_t min_rows = 128);
// y = x (w ⊙ T) + b with T the 0/1 pattern of the tiles (b a 1×out row, or an invalid Var for
// none): one gemm per tile, and so ∂x = g (w ⊙ T)ᵀ, ∂w = (xᵀ g) ⊙ T, ∂b = Σ_rows g, each tile by
// tile. Equal to linear(x, w ⊙ mask, b) when w is zero outside the tiles' mask. [T] The tiles must
// outlive the tape's use of the node. ShapeError unless x is N×in, w in×out, b 1×out.
Var tiled_linear(Var x, Var w, Var b, const WeightTiles& tiles);

// ---- elementwise.cpp ----
Var exp(Var x);          // [T] ∂x = g ⊙ y
Var log(Var x);          // [T] ∂x = g / x
Var log1p(Var x);        // [T] ∂x = g / (1 + x)
Var sqrt(Var x);         // [T] ∂x = g / (2y)
Var square(Var x);       // [T] ∂x = 2 g ⊙ x
Var one_minus_square(Var x);  // [T] 1 − x² (tanh' from tanh's output); ∂x = −2 g ⊙ x
Var pow(Var x, real p);  // [T] x^p; ∂x = g p x^(p−1)
Var abs(Var x);          //     ∂x = g sign(x) (0 at 0)
Var tanh(Var x);         // [T] ∂x = g (1 − y²)
// (1 − y²) ⊙ v for y = tanh x: tanh's tangent along v, fused (its tangent rule records it).
// [T] ∂y = −2 g ⊙ y ⊙ v, ∂v = g ⊙ (1 − y²). ShapeError unless y and v have one shape.
Var tanh_jvp(Var y, Var v);
Var sigmoid(Var x);      // [T] ∂x = g y (1 − y)
Var relu(Var x);         // [T] ∂x = g [x > 0]
Var elu(Var x, real alpha = 1.0);  // [T] x if x > 0 else α(eˣ − 1); ∂x = g (x > 0 ? 1 : y + α)
Var softplus(Var x);     // [T] log(1 + eˣ), stable; ∂x = g σ(x)
Var log_sigmoid(Var x);  // [T] −softplus(−x); ∂x = g σ(−x)
// The standard normal CDF Φ(x) = ½ erfc(−x/√2) and its inverse, the quantile Φ⁻¹(u) (to full
// double precision, also in the lower tail down to u ≈ 1e−300; −∞ at u = 0, +∞ at u = 1, NaN
// outside [0, 1]). φ(x) = e^(−x²/2)/√(2π).
Var normal_cdf(Var x);       // [T] ∂x = g φ(x)
Var normal_quantile(Var u);  // [T] ∂u = g / φ(y)
// The same on plain numbers.
real normal_cdf_scalar(real x);
real normal_quantile_scalar(real u);
// Clamp to [lo, hi]. Gradient: passes where lo ≤ x ≤ hi (bounds included, as PyTorch), zero
// outside.
Var clamp(Var x, real lo, real hi);

// ---- reduction.cpp ----
// axis 0 reduces over rows (N×D → 1×D), axis 1 over columns (N×D → N×1).
Var sum(Var x);            // [T] all elements → 1×1
Var sum(Var x, int axis);  // [T]
Var mean(Var x);           // [T] needs at least one element
Var mean(Var x, int axis); // [T]
// Σ_j a(n, j) b(n, j) per row: N×D, N×D → N×1, i.e. sum(mul(a, b), 1) without the N×D product.
// [T] ∂a = g ⊙ b, ∂b = g ⊙ a (g broadcast along the row). ShapeError unless a and b have one shape.
Var dot_rows(Var a, Var b);
// log Σ exp along an axis, shifted by the maximum so it never overflows; ∂x = g ⊙ softmax(x).
Var logsumexp(Var x, int axis);
// softmax(x / T) and its logarithm along an axis, T > 0 the temperature.
Var softmax(Var x, int axis, real temperature = 1.0);
Var log_softmax(Var x, int axis, real temperature = 1.0);

// ---- indexing.cpp ----
Var cols(Var x, std::size_t begin, std::size_t end);  // [T] columns [begin, end)
Var rows(Var x, std::size_t begin, std::size_t end);  // [T] rows [begin, end)
Var concat(const std::vector<Var>& parts, int axis);  // [T] axis 1 side by side, axis 0 stacked
Var reshape(Var x, std::size_t rows, std::size_t cols);  // [T] row-major, same number of elements
// axis 1: out(n, j) = x(n, index(n, j)); axis 0: out(i, m) = x(index(i, m), m). The gradient is
// scattered back (added where an index repeats). Indices are checked.
Var gather(Var x, const IndexArray& index, int axis);
// Rows `rows` of x in that order (a gather along axis 0; repeats allowed). [T]
Var take_rows(Var x, const std::vector<std::size_t>& rows);
// out = mask ? a : b elementwise; a, b and mask have one shape. [T] (Not named `where`: with an
// xtensor Mask argument, an unqualified call would find xt::where by argument-dependent lookup.)
Var select(const Mask& mask, Var a, Var b);
// The value with no gradient (and no tangent) flowing back through it. [T: zero]
Var stop_gradient(Var x);
// Bin search, no gradient: for each row r and value v = values(r, j), the bin i with
// edges(r, i) ≤ v < edges(r, i + 1), clamped to [0, K − 1] for K + 1 edges (values left of the first
// edge go to bin 0, right of the last to bin K − 1). Each edges row must be ascending; a single edges
// row is used for every values row.
IndexArray searchsorted(const Array& edges, const Array& values);

}  // namespace flowtape
