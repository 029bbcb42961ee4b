// The rows of a CSV file moved by a flows-for-flows model, as `flowtape transport` and
// `flowtape plot --transport` both need them (app/transport_rows.cpp).
//
// Unconditional models move left rows onto the right (S⁻¹), or with `inverse` right rows onto the
// left (S). Conditional models move rows from `condition_in` (a value, or, when not given, the
// model's condition column in the file, row by row) to `condition_out`; a condition outside the
// range seen in training gets a warning on stderr, prefixed by `who`.
#pragma once

#include <optional>
#include <string>

#include "app/cli_support.hpp"
#include "flows/transport/transport_flow.hpp"

namespace flowtape::app {

struct TransportRequest {
    std::string model;  // the model file (for messages)
    std::string data;   // the CSV file
    bool inverse = false;
    std::optional<real> condition_in, condition_out;
};

struct MovedRows {
    Array rows;   // the input rows (data columns only)
    Array moved;  // where the model puts them
};

// ValueError naming `who` for a request that does not fit the model: conditions for an
// unconditional model, no --condition-out (or --inverse) for a conditional one, no condition
// given or in the file, a non-finite condition; ShapeError for data of another dimension.
MovedRows move_rows(const char* who, const LoadedModel& loaded, TransportFlow& model, const TransportRequest& request);

}  // namespace flowtape::app
