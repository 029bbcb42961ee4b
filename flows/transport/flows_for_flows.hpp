// Flows for flows (Klein, Raine & Golling 2022; the package flows4flows): a top flow whose base is
// another, already trained and FROZEN flow, so that the top flow's map carries samples of one
// distribution onto another. This file holds the pieces the training and the benchmark share; it
// is the first part of issue 14 (the command, the two-direction training, the conditional
// transport and the benchmark are still to come; docs/flows_for_flows.md says what is here).
//
// Directions. A Flow's transforms map data → latent. With the left base p_φ (on X) as the base of
// a Flow whose transforms S are trained on rows y of the right distribution,
//
//     log p(y) = log p_φ(S(y)) + log|det ∂S/∂y|,
//
// S is the paper's T⁻¹ (right → left) and S⁻¹ = T moves left samples onto the right. transport()
// applies S (the rows' images in the base's space), transport_inverse() applies S⁻¹.
//
// Identity start: make_top_flow builds autoregressive rational-quadratic splines (8 bins, tail
// bound 4, MADE [128, 128] by default; reverse permutations between layers, and one more at the end
// when their number is odd, so that they compose to the identity) with a ZERO last MADE layer, so
// every spline has uniform bins and unit interior derivatives: the map is the identity to rounding
// until training moves it.
//
// Distance penalty: D(y) = Σ_d |S(y)_d − y_d| (L1) or Σ_d (S(y)_d − y_d)² (L2), added to the
// negative log-likelihood with a weight, loss = mean(−log p(y) + w·D(y)); w constant or cosine
// annealed per training step, w_t = w_min + ½(w₀ − w_min)(1 + cos(π t / T_steps)). (In the reference
// package the annealed penalty is multiplied by a weight that stays zero, so it never acts; here
// it does, and a test checks it.)
//
// Base transfer (the paper's baseline): encode with the left base flow and decode with the right,
// f_φ'⁻¹ ∘ f_φ.
#pragma once

#include <cstdint>
#include <string>

#include "flows/flow.hpp"
#include "flows/training/objectives.hpp"

namespace flowtape {

struct TopFlowSpec {
    std::size_t layers = 4;
    std::vector<std::size_t> hidden{128, 128};
    std::size_t bins = 8;
    real tail_bound = 4;
};

// The top flow over `base` (which it owns; its dimension sets the flow's): spec.layers
// autoregressive splines with reverse permutations between them, starting at the identity.
// The base's parameters are frozen (Parameter::set_frozen), so fit trains the top flow only.
std::unique_ptr<Flow> make_top_flow(const TopFlowSpec& spec, DistributionPtr base, Rng& rng);

struct DisplacementPenalty {
    std::string kind = "none";  // none | l1 | l2
    real weight = 1;            // w₀ (the constant weight without annealing)
    bool anneal = false;        // cosine from w₀ to weight_min over total_steps steps
    real weight_min = 0;
    std::size_t total_steps = 0;  // needed when annealing (> 0)
    // w_t for step t = 0, 1, … (steps past total_steps keep weight_min).
    real weight_at(std::size_t step) const;
    void check(const char* who) const;  // ValueError for an unknown kind, a negative or
                                        // non-finite weight, or annealing without steps
};

// D(y) per row (N×1), kind "l1" or "l2", between rows `from` and their images `to` (N×D each, on
// one tape); ValueError for another kind.
Var displacement(const Var& from, const Var& to, const std::string& kind);

// The training loss of a top flow: −log p(y) + w_t·D(y) (weighted mean over the batch), the step
// counter t advancing at every training batch. Validation monitors the negative log-likelihood
// alone. The model must be a Flow (ValueError otherwise).
class TransportObjective : public Objective {
public:
    explicit TransportObjective(DisplacementPenalty penalty);
    Var loss(Distribution& model, const Batch& batch) override;
    Var validation_loss(Distribution& model, const Batch& batch) override;
    std::string progress() const override;
    std::size_t steps() const { return step_; }

private:
    DisplacementPenalty penalty_;
    std::size_t step_ = 0;
};

// The rows moved by the top flow's transforms (S above), and back (S⁻¹), in batches on a no-grad
// tape. ShapeError for rows of the wrong width.
Array transport(Flow& top, const Array& y);
Array transport_inverse(Flow& top, const Array& x);

// f_right⁻¹(f_left(x)): through the left flow's transforms to its latent space, then back through
// the right flow's. ValueError unless both are Flows of one dimension.
Array base_transfer(Distribution& left, Distribution& right, const Array& x);

// The mean over rows of the Euclidean and of the L1 distance between a and b (N×D each).
struct MeanDistance {
    real euclidean = 0, l1 = 0;
};
MeanDistance mean_distance(const Array& a, const Array& b);

}  // namespace flowtape
