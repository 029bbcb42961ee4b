// fit: training of any Distribution (a flow, a mixture, a Gaussian) on data, by maximum likelihood
// or by any Objective (flows/training/objectives.hpp).
//
// The rows are shuffled once from the seed and split into a training and a validation set
// (val_fraction of the rows, at least one when the fraction is positive). Each epoch shuffles the
// training rows again (from the seed) and takes one Adam step per mini-batch on the objective's
// loss, by default the weighted negative log-likelihood
//     loss = −Σ_i w_i log p(x_i) / Σ_i w_i       (over the rows of the batch; w = 1 by default),
// with the learning rate of the epoch from the schedule and, optionally, the gradients clipped to a
// global norm. After each epoch the validation loss (the objective's validation_loss, the same
// weighted mean over the validation set) is computed in no-grad mode with the model in evaluation
// mode.
//
// Which parameters train: by default every parameter of the model that is not frozen
// (Parameter::set_frozen); or the list given to fit, each of which must be one of the model's. The
// model's other parameters are frozen for the duration of fit (and restored to their earlier state
// after), so the tape computes no gradient for them: a trained base flow under a new top flow costs
// its forward pass and the gradient with respect to its input only.
//
// Early stopping as in the piecewise-flows paper: the parameters (and buffers) of the best epoch so
// far are kept; when the validation loss has not improved for `patience` epochs (default 2% of the
// maximum number of epochs, at least 1) training stops, and in every case the best parameters are
// restored at the end. Without a validation set (val_fraction = 0) the monitored loss is the epoch's
// training loss. A non-finite loss or gradient does not throw: fit stops, restores the best
// parameters and reports `diverged` with a message naming the epoch (the command turns that into an
// error exit). The same holds when an ODE solve inside the model fails (SolverError: step limit or
// step-size underflow; NonFiniteError from the dynamics): the message then carries the solver's,
// with the time and state where it happened. The model is left in evaluation mode.
//
// Across processes (FitOptions::communicator with more than one rank, or deterministic_sum), every
// rank holds a shard of the rows and every step adds up the ranks' gradients before Adam: see Note
// [data-parallel fit] in flows/training/data_parallel.hpp. A failure on one rank (a bad value in its
// shard, a failed solve) is thrown, or reported as a divergence, on every rank.
//
// One tape is reused for every full batch (and one for the last, smaller batch of an epoch), reset
// after each step, so that a warm step allocates nothing on the tape (FitReport::warm_allocations
// counts what it did allocate).
#pragma once

#include <cstdint>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "core/communicator.hpp"
#include "flows/distribution.hpp"
#include "flows/training/objectives.hpp"

namespace flowtape {

struct FitOptions {
    std::size_t epochs = 200;
    std::size_t batch = 256;  // rows per step; may exceed the training rows (then one batch)
    real lr = 1e-3;
    real val_fraction = 0.2;  // in [0, 1)
    // Epochs without improvement before stopping. Default: max(1, round(2% of epochs)) as the
    // piecewise-flows paper.
    std::optional<std::size_t> patience;
    // Learning-rate drops on a plateau: when the monitored loss has not improved for `patience`
    // epochs and drops remain, the best parameters are restored, the learning rate is multiplied by
    // lr_drop_factor and training goes on (the patience count starts again); with none left, training
    // stops. 0 = the paper's rule: stop at the first plateau.
    std::size_t lr_drops = 0;
    real lr_drop_factor = 0.1;  // in (0, 1)
    // An epoch counts as an improvement only if its monitored loss is below best − min_improvement·|best|
    // (relative; 0 = any decrease). 2⁻²⁴ ≈ 6e-8 mimics training in float32, where a decrease below
    // the loss's resolution does not register (the piecewise-flows paper's code, whose decaying
    // learning rate would otherwise let double-precision training creep on for thousands of epochs).
    real min_improvement = 0;
    // At the end, put back the parameters of the best epoch (true) or keep the last epoch's (false:
    // what the early stopping of the piecewise-flows paper's code does in effect, since the "best
    // model" it keeps is a reference to the model still being trained).
    bool restore_best = true;
    // constant | exponential (lr·γ^epoch) | cosine (over epochs) | cosine-steps (lr·½(1 + cos(πt/T))
    // over the T steps of all epochs, set at every step: the flows-for-flows paper's schedule)
    std::string schedule = "constant";
    real gamma = 0.999;                 // for the exponential schedule
    real clip_norm = 0;                 // global gradient norm; 0 = off
    real weight_decay = 0;              // Adam's L2 term
    real adam_beta1 = 0.9, adam_beta2 = 0.999;  // Adam's moment decays
    real adam_epsilon = 1e-8;           // Adam's ε (Keras and TensorFlow use 1e-7)
    // Batches by label: every batch holds rows of one label only, and the batches of the labels
    // take turns (label 0, 1, …, 0, 1, …; a label whose batches run out drops out of the turn),
    // each its own Adam step. Needs labels without kNoLabel. The flows-for-flows training of two
    // directions uses it (label = the side a row comes from).
    bool batches_by_label = false;
    std::uint64_t seed = 0;             // the split and the per-epoch shuffles
    bool quiet = false;
    std::ostream* progress = &std::cerr;  // where progress lines go (null: nowhere)
    std::size_t progress_every = 10;    // a progress line every this many epochs (≥ 1)
    // Data-parallel training (Note [data-parallel fit] in flows/training/data_parallel.hpp): the
    // processes that share the rows (null: this one alone; every rank calls fit with its shard,
    // FitData::first_row and total_rows, and the same options), whether the partial gradients are
    // added by summation block (the same bits for any number of ranks, one process included) or by
    // rank, and the number of summation blocks G (at least the number of ranks).
    Communicator* communicator = nullptr;
    bool deterministic_sum = false;
    std::size_t sum_blocks = 12;
};

struct FitReport {
    std::size_t epochs_run = 0;  // epochs completed (a diverging epoch is not)
    std::size_t best_epoch = 0;  // 1-based; 0 = the parameters fit started with
    real best_val_loss = 0;      // the monitored loss at best_epoch (validation, else training)
    std::vector<real> train_loss;  // per epoch run (the weighted mean over the epoch's batches)
    std::vector<real> val_loss;    // per epoch run; empty without a validation set
    std::size_t lr_drops = 0;    // learning-rate drops taken (FitOptions::lr_drops)
    bool stopped_early = false;
    bool diverged = false;
    std::string message;  // one line: how training ended
    double seconds = 0;
    // Tape allocations (nodes created, buffers resized) after the first epoch: 0 when every warm
    // step and validation pass reuses the memory of the first (see Note [the tape never shrinks]).
    std::size_t warm_allocations = 0;
};

// The rows fit trains on, each array with one row per data row: weights N×1 (≥ 0, positive sum),
// the context N×C of a conditional model, labels N×1 (class numbers ≥ 0, kNoLabel where a row has
// none). Only x is required.
struct FitData {
    const Array& x;
    const Array* weights = nullptr;
    const Array* context = nullptr;
    const IndexArray* labels = nullptr;
    // Data-parallel training: the arrays hold rows [first_row, first_row + N) of total_rows (0: the
    // arrays hold every row). See FitOptions::communicator.
    std::size_t first_row = 0;
    std::size_t total_rows = 0;
};

// Trains `model` on `data` by minimising `objective`. `trainable`: the parameters to train (each one
// of the model's, none frozen); null for every parameter of the model that is not frozen.
// ValueError/ShapeError naming fit and the shapes for bad input (empty data, non-finite data, a
// dimension that does not match the model, weights of the wrong shape or with a negative entry or
// zero sum, labels of the wrong shape or below kNoLabel, val_fraction outside [0, 1), fewer than 2
// rows to split, a bad option, a trainable parameter that is not the model's or is frozen, nothing
// to train, an objective whose loss is not 1×1).
FitReport fit(Distribution& model, const FitData& data, const FitOptions& options, Objective& objective,
              const ParameterList* trainable = nullptr);

// Maximum likelihood (WeightedNll) on the rows of x (N×D) with optional weights and context.
FitReport fit(Distribution& model, const Array& x, const FitOptions& options, const Array* weights = nullptr,
              const Array* context = nullptr);

}  // namespace flowtape
