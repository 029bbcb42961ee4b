// The silhouette (Rousseeuw 1987) and choosing the number of k-means clusters by it.
//
// For point i in cluster A: a(i) = mean distance to the other points of A, b(i) = the smallest mean
// distance to the points of another cluster, s(i) = (b − a) / max(a, b), and s(i) = 0 when A has one
// point (scikit-learn's definition). Distances are Euclidean. The exact score costs O(N²·D) time but
// only O(N·block) memory: rows are processed a block at a time with gemm-based distances, and the
// points are sorted by label once so that each per-cluster sum runs over a contiguous range.
// For large N, `silhouette_score_sampled` scores a seeded random subset (sklearn's sample_size).
//
// choose_k (the paper's clustering step, its Figure 2): run k-means for each k in [k_min, k_max],
// score each clustering and keep the k with the highest silhouette. Clusters too small to train a
// flow on are a practical hazard, so a clustering with a cluster smaller than `min_size` is not
// eligible: if the best-scoring k has one, the best k whose clusters all have ≥ min_size points is
// chosen instead (and `note` says so); if no k qualifies, the result is k = 1 (every point in one
// cluster) with a note explaining why. All scores are reported either way.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "cluster/clustering.hpp"
#include "cluster/kmeans.hpp"
#include "core/random.hpp"
#include "core/types.hpp"

namespace flowtape::cluster {

// s(i) for every point. ValueError unless 2 ≤ number of distinct labels ≤ N − 1 (as sklearn), for
// empty or non-finite X, or a label count that differs from the rows of X. `threads` row blocks are
// processed at once (the values do not depend on it); threads = 0 is a ValueError.
std::vector<double> silhouette_samples(const Array& X, const Labels& labels, std::size_t threads = 1);

// The mean of silhouette_samples.
double silhouette_score(const Array& X, const Labels& labels, std::size_t threads = 1);

// The silhouette score of a random subset of sample_size points (drawn without replacement from rng);
// the exact score when sample_size ≥ N.
double silhouette_score_sampled(const Array& X, const Labels& labels, std::size_t sample_size, Rng& rng,
                                std::size_t threads = 1);

struct ChooseKOptions {
    std::size_t k_min = 2;
    std::size_t k_max = 10;
    std::size_t min_size = 1;       // smallest acceptable cluster (see the header note)
    std::size_t sample_size = 0;    // silhouette on a random subset of this size; 0 = exact
    int n_init = 10;                // k-means restarts per k
    int max_iter = 300;
    double tol = 1e-4;
    std::size_t threads = 1;        // for the k-means restarts and the silhouette blocks
};

struct ChooseKResult {
    std::size_t k = 1;                        // the chosen number of clusters
    Clustering clustering;                    // the k-means clustering for that k (all points, one cluster for k = 1)
    std::vector<std::size_t> ks;              // every k tried, k_min..k_max
    std::vector<double> scores;               // the silhouette score of each
    std::vector<double> inertias;             // the k-means inertia of each
    std::vector<std::size_t> smallest;        // the size of the smallest cluster of each
    std::size_t best_k = 0;                   // the k with the highest score, eligible or not
    std::string note;                         // empty, or why k differs from best_k
};

// ValueError for k_min < 2, k_max < k_min, k_max ≥ N (the silhouette needs at most N − 1 clusters),
// or bad X.
ChooseKResult choose_k(const Array& X, const ChooseKOptions& opt, Rng& rng);

}  // namespace flowtape::cluster
