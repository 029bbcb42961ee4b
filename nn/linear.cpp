// Linear and MaskedLinear: parameter setup, input checks, and the forward pass on the tape.
#include "nn/linear.hpp"

#include <string>

#include "core/error.hpp"
#include "nn/init.hpp"

namespace flowtape {
namespace {

void check_sizes(const char* who, std::size_t in, std::size_t out) {
    if (in == 0 || out == 0)
        throw ValueError(std::string(who) + ": sizes must be positive, got in " + std::to_string(in) + ", out " +
                         std::to_string(out));
}

// Checks the sizes first, so that a bad size throws before any weight is drawn.
Array checked_glorot(const char* who, std::size_t in, std::size_t out, Rng& rng) {
    check_sizes(who, in, out);
    return glorot_uniform(rng, in, out);
}

}  // namespace

// ---- Linear ----

Linear::Linear(std::size_t in, std::size_t out, Rng& rng)
    : weight("weight", checked_glorot("Linear", in, out, rng)), bias("bias", zeros(1, out)) {}

Var Linear::forward(Var x) {
    check_input_width("Linear", x, in_features());
    Tape& t = x.tape();
    return linear(x, t.param(weight), t.param(bias));
}

void Linear::collect_parameters(ParameterList& out, const std::string& prefix) {
    out.add(qualified_name(prefix, "weight"), weight);
    out.add(qualified_name(prefix, "bias"), bias);
}

// ---- MaskedLinear ----

namespace {

Array checked_mask(std::size_t in, std::size_t out, Array mask) {
    check_sizes("MaskedLinear", in, out);
    if (mask.shape()[0] != in || mask.shape()[1] != out)
        throw ShapeError("MaskedLinear: mask " + shape_string(shape_of(mask)) + " does not match the weight " +
                         shape_string({in, out}));
    for (real m : mask)
        if (m != 0 && m != 1)
            throw ValueError("MaskedLinear: mask entries must be 0 or 1, got " + std::to_string(m));
    return mask;
}

}  // namespace

MaskedLinear::MaskedLinear(std::size_t in, std::size_t out, Array mask, Rng& rng)
    : mask_(checked_mask(in, out, std::move(mask))) {
    weight = Parameter("weight", glorot_uniform(rng, in, out) * mask_);
    bias = Parameter("bias", zeros(1, out));
    if (in * out >= kTiledMinSize) {
        auto tiles = std::make_shared<WeightTiles>(tile_mask(mask_));
        if (tiles->fraction() <= kTiledMaxFraction) tiles_ = std::move(tiles);
    }
}

Var MaskedLinear::forward(Var x) {
    check_input_width("MaskedLinear", x, in_features());
    Tape& t = x.tape();
    const Var masked_weight = mul(t.param(weight), t.constant(mask_));
    return tiles_ ? tiled_linear(x, masked_weight, t.param(bias), *tiles_) : linear(x, masked_weight, t.param(bias));
}

void MaskedLinear::collect_parameters(ParameterList& out, const std::string& prefix) {
    out.add(qualified_name(prefix, "weight"), weight);
    out.add(qualified_name(prefix, "bias"), bias);
}

}  // namespace flowtape
