// random_labels: the "random clustering" baseline of the mixtures-of-flows paper, which scores a
// labelling that ignores the data to show what chance alone reaches on each metric.
//
// Row i gets rng.below(k), drawn in row order: independent labels, each uniform on 0..k−1 (Rng::below
// is unbiased). Unlike a Clustering, some labels may be unused when n is small.
#pragma once

#include <cstddef>

#include "cluster/clustering.hpp"
#include "core/random.hpp"

namespace flowtape::cluster {

// n labels in 0..k−1. ValueError for n = 0 or k = 0.
Labels random_labels(std::size_t n, std::size_t k, Rng& rng);

}  // namespace flowtape::cluster
