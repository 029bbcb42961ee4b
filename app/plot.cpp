// The two-panel density figure (plot.hpp), drawn with cairo: the same drawing code renders to an
// image surface saved as PNG or to an SVG surface, so the two formats show the same picture.
//
// Layout (in points, which are pixels for PNG): two square plot areas of kSide side by side, each
// with a title above, ticks and tick labels below and on the left, the axis names under and beside
// them. The heatmap is a G×G image scaled onto its square with bilinear filtering (the edges padded,
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
#include <memory>
#include <string>

#include <unistd.h>

#include <cairo-svg.h>
#include <cairo.h>

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

// The grid as a G×G image, row 0 of the image being the top (the largest y).
Surface heatmap_image(const Array& density) {
    const std::size_t g = density.shape()[0];
    const int side = static_cast<int>(g);
    Surface image(cairo_image_surface_create(CAIRO_FORMAT_RGB24, side, side));
    if (cairo_surface_status(image.get()) != CAIRO_STATUS_SUCCESS)
        throw ValueError("plot: cannot make a " + std::to_string(g) + "x" + std::to_string(g) + " image");
    const real top = *std::max_element(density.begin(), density.end());
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

void draw_heatmap(cairo_t* cr, double x0, const DensityFigure& f) {
    const Surface image = heatmap_image(f.density);
    const double g = static_cast<double>(f.density.shape()[0]);
    cairo_save(cr);
    cairo_rectangle(cr, x0, kTop, kSide, kSide);
    cairo_clip(cr);
    cairo_translate(cr, x0, kTop);
    cairo_scale(cr, kSide / g, kSide / g);
    cairo_set_source_surface(cr, image.get(), 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_BILINEAR);
    cairo_pattern_set_extend(cairo_get_source(cr), CAIRO_EXTEND_PAD);
    cairo_paint(cr);
    cairo_restore(cr);
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
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
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

// Draws into `tmp` in the format of the extension.
void render(const std::string& tmp, const std::string& path, bool svg, const DensityFigure& f) {
    if (svg) {
        Surface surface(cairo_svg_surface_create(tmp.c_str(), kWidth, kHeight));
        check_status(cairo_surface_status(surface.get()), path);
        {
            Context cr(cairo_create(surface.get()));
            draw_figure(cr.get(), f);
            check_status(cairo_status(cr.get()), path);
        }
        cairo_surface_finish(surface.get());  // writes the file
        check_status(cairo_surface_status(surface.get()), path);
    } else {
        Surface surface(cairo_image_surface_create(CAIRO_FORMAT_RGB24, static_cast<int>(kWidth), static_cast<int>(kHeight)));
        check_status(cairo_surface_status(surface.get()), path);
        {
            Context cr(cairo_create(surface.get()));
            draw_figure(cr.get(), f);
            check_status(cairo_status(cr.get()), path);
        }
        check_status(cairo_surface_write_to_png(surface.get(), tmp.c_str()), path);
    }
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
    const std::string ext = lower(std::filesystem::path(path).extension().string());
    if (ext != ".png" && ext != ".svg")
        throw ValueError("plot: --out must end in .png or .svg, got '" + path + "'");
    check_figure(figure);
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    try {
        render(tmp, path, ext == ".svg", figure);
        std::filesystem::rename(tmp, path);
    } catch (const std::filesystem::filesystem_error& e) {
        std::error_code ignored;
        std::filesystem::remove(tmp, ignored);
        throw IoError("plot: cannot write " + path + ": " + e.code().message());
    } catch (...) {
        std::error_code ignored;
        std::filesystem::remove(tmp, ignored);
        throw;
    }
}

}  // namespace flowtape::app
