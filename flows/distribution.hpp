// Distribution: something with a log-density and a sampler. A flow is one (a base distribution and
// a chain of transforms), so a flow can be the base of another flow, and mixtures are made of them.
//
// `log_prob(x, context)` records log p(x) per row (N×1) on x's tape. `sample(tape, n, rng, context)`
// records n samples on `tape` (use NoGrad for plain sampling; with gradients on, samples are
// reparameterised where the distribution allows). With a context, n must equal its number of rows.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "core/random.hpp"
#include "nn/module.hpp"

namespace flowtape {

struct SampleResult {
    Var x;         // N×D samples
    Var log_prob;  // N×1, log p(x) at the samples
};

class Distribution : public Module {
public:
    virtual Var log_prob(Var x, Var context = Var()) = 0;
    virtual Var sample(Tape& tape, std::size_t n, Rng& rng, Var context = Var()) = 0;
    // Samples with their log-density. The default evaluates log_prob at the samples; flows override
    // it with the log-determinant of the inverse pass, which is cheaper for MAF.
    virtual SampleResult sample_with_log_prob(Tape& tape, std::size_t n, Rng& rng, Var context = Var());

    virtual std::size_t dim() const = 0;
    virtual std::size_t context_dim() const { return 0; }
    virtual std::string kind() const = 0;
    virtual nlohmann::json config() const = 0;
    virtual void set_training(bool /*on*/) {}
    virtual void collect_buffers(ParameterList& /*out*/, const std::string& /*prefix*/) {}
    // Models that draw random numbers inside a training-mode log_prob (the continuous flow's
    // Hutchinson probes) restart those draws from stream `stream` of their own seed; the others
    // ignore it (models made of models pass it on). Data-parallel fit calls it before each part of
    // a step, so that a part's draws depend on the part and the step, not on which rank or how many
    // parts came before (Note [data-parallel fit]).
    virtual void restart_noise(std::uint64_t /*stream*/) {}
};

using DistributionPtr = std::unique_ptr<Distribution>;

// Plain-array evaluation of a distribution over many rows, in batches of 4096 on a no-grad tape,
// with the model in evaluation mode (set_training(false); it is left there).
// log p(x) for every row of x (N×1); `context` N×C for a conditional model.
Array log_prob_rows(Distribution& model, const Array& x, const Array* context = nullptr);

// The loop behind log_prob_rows and its like: `f` maps a batch of rows (and their context, or an
// invalid Var) on a no-grad tape to a value with one row per input row and `cols` columns; the
// batches' values are put together in row order (N×cols). ShapeError if a context does not have
// one row per row of x, or if f returns another shape.
Array map_rows(Distribution& model, const Array& x, const Array* context, std::size_t cols,
               const std::function<Array(Var x, Var context)>& f);
// n samples (n×D) drawn from Rng(seed); a conditional model takes `context` (n×C, row i's
// context for draw i). ShapeError for a context of another shape.
Array sample_rows(Distribution& model, std::size_t n, std::uint64_t seed, const Array* context = nullptr);

}  // namespace flowtape
