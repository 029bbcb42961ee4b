// Mlp: builds the Linear layers from the config and chains them with the activation.
#include "nn/mlp.hpp"

#include <string>

#include "core/error.hpp"

namespace flowtape {

Mlp::Mlp(const MlpConfig& config, Rng& rng) : config_(config) {
    if (config.inputs == 0 || config.outputs == 0)
        throw ValueError("Mlp: inputs and outputs must be positive, got inputs " + std::to_string(config.inputs) +
                         ", outputs " + std::to_string(config.outputs));
    std::vector<std::size_t> sizes{config.inputs + config.context};
    for (std::size_t h : config.hidden) {
        if (h == 0) throw ValueError("Mlp: hidden layer sizes must be positive, got 0");
        sizes.push_back(h);
    }
    sizes.push_back(config.outputs);
    layers_.reserve(sizes.size() - 1);
    for (std::size_t k = 0; k + 1 < sizes.size(); ++k) layers_.emplace_back(sizes[k], sizes[k + 1], rng);
}

Var Mlp::forward(Var x, Var context) {
    check_input_width("Mlp", x, config_.inputs);
    check_context("Mlp", x, context, config_.context);
    Var h = config_.context > 0 ? concat({x, context}, 1) : x;
    for (std::size_t k = 0; k < layers_.size(); ++k) {
        h = layers_[k].forward(h);
        if (k + 1 < layers_.size()) h = activate(h, config_.activation);
    }
    return h;
}

void Mlp::collect_parameters(ParameterList& out, const std::string& prefix) {
    for (std::size_t k = 0; k < layers_.size(); ++k)
        layers_[k].collect_parameters(out, qualified_name(prefix, "layers." + std::to_string(k)));
}

}  // namespace flowtape
