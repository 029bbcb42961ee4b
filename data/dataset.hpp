// Dataset: a data set in memory, as read from CSV (data/csv.hpp) or generated (data/datasets.hpp).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/types.hpp"

namespace flowtape {

// N rows of D features with their column names, and optional per-row weights and integer labels
// (each N×1). Weights, when present, are finite, ≥ 0 and not all zero.
struct Dataset {
    Array x;
    std::vector<std::string> columns;
    std::optional<Array> weights;
    std::optional<IndexArray> labels;

    std::size_t rows() const { return x.shape()[0]; }
    std::size_t dims() const { return x.shape()[1]; }
};

}  // namespace flowtape
