// `flowtape transport --model F.json --data X.csv [--inverse] [--condition-in c] [--condition-out c']`:
// the rows of a CSV file moved by a flows-for-flows model (train --flow f4f), as CSV on stdout:
// the model's columns, then "displacement", the Euclidean distance each row moved.
//
// Unconditional models move rows of the left side X onto the right side Y (the paper's T);
// --inverse moves rows of Y onto X. Both directions exist for every model (the map is invertible),
// whether it was trained with one base or two. Conditional models move rows from --condition-in
// (a value, or, when not given, the model's condition column in the file, row by row) to
// --condition-out; a condition outside the range seen in training gets a warning on stderr.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "app/cli_support.hpp"
#include "app/commands.hpp"
#include "core/error.hpp"
#include "data/csv.hpp"
#include "flows/transport/transport_flow.hpp"

namespace flowtape::app {
namespace {

struct TransportOptions {
    std::string model;
    std::string data;
    bool inverse = false;
    std::optional<real> condition_in, condition_out;
};

void warn_outside(const TransportFlow& model, real c, const char* which) {
    const auto [lo, hi] = model.condition_range();
    if (std::isfinite(lo) && std::isfinite(hi) && (c < lo || c > hi))
        std::cerr << "transport: warning: " << which << " " << c << " is outside the conditions seen in training ["
                  << lo << ", " << hi << "]; the map there is an extrapolation\n";
}

void run_transport(const TransportOptions& o) {
    const LoadedModel loaded = load_model_with_columns("transport", o.model, true);
    auto* model = dynamic_cast<TransportFlow*>(loaded.model.get());
    if (!model)
        throw ValueError("transport: " + o.model + " holds a " + loaded.model->kind() +
                         " model, not a flows-for-flows model (train --flow f4f)");
    Array moved;
    Array rows;
    if (!model->conditional()) {
        if (o.condition_in || o.condition_out)
            throw ValueError("transport: the model in " + o.model + " is not conditional; drop --condition-in/--condition-out");
        rows = read_model_data("transport", o.data, loaded);
        moved = o.inverse ? transport_right_to_left(*model, rows) : transport_left_to_right(*model, rows);
    } else {
        if (o.inverse)
            throw ValueError("transport: a conditional model moves rows between conditions; swap --condition-in and "
                             "--condition-out instead of --inverse");
        if (!o.condition_out) throw ValueError("transport: the model in " + o.model + " is conditional: give --condition-out");
        Dataset data = read_csv(o.data);
        Array c_in;
        const std::string column = loaded.extra.value("condition_column", std::string());
        const bool has_column = !column.empty() && std::find(data.columns.begin(), data.columns.end(), column) != data.columns.end();
        if (has_column) {
            const Array from_file = take_column("transport", data, column, o.data);
            c_in = o.condition_in ? Array(xt::zeros<real>({data.rows(), std::size_t(1)}) + *o.condition_in) : from_file;
        } else {
            if (!o.condition_in)
                throw ValueError("transport: give --condition-in (or a '" + (column.empty() ? "condition" : column) +
                                 "' column in " + o.data + ")");
            c_in = xt::zeros<real>({data.rows(), std::size_t(1)}) + *o.condition_in;
        }
        if (data.dims() != model->dim())
            throw ShapeError("transport: " + o.data + " has " + std::to_string(data.dims()) + " data columns (" +
                             join(data.columns) + "); the model has dimension " + std::to_string(model->dim()));
        for (std::size_t i = 0; i < c_in.shape()[0]; ++i)
            if (!std::isfinite(c_in(i, 0)))
                throw ValueError("transport: " + o.data + ": data row " + std::to_string(i + 1) + " has condition " +
                                 std::to_string(c_in(i, 0)));
        if (o.condition_in) warn_outside(*model, *o.condition_in, "--condition-in");
        warn_outside(*model, *o.condition_out, "--condition-out");
        rows = data.x;
        const Array c_out = xt::zeros<real>({data.rows(), std::size_t(1)}) + *o.condition_out;
        moved = transport_condition(*model, rows, c_in, c_out);
    }
    const std::size_t n = rows.shape()[0], d = rows.shape()[1];
    Array out = xt::zeros<real>({n, d + 1});
    for (std::size_t i = 0; i < n; ++i) {
        real sq = 0;
        for (std::size_t j = 0; j < d; ++j) {
            if (!std::isfinite(moved(i, j)))
                throw NonFiniteError("transport: the moved point of data row " + std::to_string(i + 1) + " is not finite");
            out(i, j) = moved(i, j);
            sq += (moved(i, j) - rows(i, j)) * (moved(i, j) - rows(i, j));
        }
        out(i, d) = std::sqrt(sq);
    }
    std::vector<std::string> columns = loaded.columns;
    columns.resize(d);
    columns.push_back("displacement");
    write_csv(std::cout, out, columns);
    std::cout.flush();
    if (!std::cout) throw IoError("transport: could not write to stdout");
}

}  // namespace

Command add_transport(CLI::App& app) {
    auto o = std::make_shared<TransportOptions>();
    CLI::App* sub = app.add_subcommand("transport", "Rows of a CSV file moved by a flows-for-flows model; CSV to stdout");
    sub->add_option("--model", o->model, "Model file written by flowtape train --flow f4f")->required();
    sub->add_option("--data", o->data, "CSV file of points to move")->required();
    sub->add_flag("--inverse", o->inverse, "Move rows of the right side onto the left (default: left onto right)");
    sub->add_option("--condition-in", o->condition_in, "Conditional models: the rows' condition (default: the model's condition column in the file)");
    sub->add_option("--condition-out", o->condition_out, "Conditional models: the condition to move the rows to");
    return {sub, [o] { run_transport(*o); }};
}

}  // namespace flowtape::app
