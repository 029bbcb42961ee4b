// Transport maps as pictures (plot.hpp): each input point coloured by its position, each pixel the
// mean colour of the points that land in it — the flows-for-flows paper's way of showing where a
// map sends each part of a distribution.
#include <algorithm>
#include <cmath>

#include "app/plot.hpp"
#include "core/error.hpp"

namespace flowtape::app {

Rgb position_colour(real x, real y, real lo, real hi) {
    // Four hues far apart at the corners; a blend keeps the map continuous, and no corner is close
    // to white, so an empty (white) pixel never looks like a landed point.
    const Rgb bottom_left{0.16, 0.35, 0.85}, bottom_right{0.15, 0.7, 0.3}, top_left{0.85, 0.18, 0.2},
        top_right{0.95, 0.75, 0.1};
    const real u = std::clamp((x - lo) / (hi - lo), real(0), real(1));
    const real v = std::clamp((y - lo) / (hi - lo), real(0), real(1));
    const auto blend = [&](double a, double b, double c, double d) {
        return (1 - v) * ((1 - u) * a + u * b) + v * ((1 - u) * c + u * d);
    };
    return {blend(bottom_left.r, bottom_right.r, top_left.r, top_right.r),
            blend(bottom_left.g, bottom_right.g, top_left.g, top_right.g),
            blend(bottom_left.b, bottom_right.b, top_left.b, top_right.b)};
}

Array transport_image(const Array& inputs, const Array& outputs, std::size_t grid, real lo, real hi,
                      std::size_t* skipped) {
    if (inputs.shape()[1] != 2 || inputs.shape() != outputs.shape())
        throw ShapeError("transport_image: inputs " + shape_string(shape_of(inputs)) + " and outputs " +
                         shape_string(shape_of(outputs)) + " (N×2 each, row i of the outputs where input i went)");
    if (grid < 2) throw ValueError("transport_image: the grid needs at least 2 pixels a side, got " + std::to_string(grid));
    if (!(std::isfinite(lo) && std::isfinite(hi) && lo < hi))
        throw ValueError("transport_image: bad range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    Array sum = xt::zeros<real>({grid, 3 * grid});
    std::vector<std::size_t> count(grid * grid, 0);
    std::size_t left_out = 0;
    const real cell = (hi - lo) / static_cast<real>(grid);
    for (std::size_t k = 0; k < inputs.shape()[0]; ++k) {
        const real x = outputs(k, 0), y = outputs(k, 1);
        if (!(std::isfinite(x) && std::isfinite(y)) || x < lo || x >= hi || y < lo || y >= hi) {
            ++left_out;
            continue;
        }
        const auto j = std::min(grid - 1, static_cast<std::size_t>((x - lo) / cell));
        const auto i = std::min(grid - 1, static_cast<std::size_t>((y - lo) / cell));
        const Rgb c = position_colour(inputs(k, 0), inputs(k, 1), lo, hi);
        sum(i, 3 * j) += c.r;
        sum(i, 3 * j + 1) += c.g;
        sum(i, 3 * j + 2) += c.b;
        ++count[i * grid + j];
    }
    Array image = xt::ones<real>({grid, 3 * grid});  // white where nothing lands
    for (std::size_t i = 0; i < grid; ++i)
        for (std::size_t j = 0; j < grid; ++j)
            if (const std::size_t n = count[i * grid + j]; n > 0)
                for (std::size_t c = 0; c < 3; ++c) image(i, 3 * j + c) = sum(i, 3 * j + c) / static_cast<real>(n);
    if (skipped) *skipped = left_out;
    return image;
}

}  // namespace flowtape::app
