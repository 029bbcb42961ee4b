// Activation functions by name, so that configurations and model files can choose them.
#pragma once

#include <string>

#include "autodiff/ops.hpp"

namespace flowtape {

enum class Activation { relu, tanh, elu, softplus, sigmoid, identity };

// The activation applied elementwise (elu with α = 1; identity returns x itself, adding no node).
Var activate(Var x, Activation a);
// "relu", "tanh", "elu", "softplus", "sigmoid", "identity"; ValueError for any other name.
Activation activation_from_name(const std::string& name);
std::string activation_name(Activation a);

}  // namespace flowtape
