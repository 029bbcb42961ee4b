// Figures written with cairo, as PNG or SVG (chosen by the file's extension): a two-panel figure
// (a density heatmap on a square [lo, hi]² next to a scatter of points over the same square), a grid
// of density heatmaps like Figure 4 of the piecewise-flows paper (rows = targets, columns = target
// and models), and a line plot (a score against k, bits/dim per model). They know nothing about
// flows; app/plot_cmd.cpp and the benches evaluate models and hand the numbers here. One source file
// per figure kind (plot_density.cpp, plot_grid.cpp with histogram2d, plot_line.cpp); what they share
// (the colormap, text, ticks, heatmaps, the PNG/SVG output) is plot_canvas.hpp/.cpp.
//
// The heatmap's colours follow a viridis-like map (dark blue-violet → teal → yellow), which is
// perceptually ordered: equal steps in density look like equal steps in colour, and it reads in
// grey scale too. The colour scale is linear from 0 to the largest value of the grid.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/types.hpp"

namespace flowtape::app {

struct DensityFigure {
    // density(i, j) at the centre of grid cell (i, j): x = lo + (j + ½)·(hi − lo)/G, y likewise with
    // i, so row 0 is the bottom of the picture. G×G, G ≥ 2, values finite and ≥ 0.
    Array density;
    Array points;  // M×2 (x, y); the ones outside the square are not drawn
    real lo = -4;
    real hi = 4;
    std::string density_title = "density";
    std::string points_title = "points";
    std::string x_label = "x0";
    std::string y_label = "x1";
};

// The colour of t ∈ [0, 1] (clamped) on the viridis-like map, as r, g, b in [0, 1].
struct Rgb {
    double r, g, b;
};
Rgb colormap(double t);

// Writes the figure to `path` (".png" or ".svg", case-insensitive), through a temporary file next
// to it that is renamed into place. ValueError for another extension, a bad range or a bad grid
// (the function and the values named); ShapeError for points without 2 columns; IoError when
// cairo cannot write the file.
void write_density_figure(const std::string& path, const DensityFigure& figure);

// ---- grid of heatmaps ----

// One heatmap of a PanelGrid. The density has the layout of DensityFigure::density (G×G, G ≥ 2,
// row 0 at the bottom, finite and ≥ 0); an empty one (0 elements) marks a missing run and is drawn
// as a grey box with the word "missing". Panels may differ in G.
struct Panel {
    std::string title;
    Array density;
    // Instead of a density: a G×G map of categories (cell layout as density; −1 for none), each
    // drawn in a light tint of its category's colour (the decision regions of a clustering).
    IndexArray regions{};
    // Points drawn over the panel (M×2, the ones outside the square not drawn), each in the colour
    // of its category in point_labels (M entries ≥ 0), or black when point_labels is empty.
    Array points{};
    std::vector<std::int64_t> point_labels{};
    // Instead of a density: an RGB picture, G×3G with pixel (i, j)'s red, green and blue in
    // columns 3j, 3j + 1, 3j + 2 (values in [0, 1], row 0 at the bottom), e.g. transport_image.
    Array image{};
};

// A panel with no density, no regions, no image and no points is a missing run, drawn as a grey box.
//
// rows[r][c] is drawn at row r (top to bottom), column c (left to right). Every row must have the
// same number of panels (a ragged grid is a ValueError: put an empty Panel where a run is missing,
// so columns stay aligned). Column titles above the top row are the first row's titles; a panel in
// a later row whose title differs from its column's is titled on its own, above it.
struct PanelGrid {
    std::vector<std::vector<Panel>> rows;
    std::vector<std::string> row_labels;  // empty, or one per row, drawn vertically at the left
    real lo = -4;                         // every panel shows the square [lo, hi]²
    real hi = 4;
    std::string title;                    // optional, drawn on top
    bool shared_scale = false;            // one colour scale per row (its largest value) instead of per panel
};

// ---- transport maps (the flows-for-flows paper's Figures 3–7; app/plot_transport.cpp) ----

// The colour of a position in the square [lo, hi]²: a bilinear blend of four corner colours
// (blue bottom left, green bottom right, red top left, yellow top right), so nearby points get
// nearby colours and each quarter of the square its own hue; clamped outside the square.
Rgb position_colour(real x, real y, real lo, real hi);

// The picture of a map, for Panel::image: input row i gets position_colour(inputs(i)), and each of
// the grid×grid pixels over [lo, hi]² is the mean colour of the outputs that land in it, white
// where none does. transport_image(inputs, inputs, …) is the colour key (the identity map).
// Outputs outside the square or not finite are left out (counted in *skipped when given).
// ShapeError unless inputs and outputs are N×2 alike; ValueError for grid < 2 or a bad range.
Array transport_image(const Array& inputs, const Array& outputs, std::size_t grid, real lo, real hi,
                      std::size_t* skipped = nullptr);

// The size in pixels of the PNG (in points of the SVG) write_panel_grid makes of `grid`: panels of
// 350 px a side, so a 3×4 grid is about 1600 px wide. Checks the grid like write_panel_grid.
std::pair<int, int> panel_grid_size(const PanelGrid& grid);

// Writes the grid to `path` (".png" or ".svg"), atomically like write_density_figure. Ticks are on
// the left column and the bottom row. ValueError for another extension, a bad range, no panels, a
// ragged grid, row_labels of the wrong count, a density or region map that is not square G×G
// (G ≥ 2), a negative or non-finite density value, points without 2 columns or with a label count
// other than theirs or a negative label; IoError when the file cannot be written.
void write_panel_grid(const std::string& path, const PanelGrid& grid);

// The centres of the G×G cells over [lo, hi]² as G² rows (x, y) in the layout of Panel::density:
// row i·G + j is x = lo + (j + ½)h, y = lo + (i + ½)h with h = (hi − lo)/G, so a model evaluated at
// them fills a density or region map cell by cell.
Array grid_cell_centres(real lo, real hi, std::size_t g);

// The 2-D histogram of the points inside [lo, hi]² (edges included) as a density: bins×bins cells
// in the layout of Panel::density (cell (i, j) counts points with y in bin i, x in bin j), each count
// divided by (points inside) · (cell area), so it integrates to 1 over the square. Points outside,
// including ±inf, are ignored; with none inside every cell is 0. ShapeError unless points is M×2;
// ValueError for bins = 0, a bad range, or a NaN coordinate.
Array histogram2d(const Array& points, std::size_t bins, real lo, real hi);

// ---- line plot ----

// One line: points (x[k], y[k]) joined in the given order, each marked.
struct LineSeries {
    std::string label;  // shown in the legend (an empty label leaves the series out of it)
    std::vector<real> x, y;
};

// Axes fitted to all points with ticks, one colour and marker shape per series, the legend to the
// right of the axes. Written atomically to ".png" (960×540 px) or ".svg". ValueError for another
// extension, no series, a series with no points or with x and y of different lengths, or a
// non-finite value.
void write_line_plot(const std::string& path, const std::vector<LineSeries>& series, const std::string& x_label,
                     const std::string& y_label, const std::string& title);

// ---- image grids ----

// Rows of grey-scale images (app/plot_images.cpp), as the VMoNF paper's Figure 3 draws samples
// of each component: rows[r] is an M×(side·side) array, one row-major image per row, values in
// [0, 1] (clamped: 0 black, 1 white), drawn left to right at 3 px a pixel, row_labels at the left.
struct ImageGrid {
    std::vector<Array> rows;
    std::size_t side = 28;
    std::vector<std::string> row_labels;  // empty, or one per row
    std::string title;
};
// Writes the grid to `path` (".png" or ".svg"), atomically. ValueError for no rows, a row whose
// width is not side², rows of different counts, row_labels of the wrong count or a non-finite
// value; IoError when the file cannot be written.
void write_image_grid(const std::string& path, const ImageGrid& grid);

}  // namespace flowtape::app
