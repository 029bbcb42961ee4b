// Dense layers: Linear (y = x W + b) and MaskedLinear (y = x (W ⊙ M) + b, the building block of
// MADE). Both record the fused `linear` op, one gemm per call.
#pragma once

#include <memory>

#include <cstddef>

#include "autodiff/ops.hpp"
#include "core/random.hpp"
#include "nn/module.hpp"

namespace flowtape {

// y = x W + b with W in×out (Glorot uniform) and b 1×out (zeros). Parameters: "weight", "bias".
class Linear : public Module {
public:
    // ValueError unless in > 0 and out > 0.
    Linear(std::size_t in, std::size_t out, Rng& rng);
    // x is N×in (ShapeError otherwise); the result N×out.
    Var forward(Var x);
    void collect_parameters(ParameterList& out, const std::string& prefix) override;

    Parameter weight, bias;
    std::size_t in_features() const { return weight.shape()[0]; }
    std::size_t out_features() const { return weight.shape()[1]; }
};

// y = x (W ⊙ M) + b with M a fixed 0/1 in×out mask. The mask multiplies the weight once per call
// (one mul node, in×out, not N×in×out work), then the fused linear op runs. Masked-out weights are
// set to 0 at construction; their gradient is always 0, so they stay 0 under training.
//
// Large masks with many zeros (a MADE's on hundreds of inputs) take the tiled product instead
// (tiled_linear, Note [tiles of a MADE mask] in autodiff/tiled_linear.cpp): when the weight has at
// least kTiledMinSize entries and the tiles of its mask do at most kTiledMaxFraction of the dense
// work. The result is the same function, its sums taken in another order (equal to rounding).
// Parameters: "weight", "bias".
class MaskedLinear : public Module {
public:
    // ValueError unless in, out > 0 and every mask entry is 0 or 1; ShapeError unless the mask is in×out.
    MaskedLinear(std::size_t in, std::size_t out, Array mask, Rng& rng);
    Var forward(Var x);
    void collect_parameters(ParameterList& out, const std::string& prefix) override;

    Parameter weight, bias;
    const Array& mask() const { return mask_; }
    // The tiles of the mask when the product is tiled, else null.
    const WeightTiles* tiles() const { return tiles_.get(); }

    static constexpr std::size_t kTiledMinSize = 1 << 16;
    static constexpr double kTiledMaxFraction = 0.8;
    std::size_t in_features() const { return weight.shape()[0]; }
    std::size_t out_features() const { return weight.shape()[1]; }

private:
    Array mask_;
    std::shared_ptr<const WeightTiles> tiles_;  // shared, so the address a tape holds survives moves
};

}  // namespace flowtape
