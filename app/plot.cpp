// The figures of plot.hpp, drawn with cairo: the same drawing code renders to an image surface saved
// as PNG or to an SVG surface, so the two formats show the same picture. Every figure is written
// through write_figure (a temporary file renamed into place), so a reader never sees half a file.
//
// Two-panel figure layout (in points, which are pixels for PNG): two square plot areas of kSide side
// by side, each with a title above, ticks and tick labels below and on the left, the axis names
// under and beside them. The heatmap is a G×G image scaled onto its square with bilinear filtering (the edges padded,
// so they are not blended with transparency); the scatter is small translucent dots, so dense
// regions show as darker.
#include "app/plot.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <cairo-svg.h>
#include <cairo.h>

#include "core/atomic_write.hpp"
#include "core/error.hpp"

namespace flowtape::app {
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

// Anchors of the map at t = 0, 1/8, ..., 1: the colours of matplotlib's viridis at those points
// (its published hex values), linearly interpolated in between.
constexpr std::array<Rgb, 9> kAnchors{{{0x44 / 255.0, 0x01 / 255.0, 0x54 / 255.0},
                                       {0x47 / 255.0, 0x2d / 255.0, 0x7b / 255.0},
                                       {0x3b / 255.0, 0x52 / 255.0, 0x8b / 255.0},
                                       {0x2c / 255.0, 0x72 / 255.0, 0x8e / 255.0},
                                       {0x21 / 255.0, 0x91 / 255.0, 0x8c / 255.0},
                                       {0x28 / 255.0, 0xae / 255.0, 0x80 / 255.0},
                                       {0x5e / 255.0, 0xc9 / 255.0, 0x62 / 255.0},
                                       {0xad / 255.0, 0xdc / 255.0, 0x30 / 255.0},
                                       {0xfd / 255.0, 0xe7 / 255.0, 0x25 / 255.0}}};

// Owners of cairo objects, so every exit path releases them.
struct SurfaceDeleter {
    void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
struct ContextDeleter {
    void operator()(cairo_t* c) const { cairo_destroy(c); }
};
using Surface = std::unique_ptr<cairo_surface_t, SurfaceDeleter>;
using Context = std::unique_ptr<cairo_t, ContextDeleter>;

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

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

// A step of 1, 2 or 5 times a power of ten giving about 4 to 8 ticks over `width`.
double tick_step(double width) {
    const double raw = width / 6;
    const double power = std::pow(10.0, std::floor(std::log10(raw)));
    for (double m : {1.0, 2.0, 5.0})
        if (m * power >= raw) return m * power;
    return 10 * power;
}

std::string tick_label(double v, double step) {
    char buf[32];
    const int decimals = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
    std::snprintf(buf, sizeof buf, "%.*f", decimals, std::abs(v) < step * 1e-9 ? 0.0 : v);
    return buf;
}

void show_text_centred(cairo_t* cr, const std::string& text, double x, double y) {
    cairo_text_extents_t e;
    cairo_text_extents(cr, text.c_str(), &e);
    cairo_move_to(cr, x - e.width / 2 - e.x_bearing, y);
    cairo_show_text(cr, text.c_str());
}

void show_text_right(cairo_t* cr, const std::string& text, double x, double y) {
    cairo_text_extents_t e;
    cairo_text_extents(cr, text.c_str(), &e);
    cairo_move_to(cr, x - e.width - e.x_bearing, y);
    cairo_show_text(cr, text.c_str());
}

// Frame, ticks, tick labels, axis names and title of the panel whose plot area starts at x0.
void draw_axes(cairo_t* cr, double x0, const DensityFigure& f, const std::string& title) {
    const double scale = kSide / (f.hi - f.lo);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, x0, kTop, kSide, kSide);
    cairo_stroke(cr);

    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 11);
    const double step = tick_step(f.hi - f.lo);
    for (double v = std::ceil(f.lo / step - 1e-9) * step; v <= f.hi + step * 1e-9; v += step) {
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

    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    cairo_set_font_size(cr, 14);
    show_text_centred(cr, title, x0 + kSide / 2, kTop - 14);
}

// The grid as a G×G image, row 0 of the image being the top (the largest y); `top` (the value drawn
// in the brightest colour) is the grid's largest value, or a row's for a shared scale.
Surface heatmap_image(const Array& density, real top) {
    const std::size_t g = density.shape()[0];
    const int side = static_cast<int>(g);
    Surface image(cairo_image_surface_create(CAIRO_FORMAT_RGB24, side, side));
    if (cairo_surface_status(image.get()) != CAIRO_STATUS_SUCCESS)
        throw ValueError("plot: cannot make a " + std::to_string(g) + "x" + std::to_string(g) + " image");
    cairo_surface_flush(image.get());
    unsigned char* data = cairo_image_surface_get_data(image.get());
    const int stride = cairo_image_surface_get_stride(image.get());
    const auto byte = [](double c) { return static_cast<std::uint32_t>(std::lround(std::clamp(c, 0.0, 1.0) * 255)); };
    for (std::size_t row = 0; row < g; ++row) {
        auto* line = reinterpret_cast<std::uint32_t*>(data + static_cast<std::ptrdiff_t>(row) * stride);
        const std::size_t i = g - 1 - row;  // grid row i = 0 is the bottom
        for (std::size_t j = 0; j < g; ++j) {
            const Rgb c = colormap(top > 0 ? density(i, j) / top : 0);
            line[j] = (byte(c.r) << 16) | (byte(c.g) << 8) | byte(c.b);  // RGB24: native-endian xRGB
        }
    }
    cairo_surface_mark_dirty(image.get());
    return image;
}

real largest(const Array& a) { return a.size() == 0 ? 0 : *std::max_element(a.begin(), a.end()); }

// The heatmap of `density` filling the square of `side` whose top-left corner is (x0, y0).
void draw_heatmap_at(cairo_t* cr, double x0, double y0, double side, const Array& density, real top) {
    const Surface image = heatmap_image(density, top);
    const double g = static_cast<double>(density.shape()[0]);
    cairo_save(cr);
    cairo_rectangle(cr, x0, y0, side, side);
    cairo_clip(cr);
    cairo_translate(cr, x0, y0);
    cairo_scale(cr, side / g, side / g);
    cairo_set_source_surface(cr, image.get(), 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_BILINEAR);
    cairo_pattern_set_extend(cairo_get_source(cr), CAIRO_EXTEND_PAD);
    cairo_paint(cr);
    cairo_restore(cr);
}

void draw_heatmap(cairo_t* cr, double x0, const DensityFigure& f) {
    draw_heatmap_at(cr, x0, kTop, kSide, f.density, largest(f.density));
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
    draw_heatmap(cr, left, f);
    draw_scatter(cr, right, f);
    draw_axes(cr, left, f, f.density_title);
    draw_axes(cr, right, f, f.points_title);
}

void check_status(cairo_status_t status, const std::string& path) {
    if (status != CAIRO_STATUS_SUCCESS)
        throw IoError("plot: cannot write " + path + ": " + cairo_status_to_string(status));
}

using Drawing = std::function<void(cairo_t*)>;

std::string xml_escape(const std::string& text) {
    std::string out;
    for (char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            default: out += c;
        }
    }
    return out;
}

// Cairo's SVG surface draws text as glyph outlines, so the words of a figure are not in the file.
// This puts them back as the SVG's <title> (texts[0]) and <desc> (all texts, "; "-separated), right
// after the opening <svg> tag: viewers show them as the figure's name, and grep and screen readers
// can find them.
void add_svg_text(const std::string& tmp, const std::string& path, const std::vector<std::string>& texts) {
    if (texts.empty()) return;
    std::string svg;
    {
        std::ifstream in(tmp, std::ios::binary);
        svg.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        if (!in.good() && !in.eof()) throw IoError("plot: cannot read back " + tmp + " for " + path);
    }
    const std::size_t open = svg.find("<svg");
    const std::size_t end = open == std::string::npos ? open : svg.find('>', open);
    if (end == std::string::npos) throw IoError("plot: cairo wrote no <svg> element to " + tmp + " for " + path);
    std::string desc;
    for (const std::string& t : texts) desc += (desc.empty() ? "" : "; ") + xml_escape(t);
    svg.insert(end + 1, "\n<title>" + xml_escape(texts[0]) + "</title>\n<desc>" + desc + "</desc>");
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << svg;
    out.close();
    if (!out) throw IoError("plot: cannot write " + path + " (adding the SVG's text)");
}

// Draws into `tmp` in the format of the extension, on a width × height page; for SVG, `texts` are
// the figure's words (see add_svg_text).
void render(const std::string& tmp, const std::string& path, bool svg, double width, double height,
            const Drawing& draw, const std::vector<std::string>& texts) {
    Surface surface(svg ? cairo_svg_surface_create(tmp.c_str(), width, height)
                        : cairo_image_surface_create(CAIRO_FORMAT_RGB24, static_cast<int>(std::ceil(width)),
                                                     static_cast<int>(std::ceil(height))));
    check_status(cairo_surface_status(surface.get()), path);
    {
        Context cr(cairo_create(surface.get()));
        cairo_set_source_rgb(cr.get(), 1, 1, 1);
        cairo_paint(cr.get());
        draw(cr.get());
        check_status(cairo_status(cr.get()), path);
    }
    if (svg) {
        cairo_surface_finish(surface.get());  // writes the file
        check_status(cairo_surface_status(surface.get()), path);
        add_svg_text(tmp, path, texts);
    } else {
        check_status(cairo_surface_write_to_png(surface.get(), tmp.c_str()), path);
    }
}

// True for ".svg", false for ".png" (case-insensitive); ValueError naming `fn` otherwise.
bool is_svg(const std::string& fn, const std::string& path) {
    const std::string ext = lower(std::filesystem::path(path).extension().string());
    if (ext != ".png" && ext != ".svg")
        throw ValueError(fn + ": the output file must end in .png or .svg, got '" + path + "'");
    return ext == ".svg";
}

// Renders to a temporary file next to `path` that is renamed into place (core/atomic_write.hpp), so
// a failed drawing or write leaves no file and the old one as it was.
void write_figure(const std::string& fn, const std::string& path, bool svg, double width, double height,
                  const Drawing& draw, const std::vector<std::string>& texts) {
    write_atomically(path, [&](const std::string& tmp) { render(tmp, path, svg, width, height, draw, texts); }, fn);
}

// ---- grid of heatmaps ----
//
// Layout: a band for the row labels (when there are any) and one for the y tick labels on the left,
// then the columns of kPanelSide squares kPanelGap apart; above every row a band for the titles, under
// the last row one for the x tick labels; the figure's title (when there is one) on top.

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

void set_font(cairo_t* cr, double size, bool bold) {
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
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
    for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
        if (x_axis) {
            const double px = x0 + (v - lo) * scale;
            cairo_move_to(cr, px, y0 + kPanelSide);
            cairo_line_to(cr, px, y0 + kPanelSide + 5);
            cairo_stroke(cr);
            show_text_centred(cr, tick_label(v, step), px, y0 + kPanelSide + 19);
        } else {
            const double py = y0 + kPanelSide - (v - lo) * scale;
            cairo_move_to(cr, x0 - 5, py);
            cairo_line_to(cr, x0, py);
            cairo_stroke(cr);
            show_text_right(cr, tick_label(v, step), x0 - 8, py + 4.5);
        }
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

// ---- line plot ----
//
// Layout: a 960×540 page, the axes in the box kPlot*, the legend to the right of it.

constexpr double kLineWidth = 960;
constexpr double kLineHeight = 540;
constexpr double kPlotLeft = 90;
constexpr double kPlotTop = 50;
constexpr double kPlotRight = 730;
constexpr double kPlotBottom = 470;
constexpr double kMarker = 4.5;

// matplotlib's "tab10" colours (their published hex values): distinct, and fine for most colour vision.
constexpr std::array<Rgb, 8> kSeriesColours{{{0x1f / 255.0, 0x77 / 255.0, 0xb4 / 255.0},
                                             {0xff / 255.0, 0x7f / 255.0, 0x0e / 255.0},
                                             {0x2c / 255.0, 0xa0 / 255.0, 0x2c / 255.0},
                                             {0xd6 / 255.0, 0x27 / 255.0, 0x28 / 255.0},
                                             {0x94 / 255.0, 0x67 / 255.0, 0xbd / 255.0},
                                             {0x8c / 255.0, 0x56 / 255.0, 0x4b / 255.0},
                                             {0xe3 / 255.0, 0x77 / 255.0, 0xc2 / 255.0},
                                             {0x7f / 255.0, 0x7f / 255.0, 0x7f / 255.0}}};

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
    for (double v = std::ceil(x0 / xs - 1e-9) * xs; v <= x1 + xs * 1e-9; v += xs) {
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_move_to(cr, px(v), kPlotTop);
        cairo_line_to(cr, px(v), kPlotBottom);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_move_to(cr, px(v), kPlotBottom);
        cairo_line_to(cr, px(v), kPlotBottom + 5);
        cairo_stroke(cr);
        show_text_centred(cr, tick_label(v, xs), px(v), kPlotBottom + 20);
    }
    for (double v = std::ceil(y0 / ys - 1e-9) * ys; v <= y1 + ys * 1e-9; v += ys) {
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_move_to(cr, kPlotLeft, py(v));
        cairo_line_to(cr, kPlotRight, py(v));
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_move_to(cr, kPlotLeft - 5, py(v));
        cairo_line_to(cr, kPlotLeft, py(v));
        cairo_stroke(cr);
        show_text_right(cr, tick_label(v, ys), kPlotLeft - 8, py(v) + 4.5);
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

Rgb colormap(double t) {
    if (!(t > 0)) return kAnchors.front();  // also NaN
    if (t >= 1) return kAnchors.back();
    const double pos = t * static_cast<double>(kAnchors.size() - 1);
    const std::size_t k = static_cast<std::size_t>(pos);
    const double w = pos - static_cast<double>(k);
    const Rgb& a = kAnchors[k];
    const Rgb& b = kAnchors[k + 1];
    return {a.r + w * (b.r - a.r), a.g + w * (b.g - a.g), a.b + w * (b.b - a.b)};
}

void write_density_figure(const std::string& path, const DensityFigure& figure) {
    const bool svg = is_svg("plot", path);
    check_figure(figure);
    write_figure("plot", path, svg, kWidth, kHeight, [&](cairo_t* cr) { draw_figure(cr, figure); },
                 {figure.density_title + " and " + figure.points_title, figure.density_title, figure.points_title,
                  figure.x_label, figure.y_label});
}

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
