// ContinuousFlow (kind "cnf"): a continuous normalizing flow (Chen et al. 2018; FFJORD, Grathwohl et
// al. 2019) as a Distribution, on ode/ (Dormand–Prince, the adjoint method).
//
// Data x flows to the latent z along dz/dt = f(z, t; θ) (flows/continuous/cnf_dynamics.hpp) from t = 0 to t = T.
// The solver integrates the state [z, Δ] (N×(D+1)) with the augmented dynamics
//     d/dt [z, Δ] = [f(z, t), −Tr(∂f/∂z)],        [z, Δ](0) = [x, 0],
// so Δ(T) = −∫₀ᵀ Tr(∂f/∂z) dt and, by the instantaneous change of variables,
//     log p(x) = log p_base(z(T)) − Δ(T) = log p_base(z(T)) + ∫₀ᵀ Tr(∂f/∂z(t)) dt.
// (Linear dynamics f = A z give z(T) = e^{AT} x and the log-determinant T·tr(A): the test's closed form.)
//
// The trace: exact (CnfDynamics::velocity_and_trace: a closed form for MLP dynamics with one or two
// hidden layers, D tangent passes, jacobian_trace, otherwise) or Hutchinson's εᵀ(∂f/∂z)ε (one pass,
// hutchinson_trace) with ε Gaussian or Rademacher, drawn ONCE per solve (per log_prob call, N×D) from
// an Rng the flow owns, seeded by options.seed. Hutchinson is used only in training mode; in
// evaluation mode (validation, the logprob command, model files) the trace is always exact, so
// log_prob is deterministic and exact there.
//
// Gradients: through the adjoint (OdeMethod::adjoint, default; memory independent of the number of
// steps) or by backpropagation through the solver's stages (OdeMethod::backprop). See Note [one
// solve in flight] for the one rule the adjoint imposes.
//
// Sampling integrates backwards, T → 0, from base draws, without a tape (odeint_forward): samples carry
// no gradient. sample_with_log_prob integrates [z, Δ] backwards with the exact trace:
//     [x, Δ](0) from [z, 0](T):  Δ(0) = ∫₀ᵀ Tr dt,  log p(x) = log p_base(z) + Δ(0).
//
// Bases (the paper, Josias & Brink): a fixed unit-variance Gaussian centred at the data mean
// (DiagonalGaussian, make_cnf_gaussian_base), or a fixed Gaussian mixture with one unit-covariance
// component per class at the class's empirical mean and weights equal to the class frequencies
// (GaussianMixture, make_cnf_class_base; the paper writes 1/K, which is the same for balanced classes).
// With the class mixture each training row is scored by its own class's component,
//     log p(x | y) = log N(z(T); μ_y, I) + ∫₀ᵀ Tr dt          (log_prob_by_class),
// and at test time by the whole mixture (log_prob, log-sum-exp). fit trains it with the objective
// CnfClassNll, which reads each batch's labels; the model needs no context (sample, logprob and plot
// work on it). A class-mixture flow asked for log_prob in training mode throws ValueError (the
// labels are missing), rather than silently training on the mixture.
//
// Note [one solve in flight]: with the adjoint, the tape's odeint node keeps a pointer to the flow's
// augmented dynamics, which hold the Hutchinson noise of the latest solve. Run the backward of one
// grad-mode log_prob before recording the next (fit does). Evaluation and sampling use separate
// dynamics objects, so a validation pass in between is fine. With the adjoint, the dynamics'
// parameters must not be read on the loss tape outside the flow (ode/adjoint.hpp); the base's
// are separate Parameters.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "flows/continuous/cnf_dynamics.hpp"
#include "flows/distribution.hpp"
#include "flows/training/objectives.hpp"
#include "ode/adjoint.hpp"

namespace flowtape {

enum class TraceKind { exact, hutchinson };
enum class NoiseKind { gaussian, rademacher };

struct CnfOptions {
    real T = 1.0;  // > 0
    real rtol = 1e-5;
    real atol = 1e-5;
    std::size_t max_steps = 10000;  // per solve (accepted plus rejected), then SolverError
    TraceKind trace = TraceKind::exact;
    NoiseKind noise = NoiseKind::rademacher;  // Hutchinson's ε
    ode::OdeMethod method = ode::OdeMethod::adjoint;
    std::uint64_t seed = 0;  // of the Hutchinson noise
};

// "exact"/"hutchinson", "gaussian"/"rademacher", "adjoint"/"backprop"; ValueError for other names.
TraceKind trace_kind_from_name(const std::string& name);
std::string trace_kind_name(TraceKind k);
NoiseKind noise_kind_from_name(const std::string& name);
std::string noise_kind_name(NoiseKind k);
ode::OdeMethod ode_method_from_name(const std::string& name);
std::string ode_method_name(ode::OdeMethod m);

class ContinuousFlow : public Distribution {
public:
    // `classes` names the label of each component of a class-mixture base (empty for a base that
    // scores every row alike); then the base must be a GaussianMixture with that many components.
    // ValueError/ShapeError for mismatched dimensions or bad options.
    ContinuousFlow(CnfDynamicsPtr dynamics, DistributionPtr base, CnfOptions options = {},
                   std::vector<std::int64_t> classes = {});

    // log p(x) per row (N×1); no context (ValueError if given). In training mode with a class base
    // this throws ValueError: use log_prob_by_class (or fit with the objective CnfClassNll).
    Var log_prob(Var x, Var context = Var()) override;
    // log p(x | y): each row scored by its class's component. one_hot is N×K (K = classes().size()),
    // e.g. tape.constant(class_one_hot(labels)). ValueError without a class base.
    Var log_prob_by_class(Var x, Var one_hot);
    // The one-hot rows (N×K) of labels (N×1) by the component order of classes(). ValueError for a
    // label that is not a class, ShapeError unless labels is N×1.
    Array class_one_hot(const IndexArray& labels) const;

    // n samples (no gradient: constants on `tape`), integrating T → 0 from base draws.
    Var sample(Tape& tape, std::size_t n, Rng& rng, Var context = Var()) override;
    SampleResult sample_with_log_prob(Tape& tape, std::size_t n, Rng& rng, Var context = Var()) override;
    // n samples of one class (a class base only): z from that class's component, then T → 0. ValueError
    // for a label that is not a class.
    Var sample_class(Tape& tape, std::size_t n, Rng& rng, std::int64_t label);

    std::size_t dim() const override { return dynamics_->dim(); }
    std::string kind() const override { return "cnf"; }
    // {"kind": "cnf", "dim", "dynamics": {...}, "base": {...}, "classes": [...], "T", "rtol", "atol",
    //  "max_steps", "trace", "noise", "method", "seed"}
    nlohmann::json config() const override;
    static DistributionPtr from_config(const nlohmann::json& config, Rng& rng);

    // Dynamics parameters under "dynamics.", base parameters (if any) under "base.".
    void collect_parameters(ParameterList& out, const std::string& prefix) override;
    void collect_buffers(ParameterList& out, const std::string& prefix) override;
    void set_training(bool on) override { training_ = on; }
    // The Hutchinson probes restart from Rng::stream(seed, stream).
    void restart_noise(std::uint64_t stream) override { noise_rng_ = Rng::stream(options_.seed, stream); }
    bool training() const { return training_; }

    const CnfOptions& options() const { return options_; }
    void set_options(const CnfOptions& options);  // checked as in the constructor
    const std::vector<std::int64_t>& classes() const { return classes_; }
    CnfDynamics& dynamics() { return *dynamics_; }
    Distribution& base() { return *base_; }
    // Solver counts of the latest log_prob (forward) and of its adjoint backward, if it ran.
    const ode::OdeCounters& counters() const { return counters_; }

    // The flow map and its log-determinant without a tape: z(T) and Δ(T) = −∫₀ᵀ Tr dt (exact trace)
    // for the rows of x. log p(x) = log p_base(z) − Δ.
    struct Latent {
        Array z, delta;
    };
    Latent to_latent(const Array& x);

private:
    ode::OdeOptions ode_options() const;
    // [z(T), Δ(T)] on x's tape; `trace` picks the dynamics object (training or evaluation).
    Var solve(Var x, bool hutchinson);
    Var by_class(Var z, Var one_hot);

    CnfDynamicsPtr dynamics_;
    DistributionPtr base_;
    CnfOptions options_;
    std::vector<std::int64_t> classes_;
    bool training_ = false;
    Rng noise_rng_;
    std::unique_ptr<ode::Dynamics> train_aug_, eval_aug_, velocity_;
    ode::OdeCounters counters_;
};

// The objective that trains a class-mixture ContinuousFlow: each training row scored by its own
// class's component, −Σ_i w_i log p(x_i | y_i) / Σ_i w_i (log_prob_by_class), from the batch's
// labels; the validation loss is the whole mixture's weighted NLL (log_prob in evaluation mode),
// the density the saved model has.
//   CnfClassNll by_class;  fit(flow, FitData{.x = x, .labels = &labels}, options, by_class)
// ValueError when the model is not a ContinuousFlow with a class base, when the data have no labels,
// or for a label that is not one of the flow's classes.
class CnfClassNll : public Objective {
public:
    Var loss(Distribution& model, const Batch& batch) override;
    Var validation_loss(Distribution& model, const Batch& batch) override;
};

// The paper's unimodal base: N(mean of the rows of x, I), fixed (saved as buffers).
DistributionPtr make_cnf_gaussian_base(const Array& x);

// The paper's class base: one fixed unit-covariance component per distinct label at the class's
// empirical mean, weights = class frequencies; `classes` receives the labels in component order
// (ascending). ShapeError unless labels is N×1 for x N×D; ValueError for empty data.
DistributionPtr make_cnf_class_base(const Array& x, const IndexArray& labels, std::vector<std::int64_t>& classes);

}  // namespace flowtape
