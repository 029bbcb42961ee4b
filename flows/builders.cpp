// The flow builders: a loop over layers adding the transforms each spec asks for (see builders.hpp).
#include "flows/builders.hpp"

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "flows/transforms/actnorm.hpp"
#include "flows/transforms/batchnorm.hpp"
#include "flows/flow.hpp"
#include "flows/distributions/gaussian.hpp"
#include "flows/transforms/maf.hpp"
#include "flows/transforms/nsf.hpp"
#include "flows/transforms/permutation.hpp"
#include "flows/transforms/affine_coupling.hpp"
#include "flows/distributions/resampled_base.hpp"
#include "flows/transforms/standardize.hpp"
#include "flows/transforms/bounded_to_normal.hpp"

namespace flowtape {
namespace {

void check_spec(const char* who, const FlowSpec& spec) {
    if (spec.dim == 0) throw ValueError(std::string(who) + ": dim must be positive");
    if (spec.layers == 0) throw ValueError(std::string(who) + ": layers must be positive");
}

bool known_permutation(const std::string& name) { return name == "reverse" || name == "random" || name == "none"; }

// The optional normalisation layers after a main layer.
void add_normalisation(const FlowSpec& spec, std::vector<TransformPtr>& out) {
    if (spec.actnorm) out.push_back(std::make_unique<ActNorm>(spec.dim));
    if (spec.batch_norm) out.push_back(std::make_unique<BatchNorm>(spec.dim));
}

// The permutation between two layers, or null for "none".
TransformPtr make_permutation(const FlowSpec& spec, Rng& rng) {
    if (spec.permutation == "reverse") return Permutation::reverse(spec.dim);
    if (spec.permutation == "random") return Permutation::random(spec.dim, rng);
    return nullptr;  // "none"
}

// The fields every layer's config takes from the spec, and those the spline layers add.
template <class Config>
Config layer_config(const FlowSpec& spec) {
    Config c;
    c.dim = spec.dim;
    c.hidden = spec.hidden;
    c.context = spec.context;
    c.activation = spec.activation;
    return c;
}

template <class Config>
Config spline_layer_config(const FlowSpec& spec) {
    Config c = layer_config<Config>(spec);
    c.bins = spec.bins;
    c.spline.tail_bound = spec.tail_bound;
    return c;
}

// `first` (if any), then spec.layers × (layer(k) [+ ActNorm] [+ BatchNorm]) with the spec's
// permutation between consecutive layers when `permute`, on `base` or else the spec's base. The
// random draws come in this order: permutation, layer, then the base last, as the builders always
// drew them.
template <class MakeLayer>
DistributionPtr stack_layers(const char* who, const FlowSpec& spec, Rng& rng, bool permute,
                             std::vector<TransformPtr> first, DistributionPtr base, MakeLayer layer) {
    if (permute && !known_permutation(spec.permutation))
        throw ValueError(std::string(who) + ": unknown permutation '" + spec.permutation +
                         "' (expected reverse, random or none)");
    std::vector<TransformPtr> transforms = std::move(first);
    for (std::size_t k = 0; k < spec.layers; ++k) {
        if (permute && k > 0)
            if (TransformPtr p = make_permutation(spec, rng)) transforms.push_back(std::move(p));
        transforms.push_back(layer(k));
        add_normalisation(spec, transforms);
    }
    return std::make_unique<Flow>(base ? std::move(base) : make_base_distribution(spec, rng), std::move(transforms));
}

}  // namespace

DistributionPtr make_base_distribution(const FlowSpec& spec, Rng&) {
    if (spec.dim == 0) throw ValueError("make_base_distribution: dim must be positive");
    if (spec.base == "standard_normal") return std::make_unique<StandardNormal>(spec.dim);
    if (spec.base == "diagonal_gaussian")
        return std::make_unique<DiagonalGaussian>(xt::zeros<real>({std::size_t(1), spec.dim}),
                                                  xt::zeros<real>({std::size_t(1), spec.dim}), true);
    throw ValueError("make_base_distribution: unknown base '" + spec.base +
                     "' (expected standard_normal or diagonal_gaussian)");
}

DistributionPtr make_maf_flow(const FlowSpec& spec, Rng& rng, DistributionPtr base) {
    check_spec("make_maf_flow", spec);
    std::vector<TransformPtr> first;
    if (spec.bounded_lo.size() > 0) first.push_back(std::make_unique<BoundedToNormal>(spec.bounded_lo, spec.bounded_hi));
    if (spec.standardize_mean.size() > 0)
        first.push_back(std::make_unique<Standardize>(spec.standardize_mean, spec.standardize_scale));
    return stack_layers("make_maf_flow", spec, rng, true, std::move(first), std::move(base), [&](std::size_t) -> TransformPtr {
        MafConfig c = layer_config<MafConfig>(spec);
        c.log_scale_bound = spec.maf_log_scale_bound;
        c.output_init_scale = spec.maf_output_init_scale;
        return std::make_unique<MafTransform>(c, rng);
    });
}

DistributionPtr make_realnvp_flow(const FlowSpec& spec, Rng& rng, DistributionPtr base) {
    check_spec("make_realnvp_flow", spec);
    return stack_layers("make_realnvp_flow", spec, rng, false, {}, std::move(base), [&](std::size_t k) -> TransformPtr {
        CouplingConfig c = layer_config<CouplingConfig>(spec);
        c.flip = k % 2 == 1;
        return std::make_unique<AffineCoupling>(c, rng);
    });
}

DistributionPtr make_nsf_flow(const FlowSpec& spec, Rng& rng, DistributionPtr base) {
    check_spec("make_nsf_flow", spec);
    return stack_layers("make_nsf_flow", spec, rng, true, {}, std::move(base), [&](std::size_t) -> TransformPtr {
        return std::make_unique<SplineAutoregressive>(spline_layer_config<SplineAutoregressiveConfig>(spec), rng);
    });
}

DistributionPtr make_nsf_coupling_flow(const FlowSpec& spec, Rng& rng, DistributionPtr base) {
    check_spec("make_nsf_coupling_flow", spec);
    return stack_layers("make_nsf_coupling_flow", spec, rng, false, {}, std::move(base), [&](std::size_t k) -> TransformPtr {
        SplineCouplingConfig c = spline_layer_config<SplineCouplingConfig>(spec);
        c.flip = k % 2 == 1;
        return std::make_unique<SplineCoupling>(c, rng);
    });
}

DistributionPtr make_realnvp_resampled_flow(const ResampledRealNvpSpec& spec, Rng& rng) {
    if (spec.dim < 2) throw ValueError("make_realnvp_resampled_flow: dim must be at least 2, got " + std::to_string(spec.dim));
    if (spec.couplings == 0) throw ValueError("make_realnvp_resampled_flow: couplings must be positive");
    std::vector<TransformPtr> transforms;
    for (std::size_t k = 0; k < spec.couplings; ++k) {
        CouplingConfig c;
        c.dim = spec.dim;
        c.hidden = spec.hidden;
        c.activation = spec.activation;
        c.flip = k % 2 == 1;
        transforms.push_back(std::make_unique<AffineCoupling>(c, rng));
        if (spec.actnorm) transforms.push_back(std::make_unique<ActNorm>(spec.dim));
    }
    ResampledGaussianConfig base;
    base.dim = spec.dim;
    base.hidden = spec.accept_hidden;
    base.activation = spec.activation;
    base.truncation = spec.T;
    base.eps = spec.eps;
    base.n_z_samples = spec.n_z_samples;
    base.seed = rng.next_u64();
    return std::make_unique<Flow>(std::make_unique<ResampledGaussian>(base, rng), std::move(transforms));
}

std::size_t maf_width_for_budget(FlowSpec spec, std::size_t budget) {
    if (budget == 0) throw ValueError("maf_width_for_budget: the parameter budget must be positive");
    const std::size_t depth = spec.hidden.empty() ? 1 : spec.hidden.size();
    // The count grows with w, so bisect on it; each probe builds the flow and counts (cheap at these sizes).
    const auto count = [&](std::size_t w) {
        spec.hidden.assign(depth, w);
        Rng rng(0);
        return make_maf_flow(spec, rng)->parameters().scalar_count();
    };
    std::size_t lo = 1, hi = 1;
    while (count(hi) < budget && hi < 4096) hi *= 2;
    while (hi - lo > 1) {
        const std::size_t mid = (lo + hi) / 2;
        (count(mid) < budget ? lo : hi) = mid;
    }
    const auto gap = [&](std::size_t w) {
        const std::size_t c = count(w);
        return c > budget ? c - budget : budget - c;
    };
    return gap(lo) <= gap(hi) ? lo : hi;
}

}  // namespace flowtape
