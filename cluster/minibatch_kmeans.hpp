// Mini-batch k-means (Sculley 2010) in the manner of scikit-learn 1.2's MiniBatchKMeans.
//
// Seeding: for each of n_init tries, k-means++ on a random subset of init_size points; the try with
// the lowest inertia on its subset wins. Then each step draws batch_size points (with replacement),
// assigns them to the nearest centre and moves each centre towards the mean of its new points with a
// per-centre learning rate 1/count: c ← (count·c + Σ batch points) / (count + n_batch). Every
// 10·k points seen, centres with a count below reassignment_ratio × the largest count are moved to
// random batch points (their counts set to the smallest remaining count). Stops after max_epochs
// passes' worth of steps, or when the exponentially weighted batch inertia has not improved for
// max_no_improvement steps. The result's labels and inertia are over all of X.
#pragma once

#include <cstddef>

#include "cluster/clustering.hpp"
#include "core/random.hpp"
#include "core/types.hpp"

namespace flowtape::cluster {

struct MiniBatchKMeansOptions {
    std::size_t k = 8;
    std::size_t batch_size = 1024;
    int max_epochs = 100;             // sklearn's max_iter: passes over the data
    int n_init = 3;
    std::size_t init_size = 0;        // 0: 3·batch_size (at least 3·k), capped at N
    int max_no_improvement = 10;      // 0 disables early stopping
    double reassignment_ratio = 0.01;
};

// ValueError for bad X, k = 0 or k > N, batch_size = 0, max_epochs < 1, n_init < 1, a negative
// reassignment_ratio, or fewer than k distinct points in an initial subset.
Clustering minibatch_kmeans(const Array& X, const MiniBatchKMeansOptions& opt, Rng& rng);

}  // namespace flowtape::cluster
