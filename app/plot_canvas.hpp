// What every figure of plot.hpp is drawn with and saved through, shared by plot_density.cpp,
// plot_grid.cpp and plot_line.cpp: owners of cairo objects, fonts and text placement, tick steps
// and labels, a density grid drawn as a heatmap, and the output — one drawing function rendered to
// a PNG image or an SVG surface (so both formats show the same picture), the SVG's words put back
// as text, the file written atomically. Internal to app/; the API is plot.hpp.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <cairo.h>

#include "app/plot.hpp"

namespace flowtape::app::canvas {

// Owners of cairo objects, so every exit path releases them.
struct SurfaceDeleter {
    void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
struct ContextDeleter {
    void operator()(cairo_t* c) const { cairo_destroy(c); }
};
using Surface = std::unique_ptr<cairo_surface_t, SurfaceDeleter>;
using Context = std::unique_ptr<cairo_t, ContextDeleter>;

// The colour of a 0xRRGGBB code, as published palettes (matplotlib's) print them.
constexpr Rgb hex_colour(std::uint32_t rgb) {
    return {((rgb >> 16) & 0xff) / 255.0, ((rgb >> 8) & 0xff) / 255.0, (rgb & 0xff) / 255.0};
}

// ---- text ----

// Sans-serif at `size` points, bold or regular.
void set_font(cairo_t* cr, double size, bool bold);
// `text` in the current font with its baseline at y, centred on x / ending at x.
void show_text_centred(cairo_t* cr, const std::string& text, double x, double y);
void show_text_right(cairo_t* cr, const std::string& text, double x, double y);

// ---- axes ----

// A step of 1, 2 or 5 times a power of ten giving about 4 to 8 ticks over `width`.
double tick_step(double width);
// `v` with as many decimals as `step` needs ("-4", "0.5"); a value within rounding of 0 prints "0".
std::string tick_label(double v, double step);
// The ticks of an axis over [lo, hi]: the multiples of `step` inside it, lo and hi included when
// they are multiples up to rounding.
std::vector<double> tick_values(double lo, double hi, double step);
// A tick on a horizontal axis at (x, y): a mark 5 points down, the label centred `below` points
// under the axis. In the current colour and line width.
void draw_x_tick(cairo_t* cr, double x, double y, const std::string& label, double below);
// A tick on a vertical axis at (x, y): a mark 5 points to the left, the label ending 8 points left
// of the axis with its baseline `drop` points below y (about half a digit's height centres it).
void draw_y_tick(cairo_t* cr, double x, double y, const std::string& label, double drop);

// ---- heatmaps ----

// The largest value of `a`, 0 when it is empty.
real largest(const Array& a);
// The G×G density grid (the layout of DensityFigure::density) filling the square of `side` whose
// top-left corner is (x0, y0), scaled with bilinear filtering; `top` is the value drawn in the
// brightest colour of colormap().
void draw_heatmap_at(cairo_t* cr, double x0, double y0, double side, const Array& density, real top);

// ---- output ----

// True for ".svg", false for ".png" (case-insensitive); ValueError naming `fn` otherwise.
bool is_svg(const std::string& fn, const std::string& path);

// Draws a figure onto a white page whose top-left corner is (0, 0), in points (pixels for PNG).
using Drawing = std::function<void(cairo_t*)>;

// Renders `draw` on a width × height page to `path` as SVG or PNG, atomically (core/atomic_write.hpp):
// a failed drawing or write leaves no new file and the old one as it was. For SVG, `texts` are the
// figure's words: texts[0] becomes the SVG's <title>, all of them its <desc>. IoError naming `fn`
// (or the path first, for the atomic write's own errors) when the file cannot be written.
void write_figure(const std::string& fn, const std::string& path, bool svg, double width, double height,
                  const Drawing& draw, const std::vector<std::string>& texts);

}  // namespace flowtape::app::canvas
