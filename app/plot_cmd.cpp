// `flowtape plot --model M.json --out fig.png`: the learned density of a 2-D model as a heatmap,
// next to a scatter of the data (--data) or, without data, of samples of the model, like Figure 4
// of the piecewise-flows paper. The density is exp(log p) at the centres of a G×G grid over the
// square [lo, hi]² (--range, --grid); app/plot_density.cpp draws the figure (PNG or SVG by extension).
//
// A model holding a mixture (train --flow mixture) gets three panels instead (app/plot_grid.cpp): the
// density; the decision regions (each grid cell tinted by its argmax-posterior component) with the
// points coloured by their true class (--label-column of the data) or else by their cluster; and the
// points coloured by their cluster, as Figure 1 of the mixtures-of-flows paper.
//
// --transport (a flows-for-flows model, train --flow f4f, and --data): the map as the paper draws
// it — the input rows coloured by their position, and the picture of where they land (each pixel
// the mean colour of the points in it, white where none): left onto right, and with --inverse the
// right rows onto the left; a conditional model moves the rows from --condition-in (or the file's
// condition column) to --condition-out. --grid sets the pixels a side (default 200; 100 reads
// better for a few thousand points).
#include <cmath>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "app/cli_support.hpp"
#include "app/commands.hpp"
#include "app/plot.hpp"
#include "core/error.hpp"
#include "data/csv.hpp"
#include "flows/mixtures/flow_mixture.hpp"
#include "app/transport_rows.hpp"
#include "flows/transport/transport_flow.hpp"

namespace flowtape::app {
namespace {

struct PlotOptions {
    std::string model;
    std::string data;
    std::string out;
    std::string range = "-4,4";
    std::size_t grid = 200;
    std::size_t samples = 2000;
    std::uint64_t seed = 0;
    std::string label_column;
    bool transport = false;
    std::optional<real> condition_in, condition_out;  // --transport of a conditional model
    bool inverse = false;
    bool quiet = false;
};

constexpr std::size_t kMaxGrid = 2000;

// "-4,4" → {-4, 4}, with lo < hi.
std::pair<real, real> parse_range(const std::string& text) {
    const auto bad = [&] {
        return ValueError("plot: --range must be two numbers lo,hi with lo < hi (like -4,4), got '" + text + "'");
    };
    const std::size_t comma = text.find(',');
    if (comma == std::string::npos) throw bad();
    real lo = 0, hi = 0;
    try {
        std::size_t used_lo = 0, used_hi = 0;
        const std::string a = text.substr(0, comma), b = text.substr(comma + 1);
        lo = std::stod(a, &used_lo);
        hi = std::stod(b, &used_hi);
        if (used_lo != a.size() || used_hi != b.size()) throw bad();
    } catch (const std::logic_error&) {  // stod's invalid_argument and out_of_range
        throw bad();
    }
    if (!(std::isfinite(lo) && std::isfinite(hi) && lo < hi)) throw bad();
    return {lo, hi};
}

// density(i, j) = exp(log p) at the grid's cell centres.
Array density_grid(Distribution& model, real lo, real hi, std::size_t g) {
    const Array points = grid_cell_centres(lo, hi, g);
    const Array lp = log_prob_rows(model, points);
    Array density = Array::from_shape({g, g});
    for (std::size_t k = 0; k < g * g; ++k) {
        if (std::isnan(lp(k, 0)) || lp(k, 0) == INFINITY)
            throw NonFiniteError("plot: log p is " + std::to_string(lp(k, 0)) + " at (" + std::to_string(points(k, 0)) +
                                 ", " + std::to_string(points(k, 1)) + ")");
        density.data()[k] = std::exp(lp(k, 0));  // −inf (outside the support) gives 0
    }
    return density;
}

// The three-panel figure of a mixture: density, decision regions, clusters.
void write_mixture_figure(const PlotOptions& o, const LoadedModel& loaded, real lo, real hi) {
    Distribution& model = *loaded.model;
    Panel density{"model density", density_grid(model, lo, hi, o.grid)};
    Panel regions;
    regions.regions = component_regions(model, lo, hi, o.grid);
    Panel clusters;
    std::vector<std::int64_t> truth;
    if (o.data.empty()) {
        const ComponentDraws draws = sample_components(model, o.samples, o.seed);
        clusters.points = draws.x;
        clusters.title = std::to_string(o.samples) + " samples by component";
        truth.assign(draws.component.begin(), draws.component.end());
    } else {
        clusters.points = read_model_data("plot", o.data, loaded);
        clusters.title = "data by cluster";
        if (!o.label_column.empty()) {
            CsvOptions csv;
            csv.labels_column = o.label_column;
            const Dataset labelled = read_csv(o.data, csv);
            for (std::size_t i = 0; i < labelled.rows(); ++i) truth.push_back((*labelled.labels)(i, 0));
            for (std::int64_t l : truth)
                if (l < 0) throw ValueError("plot: " + o.data + ": a row of --label-column " + o.label_column + " has no label");
        }
    }
    const std::vector<std::size_t> predicted = predict_components(model, clusters.points);
    clusters.point_labels.assign(predicted.begin(), predicted.end());
    regions.points = clusters.points;
    regions.point_labels = truth.empty() ? clusters.point_labels : truth;
    regions.title = truth.empty() ? "regions, points by cluster" : (o.data.empty() ? "regions, samples by component"
                                                                                    : "regions, points by class");
    PanelGrid grid;
    grid.rows = {{density, regions, clusters}};
    grid.lo = lo;
    grid.hi = hi;
    write_panel_grid(o.out, grid);
}

// The input and the transported rows side by side (--transport).
void write_transport_figure(const PlotOptions& o, real lo, real hi) {
    if (o.data.empty()) throw ValueError("plot: --transport needs --data (the rows to move)");
    const LoadedModel loaded = load_model_with_columns("plot", o.model, true);
    auto* model = dynamic_cast<TransportFlow*>(loaded.model.get());
    if (!model)
        throw ValueError("plot: --transport needs a flows-for-flows model (train --flow f4f); " + o.model + " holds a " +
                         loaded.model->kind());
    if (model->dim() != 2) throw ShapeError("plot: the model has dimension " + std::to_string(model->dim()) + "; plot draws 2-D models only");
    const TransportRequest request{o.model, o.data, o.inverse, o.condition_in, o.condition_out};
    const auto [rows, moved] = move_rows("plot", loaded, *model, request);
    std::size_t outside = 0;
    Panel input, output;
    const bool conditional = model->conditional();
    input.title = conditional ? "input" : o.inverse ? "input (right)" : "input (left)";
    input.image = transport_image(rows, rows, o.grid, lo, hi);
    output.title = conditional ? "moved to condition " + (std::ostringstream() << *o.condition_out).str()
                   : o.inverse ? "moved onto the left" : "moved onto the right";
    output.image = transport_image(rows, moved, o.grid, lo, hi, &outside);
    PanelGrid grid;
    grid.rows = {{input, output}};
    grid.lo = lo;
    grid.hi = hi;
    write_panel_grid(o.out, grid);
    if (!o.quiet) {
        std::cerr << "plot: wrote " << o.out << " (input and transported rows)";
        if (outside > 0) std::cerr << "; " << outside << " moved rows fall outside the square --range and are not drawn";
        std::cerr << "\n";
    }
}

void run_plot(const PlotOptions& o) {
    const auto [lo, hi] = parse_range(o.range);
    if (o.grid < 2 || o.grid > kMaxGrid)
        throw ValueError("plot: --grid must be in [2, " + std::to_string(kMaxGrid) + "], got " + std::to_string(o.grid));
    if (o.inverse && !o.transport) throw ValueError("plot: --inverse is for --transport");
    if ((o.condition_in || o.condition_out) && !o.transport)
        throw ValueError("plot: --condition-in and --condition-out are for --transport");
    if (o.transport) return write_transport_figure(o, lo, hi);
    if (o.data.empty() && o.samples == 0) throw ValueError("plot: --samples must be at least 1, got 0");
    const LoadedModel loaded = load_model_with_columns("plot", o.model);
    refuse_pca("plot", o.model, loaded);
    if (loaded.model->dim() != 2)
        throw ShapeError("plot: the model in " + o.model + " has dimension " + std::to_string(loaded.model->dim()) +
                         "; plot draws 2-D models only");

    if (mixture_inside(*loaded.model)) {
        write_mixture_figure(o, loaded, lo, hi);
        if (!o.quiet) std::cerr << "plot: wrote " << o.out << " (density, regions, clusters)\n";
        return;
    }
    if (!o.label_column.empty()) throw ValueError("plot: --label-column is for models holding a mixture");
    DensityFigure figure;
    figure.lo = lo;
    figure.hi = hi;
    figure.x_label = loaded.columns[0];
    figure.y_label = loaded.columns[1];
    figure.density = density_grid(*loaded.model, lo, hi, o.grid);
    figure.density_title = "model density";
    if (o.data.empty()) {
        figure.points = sample_rows(*loaded.model, o.samples, o.seed);
        figure.points_title = std::to_string(o.samples) + " model samples";
    } else {
        figure.points = read_model_data("plot", o.data, loaded);
        figure.points_title = "data (" + std::to_string(figure.points.shape()[0]) + " rows)";
    }
    write_density_figure(o.out, figure);
    if (!o.quiet) std::cerr << "plot: wrote " << o.out << '\n';
}

}  // namespace

Command add_plot(CLI::App& app) {
    auto o = std::make_shared<PlotOptions>();
    CLI::App* sub = app.add_subcommand(
        "plot", "Draw a 2-D model's density as a heatmap next to the data or model samples (PNG or SVG)");
    sub->add_option("--model", o->model, "Model file written by flowtape train")->required();
    sub->add_option("--data", o->data, "CSV file of points to scatter (default: samples of the model)");
    sub->add_option("--out", o->out, "Image file to write, .png or .svg")->required();
    sub->add_option("--range", o->range, "The square lo,hi drawn on both axes (write --range=-4,4)")
        ->capture_default_str();
    sub->add_option("--grid", o->grid, "Grid cells per side of the heatmap")->capture_default_str()
        ->check(unsigned_integer());
    sub->add_option("--samples", o->samples, "Model samples drawn when no --data is given")->capture_default_str()
        ->check(unsigned_integer());
    sub->add_option("--seed", o->seed, "Seed of the model samples")->capture_default_str()
        ->check(unsigned_integer());
    sub->add_option("--label-column", o->label_column,
                    "Mixture models: the data's column of true classes, to colour the points of the regions panel");
    sub->add_flag("--transport", o->transport,
                  "f4f models: the input rows coloured by position beside where the map moves them");
    sub->add_flag("--inverse", o->inverse, "--transport: move right rows onto the left");
    sub->add_option("--condition-in", o->condition_in,
                    "--transport, conditional models: the rows' condition (default: the model's condition column in the file)");
    sub->add_option("--condition-out", o->condition_out, "--transport, conditional models: the condition to move the rows to");
    sub->add_flag("--quiet", o->quiet, "No message on stderr");
    return {sub, [o] { run_plot(*o); }};
}

}  // namespace flowtape::app
