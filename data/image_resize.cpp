// Area-averaging resize of square images (image_resize.hpp).
#include "data/image_resize.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace flowtape::data {
namespace {

// The weights of one axis: w[o][i] = |[o·s, (o+1)·s) ∩ [i, i+1)| / s with s = from/to: the share of
// output cell o that input cell i covers. Each output cell's weights sum to 1.
std::vector<std::vector<real>> axis_weights(std::size_t from, std::size_t to) {
    const real scale = static_cast<real>(from) / static_cast<real>(to);
    std::vector<std::vector<real>> w(to, std::vector<real>(from, 0));
    for (std::size_t o = 0; o < to; ++o) {
        const real lo = static_cast<real>(o) * scale, hi = static_cast<real>(o + 1) * scale;
        for (std::size_t i = 0; i < from; ++i) {
            const real overlap = std::min(hi, static_cast<real>(i + 1)) - std::max(lo, static_cast<real>(i));
            if (overlap > 0) w[o][i] = overlap / scale;
        }
    }
    return w;
}

}  // namespace

Array resize_images(const Array& x, std::size_t from, std::size_t to) {
    if (from == 0 || to == 0)
        throw ValueError("resize_images: the sides must be at least 1, got " + std::to_string(from) + " and " +
                         std::to_string(to));
    if (x.shape()[1] != from * from)
        throw ValueError("resize_images: " + std::to_string(from) + "×" + std::to_string(from) + " images need " +
                         std::to_string(from * from) + " columns, got " + std::to_string(x.shape()[1]));
    const auto w = axis_weights(from, to);
    const std::size_t n = x.shape()[0];
    Array out = xt::zeros<real>({n, to * to});
    std::vector<real> rows(to * from);  // the image resized along its rows first: to × from
    for (std::size_t k = 0; k < n; ++k) {
        std::fill(rows.begin(), rows.end(), 0);
        for (std::size_t o = 0; o < to; ++o)
            for (std::size_t i = 0; i < from; ++i)
                if (w[o][i] > 0)
                    for (std::size_t c = 0; c < from; ++c) rows[o * from + c] += w[o][i] * x(k, i * from + c);
        for (std::size_t r = 0; r < to; ++r)
            for (std::size_t o = 0; o < to; ++o) {
                real v = 0;
                for (std::size_t c = 0; c < from; ++c) v += w[o][c] * rows[r * from + c];
                out(k, r * to + o) = v;
            }
    }
    return out;
}

}  // namespace flowtape::data
