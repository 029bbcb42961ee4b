// Initial values for layer weights. Every draw comes from the Rng passed in.
#pragma once

#include <cstddef>

#include "core/random.hpp"
#include "core/types.hpp"

namespace flowtape {

// A fan_in×fan_out matrix with entries U(−a, a), a = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio
// 2010), which keeps the variance of activations and gradients about constant across layers.
// ValueError if both sizes are 0.
Array glorot_uniform(Rng& rng, std::size_t fan_in, std::size_t fan_out);
// A rows×cols matrix of zeros (biases).
Array zeros(std::size_t rows, std::size_t cols);

}  // namespace flowtape
