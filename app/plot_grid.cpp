// The grid of density heatmaps of plot.hpp, like Figure 4 of the piecewise-flows paper (rows =
// targets, columns = the target and each model), and histogram2d, which turns samples into the
// densities such a grid shows.
//
// Layout: a band for the row labels (when there are any) and one for the y tick labels on the left,
// then the columns of kPanelSide squares kPanelGap apart; above every row a band for the titles, under
// the last row one for the x tick labels; the figure's title (when there is one) on top.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "app/plot.hpp"
#include "app/plot_canvas.hpp"
#include "core/error.hpp"

namespace flowtape::app {

using namespace canvas;  // this file's own drawing is built from those pieces

namespace {

constexpr double kPanelSide = 350;
constexpr double kPanelGap = 30;  // room for the "4" and "-4" tick labels of neighbours
constexpr double kRowGap = 10;
constexpr double kRowLabelBand = 36;
constexpr double kYTickBand = 44;
constexpr double kTitleBand = 32;
constexpr double kFigureTitleBand = 44;
constexpr double kXTickBand = 30;
constexpr double kEdge = 12;

struct GridLayout {
    std::size_t rows, cols;
    double left, top, width, height;
    double x(std::size_t c) const { return left + static_cast<double>(c) * (kPanelSide + kPanelGap); }
    double y(std::size_t r) const {
        return top + static_cast<double>(r) * (kTitleBand + kPanelSide + kRowGap) + kTitleBand;
    }
};

void check_grid(const PanelGrid& g) {
    if (!(std::isfinite(g.lo) && std::isfinite(g.hi) && g.lo < g.hi))
        throw ValueError("write_panel_grid: the range must be finite with lo < hi, got " + std::to_string(g.lo) +
                         "," + std::to_string(g.hi));
    if (g.rows.empty() || g.rows[0].empty())
        throw ValueError("write_panel_grid: the grid has no panels");
    for (std::size_t r = 0; r < g.rows.size(); ++r) {
        if (g.rows[r].size() != g.rows[0].size())
            throw ValueError("write_panel_grid: row " + std::to_string(r) + " has " + std::to_string(g.rows[r].size()) +
                             " panels but row 0 has " + std::to_string(g.rows[0].size()) +
                             " (use an empty Panel for a missing run)");
        for (std::size_t c = 0; c < g.rows[r].size(); ++c) {
            const Array& d = g.rows[r][c].density;
            if (d.size() == 0) continue;
            const std::string where = "write_panel_grid: panel (" + std::to_string(r) + ", " + std::to_string(c) + ")";
            if (d.shape()[0] < 2 || d.shape()[0] != d.shape()[1])
                throw ValueError(where + ": the density must be G×G with G >= 2, got " + shape_string(shape_of(d)));
            for (real v : d)
                if (!(std::isfinite(v) && v >= 0))
                    throw ValueError(where + ": density values must be finite and >= 0, got " + std::to_string(v));
        }
    }
    if (!g.row_labels.empty() && g.row_labels.size() != g.rows.size())
        throw ValueError("write_panel_grid: " + std::to_string(g.row_labels.size()) + " row labels for " +
                         std::to_string(g.rows.size()) + " rows");
}

GridLayout grid_layout(const PanelGrid& g) {
    GridLayout l{};
    l.rows = g.rows.size();
    l.cols = g.rows[0].size();
    l.left = kEdge + (g.row_labels.empty() ? 0 : kRowLabelBand) + kYTickBand;
    l.top = kEdge + (g.title.empty() ? 0 : kFigureTitleBand);
    const double n = static_cast<double>(l.cols), m = static_cast<double>(l.rows);
    l.width = l.left + n * kPanelSide + (n - 1) * kPanelGap + kEdge + 6;  // 6: room for the last x tick label
    l.height = l.top + m * (kTitleBand + kPanelSide) + (m - 1) * kRowGap + kXTickBand + kEdge;
    return l;
}

// A run that is missing: a light grey square saying so.
void draw_missing(cairo_t* cr, double x0, double y0) {
    cairo_set_source_rgb(cr, 0.85, 0.85, 0.85);
    cairo_rectangle(cr, x0, y0, kPanelSide, kPanelSide);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0.4, 0.4, 0.4);
    set_font(cr, 18, false);
    show_text_centred(cr, "missing", x0 + kPanelSide / 2, y0 + kPanelSide / 2 + 6);
}

// Ticks of the square [lo, hi] on the x axis (under the panel) or the y axis (left of it).
void draw_panel_ticks(cairo_t* cr, double x0, double y0, real lo, real hi, bool x_axis) {
    const double scale = kPanelSide / (hi - lo);
    const double step = tick_step(hi - lo);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1);
    set_font(cr, 13, false);
    for (double v : tick_values(lo, hi, step)) {
        if (x_axis)
            draw_x_tick(cr, x0 + (v - lo) * scale, y0 + kPanelSide, tick_label(v, step), 19);
        else
            draw_y_tick(cr, x0, y0 + kPanelSide - (v - lo) * scale, tick_label(v, step), 4.5);
    }
}

void draw_grid(cairo_t* cr, const PanelGrid& g, const GridLayout& l) {
    if (!g.title.empty()) {
        set_font(cr, 22, true);
        cairo_set_source_rgb(cr, 0, 0, 0);
        show_text_centred(cr, g.title, (l.left + l.x(l.cols - 1) + kPanelSide) / 2, kEdge + 26);
    }
    for (std::size_t r = 0; r < l.rows; ++r) {
        real row_top = 0;
        for (const Panel& p : g.rows[r]) row_top = std::max(row_top, largest(p.density));
        for (std::size_t c = 0; c < l.cols; ++c) {
            const Panel& p = g.rows[r][c];
            const double x0 = l.x(c), y0 = l.y(r);
            if (p.density.size() == 0)
                draw_missing(cr, x0, y0);
            else
                draw_heatmap_at(cr, x0, y0, kPanelSide, p.density, g.shared_scale ? row_top : largest(p.density));
            cairo_set_source_rgb(cr, 0, 0, 0);
            cairo_set_line_width(cr, 1);
            cairo_rectangle(cr, x0, y0, kPanelSide, kPanelSide);
            cairo_stroke(cr);
            if (r == 0 || p.title != g.rows[0][c].title) {
                set_font(cr, 18, true);
                show_text_centred(cr, p.title, x0 + kPanelSide / 2, y0 - 10);
            }
            if (c == 0) draw_panel_ticks(cr, x0, y0, g.lo, g.hi, false);
            if (r + 1 == l.rows) draw_panel_ticks(cr, x0, y0, g.lo, g.hi, true);
        }
        if (!g.row_labels.empty()) {
            set_font(cr, 18, true);
            cairo_save(cr);
            cairo_translate(cr, kEdge + kRowLabelBand / 2 + 6, l.y(r) + kPanelSide / 2);
            cairo_rotate(cr, -M_PI / 2);
            show_text_centred(cr, g.row_labels[r], 0, 0);
            cairo_restore(cr);
        }
    }
}

}  // namespace

std::pair<int, int> panel_grid_size(const PanelGrid& grid) {
    check_grid(grid);
    const GridLayout l = grid_layout(grid);
    return {static_cast<int>(std::ceil(l.width)), static_cast<int>(std::ceil(l.height))};
}

void write_panel_grid(const std::string& path, const PanelGrid& grid) {
    const bool svg = is_svg("write_panel_grid", path);
    check_grid(grid);
    const GridLayout l = grid_layout(grid);
    std::vector<std::string> texts{grid.title.empty() ? "grid of densities" : grid.title};
    texts.insert(texts.end(), grid.row_labels.begin(), grid.row_labels.end());
    for (const auto& row : grid.rows)
        for (const Panel& p : row)
            if (!p.title.empty() && std::find(texts.begin(), texts.end(), p.title) == texts.end())
                texts.push_back(p.title);
    write_figure("write_panel_grid", path, svg, std::ceil(l.width), std::ceil(l.height),
                 [&](cairo_t* cr) { draw_grid(cr, grid, l); }, texts);
}

Array histogram2d(const Array& points, std::size_t bins, real lo, real hi) {
    if (points.shape()[1] != 2)
        throw ShapeError("histogram2d: points must have 2 columns, got " + shape_string(shape_of(points)));
    if (bins == 0) throw ValueError("histogram2d: bins must be at least 1, got 0");
    if (!(std::isfinite(lo) && std::isfinite(hi) && lo < hi))
        throw ValueError("histogram2d: the range must be finite with lo < hi, got " + std::to_string(lo) + "," +
                         std::to_string(hi));
    Array counts = xt::zeros<real>({bins, bins});
    const real width = (hi - lo) / static_cast<real>(bins);
    // The bin of v ∈ [lo, hi]; hi itself goes in the last bin, so the square's edges are inside.
    const auto bin = [&](real v) { return std::min(static_cast<std::size_t>((v - lo) / width), bins - 1); };
    std::size_t inside = 0;
    for (std::size_t r = 0; r < points.shape()[0]; ++r) {
        const real x = points(r, 0), y = points(r, 1);
        if (std::isnan(x) || std::isnan(y))
            throw ValueError("histogram2d: point " + std::to_string(r) + " is (" + std::to_string(x) + ", " +
                             std::to_string(y) + ")");
        if (!(x >= lo && x <= hi && y >= lo && y <= hi)) continue;
        counts(bin(y), bin(x)) += 1;
        ++inside;
    }
    if (inside > 0) counts /= static_cast<real>(inside) * width * width;
    return counts;
}

}  // namespace flowtape::app
