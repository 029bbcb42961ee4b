// k-means: k-means++ seeding, Lloyd iterations, the best of several restarts; and `predict`.
//
// Follows scikit-learn's KMeans (algorithm='lloyd'): greedy k-means++ (2 + ⌊ln k⌋ candidate centres
// per step, keep the one that lowers the potential most), Lloyd iterations until the squared shift of
// the centres is at most tol · (mean per-feature variance of X) or max_iter is reached, then one last
// assignment so labels match the final centres. `n_init` restarts each draw their seeding from
// Rng::stream(seed, restart), where `seed` is one draw from the caller's rng, so a result depends only
// on that rng's state (not on `threads`: ties in inertia go to the earlier restart). Squared distances go through gemm: ‖x‖² + ‖c‖² − 2 x·cᵀ. Memory is O(N·k).
//
// An empty cluster during Lloyd (possible with bad initial centres) is refilled, as sklearn does, with
// the points farthest from their centres.
#pragma once

#include <cstddef>

#include "cluster/clustering.hpp"
#include "core/random.hpp"
#include "core/types.hpp"

namespace flowtape::cluster {

struct KMeansOptions {
    std::size_t k = 8;   // number of clusters, 1 ≤ k ≤ N
    int n_init = 10;     // restarts; the run with the lowest inertia wins
    int max_iter = 300;  // Lloyd iterations per restart
    double tol = 1e-4;   // relative to the mean per-feature variance of X
    std::size_t threads = 1;  // restarts run at once; the result does not depend on it
};

// The best of opt.n_init k-means++ + Lloyd runs. Throws ValueError for empty/non-finite X, k = 0 or
// k > N, n_init < 1, max_iter < 1, tol < 0, threads = 0, or fewer than k distinct points.
Clustering kmeans(const Array& X, const KMeansOptions& opt, Rng& rng);

// Lloyd iterations from the given k×D centres (sklearn's init=array, n_init=1).
Clustering kmeans_from(const Array& X, const Array& initial_centres, int max_iter = 300, double tol = 1e-4);

// The index of the nearest centre (squared Euclidean; ties go to the lower index) for each row of X.
Labels predict(const Array& centres, const Array& X);

// k-means++ seeding alone (greedy, sklearn's `kmeans_plusplus`): k rows of X as starting centres.
Array kmeans_plusplus(const Array& X, std::size_t k, Rng& rng);

}  // namespace flowtape::cluster
