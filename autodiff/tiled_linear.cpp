// tiled_linear: a linear layer whose weight is zero outside a set of rectangles, computed one
// rectangle at a time so that the zeros cost nothing.
//
// Note [tiles of a MADE mask]. A MADE's mask M(i, h) = [m(h) ≥ m(i)] (or >) is, in natural order,
// a staircase: about half its entries are zero, and a dense product spends half its work
// multiplying by them. The rows fall into runs of ascending degree (one for the inputs; one per
// cycle of the hidden degrees, which are cyclic), and within a run each column needs a prefix of
// the run's rows, longer for columns of higher degree. Note [covering a staircase] covers each
// run's staircase with rectangles, large ones first, so the products are few and efficient; the
// product over them does the nonzero work plus the zeros inside the rectangles, in the forward
// pass and in ∂x and ∂w alike. Each tile is one gemm on strided sub-matrices (row-major, leading
// dimensions of the whole arrays), so nothing is copied.
#include <algorithm>

#include "autodiff/op_support.hpp"
#include "core/xtensor_blas.hpp"

namespace flowtape {

using detail::TangentSum;

namespace {

// C (m×n, leading dimension ldc) = α op(A) op(B) + β C on row-major sub-matrices.
void gemm_raw(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, const real* a,
              std::size_t lda, const real* b, std::size_t ldb, real beta, real* c, std::size_t ldc) {
    if (m == 0 || n == 0) return;
    using Index = int;
    cxxblas::gemm<Index>(cxxblas::StorageOrder::RowMajor, trans_a ? cxxblas::Transpose::Trans : cxxblas::Transpose::NoTrans,
                         trans_b ? cxxblas::Transpose::Trans : cxxblas::Transpose::NoTrans, static_cast<Index>(m),
                         static_cast<Index>(n), static_cast<Index>(k), 1.0, a, static_cast<Index>(lda), b,
                         static_cast<Index>(ldb), beta, c, static_cast<Index>(ldc));
}

const WeightTiles& tiles_of(const Node& n) { return *static_cast<const WeightTiles*>(n.context[0]); }

// y[:, tile columns] += x[:, tile rows] · w[tile], every tile (y already holds the bias or zero).
void tiled_product(const Array& x, const Array& w, const WeightTiles& tiles, Array& y) {
    const std::size_t rows = x.shape()[0], in = tiles.in, out = tiles.out;
    for (const WeightTile& t : tiles.tiles)
        gemm_raw(false, false, rows, t.c1 - t.c0, t.r1 - t.r0, x.data() + t.r0, in, w.data() + t.r0 * out + t.c0, out,
                 1.0, y.data() + t.c0, out);
}

void check_shapes(Var x, Var w, Var b, const WeightTiles& tiles) {
    if (x.cols() != tiles.in || w.rows() != tiles.in || w.cols() != tiles.out)
        throw ShapeError("tiled_linear: x " + shape_string(x.shape()) + " and w " + shape_string(w.shape()) +
                         " do not fit tiles of a " + shape_string({tiles.in, tiles.out}) + " weight");
    if (b.valid() && (b.rows() != 1 || b.cols() != tiles.out))
        throw ShapeError("tiled_linear: bias must be 1\u00d7" + std::to_string(tiles.out) + ", got " +
                         shape_string(b.shape()));
}

}  // namespace

double WeightTiles::fraction() const {
    double area = 0;
    for (const WeightTile& t : tiles) area += static_cast<double>((t.r1 - t.r0) * (t.c1 - t.c0));
    return in * out == 0 ? 0.0 : area / static_cast<double>(in * out);
}

namespace {

// Rows [start, end) of a mask where each row's nonzero columns lie within the previous row's (a
// MADE's rows in ascending degree): runs end where a row reaches a column the row above does not.
std::vector<std::pair<std::size_t, std::size_t>> nested_row_runs(const Array& mask) {
    const std::size_t in = mask.shape()[0], out = mask.shape()[1];
    std::vector<std::pair<std::size_t, std::size_t>> runs;
    std::size_t start = 0;
    for (std::size_t r = 1; r <= in; ++r) {
        bool nested = r < in;
        for (std::size_t c = 0; nested && c < out; ++c) nested = !(mask(r, c) != 0 && mask(r - 1, c) == 0);
        if (!nested) {
            runs.emplace_back(start, r);
            start = r;
        }
    }
    return runs;
}

// Note [covering a staircase]. Within a row run, column c needs the run's rows up to height[c]
// (one past its last nonzero), and over a stretch of columns of non-decreasing height that is a
// staircase. cover() splits the columns [a, b) in half: the right half needs at
// least min(height) over it rows, one rectangle above `base`; then each half is covered again from
// its own base. A range narrower than min_cols, or needing fewer than min_rows more rows, is one
// bounding rectangle. Rectangles are large where the staircase is (efficient gemm calls) and the
// waste is bounded by the leaves' sizes.
struct StaircaseCover {
    const std::vector<std::size_t>& height;  // per column, rows of the run needed (from its start)
    std::size_t run_start, min_cols, min_rows;
    std::vector<WeightTile>& out;

    std::size_t max_height(std::size_t a, std::size_t b) const {
        return *std::max_element(height.begin() + static_cast<std::ptrdiff_t>(a), height.begin() + static_cast<std::ptrdiff_t>(b));
    }
    std::size_t min_height(std::size_t a, std::size_t b) const {
        return *std::min_element(height.begin() + static_cast<std::ptrdiff_t>(a), height.begin() + static_cast<std::ptrdiff_t>(b));
    }
    void emit(std::size_t r0, std::size_t r1, std::size_t a, std::size_t b) const {
        if (r1 > r0 && b > a) out.push_back({run_start + r0, run_start + r1, a, b});
    }
    void cover(std::size_t a, std::size_t b, std::size_t base) const {
        if (a >= b) return;
        const std::size_t top = max_height(a, b);
        if (top <= base) return;
        if (b - a <= min_cols || top - base <= min_rows) return emit(base, top, a, b);
        const std::size_t m = a + (b - a) / 2;
        const std::size_t h = std::max(base, min_height(m, b));
        emit(base, h, m, b);
        cover(a, m, base);
        cover(m, b, h);
    }
};

}  // namespace

WeightTiles tile_mask(const Array& mask, std::size_t min_cols, std::size_t min_rows) {
    if (min_cols == 0) throw ValueError("tile_mask: min_cols must be at least 1, got 0");
    WeightTiles out;
    out.in = mask.shape()[0];
    out.out = mask.shape()[1];
    std::vector<std::size_t> height(out.out);
    for (const auto& [start, end] : nested_row_runs(mask)) {
        for (std::size_t c = 0; c < out.out; ++c) {
            std::size_t h = 0;
            for (std::size_t r = start; r < end; ++r)
                if (mask(r, c) != 0) h = r - start + 1;
            height[c] = h;
        }
        // Cover each stretch of columns whose heights do not decrease (a MADE's hidden columns
        // come in cycles of ascending degree) on its own: a split inside a stretch sees a staircase.
        const StaircaseCover cover{height, start, min_cols, min_rows, out.tiles};
        std::size_t a = 0;
        for (std::size_t c = 1; c <= out.out; ++c)
            if (c == out.out || height[c] < height[c - 1]) {
                cover.cover(a, c, 0);
                a = c;
            }
    }
    return out;
}

// ---- tiled_linear: y = x (w ⊙ T) + b ----
static void tiled_linear_backward(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    const WeightTiles& tiles = tiles_of(n);
    const Array& x = t.node(n.inputs[0]).value;
    const Array& w = t.node(n.inputs[1]).value;
    const std::size_t rows = x.shape()[0], in = tiles.in, out = tiles.out;
    real beta = 0;
    // ∂x[:, rows of a tile] += g[:, its columns] · w[tile]ᵀ; rows in no tile get 0.
    if (Array* gx = t.grad_for_write(n.inputs[0], beta)) {
        if (beta == 0) gx->fill(0);
        for (const WeightTile& q : tiles.tiles)
            gemm_raw(false, true, rows, q.r1 - q.r0, q.c1 - q.c0, n.grad.data() + q.c0, out,
                     w.data() + q.r0 * out + q.c0, out, 1.0, gx->data() + q.r0, in);
    }
    // ∂w[tile] += x[:, tile rows]ᵀ · g[:, tile columns]; 0 outside the tiles.
    if (Array* gw = t.grad_for_write(n.inputs[1], beta)) {
        if (beta == 0) gw->fill(0);
        for (const WeightTile& q : tiles.tiles)
            gemm_raw(true, false, q.r1 - q.r0, q.c1 - q.c0, rows, x.data() + q.r0, in, n.grad.data() + q.c0, out, 1.0,
                     gw->data() + q.r0 * out + q.c0, out);
    }
    // ∂b = Σ_rows g.
    if (n.input_count == 3)
        if (Array* gb = t.grad_for_write(n.inputs[2], beta)) {
            real* sum = gb->data();
            if (beta == 0) std::fill_n(sum, out, 0.0);
            for (std::size_t r = 0; r < rows; ++r) {
                const real* g = n.grad.data() + r * out;
                for (std::size_t c = 0; c < out; ++c) sum[c] += g[c];
            }
        }
}
static Var tiled_linear_tangent(Tape& t, std::uint32_t self) {
    // ẏ = ẋ (w ⊙ T) + x (ẇ ⊙ T) + ḃ
    const Node& n = t.node(self);
    const WeightTiles& tiles = tiles_of(n);
    const Var tx = t.tangent_or_none(n.inputs[0]), tw = t.tangent_or_none(n.inputs[1]);
    const Var tb = n.input_count == 3 ? t.tangent_or_none(n.inputs[2]) : Var();
    TangentSum s;
    if (tx.valid()) s.add(tiled_linear(tx, t.var(n.inputs[1]), Var(), tiles));
    if (tw.valid()) s.add(tiled_linear(t.var(n.inputs[0]), tw, Var(), tiles));
    if (tb.valid()) s.add(add(tb, t.constant(xt::zeros<real>(n.value.shape()))));  // a row, broadcast
    return s.get();
}
Var tiled_linear(Var x, Var w, Var b, const WeightTiles& tiles) {
    Tape& t = x.tape();
    check_shapes(x, w, b, tiles);
    const std::uint32_t i = b.valid() ? t.push("tiled_linear", tiled_linear_backward, {x, w, b}, {x.rows(), tiles.out})
                                      : t.push("tiled_linear", tiled_linear_backward, {x, w}, {x.rows(), tiles.out});
    Node& n = t.node(i);
    n.context[0] = const_cast<WeightTiles*>(&tiles);
    Array& y = n.value;
    const std::size_t rows = y.shape()[0], out = tiles.out;
    if (b.valid()) {
        const real* bias = b.value().data();
        for (std::size_t r = 0; r < rows; ++r) std::copy_n(bias, out, y.data() + r * out);
    } else {
        y.fill(0);
    }
    tiled_product(x.value(), w.value(), tiles, y);
    return t.finish(i, tiled_linear_tangent);
}

}  // namespace flowtape
