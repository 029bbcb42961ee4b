// Checks of the panel grid, line plot and histogram2d of app/plot.hpp, as a plain program (app/ has no
// Boost.Test suite): it writes figures into a fresh temporary directory, reads the PNGs back with
// cairo and checks their size and colours, checks the SVGs' size and text, the histogram's counts
// and normalisation, and that bad input throws ValueError/ShapeError before any file is written.
// Prints one line per failed check and exits 1 if any failed. The directory is kept when a check
// fails (so the figures can be looked at), removed otherwise; `plot_check DIR` writes into DIR
// instead and keeps it.
#include <cairo.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "app/plot.hpp"
#include "core/error.hpp"

namespace fs = std::filesystem;
using namespace flowtape;
using namespace flowtape::app;

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
    if (!ok) {
        ++failures;
        std::cerr << "plot_check: FAILED: " << what << '\n';
    }
}

// True when `f` throws an exception of type E (and not another one).
template <class E>
bool throws(const std::function<void()>& f) {
    try {
        f();
    } catch (const E&) {
        return true;
    } catch (...) {
        return false;
    }
    return false;
}

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The pixels of a PNG file, read back with cairo.
struct Image {
    int width = 0, height = 0;
    std::vector<std::uint32_t> pixels;  // 0xRRGGBB, row by row from the top
};

Image read_png(const fs::path& p) {
    Image im;
    cairo_surface_t* s = cairo_image_surface_create_from_png(p.c_str());
    if (cairo_surface_status(s) == CAIRO_STATUS_SUCCESS) {
        im.width = cairo_image_surface_get_width(s);
        im.height = cairo_image_surface_get_height(s);
        const int stride = cairo_image_surface_get_stride(s);
        const unsigned char* data = cairo_image_surface_get_data(s);
        for (int y = 0; y < im.height; ++y)
            for (int x = 0; x < im.width; ++x)
                im.pixels.push_back(reinterpret_cast<const std::uint32_t*>(data + y * stride)[x] & 0xffffffu);
    }
    cairo_surface_destroy(s);
    return im;
}

// Pixels within `tol` per channel of the colour.
std::size_t count_colour(const Image& im, std::uint32_t rgb, int tol) {
    std::size_t n = 0;
    for (std::uint32_t p : im.pixels) {
        bool near = true;
        for (int shift : {16, 8, 0})
            near = near &&
                   std::abs(static_cast<int>((p >> shift) & 0xff) - static_cast<int>((rgb >> shift) & 0xff)) <= tol;
        n += near;
    }
    return n;
}

bool is_png(const fs::path& p) {
    const std::string head = read_text(p).substr(0, 8);
    return head == std::string("\x89PNG\r\n\x1a\n", 8);
}

// A sum of isotropic Gaussians with the given centres, on the grid of Panel::density.
Array mixture_density(std::size_t g, real lo, real hi, const std::vector<std::pair<real, real>>& centres, real sd) {
    Array d = Array::from_shape({g, g});
    const real h = (hi - lo) / static_cast<real>(g);
    for (std::size_t i = 0; i < g; ++i)
        for (std::size_t j = 0; j < g; ++j) {
            const real x = lo + (static_cast<real>(j) + 0.5) * h, y = lo + (static_cast<real>(i) + 0.5) * h;
            real v = 0;
            for (const auto& [cx, cy] : centres)
                v += std::exp(-((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (2 * sd * sd));
            d(i, j) = v;
        }
    return d;
}

// Points on a circle of radius r with a deterministic wobble, and their 2-D histogram.
Array ring_points(std::size_t n, real r) {
    Array p = Array::from_shape({n, 2});
    for (std::size_t k = 0; k < n; ++k) {
        const real t = 2 * M_PI * static_cast<real>(k) / static_cast<real>(n);
        const real rr = r + 0.3 * std::sin(37.0 * t);
        p(k, 0) = rr * std::cos(t);
        p(k, 1) = rr * std::sin(t);
    }
    return p;
}

void check_cell_centres() {
    // Two cells a side on [0, 4]²: centres at 1 and 3, x running fastest, row 0 at the bottom —
    // and a point at each centre lands in its own cell of histogram2d (the two layouts agree).
    const Array c = grid_cell_centres(0, 4, 2);
    check(c.shape()[0] == 4 && c.shape()[1] == 2 && c(0, 0) == 1 && c(0, 1) == 1 && c(1, 0) == 3 && c(1, 1) == 1 &&
              c(2, 0) == 1 && c(2, 1) == 3 && c(3, 0) == 3 && c(3, 1) == 3,
          "grid_cell_centres: (1,1), (3,1), (1,3), (3,3)");
    const Array one = {{c(1, 0), c(1, 1)}};
    const Array d = histogram2d(one, 2, 0, 4);
    check(d(0, 1) > 0 && d(0, 0) == 0 && d(1, 0) == 0 && d(1, 1) == 0, "grid_cell_centres: row 1 is cell (0, 1)");
}

void check_histogram() {
    // Bins of width 2 on [0, 4]²; the point (4, 4) lies on the edge and belongs to the last bin.
    const Array points = {{0.5, 0.5}, {1, 3}, {3, 1}, {3.5, 3.5}, {3.9, 3}, {4, 4}, {2, 2},
                          {-1, 0},    {1, 5}, {INFINITY, 1}};
    const Array d = histogram2d(points, 2, 0, 4);
    const real unit = 1.0 / (7 * 4.0);  // 7 points inside, cell area 4
    check(d.shape()[0] == 2 && d.shape()[1] == 2, "histogram2d: shape 2x2");
    check(std::abs(d(0, 0) - 1 * unit) < 1e-15 && std::abs(d(1, 0) - 1 * unit) < 1e-15 &&
              std::abs(d(0, 1) - 1 * unit) < 1e-15 && std::abs(d(1, 1) - 4 * unit) < 1e-15,
          "histogram2d: counts 1,1,1,4 (row = y bin, column = x bin), outside points ignored");

    const Array ring = ring_points(5000, 2.5);
    const std::size_t bins = 50;
    const Array h = histogram2d(ring, bins, -3, 3);
    const real cell = 6.0 / bins;
    real integral = 0;
    for (real v : h) integral += v * cell * cell;
    check(std::abs(integral - 1) < 1e-12, "histogram2d: integrates to 1, got " + std::to_string(integral));
    check(h(bins / 2, bins / 2) == 0, "histogram2d: the ring's centre is empty");

    check(histogram2d(Array{{10, 10}}, 4, 0, 1) == xt::zeros<real>({4, 4}),
          "histogram2d: no points inside gives zeros");
    check(throws<ShapeError>([] { histogram2d(Array{{1, 2, 3}}, 4, 0, 1); }), "histogram2d: 3 columns -> ShapeError");
    check(throws<ValueError>([] { histogram2d(Array{{1, 2}}, 0, 0, 1); }), "histogram2d: 0 bins -> ValueError");
    check(throws<ValueError>([] { histogram2d(Array{{1, 2}}, 4, 1, 1); }), "histogram2d: lo = hi -> ValueError");
    check(throws<ValueError>([] { histogram2d(Array{{NAN, 0.5}}, 4, 0, 1); }), "histogram2d: NaN -> ValueError");
}

// Three targets × (target, MAF, RealNVP resampled, piecewise MAF) like Figure 4 of the paper,
// with one missing run.
PanelGrid figure4_like() {
    const real lo = -4, hi = 4;
    const std::size_t g = 80;
    const std::vector<std::string> columns{"target", "MAF", "RealNVP resampled", "piecewise MAF"};
    const std::vector<std::vector<std::pair<real, real>>> centres{
        {{-1.5, 0.5}, {-0.5, 1}, {0.5, 0.5}, {0.5, -0.5}, {1.5, -1}, {2.5, -0.5}},  // two moons, roughly
        {{2.5, 0}, {1.77, 1.77}, {0, 2.5}, {-1.77, 1.77}, {-2.5, 0}, {-1.77, -1.77}, {0, -2.5}, {1.77, -1.77}},
        {{1, 0}, {0, 1}, {-1, 0}, {0, -1}, {3, 0}, {0, 3}, {-3, 0}, {0, -3}}};
    PanelGrid grid;
    grid.lo = lo;
    grid.hi = hi;
    grid.title = "Targets and flow densities";
    grid.row_labels = {"two moons", "circle of Gaussians", "two rings"};
    for (std::size_t r = 0; r < 3; ++r) {
        std::vector<Panel> row;
        for (std::size_t c = 0; c < 4; ++c) {
            Panel p{columns[c], {}};
            if (r == 0 && c == 0)
                p.density = histogram2d(ring_points(20000, 2.5), g, lo, hi);
            else if (!(r == 1 && c == 2))  // (1, 2) is the missing run
                p.density = mixture_density(g, lo, hi, centres[r], 0.25 + 0.15 * static_cast<real>(c));
            row.push_back(std::move(p));
        }
        grid.rows.push_back(std::move(row));
    }
    return grid;
}

void check_grid(const fs::path& dir) {
    const PanelGrid grid = figure4_like();
    const fs::path png = dir / "grid.png", svg = dir / "grid.SVG";
    write_panel_grid(png.string(), grid);
    write_panel_grid(svg.string(), grid);
    check(fs::exists(png) && is_png(png), "grid: the PNG exists with the PNG signature");
    const auto [w, h] = panel_grid_size(grid);
    const Image im = read_png(png);
    check(im.width == w && im.height == h, "grid: PNG size " + std::to_string(im.width) + "x" +
                                               std::to_string(im.height) + " is panel_grid_size's");
    check(w >= 1500 && w <= 1700 && h > 3 * 350 && h < w, "grid: a 3x4 grid is about 1600 px wide, got " +
                                                              std::to_string(w) + "x" + std::to_string(h));
    // The missing panel is a grey square of 350² less its frame and the word "missing".
    const std::size_t grey = count_colour(im, 0xd9d9d9, 1);
    check(grey > 340 * 340 && grey < 350 * 350, "grid: one grey missing panel, got " + std::to_string(grey) + " px");
    // Every drawn panel reaches the top colour of the map somewhere (each has its own scale).
    check(count_colour(im, 0xfde725, 12) > 11 * 4, "grid: the brightest colour is drawn");

    const std::string text = read_text(svg);
    check(text.rfind("<?xml", 0) == 0 && text.find("<svg") != std::string::npos &&
              text.find("width=\"" + std::to_string(w) + "pt\"") != std::string::npos,
          "grid: the SVG is an SVG document of the same size");
    for (const char* title : {"Targets and flow densities", "RealNVP resampled", "circle of Gaussians"})
        check(text.find(title) != std::string::npos, std::string("grid: the SVG holds the text '") + title + "'");
}

// Two uniform panels, the second half the first: each on its own scale both are the brightest
// colour; on a shared row scale only the first is.
void check_shared_scale(const fs::path& dir) {
    PanelGrid grid;
    grid.rows = {{Panel{"a", xt::ones<real>({10, 10})}, Panel{"b", 0.5 * xt::ones<real>({20, 20})}}};
    const fs::path own = dir / "own.png", shared = dir / "shared.png";
    write_panel_grid(own.string(), grid);
    grid.shared_scale = true;
    write_panel_grid(shared.string(), grid);
    const std::size_t full = 348 * 348;  // a panel less its frame
    const std::size_t n_own = count_colour(read_png(own), 0xfde725, 1);
    const std::size_t n_shared = count_colour(read_png(shared), 0xfde725, 1);
    check(n_own >= 2 * full && n_own <= 2 * 350 * 350, "shared_scale off: both panels at the top colour, got " +
                                                            std::to_string(n_own) + " px");
    check(n_shared >= full && n_shared <= 350 * 350, "shared_scale on: only the larger panel at the top colour, got " +
                                                         std::to_string(n_shared) + " px");
}

void check_line_plot(const fs::path& dir) {
    std::vector<LineSeries> series{{"silhouette", {2, 3, 4, 5, 6}, {0.41, 0.55, 0.62, 0.5, 0.47}},
                                   {"other score", {2, 3, 4, 5, 6}, {0.3, 0.35, 0.38, 0.36, 0.33}}};
    const fs::path png = dir / "line.png", svg = dir / "line.svg";
    write_line_plot(png.string(), series, "k", "score", "Silhouette score against k");
    write_line_plot(svg.string(), series, "k", "score", "Silhouette score against k");
    const Image im = read_png(png);
    check(is_png(png) && im.width == 960 && im.height == 540, "line plot: a 960x540 PNG");
    check(count_colour(im, 0x1f77b4, 8) > 200 && count_colour(im, 0xff7f0e, 8) > 200,
          "line plot: both series' colours are drawn");
    const std::string text = read_text(svg);
    for (const char* t : {"Silhouette score against k", "silhouette", "other score"})
        check(text.find(t) != std::string::npos, std::string("line plot: the SVG holds the text '") + t + "'");

    const fs::path bad = dir / "bad.png";
    const auto line = [&](std::vector<LineSeries> s) {
        return [&, s] { write_line_plot(bad.string(), s, "x", "y", "t"); };
    };
    check(throws<ValueError>(line({})), "line plot: no series -> ValueError");
    check(throws<ValueError>(line({{"a", {1, 2}, {1}}})), "line plot: x and y of different lengths -> ValueError");
    check(throws<ValueError>(line({{"a", {}, {}}})), "line plot: an empty series -> ValueError");
    check(throws<ValueError>(line({{"a", {1, 2}, {1, NAN}}})), "line plot: NaN -> ValueError");
    check(throws<ValueError>([&] { write_line_plot((dir / "line.jpg").string(), series, "x", "y", "t"); }),
          "line plot: .jpg -> ValueError");
    check(!fs::exists(bad) && !fs::exists(dir / "line.jpg"), "line plot: bad input writes no file");
}

// A region map split down the middle (category 0 left, 1 right) with two points of category 3:
// the left half in the light tint of tab10's blue, the right of its orange, and the points in red.
void check_regions_and_points(const fs::path& dir) {
    Panel p;
    p.title = "regions";
    p.regions = IndexArray::from_shape({10, 10});
    for (std::size_t i = 0; i < 10; ++i)
        for (std::size_t j = 0; j < 10; ++j) p.regions(i, j) = j < 5 ? 0 : 1;
    p.points = Array{{-2.0, 0.0}, {2.0, 0.0}};
    p.point_labels = {3, 3};
    PanelGrid grid;
    grid.rows = {{p}};
    const fs::path png = dir / "regions.png";
    write_panel_grid(png.string(), grid);
    const Image im = read_png(png);
    // Tints: 1 − (1 − c)/3 per channel of 0x1f77b4 and 0xff7f0e.
    const std::size_t blue = count_colour(im, 0xb4d2e6, 2), orange = count_colour(im, 0xffd4af, 2);
    check(blue > 170 * 340 && orange > 170 * 340, "regions: each half in its tint, got " + std::to_string(blue) + " and " +
                                                     std::to_string(orange) + " px");
    // Dots at 75% opacity over the tint: within 60 of tab10's red in every channel.
    check(count_colour(im, 0xd62728, 60) > 2, "regions: the points are drawn in their category's colour");
    PanelGrid bad = grid;
    bad.rows[0][0].point_labels = {1};
    check(throws<ValueError>([&] { write_panel_grid((dir / "bad.png").string(), bad); }),
          "regions: 1 label for 2 points -> ValueError");
    bad.rows[0][0].point_labels = {1, -1};
    check(throws<ValueError>([&] { write_panel_grid((dir / "bad.png").string(), bad); }),
          "regions: a negative label -> ValueError");
    bad = grid;
    bad.rows[0][0].regions = IndexArray::from_shape({3, 4});
    check(throws<ValueError>([&] { write_panel_grid((dir / "bad.png").string(), bad); }),
          "regions: a 3x4 map -> ValueError");
}

void check_bad_grids(const fs::path& dir) {
    const fs::path out = dir / "bad.png";
    const auto write = [&](const PanelGrid& g) { return [&, g] { write_panel_grid(out.string(), g); }; };
    PanelGrid ok;
    ok.rows = {{Panel{"a", xt::ones<real>({4, 4})}, Panel{"b", {}}},
               {Panel{"c", {}}, Panel{"d", xt::ones<real>({8, 8})}}};
    check(!throws<Error>(write(ok)), "grid: empty panels and different G per panel are fine");
    fs::remove(out);

    PanelGrid ragged = ok;
    ragged.rows[1].pop_back();
    check(throws<ValueError>(write(ragged)), "grid: ragged rows -> ValueError");
    PanelGrid negative = ok;
    negative.rows[0][0].density(1, 2) = -0.1;
    check(throws<ValueError>(write(negative)), "grid: a negative density -> ValueError");
    PanelGrid nan = ok;
    nan.rows[1][1].density(0, 0) = NAN;
    check(throws<ValueError>(write(nan)), "grid: a NaN density -> ValueError");
    PanelGrid not_square = ok;
    not_square.rows[0][0].density = xt::ones<real>({4, 5});
    check(throws<ValueError>(write(not_square)), "grid: a 4x5 density -> ValueError");
    PanelGrid one_cell = ok;
    one_cell.rows[0][0].density = xt::ones<real>({1, 1});
    check(throws<ValueError>(write(one_cell)), "grid: a 1x1 density -> ValueError");
    PanelGrid labels = ok;
    labels.row_labels = {"only one"};
    check(throws<ValueError>(write(labels)), "grid: 1 row label for 2 rows -> ValueError");
    PanelGrid range = ok;
    range.lo = 2;
    range.hi = -2;
    check(throws<ValueError>(write(range)), "grid: lo > hi -> ValueError");
    check(throws<ValueError>(write(PanelGrid{})), "grid: no panels -> ValueError");
    check(throws<ValueError>([&] { write_panel_grid((dir / "grid.pdf").string(), ok); }), "grid: .pdf -> ValueError");
    check(!fs::exists(out) && !fs::exists(dir / "grid.pdf"), "grid: bad input writes no file");
}

}  // namespace

// Rows of images: each pixel a 3 px square in its grey, clamped to [0, 1]; bad grids refused.
void check_image_grid(const fs::path& dir) {
    ImageGrid g;
    g.side = 4;
    Array bright = xt::ones<real>({std::size_t(3), std::size_t(16)}) * 2.0;  // clamped to white
    Array half = Array::from_shape({3, 16});
    for (std::size_t m = 0; m < 3; ++m)
        for (std::size_t p = 0; p < 16; ++p) half(m, p) = p < 8 ? -1.0 : 0.5;  // black (clamped), mid grey
    g.rows = {bright, half};  // no labels: their anti-aliased text would add black and grey pixels
    const fs::path png = dir / "images.png";
    write_image_grid(png.string(), g);
    const Image im = read_png(png);
    check(im.width > 3 * 12 && im.height > 2 * 12, "images: the PNG holds 2 rows of 3 images");
    check(count_colour(im, 0x000000, 0) == 3 * 8 * 9, "images: 8 black pixels of 3x3 px per image in row b, got " +
                                                         std::to_string(count_colour(im, 0x000000, 0)));
    check(count_colour(im, 0x808080, 1) == 3 * 8 * 9, "images: 8 grey pixels per image in row b, got " +
                                                         std::to_string(count_colour(im, 0x808080, 1)));
    // Row-major: pixels 0–7 are the image's top two rows. Row b's first image starts at
    // (12, 12 + 12 + 4) (margin 12, images of 4 × 3 px, gaps of 4): its top-right pixel is black and
    // its bottom-left one grey (a transposed drawing would swap them).
    const auto at = [&](int x, int y) { return im.pixels[static_cast<std::size_t>(y * im.width + x)]; };
    check(at(12 + 3 * 3 + 1, 28 + 1) == 0x000000, "images: the top-right pixel of an image is its pixel 3");
    const std::uint32_t grey = at(12 + 1, 28 + 3 * 3 + 1);
    check(grey != 0x000000 && (grey & 0xff) >= 0x7f && (grey & 0xff) <= 0x81,
          "images: the bottom-left pixel of an image is its pixel 12");
    check(throws<ValueError>([&] { write_image_grid((dir / "x.png").string(), ImageGrid{}); }), "images: no rows -> ValueError");
    ImageGrid wrong = g;
    wrong.side = 5;
    check(throws<ValueError>([&] { write_image_grid((dir / "x.png").string(), wrong); }), "images: 16 pixels for side 5 -> ValueError");
    g.row_labels = {"a", "b"};
    write_image_grid((dir / "labelled.png").string(), g);
    check(is_png(dir / "labelled.png"), "images: a grid with row labels is drawn");
    wrong = g;
    wrong.row_labels = {"a"};
    check(throws<ValueError>([&] { write_image_grid((dir / "x.png").string(), wrong); }), "images: 1 label for 2 rows -> ValueError");
    wrong = g;
    wrong.rows[1](0, 3) = NAN;
    check(throws<ValueError>([&] { write_image_grid((dir / "x.png").string(), wrong); }), "images: NaN pixel -> ValueError");
    check(!fs::exists(dir / "x.png"), "images: a refused grid writes no file");
}

// Transport maps: one input per pixel centre, so the identity's picture is the colour key itself.
void check_transport_map(const fs::path& dir) {
    const std::size_t g = 10;
    const real lo = -4, hi = 4, cell = (hi - lo) / g;
    Array in = xt::zeros<real>({g * g, std::size_t(2)});
    for (std::size_t i = 0; i < g; ++i)
        for (std::size_t j = 0; j < g; ++j) {
            in(i * g + j, 0) = lo + (j + 0.5) * cell;
            in(i * g + j, 1) = lo + (i + 0.5) * cell;
        }
    const Array key = transport_image(in, in, g, lo, hi);
    bool exact = true;
    for (std::size_t i = 0; i < g; ++i)
        for (std::size_t j = 0; j < g; ++j) {
            const Rgb c = position_colour(in(i * g + j, 0), in(i * g + j, 1), lo, hi);
            exact = exact && key(i, 3 * j) == c.r && key(i, 3 * j + 1) == c.g && key(i, 3 * j + 2) == c.b;
        }
    check(exact, "transport: the identity's picture is the colour of each pixel's centre");
    const Rgb a = position_colour(-4, -4, lo, hi), b = position_colour(4, 4, lo, hi);
    check(std::abs(a.r - b.r) + std::abs(a.g - b.g) + std::abs(a.b - b.b) > 0.5, "transport: far corners differ in colour");
    // A reflection x → −x mirrors the picture left to right.
    Array mirrored = in;
    for (std::size_t k = 0; k < g * g; ++k) mirrored(k, 0) = -in(k, 0);
    const Array m = transport_image(in, mirrored, g, lo, hi);
    bool mirror = true;
    for (std::size_t i = 0; i < g; ++i)
        for (std::size_t j = 0; j < g; ++j)
            for (std::size_t c = 0; c < 3; ++c) {
                // pixel j of the picture holds the input from pixel g − 1 − j
                const Rgb col = position_colour(in(i * g + (g - 1 - j), 0), in(i * g, 1), lo, hi);
                mirror = mirror && m(i, 3 * j + c) == (c == 0 ? col.r : c == 1 ? col.g : col.b);
            }
    check(mirror, "transport: a reflection mirrors the picture");
    // Two inputs landing in one pixel: the mean of their colours; every other pixel white; one
    // output outside the square is skipped.
    const Array two_in{{-3.9, -3.9}, {3.9, 3.9}, {0.0, 0.0}}, two_out{{0.1, 0.1}, {0.2, 0.2}, {9.0, 0.0}};
    std::size_t skipped = 0;
    const Array t = transport_image(two_in, two_out, g, lo, hi, &skipped);
    const Rgb p = position_colour(-3.9, -3.9, lo, hi), q = position_colour(3.9, 3.9, lo, hi);
    check(std::abs(t(5, 15) - (p.r + q.r) / 2) < 1e-15 && std::abs(t(5, 16) - (p.g + q.g) / 2) < 1e-15,
          "transport: two points in one pixel give the mean colour");
    check(skipped == 1, "transport: the output outside the square is skipped, counted " + std::to_string(skipped));
    std::size_t white = 0;
    for (std::size_t i = 0; i < g; ++i)
        for (std::size_t j = 0; j < g; ++j) white += t(i, 3 * j) == 1 && t(i, 3 * j + 1) == 1 && t(i, 3 * j + 2) == 1;
    check(white == g * g - 1, "transport: every pixel without points is white, got " + std::to_string(white));
    check(throws<ShapeError>([&] { transport_image(in, two_out, g, lo, hi); }), "transport: outputs of another shape -> ShapeError");
    check(throws<ValueError>([&] { transport_image(in, in, 1, lo, hi); }), "transport: grid 1 -> ValueError");
    // Drawn in a grid: a PNG of the grid's size, the key's colours in it.
    Panel key_panel, map_panel;
    key_panel.title = "input";
    key_panel.image = key;
    map_panel.title = "mirrored";
    map_panel.image = m;
    PanelGrid grid;
    grid.rows = {{key_panel, map_panel}};
    grid.lo = lo;
    grid.hi = hi;
    const fs::path png = dir / "transport.png";
    write_panel_grid(png.string(), grid);
    const Image im = read_png(png);
    const auto [w, h] = panel_grid_size(grid);
    check(im.width == w && im.height == h, "transport: the PNG has the grid's size");
    const Rgb corner = position_colour(in(0, 0), in(0, 1), lo, hi);
    const auto hex = (static_cast<std::uint32_t>(std::lround(corner.r * 255)) << 16) |
                     (static_cast<std::uint32_t>(std::lround(corner.g * 255)) << 8) |
                     static_cast<std::uint32_t>(std::lround(corner.b * 255));
    check(count_colour(im, hex, 2) > 2 * 30 * 30, "transport: the bottom-left pixel's colour is drawn in both panels");
    PanelGrid bad = grid;
    bad.rows[0][0].image = xt::zeros<real>({std::size_t(4), std::size_t(4)});
    check(throws<ValueError>([&] { write_panel_grid((dir / "bad.png").string(), bad); }), "transport: a 4x4 image -> ValueError");
}

int main(int argc, char** argv) {
    const bool keep = argc > 1;
    const fs::path dir = keep ? fs::path(argv[1])
                              : fs::temp_directory_path() / ("flowtape_plot_check_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    try {
        check_histogram();
        check_cell_centres();
        check_grid(dir);
        check_shared_scale(dir);
        check_line_plot(dir);
        check_bad_grids(dir);
        check_regions_and_points(dir);
        check_image_grid(dir);
        check_transport_map(dir);
        for (const auto& entry : fs::directory_iterator(dir))
            check(entry.path().string().find(".tmp.") == std::string::npos,
                  "no temporary file is left: " + entry.path().string());
    } catch (const std::exception& e) {
        check(false, std::string("unexpected exception: ") + e.what());
    }
    if (failures == 0) {
        if (!keep) fs::remove_all(dir);
        std::cout << "plot_check: all checks passed\n";
        return 0;
    }
    std::cerr << "plot_check: " << failures << " failed; figures kept in " << dir << '\n';
    return 1;
}
