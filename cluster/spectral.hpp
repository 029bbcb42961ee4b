// Spectral clustering (Ng, Jordan & Weiss): an RBF affinity graph, its normalised-Laplacian embedding,
// then k-means in the embedding.
//
//   A_ij = exp(−γ‖x_i − x_j‖²) for i ≠ j, A_ii = 0;  d_i = Σ_j A_ij;  M = D^{−1/2} A D^{−1/2};
//   U = the eigenvectors of M for its k largest eigenvalues (= the k smallest of I − M), N×k;
//   each row of U scaled to unit length; k-means (cluster/kmeans.hpp) on those rows.
// γ defaults to 1.0 as in sklearn's SpectralClustering. sklearn differs in the last step: it divides
// the rows by sqrt(d_i) instead of normalising them; both recover the same clusters on well-separated
// data, and the tests compare the ARI of each against the truth.
//
// A point whose affinities all underflow (isolated for this γ) gets degree 1 (as scipy's normalised
// Laplacian does); its zero row in U is left zero by the normalisation.
//
// Memory O(N²): the dense affinity and the symmetric eigendecomposition (LAPACK, O(N³) time) take
// about 3·8·N² bytes, so N above `max_points` (5000 by default: 600 MB and about a minute; N = 2000
// takes 2.6 s) is refused with a ValueError. Subsample, or use k-means / Birch, for more points.
#pragma once

#include <cstddef>

#include "cluster/clustering.hpp"
#include "core/random.hpp"
#include "core/types.hpp"

namespace flowtape::cluster {

struct SpectralOptions {
    std::size_t k = 8;              // clusters, 1 ≤ k ≤ distinct points
    double gamma = 1.0;             // RBF affinity exp(−γ‖x − y‖²), > 0
    int n_init = 10;                // k-means restarts in the embedding
    std::size_t max_points = 5000;  // larger N is refused (memory O(N²), time O(N³))
};

struct SpectralFit {
    Clustering clustering;  // labels of X; centres are the means of the clusters in X's space
    Array embedding;        // N×k, the row-normalised eigenvectors k-means ran on
    std::vector<double> eigenvalues;  // the k largest eigenvalues of D^{−1/2} A D^{−1/2}, descending
};

// Throws ValueError for empty/non-finite X, k = 0 or k > N, fewer than k distinct points, γ ≤ 0, or
// N > opt.max_points.
SpectralFit spectral_clustering(const Array& X, const SpectralOptions& opt, Rng& rng);

}  // namespace flowtape::cluster
