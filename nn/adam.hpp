// Adam (Kingma & Ba 2015) with bias correction. For each parameter θ with gradient g, step t:
//   g ← g + λ θ                       (weight decay as in PyTorch's Adam, L2 in the gradient)
//   m ← β₁ m + (1 − β₁) g,  v ← β₂ v + (1 − β₂) g²
//   θ ← θ − lr · (m / (1 − β₁ᵗ)) / (sqrt(v / (1 − β₂ᵗ)) + ε)
// The moment arrays are allocated once, in the constructor, so a step allocates nothing. Since
// m̂ = g and v̂ = g² at t = 1, the first step moves every coordinate by lr·|g|/(|g| + ε) ≈ lr.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "nn/module.hpp"

namespace flowtape {

struct AdamOptions {
    real lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
};

class Adam {
public:
    // Keeps pointers to the listed parameters (see module.hpp on keeping the model in place).
    // ValueError for lr < 0, β outside [0, 1), ε < 0, weight decay < 0 or a non-finite option.
    Adam(const ParameterList& params, AdamOptions options = {});
    // One update from each Parameter::grad(). NonFiniteError naming the parameter if a gradient is
    // NaN or infinite (checked before anything changes); ShapeError if a gradient's shape differs
    // from its value's.
    void step();
    // Sets every gradient to zero.
    void zero_grad();
    void set_lr(real lr);
    real lr() const { return options_.lr; }
    std::size_t steps() const { return steps_; }
    const AdamOptions& options() const { return options_; }

private:
    struct State {
        std::string name;
        Parameter* parameter;
        Array m, v;
    };
    void check_gradients() const;

    AdamOptions options_;
    std::vector<State> states_;
    std::size_t steps_ = 0;
};

}  // namespace flowtape
