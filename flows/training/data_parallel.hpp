// Data-parallel training: which rows each process holds, and how fit adds up the gradients of
// rows held by different processes (FitOptions::communicator, FitOptions::deterministic_sum).
//
// Note [data-parallel fit]. The N rows of the data set are numbered 0 … N − 1 by their place in
// the file and cut into G summation blocks of consecutive rows (FitOptions::sum_blocks; block j is
// rows [⌊jN/G⌋, ⌊(j+1)N/G⌋)). Rank r of R holds the rows of blocks [⌊rG/R⌋, ⌊(r+1)G/R⌋) — its
// shard (shard_rows) — and reads only those. Every rank draws the same split and the same shuffles
// of the N row numbers from the seed, so the global mini-batches are those of one-process training;
// each rank computes the loss and gradient of the batch rows it holds, with the batch's global
// weight Σw as the denominator, and the ranks' partial gradients are added before every Adam
// step, the same step on every rank. The validation loss and the early-stopping decision use the
// same global sums, so every rank stops at the same epoch with the same parameters.
//
// Two ways to add the partials:
// - by rank (the default): one partial per rank, added in rank order (Communicator::
//   sum_in_rank_order). The same bits on every rank and from run to run with the same number of
//   ranks; equal to one-process training up to rounding (sums taken in another order).
// - by block (deterministic_sum): one partial per summation block — each block's batch rows in
//   their own forward and backward pass — gathered from every rank and added in block order. The
//   blocks, their rows and the order of the sum do not depend on the number of ranks, so 1, 2, 3 or
//   4 ranks (any R ≤ G) give the same bits; one-process training with deterministic_sum uses the
//   same blocks and gives them too. The price: up to G smaller passes per step instead of one.
//
// Random draws inside a loss (the continuous flow's Hutchinson probes, the conditional
// transport's target conditions) would follow the rank's call order, which changes with the
// number of ranks. Before each part of a step — a block (by block) or a rank's rows (by rank) —
// fit restarts them from stream 1 + step·parts + part of their seed (Distribution::restart_noise,
// Objective::restart_noise): by block the draws of a block do not depend on R. Batches by label
// are planned from the labels of every rank, gathered. Models whose set-up needs every row train
// with each rank holding all of them and fitting on its shard (fit_replicated).
//
// A model whose training-mode forward pass couples the rows of a batch (batch normalisation,
// ActNorm's data-dependent start, the resampled base's running normaliser) cannot be split this
// way: fit refuses it with a ValueError naming the layer.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "autodiff/parameter.hpp"
#include "core/communicator.hpp"
#include "flows/distribution.hpp"
#include "flows/training/objectives.hpp"
#include "flows/transforms/bounded_to_normal.hpp"
#include "flows/training/train.hpp"

namespace flowtape {

// The rows [first, first + rows) of `total` that one rank holds.
struct RowShard {
    std::size_t first = 0, rows = 0, total = 0;
};

// The shard of `rank` among `ranks` when `total` rows are cut into `blocks` summation blocks (see
// the note): whole blocks, consecutive, in rank order. ValueError for ranks = 0, rank ≥ ranks,
// blocks = 0, or more ranks than blocks.
RowShard shard_rows(std::size_t total, std::size_t blocks, std::size_t rank, std::size_t ranks);

// The first row of block j of `blocks` over `total` rows, ⌊j·total/blocks⌋ (j = blocks gives total).
std::size_t block_begin(std::size_t total, std::size_t blocks, std::size_t j);

// ValueError unless every layer of `model` treats the rows of a training batch independently
// (`who` starts the message: "fit").
void require_rows_independent(const Distribution& model, const std::string& who);

// The gradients of a list of parameters as one flat vector and back, for the collectives.
class FlatGradients {
public:
    explicit FlatGradients(const ParameterList& params);
    std::size_t size() const { return size_; }
    // Appends every parameter's gradient (registration order, row-major) to `out`.
    void append_to(std::vector<double>& out) const;
    // Writes values[offset … offset + size) back into the gradients.
    void assign_from(const std::vector<double>& values, std::size_t offset) const;
    // The parameters' values, flat, and back (to make every rank start from rank 0's).
    void append_values_to(std::vector<double>& out) const;
    void assign_values_from(const std::vector<double>& values) const;

private:
    std::vector<Parameter*> params_;
    std::size_t size_ = 0;
};

// A collective: ValueError on every rank unless the ranks' shards tile rows 0 … total − 1 in rank
// order, and — when summing by block — are those of shard_rows (whole blocks); also when there are
// fewer blocks than ranks.
void check_shards(Communicator& comm, bool by_block, std::size_t blocks, const RowShard& mine);

// One rank's part of data-parallel training, as fit uses it: the rows it holds in groups — one per
// summation block it holds (by_block) or one for all of them — and, for each step, the partial
// losses and gradients of its groups added to every other rank's (by rank, or in block order), the
// same on every rank. Row numbers are global (0 … total − 1) going in, local (0 … rows − 1) going
// out to the callbacks.
class ShardedSteps {
public:
    static constexpr std::size_t none = static_cast<std::size_t>(-1);

    ShardedSteps(Communicator& comm, bool by_block, std::size_t blocks, const RowShard& shard, const ParameterList& params);

    std::size_t groups() const { return group_begin_.size() - 1; }
    // The group of global row i, or `none` when this rank does not hold it.
    std::size_t group_of(std::size_t i) const;

    // Keeps the validation rows this rank holds, per group, in the order of `val_index`.
    void set_validation(const std::vector<std::size_t>& val_index);
    const std::vector<std::size_t>& validation_rows(std::size_t group) const { return val_rows_[group]; }

    // An epoch's steps: step s takes the global rows order[begin[s] … begin[s + 1]). Sorts the rows
    // this rank holds into its groups (batch order kept) and sums every step's weight Σw over all
    // ranks (`weights`: this rank's rows×1 weights). A collective.
    void plan_epoch(const std::vector<std::size_t>& order, const std::vector<std::size_t>& begin, const Array& weights);
    real step_weight(std::size_t s) const { return step_weight_[s]; }

    // The parts a step is computed in over all ranks: the summation blocks (by_block) or the ranks.
    std::size_t parts() const { return parts_; }

    // Step s: pass(rows, part) must compute the loss of those local rows (a weighted sum divided by
    // the step's global weight) and its backward pass into the parameters' grads, and return the
    // loss; `part` (0 … parts() − 1) is the block or the rank the rows belong to, the same for the
    // same rows whatever the number of ranks when summing by block. Returns the global loss and
    // leaves the global gradient in the grads. An exception on any rank is thrown on every rank
    // (Communicator::agree_or_throw). A collective.
    using Pass = std::function<real(const std::vector<std::size_t>& rows, std::size_t part)>;
    real step(std::size_t s, const Pass& pass);

    // evaluate(group) gives the group's validation {Σ w·loss, Σ w}; returns the sums over all ranks.
    using Evaluate = std::function<std::pair<real, real>(std::size_t group)>;
    std::pair<real, real> validate(const Evaluate& evaluate);

private:
    // Σ over every group of every rank of `width` numbers per group, by rank or in block order.
    void sum_partials(std::vector<double>& partials, std::size_t width, std::vector<double>& total);

    Communicator& comm_;
    bool by_block_;
    RowShard shard_;
    std::size_t parts_ = 1, first_part_ = 0;  // parts over all ranks; this rank's first
    const ParameterList& params_;
    FlatGradients flat_;
    std::vector<std::size_t> group_begin_;        // groups + 1 local row numbers
    std::vector<std::vector<std::size_t>> rows_;  // [step · groups + group]: local rows
    std::vector<std::vector<std::size_t>> val_rows_;
    std::vector<real> step_weight_;
    std::vector<double> partials_, total_;
};

// Work spread over ranks instead of rows (the pieces of a piecewise flow, the runs of a mixture of
// flows): rank `owner`'s trained model state (parameters and buffers; every rank's model must have
// the same architecture) and its fit report, sent to every rank. Collectives.
void broadcast_state(Communicator& comm, std::size_t owner, Distribution& model);
void broadcast_report(Communicator& comm, std::size_t owner, FitReport& report);

// Data-parallel fit for the models whose set-up needs every row (the continuous flow's base from
// the data's moments, the VMoNF's standardisation and k-means start, the transport's two sides):
// every rank holds all the rows `all` and trains on its shard of them (shard_rows with
// options.sum_blocks), the rest as fit with a shard read from a file, after every rank takes rank
// 0's model state (parameters and buffers, broadcast_state). With no communicator of more than one
// rank and no deterministic sums it is fit(all) itself. A collective.
FitReport fit_replicated(Distribution& model, const FitData& all, const FitOptions& options, Objective& objective,
                         const ParameterList* trainable = nullptr);

// margarine's bounds (BoundedToNormal::from_data) of the rows of every rank: each summation block's
// RangeSums, gathered and added in block order, so every rank gets the same bounds for any number
// of ranks. `shard` holds this rank's rows (first_row, total_rows as in fit; whole blocks of
// sum_blocks). A collective; from_data's errors on every rank.
std::unique_ptr<BoundedToNormal> bounded_to_normal_across_ranks(Communicator& comm, const FitData& shard,
                                                                std::size_t sum_blocks);

// The loss of `objective` over the rows of every rank as one batch, with its gradient left in the
// parameters' grads (every parameter of the model that is not frozen) on every rank: one step of
// data-parallel fit before Adam. `shard` holds this rank's rows (first_row, total_rows as in fit);
// the model in training mode. A collective; for tests and for checking a set-up.
real sharded_loss_and_gradient(Distribution& model, const FitData& shard, Objective& objective, Communicator& comm,
                               bool deterministic_sum, std::size_t sum_blocks);

}  // namespace flowtape
