// The variational mixture of normalizing flows (VMoNF) of Pires & Figueiredo (2020): K flows
// p(x|c) over standard normal bases, a prior p(c) set by the modeller (uniform by default), and a
// classifier q(c|x) = softmax(g(x)/T) (g an MLP with K outputs, T a temperature) trained jointly
// by maximising the evidence lower bound of the paper's eq. (1), per row
//
//     ELBO(x) = Σ_c q(c|x) (log p(x|c) + log p(c) − log q(c|x))  ≤  log p(x),
//
// with equality when q(c|x) is the generative posterior p(c|x) ∝ p(c) p(x|c). The model's density
// is the mixture's, log p(x) = logsumexp_c (log p(c) + log p(x|c)); it clusters by argmax_c q(c|x)
// (responsibilities() returns q), and generative_posterior() gives p(c|x) for comparison.
//
// Temperature (the paper's deterministic annealing): T divides the classifier's logits and decays
// per epoch, T_e = max(T_min, T_0 γ^e) for epoch e = 0, 1, …, so that every component sees the
// whole data while q is still soft. The argmax of q does not depend on T; the model keeps the last
// T of training for the probabilities it reports.
//
// Semi-supervised (the paper's Figure 2): rows with a label y contribute log q(y|x) + log p(x|y)
// instead of their ELBO; training first pretrains on the labelled rows alone with that objective,
// then trains on every row.
//
// The paper publishes no code: the sizes, the schedule and the pretraining below are our choices,
// measured in `flowtape bench vmonf` and documented in docs/vmonf.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "flows/mixtures/mixture.hpp"
#include "flows/training/objectives.hpp"
#include "flows/training/train.hpp"
#include "nn/mlp.hpp"

namespace flowtape {

class VariationalMixture : public Mixture {
public:
    // `prior`: p(c), one positive weight per component (normalised here); `classifier`: the MLP g
    // whose inputs must be the components' dimension and whose outputs must be K (ValueError
    // otherwise, and for K < 2: a one-component mixture needs no posterior).
    VariationalMixture(std::vector<DistributionPtr> components, std::vector<real> prior, const MlpConfig& classifier,
                       Rng& rng);

    // g(x), N×K, the classifier's logits before the temperature.
    Var classifier_logits(Var x);
    // log q(c|x) = log_softmax(g(x) / T), N×K.
    Var log_posterior(Var x, real temperature);
    // The paper's eq. (1) per row (N×1) at temperature T.
    Var elbo(Var x, real temperature);
    // log q(y|x) + log p(x|y) per row (N×1) for labels y (N×1, each in 0..K−1; ValueError
    // otherwise): the objective of labelled rows.
    Var labelled_objective(Var x, const IndexArray& labels, real temperature);
    // Per row (N×1): the labelled objective where labels(i) ≥ 0, the ELBO where labels(i) = kNoLabel.
    Var semi_supervised_objective(Var x, const IndexArray& labels, real temperature);

    // q(c|x) at the model's temperature (N×K), in no-grad and evaluation mode: the posterior the
    // model clusters by (predict takes its argmax).
    Array responsibilities(const Array& x, const Array* context = nullptr) override;
    // p(c|x) ∝ p(c) p(x|c) (N×K): the generative posterior.
    Array generative_posterior(const Array& x);

    real temperature() const { return temperature_; }
    void set_temperature(real t);  // ValueError unless finite and > 0

    std::string kind() const override { return "vmonf"; }
    // {"kind": "vmonf", "components": [...], "prior": [...], "classifier": {inputs, hidden, outputs,
    // activation}, "temperature": T}
    nlohmann::json config() const override;
    static DistributionPtr from_config(const nlohmann::json& config, Rng& rng);
    // The Mixture's ("components.<k>.…") and the classifier's ("classifier.layers.<j>.…").
    void collect_parameters(ParameterList& out, const std::string& prefix) override;

    Mlp& classifier() { return classifier_; }

private:
    Mlp classifier_;
    real temperature_ = 1;
};

// The exponential temperature schedule T_e = max(T_min, T_0 γ^e), e = 0 for the first epoch.
// T_0 = 1, γ = 1 keeps T = 1 (no annealing).
struct TemperatureSchedule {
    real initial = 5;    // T_0 > 0
    real decay = 0.99;   // γ in (0, 1]
    real minimum = 1;    // T_min > 0
    real at(std::size_t epoch_index) const;
    void check(const char* who) const;  // ValueError naming `who` for a value out of range
};

// What fit minimises for a VMoNF: −(weighted mean of the semi-supervised objective) at the
// schedule's temperature, or, in pretraining mode, of the labelled objective alone (every row must
// then carry a label). The model may be the VariationalMixture or a Flow whose base is one (a fixed
// scaling in front): the front's log-determinant is added, so the values are on the data's scale.
// Validation monitors the negative log-likelihood, which the temperature does not change.
class VmonfObjective : public Objective {
public:
    VmonfObjective(TemperatureSchedule schedule, bool pretraining);
    Var loss(Distribution& model, const Batch& batch) override;
    Var validation_loss(Distribution& model, const Batch& batch) override;
    void begin_epoch(std::size_t epoch, std::size_t epochs) override;
    std::string progress() const override;
    real temperature() const { return temperature_; }

private:
    TemperatureSchedule schedule_;
    bool pretraining_;
    real temperature_;
};

struct VmonfSpec {
    std::size_t components = 2;            // K ≥ 2
    std::string component = "realnvp";     // realnvp | maf | nsf, over a standard normal base
    std::size_t layers = 4;
    std::vector<std::size_t> hidden{32, 32};
    Activation activation = Activation::relu;
    std::size_t bins = 8;                  // nsf
    real tail_bound = 4;                   // nsf
    std::vector<std::size_t> classifier_hidden{64, 64};
    Activation classifier_activation = Activation::relu;
    std::vector<real> prior;               // p(c); empty: uniform 1/K
    std::size_t threads = 1;               // components evaluated at once (Mixture::set_threads)
};

// The K flows over standard normal bases and the classifier, for `dim` columns, from rng.
// ValueError for K < 2, an unknown component, or a prior of the wrong length or with a value ≤ 0.
std::unique_ptr<VariationalMixture> make_vmonf(const VmonfSpec& spec, std::size_t dim, Rng& rng);

struct VmonfOptions {
    VmonfSpec spec;
    std::string scale = "standard";  // standard (per column to mean 0, sd 1, kept in the model) | none
    TemperatureSchedule temperature;
    FitOptions fit = default_fit_options();
    std::size_t pretrain_epochs = 200;  // on the labelled rows first, when some rows have labels
    // The start without labels (given labels start the model themselves): "kmeans" (the default,
    // beyond the paper; the study in docs/vmonf.md chose it) pretrains the model, pretrain_epochs
    // long, on the k-means labels of the scaled rows (10 restarts) as if they were given labels;
    // "uniform" starts from the networks' random initialisation, as the paper does.
    std::string init = "kmeans";
    std::uint64_t seed = 0;

    // Adam lr 10⁻³, 500 epochs of batches of 256, 20% held out for the monitored NLL, no early stop
    // (patience = epochs) but the best validation epoch kept.
    static FitOptions default_fit_options();
};

struct VmonfFit {
    // The trained model: a Flow whose first layer is the standardisation and whose base is the
    // VariationalMixture (scale "standard"), or the VariationalMixture itself (scale "none").
    DistributionPtr model;
    FitReport pretrain;                        // epochs_run = 0 without labels
    FitReport fit;
    std::vector<std::size_t> labels;           // argmax q(c|x) of every row
    std::vector<std::size_t> generative_labels;  // argmax p(c|x) of every row
    real agreement = 0;                        // share of rows where the two agree
    std::vector<std::size_t> sizes;            // rows per component by q
    std::vector<std::size_t> generative_sizes;  // rows per component by p(c|x)
    std::vector<std::size_t> empty_components;  // components q gives no row
    bool collapsed = false;                    // every row in one component
    real final_temperature = 1;
    std::string message;                       // one line, saying a collapse when there is one
};

// Trains a VMoNF on the rows of x (N×D). `labels` (N×1, kNoLabel where a row has none) turns on
// semi-supervised training: pretraining on the labelled rows, then every row. ValueError for empty
// or non-finite data, K < 2 or K > N, labels outside 0..K−1 (naming the row), labels of which none
// is given, or a temperature schedule out of range.
VmonfFit fit_vmonf(const Array& x, const IndexArray* labels, const VmonfOptions& options);

// The VariationalMixture inside a model (itself, or the base of a Flow); null otherwise.
VariationalMixture* vmonf_inside(Distribution& model);

}  // namespace flowtape
