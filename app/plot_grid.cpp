// The grid of density heatmaps of plot.hpp, like Figure 4 of the piecewise-flows paper (rows =
// targets, columns = the target and each model), and histogram2d, which turns samples into the
// densities such a grid shows.
//
// Layout: a band for the row labels (when there are any) and one for the y tick labels on the left,
// then the columns of kPanelSide squares kPanelGap apart; above every row a band for the titles, under
// the last row one for the x tick labels; the figure's title (when there is one) on top.
#include <algorithm>
#include <array>
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

// matplotlib's "tab10" colours (their published hex values), one per category, cycling.
constexpr std::array<Rgb, 10> kCategoryColours{hex_colour(0x1f77b4), hex_colour(0xff7f0e), hex_colour(0x2ca02c),
                                               hex_colour(0xd62728), hex_colour(0x9467bd), hex_colour(0x8c564b),
                                               hex_colour(0xe377c2), hex_colour(0x7f7f7f), hex_colour(0xbcbd22),
                                               hex_colour(0x17becf)};

Rgb category_colour(std::int64_t label) { return kCategoryColours[static_cast<std::size_t>(label) % kCategoryColours.size()]; }

void check_points(const std::string& where, const Panel& p) {
    if (p.points.size() == 0 && p.point_labels.empty()) return;
    if (p.points.shape()[1] != 2)
        throw ValueError(where + ": points must have 2 columns, got " + shape_string(shape_of(p.points)));
    if (!p.point_labels.empty() && p.point_labels.size() != p.points.shape()[0])
        throw ValueError(where + ": " + std::to_string(p.point_labels.size()) + " point labels for " +
                         std::to_string(p.points.shape()[0]) + " points");
    for (std::int64_t l : p.point_labels)
        if (l < 0) throw ValueError(where + ": point labels must be >= 0, got " + std::to_string(l));
}

bool is_missing(const Panel& p) {
    return p.density.size() == 0 && p.regions.size() == 0 && p.image.size() == 0 && p.points.size() == 0;
}

// An RGB picture (Panel::image), pixel for pixel, row 0 at the bottom.
void draw_image(cairo_t* cr, double x0, double y0, const Array& image) {
    const std::size_t g = image.shape()[0];
    const double cell = kPanelSide / static_cast<double>(g);
    for (std::size_t i = 0; i < g; ++i)
        for (std::size_t j = 0; j < g; ++j) {
            cairo_set_source_rgb(cr, image(i, 3 * j), image(i, 3 * j + 1), image(i, 3 * j + 2));
            cairo_rectangle(cr, x0 + j * cell, y0 + kPanelSide - (i + 1) * cell, cell + 0.5, cell + 0.5);
            cairo_fill(cr);
        }
}

// The region map: each cell filled with a light tint (a third of its category's colour on white).
void draw_regions(cairo_t* cr, double x0, double y0, const IndexArray& regions) {
    const std::size_t g = regions.shape()[0];
    const double cell = kPanelSide / static_cast<double>(g);
    for (std::size_t i = 0; i < g; ++i)
        for (std::size_t j = 0; j < g; ++j) {
            const std::int64_t l = regions(i, j);
            if (l < 0) continue;
            const Rgb c = category_colour(l);
            cairo_set_source_rgb(cr, 1 - (1 - c.r) / 3, 1 - (1 - c.g) / 3, 1 - (1 - c.b) / 3);
            // Row 0 is the bottom of the picture; cells overlap by a hair so no seams show.
            cairo_rectangle(cr, x0 + j * cell, y0 + kPanelSide - (i + 1) * cell, cell + 0.5, cell + 0.5);
            cairo_fill(cr);
        }
}

// Small dots in the colour of their category (black without labels), clipped to the panel.
void draw_points(cairo_t* cr, double x0, double y0, const Panel& p, real lo, real hi) {
    const double scale = kPanelSide / (hi - lo);
    cairo_save(cr);
    cairo_rectangle(cr, x0, y0, kPanelSide, kPanelSide);
    cairo_clip(cr);
    for (std::size_t r = 0; r < p.points.shape()[0]; ++r) {
        const real x = p.points(r, 0), y = p.points(r, 1);
        if (!(x >= lo && x <= hi && y >= lo && y <= hi)) continue;
        const Rgb c = p.point_labels.empty() ? Rgb{0, 0, 0} : category_colour(p.point_labels[r]);
        cairo_set_source_rgba(cr, c.r, c.g, c.b, 0.75);
        cairo_arc(cr, x0 + (x - lo) * scale, y0 + kPanelSide - (y - lo) * scale, 1.8, 0, 2 * M_PI);
        cairo_fill(cr);
    }
    cairo_restore(cr);
}

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
            const Panel& p = g.rows[r][c];
            const std::string where = "write_panel_grid: panel (" + std::to_string(r) + ", " + std::to_string(c) + ")";
            check_points(where, p);
            const Array& d = p.density;
            if (p.regions.size() > 0 && (p.regions.shape()[0] < 2 || p.regions.shape()[0] != p.regions.shape()[1]))
                throw ValueError(where + ": the region map must be G×G with G >= 2, got " +
                                 shape_string({p.regions.shape()[0], p.regions.shape()[1]}));
            const Array& im = p.image;
            if (im.size() > 0) {
                if (im.shape()[0] < 2 || im.shape()[1] != 3 * im.shape()[0])
                    throw ValueError(where + ": the image must be G×3G with G >= 2, got " + shape_string(shape_of(im)));
                for (real v : im)
                    if (!(v >= 0 && v <= 1)) throw ValueError(where + ": image values must be in [0, 1], got " + std::to_string(v));
            }
            if (d.size() == 0) continue;
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
            if (is_missing(p))
                draw_missing(cr, x0, y0);
            else if (p.density.size() > 0)
                draw_heatmap_at(cr, x0, y0, kPanelSide, p.density, g.shared_scale ? row_top : largest(p.density));
            else if (p.regions.size() > 0)
                draw_regions(cr, x0, y0, p.regions);
            else if (p.image.size() > 0)
                draw_image(cr, x0, y0, p.image);
            if (p.points.size() > 0) draw_points(cr, x0, y0, p, g.lo, g.hi);
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

Array grid_cell_centres(real lo, real hi, std::size_t g) {
    const real h = (hi - lo) / static_cast<real>(g);
    Array points = Array::from_shape({g * g, 2});
    for (std::size_t i = 0; i < g; ++i)
        for (std::size_t j = 0; j < g; ++j) {
            points(i * g + j, 0) = lo + (static_cast<real>(j) + 0.5) * h;
            points(i * g + j, 1) = lo + (static_cast<real>(i) + 0.5) * h;
        }
    return points;
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
