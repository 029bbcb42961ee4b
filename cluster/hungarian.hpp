// The assignment problem by the Hungarian algorithm (Kuhn–Munkres with row potentials), O(n²·m).
//
// Given an n×m cost matrix with n ≤ m, find distinct columns col[0..n) minimising Σᵢ cost(i, col[i]).
// For n > m the problem is solved on the transpose, so every column gets a row and some rows stay
// unassigned (−1). Used by metrics.cpp for the unsupervised accuracy (best matching of clusters to
// classes), where the cost is minus the contingency table.
#pragma once

#include <cstdint>
#include <vector>

#include "core/types.hpp"

namespace flowtape::cluster {

struct Assignment {
    std::vector<std::int64_t> column_of_row;  // −1 for a row left unassigned (only when n > m)
    double cost = 0;                          // Σ cost(i, column_of_row[i]) over assigned rows
};

// Throws ValueError for an empty matrix or a non-finite entry.
Assignment hungarian(const Array& cost);

}  // namespace flowtape::cluster
