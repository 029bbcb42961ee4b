// Mlp: a plain multilayer perceptron, the conditioner of coupling layers and the dynamics of
// continuous flows. Linear layers with an activation between them and none after the last.
#pragma once

#include <cstddef>
#include <vector>

#include "nn/activation.hpp"
#include "nn/linear.hpp"

namespace flowtape {

struct MlpConfig {
    std::size_t inputs = 1;
    std::vector<std::size_t> hidden{64, 64};  // may be empty: one Linear layer
    std::size_t outputs = 1;
    Activation activation = Activation::relu;
    std::size_t context = 0;  // columns of the optional context; 0 for none
};

// y = L_K(σ(… σ(L_1([x, c])) …)). The context c (N×context), if any, is concatenated to the input
// x (N×inputs), so the first layer has inputs + context rows. Parameters: "layers.k.weight" and
// "layers.k.bias" for k = 0..K−1, input side first.
class Mlp : public Module {
public:
    // ValueError for a zero size (inputs, outputs or a hidden entry).
    Mlp(const MlpConfig& config, Rng& rng);
    // ShapeError for a wrong input width; ValueError/ShapeError for a missing, unexpected or
    // misshapen context.
    Var forward(Var x, Var context = Var());
    void collect_parameters(ParameterList& out, const std::string& prefix) override;
    const MlpConfig& config() const { return config_; }
    const std::vector<Linear>& layers() const { return layers_; }
    // For code that runs the layers itself (a CNF's closed-form trace reads every pre-activation).
    std::vector<Linear>& layers() { return layers_; }

private:
    MlpConfig config_;
    std::vector<Linear> layers_;
};

}  // namespace flowtape
