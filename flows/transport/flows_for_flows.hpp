// Flows for flows (Klein, Raine & Golling 2022; the package flows4flows): training a TransportFlow
// (flows/transport/transport_flow.hpp, the model and its directions) and measuring what it does.
//
// Distance penalty: D = Σ_d |M(x)_d − x_d| (L1) or Σ_d (M(x)_d − x_d)² (L2) between each row and
// where the top chain moves it, added to the negative log-likelihood with a weight,
// loss = mean(−log p + w·D); w constant or cosine annealed per training step,
// w_t = w_min + ½(w₀ − w_min)(1 + cos(π t / T_steps)). (In the reference package the annealed
// penalty is multiplied by a weight that stays zero, so it never acts; here it does, and a test
// checks it.)
//
// Training (fit_transport). Unconditional with one base: the right rows train S (one pass). With
// two bases and left rows as well: every row is labelled with its side and fit takes batches of
// one side at a time, the sides in turn, each batch its own Adam step (the package's alternation).
// Conditional with one shared base: each training batch's targets are a random permutation of the
// batch's own conditions (drawn from the objective's seed); validation pairs each row with the
// next row's condition (a fixed pairing, so epochs compare). Validation monitors the loss at the
// penalty's final weight (w₀ when constant, w_min when annealed), the same weight at every epoch so
// that epochs compare: with a constant penalty the objective trained, with one annealed to zero the
// negative log-likelihood alone. (Monitoring the likelihood alone under a constant penalty would
// keep the epoch that moves the rows most freely, often the first, undoing the penalty.)
//
// Base transfer (the paper's baseline): encode with the left base flow and decode with the right,
// f_φ'⁻¹ ∘ f_φ.
#pragma once

#include <cstdint>
#include <string>

#include "flows/flow.hpp"
#include "flows/training/objectives.hpp"
#include "flows/training/train.hpp"
#include "flows/transport/transport_flow.hpp"

namespace flowtape {

struct DisplacementPenalty {
    std::string kind = "none";  // none | l1 | l2
    real weight = 1;            // w₀ (the constant weight without annealing)
    bool anneal = false;        // cosine from w₀ to weight_min over total_steps steps
    real weight_min = 0;
    std::size_t total_steps = 0;  // needed when annealing (> 0)
    // The penalty alone, without the likelihood: loss = mean(w·D), validated by the same (the
    // paper's "L1 norm only" column, the lower bound of how little a map moves the rows).
    bool penalty_only = false;
    // w_t for step t = 0, 1, … (steps past total_steps keep weight_min).
    real weight_at(std::size_t step) const;
    real final_weight() const { return anneal ? weight_min : weight; }
    void check(const char* who) const;  // ValueError for an unknown kind, a negative or
                                        // non-finite weight, annealing without steps, or
                                        // penalty_only without a penalty of positive weight
};

// D per row (N×1), kind "l1" or "l2", between rows `from` and their images `to` (N×D each, on one
// tape); ValueError for another kind.
Var displacement(const Var& from, const Var& to, const std::string& kind);

// The training loss of a TransportFlow: −log p + w_t·D (weighted mean over the batch), the step
// counter t advancing at every training batch. Rows are right rows (label 0 or no labels), left
// rows (label 1, needing a right base), or — conditional model — rows with the context
// (c_in, c_target) whose targets the objective draws as above. ValueError unless the model is a
// TransportFlow.
class TransportObjective : public Objective {
public:
    explicit TransportObjective(DisplacementPenalty penalty, std::uint64_t seed = 0);
    Var loss(Distribution& model, const Batch& batch) override;
    Var validation_loss(Distribution& model, const Batch& batch) override;
    void restart_noise(std::uint64_t stream) override;
    std::string progress() const override;
    std::size_t steps() const { return step_; }

private:
    Var penalised_loss(TransportFlow& model, const Batch& batch, real weight, bool training);

    DisplacementPenalty penalty_;
    std::uint64_t seed_;
    Rng rng_;
    std::size_t step_ = 0;
};

// What fit_transport trains on. Unconditional: `right` (rows of Y) and optionally `left` (rows of
// X; the model needs a right base). Conditional: `right` holds the rows and `condition` their
// condition (N×1).
struct TransportData {
    const Array* right = nullptr;
    const Array* left = nullptr;
    const Array* condition = nullptr;
};

struct TransportFitOptions {
    FitOptions fit;  // epochs, batch, lr, schedule, clipping, seed, … (batches_by_label is set here)
    DisplacementPenalty penalty;  // total_steps filled in when annealing and left 0
};

// Trains the top chain of `model` (its bases stay frozen) and records the conditions' range on a
// conditional model. ValueError for data that do not fit the model: no right rows, left rows for
// a model without a right base, a condition for an unconditional model or none for a conditional
// one, a condition of the wrong shape or with a non-finite value.
FitReport fit_transport(TransportFlow& model, const TransportData& data, const TransportFitOptions& options);

// f_right⁻¹(f_left(x)): through the left flow's transforms to its latent space, then back through
// the right flow's. ValueError unless both are Flows of one dimension.
Array base_transfer(Distribution& left, Distribution& right, const Array& x);
// The conditional baseline: rows x at conditions c_in encoded by the conditional base flow and
// decoded at c_target (N×1 each). ValueError unless the base is a Flow with a one-column context.
Array base_transfer_condition(Distribution& base, const Array& x, const Array& c_in, const Array& c_target);

// The mean over rows of the Euclidean and of the L1 distance between a and b (N×D each).
struct MeanDistance {
    real euclidean = 0, l1 = 0;
};
MeanDistance mean_distance(const Array& a, const Array& b);

}  // namespace flowtape
