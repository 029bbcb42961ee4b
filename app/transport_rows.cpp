// Rows moved by a flows-for-flows model for the commands (transport_rows.hpp).
#include "app/transport_rows.hpp"

#include <algorithm>
#include <cmath>
#include <iostream>

#include "core/error.hpp"
#include "data/csv.hpp"

namespace flowtape::app {
namespace {

void warn_outside(const char* who, const TransportFlow& model, real c, const char* which) {
    const auto [lo, hi] = model.condition_range();
    if (std::isfinite(lo) && std::isfinite(hi) && (c < lo || c > hi))
        std::cerr << who << ": warning: " << which << " " << c << " is outside the conditions seen in training [" << lo
                  << ", " << hi << "]; the map there is an extrapolation\n";
}

Array constant_column(std::size_t n, real c) { return xt::zeros<real>({n, std::size_t(1)}) + c; }

MovedRows move_between_conditions(const char* who, const LoadedModel& loaded, TransportFlow& model,
                                  const TransportRequest& r) {
    const std::string w = who;
    if (r.inverse)
        throw ValueError(w + ": a conditional model moves rows between conditions; swap --condition-in and "
                             "--condition-out instead of --inverse");
    if (!r.condition_out) throw ValueError(w + ": the model in " + r.model + " is conditional: give --condition-out");
    Dataset data = read_csv(r.data);
    Array c_in;
    const std::string column = loaded.extra.value("condition_column", std::string());
    const bool has_column = !column.empty() && std::find(data.columns.begin(), data.columns.end(), column) != data.columns.end();
    if (has_column) {
        const Array from_file = take_column(who, data, column, r.data);
        c_in = r.condition_in ? constant_column(data.rows(), *r.condition_in) : from_file;
    } else {
        if (!r.condition_in)
            throw ValueError(w + ": give --condition-in (or a '" + (column.empty() ? "condition" : column) + "' column in " +
                             r.data + ")");
        c_in = constant_column(data.rows(), *r.condition_in);
    }
    if (data.dims() != model.dim())
        throw ShapeError(w + ": " + r.data + " has " + std::to_string(data.dims()) + " data columns (" + join(data.columns) +
                         "); the model has dimension " + std::to_string(model.dim()));
    for (std::size_t i = 0; i < c_in.shape()[0]; ++i)
        if (!std::isfinite(c_in(i, 0)))
            throw ValueError(w + ": " + r.data + ": data row " + std::to_string(i + 1) + " has condition " +
                             std::to_string(c_in(i, 0)));
    if (r.condition_in) warn_outside(who, model, *r.condition_in, "--condition-in");
    warn_outside(who, model, *r.condition_out, "--condition-out");
    MovedRows out{data.x, {}};
    out.moved = transport_condition(model, out.rows, c_in, constant_column(data.rows(), *r.condition_out));
    return out;
}

}  // namespace

MovedRows move_rows(const char* who, const LoadedModel& loaded, TransportFlow& model, const TransportRequest& request) {
    if (model.conditional()) return move_between_conditions(who, loaded, model, request);
    if (request.condition_in || request.condition_out)
        throw ValueError(std::string(who) + ": the model in " + request.model +
                         " is not conditional; drop --condition-in/--condition-out");
    MovedRows out{read_model_data(who, request.data, loaded), {}};
    out.moved = request.inverse ? transport_right_to_left(model, out.rows) : transport_left_to_right(model, out.rows);
    return out;
}

}  // namespace flowtape::app
