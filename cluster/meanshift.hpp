// Mean shift with a flat kernel, as scikit-learn's MeanShift, and its bandwidth estimate.
//
// From each seed (every point, or with bin seeding the occupied cells of a grid of side `bandwidth`),
// the mean is moved to the average of the points within `bandwidth` of it until it moves less than
// 1e-3·bandwidth or max_iter is reached. The converged means ("modes") are ranked by how many points
// were within reach (more first; ties by the mode's coordinates, larger first), a mode within
// `bandwidth` of a higher-ranked one is dropped, and every point goes to its nearest remaining mode.
// The number of clusters is found, not asked for.
//
// Cost: each seed's step looks at every point, O(seeds·iterations·N·D) time and O(N·D) memory; bin
// seeding cuts the seeds to the occupied cells. estimate_bandwidth is O(M²·D) for M points used.
#pragma once

#include <cstddef>

#include "cluster/clustering.hpp"
#include "core/random.hpp"
#include "core/types.hpp"

namespace flowtape::cluster {

// sklearn's estimate_bandwidth: the mean, over the points, of the distance to their ⌊quantile·M⌋-th
// nearest neighbour (at least the 1st; a point is its own 1st neighbour at distance 0), over M = N
// points, or over `n_samples` rows chosen by rng.permutation when 0 < n_samples < N (then `rng` is
// required). Throws ValueError for empty/non-finite X or quantile outside [0, 1].
double estimate_bandwidth(const Array& X, double quantile = 0.3, std::size_t n_samples = 0, Rng* rng = nullptr);

struct MeanShiftOptions {
    double bandwidth = 0;          // > 0, or 0 to use estimate_bandwidth(X, quantile, bandwidth_samples, rng)
    double quantile = 0.3;         // for the estimate
    std::size_t bandwidth_samples = 0;  // rows used by the estimate, 0 = all
    bool bin_seeding = false;      // seeds at the grid cells (side = bandwidth) holding ≥ min_bin_freq points
    std::size_t min_bin_freq = 1;
    int max_iter = 300;
};

struct MeanShiftFit {
    Clustering clustering;  // centres are the modes (ranked as above), labels the nearest mode
    double bandwidth = 0;   // the bandwidth used (given or estimated)
};

// Throws ValueError for empty/non-finite X, a negative bandwidth, max_iter < 1, or when no seed has a
// point within the bandwidth (only possible with bin seeding). Equal points give one cluster; a
// bandwidth estimated as 0 (most points repeated) still works: only equal points are then "within".
MeanShiftFit mean_shift(const Array& X, const MeanShiftOptions& opt, Rng* rng = nullptr);

// The seeds of bin seeding: sklearn's get_bin_seeds (cells by round-half-even of x / bin_size, kept
// when they hold ≥ min_bin_freq points, returned as cell·bin_size; X itself when every point has its
// own cell or bin_size is 0).
Array bin_seeds(const Array& X, double bin_size, std::size_t min_bin_freq = 1);

}  // namespace flowtape::cluster
