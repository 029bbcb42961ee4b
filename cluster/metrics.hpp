// Comparing a clustering with true classes: contingency tables, purity, adjusted Rand index,
// normalised mutual information and the unsupervised accuracy.
//
// Labels are any integers (they need not be 0..k−1): classes and clusters are the distinct values,
// in increasing order, and index the rows and columns of the tables. Definitions follow scikit-learn
// 1.2 (adjusted_rand_score, normalized_mutual_info_score with the arithmetic mean of the entropies),
// and the tests compare with its values. Every function throws ValueError when the two label lists
// differ in length or are empty.
#pragma once

#include "cluster/clustering.hpp"
#include "core/types.hpp"

namespace flowtape::cluster {

// counts(c, k) = number of points of class c (row) put in cluster k (column).
Array contingency_table(const Labels& truth, const Labels& pred);

// The contingency table with each row divided by its sum: row c is the distribution of class c
// over the clusters (rows sum to 1).
Array normalised_contingency_table(const Labels& truth, const Labels& pred);

// (1/N) Σ_clusters max_class counts(class, cluster): each cluster votes for its majority class.
double purity(const Labels& truth, const Labels& pred);

// Rand index adjusted for chance: 1 for identical partitions, about 0 for independent ones.
double adjusted_rand_index(const Labels& truth, const Labels& pred);

// I(truth; pred) / ((H(truth) + H(pred)) / 2); 1 when both put every point in one group, 0 when
// the mutual information is 0 otherwise.
double normalized_mutual_info(const Labels& truth, const Labels& pred);

// The fraction of points on the diagonal after the best one-to-one matching of clusters to classes
// (Hungarian algorithm on the contingency table); unmatched clusters count as wrong.
double unsupervised_accuracy(const Labels& truth, const Labels& pred);

}  // namespace flowtape::cluster
