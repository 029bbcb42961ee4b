// Transform: an invertible map between data x and latent z, with its log-determinant.
//
// `forward(x)` maps data to latent and returns, per row, log|det ∂z/∂x|; `inverse(z)` maps back and
// returns log|det ∂x/∂z| (the negative, at the matching points). Both run on the tape of their input,
// so training differentiates through forward and reparameterised sampling through inverse. A
// composite (Flow) sums the log-determinants. An optional context (N×C) conditions the transform: it
// is passed on to every conditioner network.
//
// For model files a transform reports its kind ("maf", "realnvp", ...) and its architecture as JSON
// (`config`); its parameters are listed by name through Module::collect_parameters. The registry
// (flows/registry.hpp) rebuilds a transform from the two.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "nn/module.hpp"

namespace flowtape {

struct TransformResult {
    Var out;     // z for forward, x for inverse (N×D)
    Var logdet;  // N×1
};

class Transform : public Module {
public:
    virtual TransformResult forward(Var x, Var context = Var()) = 0;
    virtual TransformResult inverse(Var z, Var context = Var()) = 0;

    virtual std::size_t dim() const = 0;
    virtual std::size_t context_dim() const { return 0; }
    virtual std::string kind() const = 0;
    // The architecture as JSON, including "kind"; enough for the registry to rebuild it.
    virtual nlohmann::json config() const = 0;

    // Training mode (batch statistics, data-dependent initialisation) or evaluation mode.
    virtual void set_training(bool /*on*/) {}
    // Array state that is not a trainable parameter but must be saved (running means, an
    // initialisation flag), listed like parameters. Default: none.
    virtual void collect_buffers(ParameterList& /*out*/, const std::string& /*prefix*/) {}
};

using TransformPtr = std::unique_ptr<Transform>;

}  // namespace flowtape
