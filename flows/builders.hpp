// Convenience builders of whole flows from a few numbers, used by the command and the benches.
//
//   make_maf_flow:      layers × (MAF [+ ActNorm] [+ BatchNorm]) with a permutation between layers
//                       ("reverse", "random" from the rng, or "none"); every MAF uses the natural
//                       ordering, the permutations give each coordinate its turn.
//   make_realnvp_flow:  layers × (affine coupling [+ ActNorm] [+ BatchNorm]), the coupling masks
//                       alternating even/odd so that every coordinate is transformed; no
//                       permutations (a reversal would undo the alternation when D is even), so
//                       `permutation` is not used.
// Both put the transforms on a base distribution named by `base`: "standard_normal", or
// "diagonal_gaussian" (learnable mean and scale, starting at N(0, I)).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/random.hpp"
#include "flows/distribution.hpp"
#include "nn/activation.hpp"

namespace flowtape {

struct FlowSpec {
    std::size_t dim = 0;  // must be set (the builders reject 0)
    std::size_t layers = 5;
    std::vector<std::size_t> hidden{128, 128};
    std::size_t context = 0;
    bool batch_norm = false;
    bool actnorm = false;
    std::string permutation = "reverse";
    Activation activation = Activation::relu;
    std::size_t bins = 8;  // for the spline builders
    real tail_bound = 3;   // for the spline builders
    std::string base = "standard_normal";
    // When set (1×D each), make_maf_flow puts a fixed Standardize (x − mean) / scale first, e.g.
    // from Standardize::from_data of the training rows (flows/transforms/standardize.hpp).
    Array standardize_mean{}, standardize_scale{};
    // When set (1×D each), make_maf_flow puts a fixed BoundedToNormal on (lo, hi) first, before
    // any Standardize, e.g. from BoundedToNormal::from_data (margarine's pre-transform;
    // flows/transforms/bounded_to_normal.hpp).
    Array bounded_lo{}, bounded_hi{};
    // MAF layers only (flows/transforms/maf.hpp): the log-scale clamp B (0: none) and the start of
    // the MADE's output weights (Glorot × this).
    real maf_log_scale_bound = 3;
    real maf_output_init_scale = 1e-2;
};

// The base distribution named by spec.base; ValueError for an unknown name or dim = 0. Every
// builder below uses it unless given a base of its own (of dimension spec.dim).
DistributionPtr make_base_distribution(const FlowSpec& spec, Rng& rng);

// ValueError for dim = 0, layers = 0, an unknown permutation or base; what the transforms
// themselves reject (D = 1 for RealNVP) throws from their constructors.
DistributionPtr make_maf_flow(const FlowSpec& spec, Rng& rng, DistributionPtr base = nullptr);
DistributionPtr make_realnvp_flow(const FlowSpec& spec, Rng& rng, DistributionPtr base = nullptr);
// Spline flows (flows/transforms/nsf.hpp) with spec.bins bins on [−tail_bound, tail_bound]:
//   make_nsf_flow:           layers × (autoregressive spline [+ ActNorm] [+ BatchNorm]) with a
//                            permutation between layers, as make_maf_flow;
//   make_nsf_coupling_flow:  layers × (spline coupling [+ ActNorm] [+ BatchNorm]), the coupling masks
//                            alternating even/odd as make_realnvp_flow (no permutations; D ≥ 2).
DistributionPtr make_nsf_flow(const FlowSpec& spec, Rng& rng, DistributionPtr base = nullptr);
DistributionPtr make_nsf_coupling_flow(const FlowSpec& spec, Rng& rng, DistributionPtr base = nullptr);

// RealNVP on the resampled base of Stimper et al. (2022) (flows/distributions/resampled_base.hpp), the model of
// the piecewise-flows paper's Table 1: couplings × (affine coupling [+ ActNorm]), the masks
// alternating as make_realnvp_flow, on a ResampledGaussian with an acceptance MLP accept_hidden,
// truncation T and running-average weight eps. The ResampledGaussian's own seed (its training-time
// Z proposals) is drawn from rng.
struct ResampledRealNvpSpec {
    std::size_t dim = 2;
    std::size_t couplings = 8;
    std::vector<std::size_t> hidden{32, 32};
    bool actnorm = true;
    Activation activation = Activation::relu;
    std::vector<std::size_t> accept_hidden{256, 256};
    std::size_t T = 100;
    real eps = 0.1;
    std::size_t n_z_samples = 0;  // 0: as many proposals as the batch has rows
};
// The width w that gives a MAF flow with spec.layers layers and hidden layers {w, …, w} (as many as
// spec.hidden has) the number of parameters nearest to `budget` (at least 1): how the benches give
// models of different kinds "about the same number of parameters". ValueError for budget = 0.
std::size_t maf_width_for_budget(FlowSpec spec, std::size_t budget);

// ValueError for dim < 2 or couplings = 0 (and what the parts reject).
DistributionPtr make_realnvp_resampled_flow(const ResampledRealNvpSpec& spec, Rng& rng);

}  // namespace flowtape
