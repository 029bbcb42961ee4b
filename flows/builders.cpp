// The flow builders: a loop over layers adding the transforms each spec asks for (see builders.hpp).
#include "flows/builders.hpp"

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "flows/actnorm.hpp"
#include "flows/batchnorm.hpp"
#include "flows/flow.hpp"
#include "flows/gaussian.hpp"
#include "flows/maf.hpp"
#include "flows/nsf.hpp"
#include "flows/permutation.hpp"
#include "flows/realnvp.hpp"

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

DistributionPtr make_maf_flow(const FlowSpec& spec, Rng& rng) {
    check_spec("make_maf_flow", spec);
    if (!known_permutation(spec.permutation))
        throw ValueError("make_maf_flow: unknown permutation '" + spec.permutation + "' (expected reverse, random or none)");
    std::vector<TransformPtr> transforms;
    for (std::size_t k = 0; k < spec.layers; ++k) {
        if (k > 0)
            if (TransformPtr p = make_permutation(spec, rng)) transforms.push_back(std::move(p));
        MafConfig c;
        c.dim = spec.dim;
        c.hidden = spec.hidden;
        c.context = spec.context;
        c.activation = spec.activation;
        transforms.push_back(std::make_unique<MafTransform>(c, rng));
        add_normalisation(spec, transforms);
    }
    return std::make_unique<Flow>(make_base_distribution(spec, rng), std::move(transforms));
}

DistributionPtr make_realnvp_flow(const FlowSpec& spec, Rng& rng) {
    check_spec("make_realnvp_flow", spec);
    std::vector<TransformPtr> transforms;
    for (std::size_t k = 0; k < spec.layers; ++k) {
        CouplingConfig c;
        c.dim = spec.dim;
        c.hidden = spec.hidden;
        c.context = spec.context;
        c.activation = spec.activation;
        c.flip = k % 2 == 1;
        transforms.push_back(std::make_unique<AffineCoupling>(c, rng));
        add_normalisation(spec, transforms);
    }
    return std::make_unique<Flow>(make_base_distribution(spec, rng), std::move(transforms));
}

DistributionPtr make_nsf_flow(const FlowSpec& spec, Rng& rng) {
    check_spec("make_nsf_flow", spec);
    if (!known_permutation(spec.permutation))
        throw ValueError("make_nsf_flow: unknown permutation '" + spec.permutation + "' (expected reverse, random or none)");
    std::vector<TransformPtr> transforms;
    for (std::size_t k = 0; k < spec.layers; ++k) {
        if (k > 0)
            if (TransformPtr p = make_permutation(spec, rng)) transforms.push_back(std::move(p));
        SplineAutoregressiveConfig c;
        c.dim = spec.dim;
        c.bins = spec.bins;
        c.spline.tail_bound = spec.tail_bound;
        c.hidden = spec.hidden;
        c.context = spec.context;
        c.activation = spec.activation;
        transforms.push_back(std::make_unique<SplineAutoregressive>(c, rng));
        add_normalisation(spec, transforms);
    }
    return std::make_unique<Flow>(make_base_distribution(spec, rng), std::move(transforms));
}

DistributionPtr make_nsf_coupling_flow(const FlowSpec& spec, Rng& rng) {
    check_spec("make_nsf_coupling_flow", spec);
    std::vector<TransformPtr> transforms;
    for (std::size_t k = 0; k < spec.layers; ++k) {
        SplineCouplingConfig c;
        c.dim = spec.dim;
        c.bins = spec.bins;
        c.spline.tail_bound = spec.tail_bound;
        c.hidden = spec.hidden;
        c.context = spec.context;
        c.activation = spec.activation;
        c.flip = k % 2 == 1;
        transforms.push_back(std::make_unique<SplineCoupling>(c, rng));
        add_normalisation(spec, transforms);
    }
    return std::make_unique<Flow>(make_base_distribution(spec, rng), std::move(transforms));
}

}  // namespace flowtape
