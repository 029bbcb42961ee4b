// Mixture (kind "mixture"): a finite mixture of K component distributions of any kind (flows,
// Gaussians, continuous flows, other mixtures), all of one dimension and context width.
//
//     p(x) = Σ_k π_k p_k(x),   log p(x) = logsumexp_k (log π_k + log p_k(x)),
//
// evaluated with log-sum-exp so that it never underflows far from every component. The weights π
// are either FIXED (given, normalised here; part of the architecture, saved in the config) or
// LEARNED through logits a (a Parameter "logits", 1×K): π = softmax(a), log π = log_softmax(a) on
// the tape, so fit trains them with the components.
//
// The posterior over components, the responsibilities r_ik = π_k p_k(x_i) / p(x_i), is the
// softmax of each row of the joint log-densities log π_k + log p_k(x_i) (joint_log_prob); predict
// takes each row's argmax (the clustering rule of a mixture model, ties to the lower k).
//
// Sampling picks each row's component with probability π_k (Rng::categorical), draws the rows of
// each component together (one sample call per component, in component order), and puts them back
// in row order, so that row i of the result belongs to row i of the context and the components are
// interleaved at random. The draw reports the component of each row. No gradient reaches the
// weights through a discrete draw.
//
// Threads. set_threads(n) evaluates the components on n threads, both ways (Note [components on
// threads] in mixture.cpp): each component records on a tape of its own, one node on the caller's
// tape holds the N×K log-densities, and its backward rule runs the components' backward sweeps in
// parallel. Each component's arithmetic is the same as on one thread, so the results are the same
// bits for any number of threads.
//
// The piecewise flow (flows/mixtures/piecewise.hpp) is a Mixture with fixed weights, the cluster
// weights, built by fit_piecewise.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "autodiff/tape.hpp"
#include "flows/distribution.hpp"

namespace flowtape {

struct MixtureSample {
    Var x;                               // n×D
    std::vector<std::size_t> component;  // the component of each row
};

class Mixture : public Distribution {
public:
    // `weights`: one per component, finite and > 0 (normalised here). With learn_weights the logits
    // start at log(weights / Σ weights) and train; else the weights stay as given. ValueError for no
    // components, a null one, a count or value of weights that does not fit, or components of
    // different dimensions or context widths.
    Mixture(std::vector<DistributionPtr> components, std::vector<real> weights, bool learn_weights = false);

    // K components with equal weights.
    static std::unique_ptr<Mixture> equal_weights(std::vector<DistributionPtr> components, bool learn_weights = false);

    Var log_prob(Var x, Var context = Var()) override;
    // The N×K matrix of log π_k + log p_k(x_i) on x's tape.
    Var joint_log_prob(Var x, Var context = Var());
    // log π as a 1×K row on `tape` (a constant for fixed weights).
    Var log_weights(Tape& tape);

    Var sample(Tape& tape, std::size_t n, Rng& rng, Var context = Var()) override;
    // n samples with the component each came from. ShapeError unless a context has n rows;
    // ValueError for n = 0.
    MixtureSample sample_components(Tape& tape, std::size_t n, Rng& rng, Var context = Var());

    // The posterior over components for each row of x (N×K, rows summing to 1), and its argmax per
    // row, in no-grad mode and evaluation mode, in batches. ShapeError for x or a context that does
    // not fit.
    // Virtual: a VariationalMixture clusters by its classifier's posterior q(c|x) instead.
    virtual Array responsibilities(const Array& x, const Array* context = nullptr);
    std::vector<std::size_t> predict(const Array& x, const Array* context = nullptr);

    std::size_t dim() const override { return components_[0]->dim(); }
    std::size_t context_dim() const override { return components_[0]->context_dim(); }
    std::string kind() const override { return "mixture"; }
    // {"kind": "mixture", "components": [...], "learn_weights": bool, "weights": [...] (fixed only)}
    nlohmann::json config() const override;
    static DistributionPtr from_config(const nlohmann::json& config, Rng& rng);
    void set_training(bool on) override;
    void restart_noise(std::uint64_t stream) override;
    // Each component's under "components.<k>", and "logits" when the weights are learned.
    void collect_parameters(ParameterList& out, const std::string& prefix) override;
    void collect_buffers(ParameterList& out, const std::string& prefix) override;

    // Threads for the components (1: all on the caller's tape, the default). ValueError for 0.
    void set_threads(std::size_t threads);
    std::size_t threads() const { return threads_; }

    std::size_t size() const { return components_.size(); }
    Distribution& component(std::size_t k) { return *components_.at(k); }
    // π_k, summing to one (from the logits when learned).
    std::vector<real> weights() const;
    bool learns_weights() const { return learn_weights_; }

private:
    std::vector<DistributionPtr> components_;
    bool learn_weights_;
    std::vector<real> weights_;      // fixed: π_k, summing to one
    std::vector<real> log_weights_;  // fixed: log π_k
    Parameter logits_;               // learned: a (1×K)

    // Note [components on threads]: one tape per component, the rows and each component's output on
    // it, and the side tapes' backward run by the node's rule.
    std::size_t threads_ = 1;
    std::vector<std::unique_ptr<Tape>> side_tapes_;
    std::vector<Var> side_inputs_, side_outputs_;
    Var threaded_components(Var x, Var context);
    void release_side_tapes();
    friend void mixture_components_backward(Tape& tape, std::uint32_t self);
};

// Each row's argmax (ties to the lower column): the component a row of posteriors picks.
std::vector<std::size_t> argmax_rows(const Array& posterior);

}  // namespace flowtape
