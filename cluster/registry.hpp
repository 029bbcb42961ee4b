// Clustering algorithms by name, for the command and the piecewise flow.
//
// cluster_points(algo, X, k, rng) runs one algorithm with its defaults (those of the matching
// scikit-learn estimator) and returns its Clustering. Names: kmeans, minibatch-kmeans, meanshift,
// birch, agglomerative (Ward), spectral, gmm. `meanshift` ignores k: it finds the number of clusters
// itself, with the bandwidth estimated from at most 1000 rows and bin seeding (to keep it fast on
// large N). agglomerative and spectral refuse large N (see their headers).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "cluster/clustering.hpp"
#include "core/random.hpp"
#include "core/types.hpp"

namespace flowtape::cluster {

// Throws ValueError for an unknown name (the message lists the valid ones) and whatever the chosen
// algorithm throws for bad X or k.
Clustering cluster_points(const std::string& algo, const Array& X, std::size_t k, Rng& rng);

// The valid names, in the order above.
std::vector<std::string> clustering_algorithms();

}  // namespace flowtape::cluster
