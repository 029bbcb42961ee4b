// write_image_grid: rows of small grey-scale images (see app/plot.hpp), each pixel a filled square.
#include <algorithm>
#include <cmath>
#include <string>

#include "app/plot.hpp"
#include "app/plot_canvas.hpp"
#include "core/error.hpp"

namespace flowtape::app {

using namespace canvas;

namespace {

constexpr double kPixel = 3, kGap = 4, kMargin = 12, kLabelWidth = 80, kTitleHeight = 30;

void check(const ImageGrid& g) {
    if (g.rows.empty()) throw ValueError("write_image_grid: the grid has no rows");
    if (!g.row_labels.empty() && g.row_labels.size() != g.rows.size())
        throw ValueError("write_image_grid: " + std::to_string(g.row_labels.size()) + " row labels for " +
                         std::to_string(g.rows.size()) + " rows");
    for (std::size_t r = 0; r < g.rows.size(); ++r) {
        const Array& a = g.rows[r];
        if (a.shape()[1] != g.side * g.side || a.shape()[0] != g.rows[0].shape()[0] || a.shape()[0] == 0)
            throw ValueError("write_image_grid: row " + std::to_string(r) + " is " + shape_string(shape_of(a)) +
                             ", expected " + std::to_string(g.rows[0].shape()[0]) + " images of " +
                             std::to_string(g.side * g.side) + " pixels");
        for (real v : a)
            if (!std::isfinite(v)) throw ValueError("write_image_grid: row " + std::to_string(r) + " has a non-finite pixel");
    }
}

}  // namespace

void write_image_grid(const std::string& path, const ImageGrid& g) {
    check(g);
    const bool svg = is_svg("write_image_grid", path);
    const double image = kPixel * static_cast<double>(g.side);
    const std::size_t per_row = g.rows[0].shape()[0];
    const double left = kMargin + (g.row_labels.empty() ? 0 : kLabelWidth);
    const double top = kMargin + (g.title.empty() ? 0 : kTitleHeight);
    const double width = left + static_cast<double>(per_row) * (image + kGap) + kMargin;
    const double height = top + static_cast<double>(g.rows.size()) * (image + kGap) + kMargin;
    std::vector<std::string> texts{g.title};
    texts.insert(texts.end(), g.row_labels.begin(), g.row_labels.end());
    write_figure("write_image_grid", path, svg, std::ceil(width), std::ceil(height), [&](cairo_t* cr) {
        if (!g.title.empty()) {
            set_font(cr, 14, true);
            cairo_set_source_rgb(cr, 0, 0, 0);
            show_text_centred(cr, g.title, width / 2, kMargin + 16);
        }
        for (std::size_t r = 0; r < g.rows.size(); ++r) {
            const double y0 = top + static_cast<double>(r) * (image + kGap);
            if (!g.row_labels.empty()) {
                set_font(cr, 12, false);
                cairo_set_source_rgb(cr, 0, 0, 0);
                show_text_right(cr, g.row_labels[r], left - 8, y0 + image / 2 + 4);
            }
            for (std::size_t m = 0; m < per_row; ++m) {
                const double x0 = left + static_cast<double>(m) * (image + kGap);
                for (std::size_t p = 0; p < g.side * g.side; ++p) {
                    const double v = std::clamp(g.rows[r](m, p), 0.0, 1.0);
                    cairo_set_source_rgb(cr, v, v, v);
                    cairo_rectangle(cr, x0 + kPixel * static_cast<double>(p % g.side),
                                    y0 + kPixel * static_cast<double>(p / g.side), kPixel, kPixel);
                    cairo_fill(cr);
                }
            }
        }
    }, texts);
}

}  // namespace flowtape::app
