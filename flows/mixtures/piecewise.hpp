// Piecewise normalizing flows (Bevins, Handley & Gessey-Jones 2024, "Piecewise normalizing flows",
// arXiv:2305.02930): cluster the samples, train one flow per cluster, and use the weighted sum of the
// pieces as the density.
//
// With cluster weights W_k = Σ_{j in cluster k} w_j, normalised to sum to one, the density is the
// mixture of the paper's eqs. (13)–(15),
//
//     log p(x) = log Σ_k exp(log W_k + log p_k(x)),
//
// which is a Mixture (flows/mixtures/mixture.hpp) with fixed weights W_k and the pieces as its
// components: fit_piecewise returns one. Training minimises eqs. (11)–(12): a sum of
// independent losses, one per cluster, so each piece is fitted on its own cluster's rows alone with
// its own train/validation split and early stopping (the paper's rule, flows/training/train.hpp), and the
// pieces can train on parallel threads. Each piece's randomness comes from Rng::stream(seed, k)
// and nothing is shared between pieces, so the parallel result is identical to the serial one — on
// threads, and across MPI ranks (PiecewiseOptions::communicator).
//
// The clustering (cluster/registry.hpp) uses the positions only, not the weights. The number of
// clusters is given, or chosen by the best mean silhouette over [k_min, k_max] (the paper's Figure
// 2). A cluster with fewer than `min_cluster_size` rows cannot train a flow (it has too little data
// for a validation split): such a cluster is merged into the cluster with the nearest mean, and the
// training report says so. The O(N²) algorithms (spectral, agglomerative) can cluster a random subset
// instead (cluster_subsample); all rows then join the cluster with the nearest mean.
//
// The cost of training of eq. (18), C = Σ_k E_k N_k h_k (epochs run, rows, parameters of piece k),
// is part of the report, with the cost of a single flow E N h for comparison (eq. 17).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "flows/builders.hpp"
#include "flows/distribution.hpp"
#include "flows/mixtures/mixture.hpp"
#include "flows/training/train.hpp"

namespace flowtape {

struct PiecewiseOptions {
    std::string algorithm = "kmeans";  // a name of cluster::clustering_algorithms()
    std::size_t k = 0;                 // clusters; 0 = choose by the silhouette over [k_min, k_max]
    std::size_t k_min = 2;
    std::size_t k_max = 20;
    std::size_t silhouette_sample = 0;  // score a seeded subset of this many rows; 0 = all rows
    // When > 0 and the data have more rows: cluster a seeded random subset of this many rows, then
    // give every row the cluster whose mean is nearest (for the O(N²) algorithms on large data).
    std::size_t cluster_subsample = 0;
    std::size_t min_cluster_size = 20;  // smaller clusters are merged into the nearest one
    FlowSpec piece;                     // the flow of each piece (make_maf_flow); dim is set from the data
    // When > 0: the hidden width of every piece is chosen so that the k pieces together have about
    // this many parameters (each ≈ budget / k, maf_width_for_budget), as the paper's Σ_k h_k ≈ h.
    std::size_t parameter_budget = 0;
    // Each piece's flow starts with a fixed Standardize from its own cluster's rows (weighted means
    // are not used: the plain column means and deviations of the rows).
    bool standardize = true;
    // Instead (margarine, `train --preset margarine`): each piece's flow starts with
    // BoundedToNormal::from_data of its own rows and weights (flows/transforms/bounded_to_normal.hpp).
    bool bounded_to_normal = false;
    FitOptions fit;                     // training of each piece; its seed is replaced per piece
    std::size_t threads = 1;            // pieces trained at once (1 = one after another)
    // The pieces spread over MPI ranks (null: all here). Every rank calls fit_piecewise with all the
    // rows and the same options; the clustering is rank 0's (sent to all), piece k is trained by
    // rank k mod R, and every rank then receives every piece's parameters and report, so the model
    // is the serial one, bit for bit, on every rank.
    Communicator* communicator = nullptr;
    std::uint64_t seed = 0;             // clustering, initial weights and each piece's shuffles
};

struct PiecewiseReport {
    std::size_t k = 0;                     // pieces trained
    std::vector<std::size_t> ks;           // the k tried when choosing by silhouette (else empty)
    std::vector<double> silhouettes;       // their mean silhouette scores
    std::string clustering_note;           // merges, or why k differs from the best silhouette
    std::vector<std::size_t> rows;         // N_k
    std::vector<real> weights;             // W_k (normalised)
    std::vector<std::size_t> parameters;   // h_k
    std::vector<FitReport> fits;           // one per piece
    double cost = 0;                       // eq. (18): Σ_k E_k N_k h_k
    double cluster_seconds = 0;            // wall time of the clustering step
    double train_seconds = 0;              // wall time of training all pieces (parallel or not)
    double serial_seconds = 0;             // Σ_k of each piece's own training time
    bool diverged = false;                 // some piece stopped on a non-finite loss
    std::string message;                   // one line
};

struct PiecewiseFit {
    std::unique_ptr<Mixture> model;  // fixed weights W_k; component k is piece k
    PiecewiseReport report;
};

// Clusters the rows of x (N×D), trains one MAF per cluster and returns the piecewise flow: the
// Mixture of the pieces with the cluster weights.
// weights: N×1 sample weights (≥ 0, positive sum) or null. ValueError for bad data, weights or
// options (unknown algorithm, k > N, ...), with the function and the values named.
PiecewiseFit fit_piecewise(const Array& x, const PiecewiseOptions& options, const Array* weights = nullptr);

}  // namespace flowtape
