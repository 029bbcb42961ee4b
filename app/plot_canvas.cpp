// The shared pieces of the figures (plot_canvas.hpp): the viridis-like colormap of plot.hpp, text
// and ticks, heatmaps, and the PNG/SVG output through one atomic write.
#include "app/plot_canvas.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <cairo-svg.h>

#include "core/atomic_write.hpp"
#include "core/error.hpp"

namespace flowtape::app {
namespace {

using canvas::hex_colour;

// Anchors of the map at t = 0, 1/8, ..., 1: the colours of matplotlib's viridis at those points
// (its published hex values), linearly interpolated in between.
constexpr std::array<Rgb, 9> kAnchors{hex_colour(0x440154), hex_colour(0x472d7b), hex_colour(0x3b528b),
                                      hex_colour(0x2c728e), hex_colour(0x21918c), hex_colour(0x28ae80),
                                      hex_colour(0x5ec962), hex_colour(0xaddc30), hex_colour(0xfde725)};

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

namespace canvas {
namespace {

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
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

void check_status(cairo_status_t status, const std::string& path) {
    if (status != CAIRO_STATUS_SUCCESS)
        throw IoError("plot: cannot write " + path + ": " + cairo_status_to_string(status));
}

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
// can find them. It rewrites `tmp` in place (truncating it), so the atomic write flushes this file.
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

}  // namespace

void set_font(cairo_t* cr, double size, bool bold) {
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
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

std::vector<double> tick_values(double lo, double hi, double step) {
    std::vector<double> out;
    for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push_back(v);
    return out;
}

void draw_x_tick(cairo_t* cr, double x, double y, const std::string& label, double below) {
    cairo_move_to(cr, x, y);
    cairo_line_to(cr, x, y + 5);
    cairo_stroke(cr);
    show_text_centred(cr, label, x, y + below);
}

void draw_y_tick(cairo_t* cr, double x, double y, const std::string& label, double drop) {
    cairo_move_to(cr, x - 5, y);
    cairo_line_to(cr, x, y);
    cairo_stroke(cr);
    show_text_right(cr, label, x - 8, y + drop);
}

real largest(const Array& a) { return a.size() == 0 ? 0 : *std::max_element(a.begin(), a.end()); }

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

bool is_svg(const std::string& fn, const std::string& path) {
    const std::string ext = lower(std::filesystem::path(path).extension().string());
    if (ext != ".png" && ext != ".svg")
        throw ValueError(fn + ": the output file must end in .png or .svg, got '" + path + "'");
    return ext == ".svg";
}

void write_figure(const std::string& fn, const std::string& path, bool svg, double width, double height,
                  const Drawing& draw, const std::vector<std::string>& texts) {
    write_atomically(path, [&](const std::string& tmp) { render(tmp, path, svg, width, height, draw, texts); }, fn);
}

}  // namespace canvas
}  // namespace flowtape::app
