// MADE: a masked autoencoder for distribution estimation (Germain et al. 2015), the autoregressive
// conditioner of MAF. Masks on the weights make output column j·D + i depend only on the inputs
// that come before input i in the ordering; see docs/nn.md for the degrees and masks.
//
// Layers. Plain mode: masked layers D → H₁ → … → H_L → P·D with the activation after every
// hidden layer. Residual mode (all H equal): an initial masked layer D → H, then one block per
// further hidden entry, h ← h + M₂(σ(M₁(σ(h)))), then σ and the masked output layer.
//
// Context. An unmasked Linear from the context (N×C) is added to the pre-activation of every
// masked layer but the output one, so every hidden unit sees the context; the autoregressive
// structure in x is unchanged.
//
// Parameters: "layers.k.weight", "layers.k.bias" for the masked layers in order (k = 0 takes the
// input, the last one gives the outputs) and "context.k.weight", "context.k.bias" for the context
// layer feeding masked layer k (present when context > 0, for every k but the last).
#pragma once

#include <cstddef>
#include <vector>

#include "nn/activation.hpp"
#include "nn/linear.hpp"

namespace flowtape {

enum class Ordering { natural, reversed, random };
// "natural", "reversed", "random" both ways; ValueError for any other name.
std::string ordering_name(Ordering o);
Ordering ordering_from_name(const std::string& name);

// Degrees of d inputs for an ordering: input i has degree (its position in the ordering) + 1, so
// natural gives 1..d, reversed d..1, random a permutation of 1..d drawn from rng (rng is used only
// then). MADE, MAF and the autoregressive spline all take their degrees from here.
std::vector<std::size_t> ordering_degrees(Ordering ordering, std::size_t d, Rng& rng);
// `degrees` when given, checked to be a permutation of 1..d (ValueError naming `who` and the
// degrees otherwise); ordering_degrees(ordering, d, rng) when empty.
std::vector<std::size_t> resolve_degrees(const char* who, std::vector<std::size_t> degrees, Ordering ordering,
                                         std::size_t d, Rng& rng);
// The inverse permutation: order[k] is the input of degree k + 1.
std::vector<std::size_t> degree_order(const std::vector<std::size_t>& degrees);

struct MadeConfig {
    std::size_t inputs = 2;
    std::vector<std::size_t> hidden{64, 64};  // at least one entry; all equal in residual mode
    std::size_t outputs_per_input = 1;
    Ordering ordering = Ordering::natural;
    std::size_t context = 0;
    bool residual_blocks = false;
    Activation activation = Activation::relu;
};

class Made : public Module {
public:
    // A random ordering is drawn from rng first, then the weights, layer by layer. ValueError for a
    // zero size, no hidden layer, or unequal hidden sizes in residual mode.
    Made(const MadeConfig& config, Rng& rng);
    // x is N×D; the result N×(P·D). Output column j·D + i is the j-th output for input i
    // (j < P = outputs_per_input, D = inputs). ShapeError for a wrong input width;
    // ValueError/ShapeError for a missing, unexpected or misshapen context.
    Var forward(Var x, Var context = Var());
    void collect_parameters(ParameterList& out, const std::string& prefix) override;

    // Degree of input i, 1..D: its position in the ordering + 1.
    const std::vector<std::size_t>& input_degrees() const { return input_degrees_; }
    // The masks of the masked layers, in order (in×out each, entries 0 or 1).
    const std::vector<Array>& masks() const { return masks_; }
    // The masked layers, in order (for benchmarks and tests that look inside).
    const std::vector<MaskedLinear>& layers() const { return layers_; }
    const MadeConfig& config() const { return config_; }

private:
    // Masked layer k applied to `in`, plus the context term when there is a context.
    Var pre_activation(std::size_t k, Var in, Var context);

    MadeConfig config_;
    std::vector<std::size_t> input_degrees_;
    std::vector<Array> masks_;
    std::vector<MaskedLinear> layers_;
    std::vector<Linear> context_layers_;
};

}  // namespace flowtape
