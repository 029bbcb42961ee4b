// The two-panel density figure of plot.hpp (`flowtape plot`): a density heatmap on the square
// [lo, hi]² next to a scatter of points over the same square.
//
// Layout (in points, which are pixels for PNG): two square plot areas of kSide side by side, each
// with a title above, ticks and tick labels below and on the left, the axis names under and beside
// them. The heatmap is the G×G grid scaled onto its square with bilinear filtering (the edges
// padded, so they are not blended with transparency); the scatter is small translucent dots, so
// dense regions show as darker.
#include <cmath>
#include <string>

#include "app/plot.hpp"
#include "app/plot_canvas.hpp"
#include "core/error.hpp"

namespace flowtape::app {

using namespace canvas;  // this file's own drawing is built from those pieces

namespace {

constexpr double kSide = 380;     // side of each plot area
constexpr double kLeft = 60;      // room for the y tick labels and axis name
constexpr double kGap = 80;       // between the two panels
constexpr double kTop = 40;       // room for the titles
constexpr double kBottom = 50;    // room for the x tick labels and axis name
constexpr double kRight = 25;
constexpr double kWidth = kLeft + kSide + kGap + kSide + kRight;
constexpr double kHeight = kTop + kSide + kBottom;
constexpr double kDotRadius = 1.3;

void check_figure(const DensityFigure& f) {
    if (!(std::isfinite(f.lo) && std::isfinite(f.hi) && f.lo < f.hi))
        throw ValueError("plot: the range must be finite with lo < hi, got " + std::to_string(f.lo) + "," +
                         std::to_string(f.hi));
    const auto& s = f.density.shape();
    if (s[0] < 2 || s[0] != s[1])
        throw ValueError("plot: the density grid must be square with at least 2 cells a side, got " +
                         shape_string(shape_of(f.density)));
    for (real v : f.density)
        if (!(std::isfinite(v) && v >= 0))
            throw ValueError("plot: density values must be finite and >= 0, got " + std::to_string(v));
    if (f.points.shape()[1] != 2)
        throw ShapeError("plot: points must have 2 columns, got " + shape_string(shape_of(f.points)));
}

// Frame, ticks, tick labels, axis names and title of the panel whose plot area starts at x0.
void draw_axes(cairo_t* cr, double x0, const DensityFigure& f, const std::string& title) {
    const double scale = kSide / (f.hi - f.lo);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, x0, kTop, kSide, kSide);
    cairo_stroke(cr);

    set_font(cr, 11, false);
    const double step = tick_step(f.hi - f.lo);
    for (double v : tick_values(f.lo, f.hi, step)) {
        const double px = x0 + (v - f.lo) * scale;
        const double py = kTop + kSide - (v - f.lo) * scale;
        cairo_move_to(cr, px, kTop + kSide);
        cairo_line_to(cr, px, kTop + kSide + 5);
        cairo_move_to(cr, x0 - 5, py);
        cairo_line_to(cr, x0, py);
        cairo_stroke(cr);
        show_text_centred(cr, tick_label(v, step), px, kTop + kSide + 17);
        show_text_right(cr, tick_label(v, step), x0 - 8, py + 4);
    }
    cairo_set_font_size(cr, 12);
    show_text_centred(cr, f.x_label, x0 + kSide / 2, kTop + kSide + 37);
    cairo_save(cr);
    cairo_translate(cr, x0 - 40, kTop + kSide / 2);
    cairo_rotate(cr, -M_PI / 2);
    show_text_centred(cr, f.y_label, 0, 0);
    cairo_restore(cr);

    set_font(cr, 14, true);
    show_text_centred(cr, title, x0 + kSide / 2, kTop - 14);
}

void draw_scatter(cairo_t* cr, double x0, const DensityFigure& f) {
    const double scale = kSide / (f.hi - f.lo);
    cairo_save(cr);
    cairo_rectangle(cr, x0, kTop, kSide, kSide);
    cairo_clip(cr);
    cairo_set_source_rgba(cr, 0x1f / 255.0, 0x2a / 255.0, 0x6e / 255.0, 0.6);
    for (std::size_t r = 0; r < f.points.shape()[0]; ++r) {
        const double x = f.points(r, 0), y = f.points(r, 1);
        if (!(x >= f.lo && x <= f.hi && y >= f.lo && y <= f.hi)) continue;
        cairo_new_sub_path(cr);
        cairo_arc(cr, x0 + (x - f.lo) * scale, kTop + kSide - (y - f.lo) * scale, kDotRadius, 0, 2 * M_PI);
    }
    cairo_fill(cr);
    cairo_restore(cr);
}

void draw_figure(cairo_t* cr, const DensityFigure& f) {
    const double left = kLeft, right = kLeft + kSide + kGap;
    draw_heatmap_at(cr, left, kTop, kSide, f.density, largest(f.density));
    draw_scatter(cr, right, f);
    draw_axes(cr, left, f, f.density_title);
    draw_axes(cr, right, f, f.points_title);
}

}  // namespace

void write_density_figure(const std::string& path, const DensityFigure& figure) {
    const bool svg = is_svg("plot", path);
    check_figure(figure);
    write_figure("plot", path, svg, kWidth, kHeight, [&](cairo_t* cr) { draw_figure(cr, figure); },
                 {figure.density_title + " and " + figure.points_title, figure.density_title, figure.points_title,
                  figure.x_label, figure.y_label});
}

}  // namespace flowtape::app
