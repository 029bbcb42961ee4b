// The activation table: one switch from the enum to the op, and the names both ways.
#include "nn/activation.hpp"

#include <array>
#include <utility>

#include "core/error.hpp"

namespace flowtape {
namespace {

constexpr std::array<std::pair<Activation, const char*>, 6> kNames{{
    {Activation::relu, "relu"},
    {Activation::tanh, "tanh"},
    {Activation::elu, "elu"},
    {Activation::softplus, "softplus"},
    {Activation::sigmoid, "sigmoid"},
    {Activation::identity, "identity"},
}};

}  // namespace

Var activate(Var x, Activation a) {
    switch (a) {
        case Activation::relu: return relu(x);
        case Activation::tanh: return tanh(x);
        case Activation::elu: return elu(x);
        case Activation::softplus: return softplus(x);
        case Activation::sigmoid: return sigmoid(x);
        case Activation::identity: return x;
    }
    throw ValueError("activate: unknown activation " + std::to_string(static_cast<int>(a)));
}

Activation activation_from_name(const std::string& name) {
    for (const auto& [a, n] : kNames)
        if (name == n) return a;
    throw ValueError("activation_from_name: unknown activation '" + name +
                     "' (expected relu, tanh, elu, softplus, sigmoid or identity)");
}

std::string activation_name(Activation a) {
    for (const auto& [value, n] : kNames)
        if (value == a) return n;
    throw ValueError("activation_name: unknown activation " + std::to_string(static_cast<int>(a)));
}

}  // namespace flowtape
