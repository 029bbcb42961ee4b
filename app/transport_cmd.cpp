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
#include "app/transport_rows.hpp"
#include "core/error.hpp"
#include "data/csv.hpp"

namespace flowtape::app {
namespace {

void run_transport(const TransportRequest& o) {
    const LoadedModel loaded = load_model_with_columns("transport", o.model, true);
    auto* model = dynamic_cast<TransportFlow*>(loaded.model.get());
    if (!model)
        throw ValueError("transport: " + o.model + " holds a " + loaded.model->kind() +
                         " model, not a flows-for-flows model (train --flow f4f)");
    const auto [rows, moved] = move_rows("transport", loaded, *model, o);
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
    auto o = std::make_shared<TransportRequest>();
    CLI::App* sub = app.add_subcommand("transport", "Rows of a CSV file moved by a flows-for-flows model; CSV to stdout");
    sub->add_option("--model", o->model, "Model file written by flowtape train --flow f4f")->required();
    sub->add_option("--data", o->data, "CSV file of points to move")->required();
    sub->add_flag("--inverse", o->inverse, "Move rows of the right side onto the left (default: left onto right)");
    sub->add_option("--condition-in", o->condition_in, "Conditional models: the rows' condition (default: the model's condition column in the file)");
    sub->add_option("--condition-out", o->condition_out, "Conditional models: the condition to move the rows to");
    return {sub, [o] { run_transport(*o); }};
}

}  // namespace flowtape::app
