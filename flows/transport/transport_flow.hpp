// TransportFlow: the flows-for-flows model (Klein, Raine & Golling 2022; the package flows4flows).
// A top flow T — a chain of transforms — between two distributions whose densities are other,
// already trained and FROZEN flows, so that T carries samples of one distribution onto the other.
//
// Directions. Like every transform here, the top chain S has a one-pass direction ("forward") and
// its inverse (D passes for the autoregressive splines). Unconditional model, left base p_φ on X
// and optionally right base p_φ' on Y:
//
//     right rows y:  log p(y) = log p_φ(S(y)) + log|det ∂S/∂y|          (one pass; needs the left base)
//     left rows x:   log p(x) = log p_φ'(S⁻¹(x)) + log|det ∂S⁻¹/∂x|     (D passes; needs the right base)
//
// so S is the paper's T⁻¹ (Y → X) and S⁻¹ = T (X → Y). log_prob(y) is the right rows' density (the
// model's density of Y); log_prob_left the left rows'. With one base only the right rows train.
//
// Conditional model (condition c, one column): one shared conditional base p(x | c). The top chain
// sees a context made from the input condition c_in and the target c_t: "delta" (the default)
// Δ = |c_t − c_in|, "concat" (c_low, c_high). S(·; ·) moves points from the lower condition to the
// higher: a row whose target is at or above its own condition goes forward, one whose target is
// below goes through S⁻¹ (with the same context, i.e. the contexts swapped), as the package does.
//
//     log p(x | c_in → c_t) = log p(M(x) | c_t) + log|det ∂M/∂x|,   M = S or S⁻¹ per row.
//
// The context of log_prob is then N×2: (c_in, c_t) per row. Rows of both directions may share a
// batch: they are split, moved, and put back in their order.
//
// Identity start (make_transport_flow): autoregressive rational-quadratic splines (8 bins, tail
// bound 4, a MADE with 2 residual blocks of 128 by default), reverse permutations between layers
// and one more at the end when their number is odd, the last MADE layer ZERO: every spline has
// uniform bins and unit interior derivatives, so S is the identity to rounding until training
// moves it. The bases' parameters are frozen (Parameter::set_frozen) here and on loading, so fit
// trains the top chain only.
//
// Model files: kind "f4f" with "left", "right" (or null), "transforms", "condition"
// (none | delta | concat) and "condition_range" (the conditions seen in training, [lo, hi], for
// the warning of transport outside it). Parameters "top.k.*", "left.*", "right.*".
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "flows/distribution.hpp"
#include "flows/transform.hpp"

namespace flowtape {

enum class ConditionMode { none, delta, concat };
std::string condition_mode_name(ConditionMode mode);
ConditionMode condition_mode_from_name(const std::string& name);  // ValueError for an unknown one

struct TopFlowSpec {
    std::size_t layers = 4;
    // The MADE of each spline: with residual blocks, an initial masked layer and one block per
    // further entry (so {128, 128, 128} is nflows' two blocks of 128).
    std::vector<std::size_t> hidden{128, 128, 128};
    bool residual_blocks = true;
    std::size_t bins = 8;
    real tail_bound = 4;
};

// A row set moved by the top chain and its log-density under the base it lands in.
struct Transported {
    Var moved;     // N×D, in the input's row order
    Var log_prob;  // N×1
};

class TransportFlow : public Distribution {
public:
    // `left` required; `right` optional (null: one direction). Conditional (mode ≠ none): `left`
    // is the shared conditional base (context 1), `right` must be null, and the top chain takes the
    // context of `mode` (1 column for delta, 2 for concat). Freezes the bases' parameters.
    // ValueError/ShapeError for a missing left base, bases of different dimensions, transforms of
    // another dimension or context, a conditional mode with an unconditional base (or the reverse).
    TransportFlow(std::vector<TransformPtr> top, DistributionPtr left, DistributionPtr right, ConditionMode mode);
    static std::unique_ptr<TransportFlow> from_config(const nlohmann::json& config, Rng& rng);

    // The density of right rows (unconditional), or of rows moved from c_in to c_t (conditional,
    // context N×2 = (c_in, c_t)).
    Var log_prob(Var x, Var context = Var()) override;
    // Draws from the right side: samples of the left base moved by S⁻¹ (unconditional only; the
    // conditional model has no distribution of its own: transport points instead).
    Var sample(Tape& tape, std::size_t n, Rng& rng, Var context = Var()) override;

    // The top chain alone, S (inverse = false) or S⁻¹, with the summed log-determinant; `context`
    // is the top chain's own (invalid for an unconditional model; see top_context).
    TransformResult top_map(Var x, Var context, bool inverse);
    // The top chain's context for moving from condition `low` to `high` (N×1 each).
    Var top_context(Var low, Var high) const;

    Transported right_to_left(Var y);  // S(y), scored under the left base
    Transported left_to_right(Var x);  // S⁻¹(x), scored under the right base (ValueError without one)
    // Conditional: rows x at conditions c_in (N×1) moved to c_t (N×1), scored under p(· | c_t).
    Transported move_condition(Var x, Var c_in, Var c_target);

    bool conditional() const { return mode_ != ConditionMode::none; }
    bool has_right() const { return static_cast<bool>(right_); }
    ConditionMode condition_mode() const { return mode_; }
    Distribution& left() { return *left_; }
    Distribution* right() { return right_.get(); }
    // The conditions seen in training (for conditional models); NaN bounds until set.
    std::pair<real, real> condition_range() const { return condition_range_; }
    void set_condition_range(real lo, real hi) { condition_range_ = {lo, hi}; }

    std::size_t dim() const override;
    std::size_t context_dim() const override { return conditional() ? 2 : 0; }
    std::string kind() const override { return "f4f"; }
    nlohmann::json config() const override;
    void set_training(bool on) override;
    void collect_parameters(ParameterList& out, const std::string& prefix) override;
    void collect_buffers(ParameterList& out, const std::string& prefix) override;

private:
    std::vector<TransformPtr> top_;
    DistributionPtr left_, right_;
    ConditionMode mode_;
    std::pair<real, real> condition_range_;
};

// The identity-start model above over `left` (and `right`), on the bases' dimension.
std::unique_ptr<TransportFlow> make_transport_flow(const TopFlowSpec& spec, DistributionPtr left,
                                                   DistributionPtr right, ConditionMode mode, Rng& rng);

// Plain-array transport in batches on a no-grad tape (evaluation mode): the map alone, so a
// one-base model moves rows either way. ShapeError for rows of the wrong width or conditions that
// are not N×1; ValueError for an unconditional call on a conditional model or the reverse.
Array transport_right_to_left(TransportFlow& model, const Array& y);  // S(y)
Array transport_left_to_right(TransportFlow& model, const Array& x);  // S⁻¹(x)
Array transport_condition(TransportFlow& model, const Array& x, const Array& c_in, const Array& c_target);

}  // namespace flowtape
