// The line plot of plot.hpp: one or more series of points joined by lines, each with its own
// colour and marker, axes fitted to the data with grid lines, and a legend (the silhouette score
// against k of `flowtape bench pnf`, bits/dim per class of `flowtape bench cnf`).
//
// Layout: a 960×540 page, the axes in the box kPlot*, the legend to the right of it.
#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "app/plot.hpp"
#include "app/plot_canvas.hpp"
#include "core/error.hpp"

namespace flowtape::app {

using namespace canvas;  // this file's own drawing is built from those pieces

namespace {

constexpr double kLineWidth = 960;
constexpr double kLineHeight = 540;
constexpr double kPlotLeft = 90;
constexpr double kPlotTop = 50;
constexpr double kPlotRight = 730;
constexpr double kPlotBottom = 470;
constexpr double kMarker = 4.5;

// matplotlib's "tab10" colours (their published hex values): distinct, and fine for most colour vision.
constexpr std::array<Rgb, 8> kSeriesColours{hex_colour(0x1f77b4), hex_colour(0xff7f0e), hex_colour(0x2ca02c),
                                            hex_colour(0xd62728), hex_colour(0x9467bd), hex_colour(0x8c564b),
                                            hex_colour(0xe377c2), hex_colour(0x7f7f7f)};

void check_series(const std::vector<LineSeries>& series) {
    if (series.empty()) throw ValueError("write_line_plot: no series to draw");
    for (std::size_t s = 0; s < series.size(); ++s) {
        const LineSeries& l = series[s];
        const std::string where = "write_line_plot: series " + std::to_string(s) + " ('" + l.label + "')";
        if (l.x.empty() || l.x.size() != l.y.size())
            throw ValueError(where + " needs as many x as y values, at least 1, got " + std::to_string(l.x.size()) +
                             " and " + std::to_string(l.y.size()));
        for (std::size_t k = 0; k < l.x.size(); ++k)
            if (!(std::isfinite(l.x[k]) && std::isfinite(l.y[k])))
                throw ValueError(where + " has a non-finite point (" + std::to_string(l.x[k]) + ", " +
                                 std::to_string(l.y[k]) + ") at " + std::to_string(k));
    }
}

// The range shown on an axis: the data's, widened by 5% on each side (or by a unit-scale margin when
// every value is the same) so no marker sits on the frame.
std::pair<double, double> axis_range(double lo, double hi) {
    if (hi - lo <= 0) {
        const double margin = std::max(0.5, std::abs(lo) * 0.1);
        return {lo - margin, hi + margin};
    }
    const double pad = 0.05 * (hi - lo);
    return {lo - pad, hi + pad};
}

void draw_marker(cairo_t* cr, std::size_t shape, double x, double y) {
    cairo_new_sub_path(cr);
    switch (shape % 4) {
        case 0: cairo_arc(cr, x, y, kMarker, 0, 2 * M_PI); break;
        case 1: cairo_rectangle(cr, x - kMarker, y - kMarker, 2 * kMarker, 2 * kMarker); break;
        case 2:
            cairo_move_to(cr, x, y - 1.3 * kMarker);
            cairo_line_to(cr, x + 1.2 * kMarker, y + 0.9 * kMarker);
            cairo_line_to(cr, x - 1.2 * kMarker, y + 0.9 * kMarker);
            cairo_close_path(cr);
            break;
        default:
            cairo_move_to(cr, x, y - 1.4 * kMarker);
            cairo_line_to(cr, x + 1.4 * kMarker, y);
            cairo_line_to(cr, x, y + 1.4 * kMarker);
            cairo_line_to(cr, x - 1.4 * kMarker, y);
            cairo_close_path(cr);
    }
    cairo_fill(cr);
}

void draw_line_plot(cairo_t* cr, const std::vector<LineSeries>& series, const std::string& x_label,
                    const std::string& y_label, const std::string& title) {
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (const LineSeries& l : series)
        for (std::size_t k = 0; k < l.x.size(); ++k) {
            xmin = std::min(xmin, l.x[k]);
            xmax = std::max(xmax, l.x[k]);
            ymin = std::min(ymin, l.y[k]);
            ymax = std::max(ymax, l.y[k]);
        }
    const auto [x0, x1] = axis_range(xmin, xmax);
    const auto [y0, y1] = axis_range(ymin, ymax);
    const double w = kPlotRight - kPlotLeft, h = kPlotBottom - kPlotTop;
    const auto px = [&](double x) { return kPlotLeft + (x - x0) / (x1 - x0) * w; };
    const auto py = [&](double y) { return kPlotBottom - (y - y0) / (y1 - y0) * h; };

    // Grid lines and ticks.
    set_font(cr, 13, false);
    cairo_set_line_width(cr, 1);
    const double xs = tick_step(x1 - x0), ys = tick_step(y1 - y0);
    for (double v : tick_values(x0, x1, xs)) {
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_move_to(cr, px(v), kPlotTop);
        cairo_line_to(cr, px(v), kPlotBottom);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        draw_x_tick(cr, px(v), kPlotBottom, tick_label(v, xs), 20);
    }
    for (double v : tick_values(y0, y1, ys)) {
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_move_to(cr, kPlotLeft, py(v));
        cairo_line_to(cr, kPlotRight, py(v));
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        draw_y_tick(cr, kPlotLeft, py(v), tick_label(v, ys), 4.5);
    }
    cairo_rectangle(cr, kPlotLeft, kPlotTop, w, h);
    cairo_stroke(cr);

    // The series, clipped to the axes.
    cairo_save(cr);
    cairo_rectangle(cr, kPlotLeft, kPlotTop, w, h);
    cairo_clip(cr);
    cairo_set_line_width(cr, 2);
    for (std::size_t s = 0; s < series.size(); ++s) {
        const Rgb& c = kSeriesColours[s % kSeriesColours.size()];
        cairo_set_source_rgb(cr, c.r, c.g, c.b);
        const LineSeries& l = series[s];
        for (std::size_t k = 0; k < l.x.size(); ++k) cairo_line_to(cr, px(l.x[k]), py(l.y[k]));
        cairo_stroke(cr);
        for (std::size_t k = 0; k < l.x.size(); ++k) draw_marker(cr, s, px(l.x[k]), py(l.y[k]));
    }
    cairo_restore(cr);

    // Legend, labels, title.
    set_font(cr, 14, false);
    double ly = kPlotTop + 12;
    for (std::size_t s = 0; s < series.size(); ++s) {
        if (series[s].label.empty()) continue;
        const Rgb& c = kSeriesColours[s % kSeriesColours.size()];
        cairo_set_source_rgb(cr, c.r, c.g, c.b);
        cairo_set_line_width(cr, 2);
        cairo_move_to(cr, kPlotRight + 20, ly);
        cairo_line_to(cr, kPlotRight + 52, ly);
        cairo_stroke(cr);
        draw_marker(cr, s, kPlotRight + 36, ly);
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_move_to(cr, kPlotRight + 60, ly + 5);
        cairo_show_text(cr, series[s].label.c_str());
        ly += 24;
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    set_font(cr, 15, false);
    show_text_centred(cr, x_label, kPlotLeft + w / 2, kPlotBottom + 46);
    cairo_save(cr);
    cairo_translate(cr, kPlotLeft - 62, kPlotTop + h / 2);
    cairo_rotate(cr, -M_PI / 2);
    show_text_centred(cr, y_label, 0, 0);
    cairo_restore(cr);
    set_font(cr, 18, true);
    show_text_centred(cr, title, kPlotLeft + w / 2, kPlotTop - 18);
}

}  // namespace

void write_line_plot(const std::string& path, const std::vector<LineSeries>& series, const std::string& x_label,
                     const std::string& y_label, const std::string& title) {
    const bool svg = is_svg("write_line_plot", path);
    check_series(series);
    std::vector<std::string> texts{title.empty() ? "line plot" : title, x_label, y_label};
    for (const LineSeries& l : series)
        if (!l.label.empty()) texts.push_back(l.label);
    write_figure("write_line_plot", path, svg, kLineWidth, kLineHeight,
                 [&](cairo_t* cr) { draw_line_plot(cr, series, x_label, y_label, title); }, texts);
}

}  // namespace flowtape::app
