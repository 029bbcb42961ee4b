// What the flows-for-flows tests share: small base flows with random, non-identity weights (as a
// trained base would be), and nudging a model's trainable parameters off their identity start.
#pragma once

#include "flowtape.hpp"

namespace flowtape::test {

// A 2-D flow of two layers with 8 hidden units and weights jittered from Rng(seed + 100): a RealNVP,
// or a MAF conditional on `context` columns.
inline DistributionPtr jittered_base(std::uint64_t seed, std::size_t context = 0) {
    FlowSpec f;
    f.dim = 2;
    f.layers = 2;
    f.hidden = {8};
    f.context = context;
    Rng rng(seed);
    DistributionPtr base = context ? make_maf_flow(f, rng) : make_realnvp_flow(f, rng);
    Rng jitter(seed + 100);
    const ParameterList params = base->parameters();  // kept: items() refers into it
    for (const NamedParameter& p : params.items())
        p.parameter->value() += 0.3 * jitter.normal_array(p.parameter->value().shape()[0], p.parameter->value().shape()[1]);
    return base;
}

// Every trainable (not frozen) parameter plus scale·N(0, 1) noise from rng.
inline void perturb(Distribution& model, Rng& rng, real scale) {
    const ParameterList all = model.parameters();
    for (const NamedParameter& p : all.items())
        if (!p.parameter->frozen())
            p.parameter->value() += scale * rng.normal_array(p.parameter->value().shape()[0], p.parameter->value().shape()[1]);
}

}  // namespace flowtape::test
