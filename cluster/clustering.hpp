// What every clustering algorithm returns, and the checks they share.
//
// cluster/ works on plain arrays (no tape): X is N×D (rows are points), labels are 0..k−1 per row.
// Each algorithm lives in the file named after it (kmeans.hpp, meanshift.hpp, …) and returns a
// Clustering; `cluster_points` (cluster/registry.hpp) picks one by name for the command and the
// piecewise flow.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/types.hpp"

namespace flowtape::cluster {

using Labels = std::vector<std::int64_t>;

struct Clustering {
    Labels labels;        // one per row of X, in 0..k−1, every label used at least once
    std::size_t k = 0;    // number of clusters found
    Array centres;        // k×D cluster means (empty for algorithms without centres before `relabel`)
    double inertia = 0;   // Σ squared distance of each point to its centre (when centres exist)
    int iterations = 0;   // iterations of the last (best) run, where the algorithm iterates
};

// Throws ValueError naming `who` when X is empty, has a non-finite entry, or k is 0 or > N.
void check_points(const Array& X, const std::string& who);
void check_k(std::size_t k, std::size_t n, const std::string& who);

// Renumbers labels to 0..k−1 in order of first appearance and fills k, centres (means) and inertia.
Clustering finish_clustering(const Array& X, const Labels& labels);

}  // namespace flowtape::cluster
