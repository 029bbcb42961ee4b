// Objectives: what fit minimises, one mini-batch at a time.
//
// fit (flows/training/train.hpp) owns the loop: the split, the shuffles, the mini-batches, Adam,
// clipping, validation, early stopping with roll-back, divergence handling and progress. An
// Objective says only what the loss of one batch is. It receives the batch already on the tape
// (the rows as constants, their weights, the context and the labels where the data have them) and
// returns a 1×1 Var, which fit differentiates. Between epochs fit calls begin_epoch, so an
// objective can keep a schedule of its own (a temperature, a penalty weight).
//
// The loss of a batch must be a weighted MEAN over its rows, Σ_i w_i ℓ_i / Σ_i w_i: fit averages
// batches by their total weight to report an epoch's loss and to combine the chunks of the
// validation pass, and early stopping compares those numbers from epoch to epoch. An objective
// whose training loss changes meaning with its schedule (an annealed temperature) should monitor
// something that does not (the negative log-likelihood) through validation_loss.
//
// WeightedNll, −Σ w log p(x) / Σ w, is the default objective of fit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "flows/distribution.hpp"

namespace flowtape {

// One mini-batch on its tape. x (N×D) and weights (N×1) are constants; context is N×C or invalid
// (the data have none); labels point at N×1 integers with kNoLabel where a row has none, or are
// null (the data have none).
struct Batch {
    Tape& tape;
    Var x;
    Var weights;
    real total_weight = 0;  // Σ_i w_i > 0
    Var context;
    const IndexArray* labels = nullptr;
    std::size_t epoch = 0;  // 1-based, the epoch this batch belongs to
    std::size_t step = 0;   // 0-based, the training steps of the fit before this one (all epochs)
};

class Objective {
public:
    virtual ~Objective() = default;

    // The training loss of `batch` (1×1, a weighted mean over its rows) for `model`, recorded on
    // batch.tape. fit calls it in training mode with gradients on.
    virtual Var loss(Distribution& model, const Batch& batch) = 0;

    // The loss early stopping monitors, on chunks of the validation set in evaluation mode and
    // no-grad mode (also a weighted mean over the rows). Default: loss.
    virtual Var validation_loss(Distribution& model, const Batch& batch) { return loss(model, batch); }

    // Called before the first step of each epoch (1-based), `epochs` the maximum: the place for a
    // schedule of the objective's own.
    virtual void begin_epoch(std::size_t /*epoch*/, std::size_t /*epochs*/) {}

    // Objectives that draw random numbers in loss (the conditional transport's target conditions)
    // restart them from stream `stream` of their seed; data-parallel fit calls it before each part
    // of a step, as Distribution::restart_noise.
    virtual void restart_noise(std::uint64_t /*stream*/) {}

    // A few words on the objective's state for fit's progress lines ("T 0.42"); empty for none.
    virtual std::string progress() const { return {}; }
};

// −Σ_i w_i log p(x_i) / Σ_i w_i, with the batch's context passed to the model.
class WeightedNll : public Objective {
public:
    Var loss(Distribution& model, const Batch& batch) override;
};

// The weighted mean −Σ_i w_i v_i / Σ_i w_i of a per-row column v (N×1) with the batch's weights:
// the reduction every objective above ends with.
Var negative_weighted_mean(const Var& per_row, const Batch& batch);

}  // namespace flowtape
