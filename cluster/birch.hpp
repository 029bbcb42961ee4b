// Birch: one pass over the points builds a clustering-feature (CF) tree of small subclusters, then a
// global step groups the subcluster centres into k clusters (scikit-learn's Birch).
//
// A subcluster keeps (n, Σx, Σ‖x‖²). Each point goes down the tree to the nearest subcluster centre;
// at a leaf it joins the nearest subcluster if the joined radius sqrt(Σ‖x‖²/n − ‖c‖²) stays ≤
// threshold, else it starts a new one; a node with more than branching_factor entries splits around
// its two farthest entries, which can split its parents up to the root. The tree is the same as
// sklearn's for the same points in the same order, so the subcluster centres agree with sklearn's.
// Global step: Ward agglomerative clustering of the (unweighted) subcluster centres, as sklearn does
// with n_clusters = k, or k-means on them; each point then takes the label of its nearest subcluster
// centre. Memory O(N·D) at worst (the tree), usually far less; time O(N·branching_factor·depth·D).
//
// Difference from sklearn: with fewer than k subclusters sklearn warns and returns fewer clusters;
// here the threshold is halved and the tree rebuilt until there are at least k (`threshold_used`).
#pragma once

#include <cstddef>

#include "cluster/clustering.hpp"
#include "core/random.hpp"
#include "core/types.hpp"

namespace flowtape::cluster {

enum class BirchGlobal { ward, kmeans };

struct BirchOptions {
    std::size_t k = 3;                   // clusters after the global step, 1 ≤ k ≤ distinct points
    double threshold = 0.5;              // largest subcluster radius
    std::size_t branching_factor = 50;   // largest number of entries in a node, ≥ 2
    BirchGlobal global = BirchGlobal::ward;
};

struct BirchFit {
    Clustering clustering;     // labels of X; centres are the means of the final clusters
    Array subcluster_centres;  // S×D, leaves in order as sklearn's subcluster_centers_
    Labels subcluster_labels;  // global cluster of each subcluster (S)
    double threshold_used = 0;
};

// The CF tree's subcluster centres alone (sklearn's Birch(n_clusters=None).subcluster_centers_).
Array birch_subclusters(const Array& X, double threshold = 0.5, std::size_t branching_factor = 50);

// Throws ValueError for empty/non-finite X, k = 0 or k > N, fewer than k distinct points, threshold ≤ 0
// or branching_factor < 2. `rng` is used only by the k-means global step.
BirchFit birch(const Array& X, const BirchOptions& opt, Rng& rng);

}  // namespace flowtape::cluster
