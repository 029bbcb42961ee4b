// A two-panel figure written with cairo: a density heatmap on a square [lo, hi]² next to a scatter
// of points over the same square, as PNG or SVG (chosen by the file's extension). It knows nothing
// about flows; app/plot_cmd.cpp evaluates a model on the grid and hands the numbers here.
//
// The heatmap's colours follow a viridis-like map (dark blue-violet → teal → yellow), which is
// perceptually ordered: equal steps in density look like equal steps in colour, and it reads in
// grey scale too. The colour scale is linear from 0 to the largest value of the grid.
#pragma once

#include <string>

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

}  // namespace flowtape::app
