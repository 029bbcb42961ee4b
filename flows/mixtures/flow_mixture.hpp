// The direct mixture of flows of the mixtures-of-flows paper (Ciobanu 2021, "Mixtures of normalizing
// flows", ISCA CAINE 2021; its code is github.com/aciobanusebi/nf-mixture): K flows p_k, weights
// π = softmax(logits) learned from equal, trained jointly by maximum likelihood,
//
//     log p(x) = logsumexp_k (log π_k + log p_k(x)),
//
// and used to cluster: label(x) = argmax_k (log π_k + log p_k(x)).
//
// As in the paper's code, each component is a MAF of one MADE (one hidden layer of tanh units: 10
// for 2-D data, 1024 for images; Glorot-uniform weights, zero biases, inputs in natural order, the
// log-scale unclamped as in TensorFlow Probability) over a FIXED diagonal Gaussian base whose mean
// is drawn from U[0, 1)^D and whose standard deviation is 0.1 in every dimension. (The paper's text
// says a variance of 0.1; its code passes scale_diag = 0.1, a standard deviation: we follow the
// code.) The data are min-max scaled to [0, 1] per column first; the model keeps that scaling as a
// fixed first layer, so that its log-density is on the data's own scale (the scaling's
// log-determinant included). Beyond the paper: any flow kind as component (more MAF layers,
// RealNVP, a neural spline flow), a learned base, and the base means started at k-means centroids
// of the scaled data (the paper's suggestion for future work).
//
// Training (fit_flow_mixture): mean NLL by Adam with the paper's Keras defaults (lr 10⁻³,
// β = 0.9/0.999, ε = 10⁻⁷), no validation split; R runs from seeds seed, seed + 1, …, the best kept
// by its training loss (fit keeps each run's lowest-loss epoch; without a validation split that is
// the run's training loss, which is what the paper compares). Components that receive no rows in
// the final clustering are reported, as the paper's MNIST5 run with two empty clusters.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "flows/mixtures/mixture.hpp"
#include "flows/training/train.hpp"
#include "nn/activation.hpp"

namespace flowtape {

struct FlowMixtureSpec {
    std::size_t components = 2;                // K ≥ 1
    std::string component = "maf";             // maf | realnvp | nsf (the flow of each component)
    std::size_t layers = 1;                    // flow layers per component
    std::vector<std::size_t> hidden{10};       // the conditioner's hidden units
    Activation activation = Activation::tanh;
    bool paper_maf = true;                     // maf: unclamped log-scale, plain Glorot output layer (TFP)
    bool learn_base = false;                   // the paper: fixed
    std::string base_init = "uniform";         // uniform: means U[0,1)^D | kmeans: centroids of the scaled data
    real base_scale = 0.1;                     // the base's standard deviation in every dimension
    std::size_t bins = 8;                      // nsf
    real tail_bound = 3;                       // nsf; the scaled data live in [0, 1]
    std::size_t threads = 1;                   // components evaluated at once (Mixture::set_threads)
};

// The K components over their bases, for `dim` columns, with learned weights starting equal. For
// base_init "kmeans", `scaled` are the rows (already scaled) whose k-means centroids start the base
// means (k-means with 10 restarts from rng); otherwise it may be null. ValueError for K = 0, an
// unknown component or base_init, a base_scale ≤ 0, or K larger than the rows for k-means.
std::unique_ptr<Mixture> make_flow_mixture(const FlowMixtureSpec& spec, std::size_t dim, Rng& rng,
                                           const Array* scaled = nullptr);

struct FlowMixtureOptions {
    FlowMixtureSpec spec;
    std::string scale = "minmax";  // minmax (per column to [0, 1], kept in the model) | none
    FitOptions fit = paper_fit_options(2000, 4000);
    std::size_t runs = 10;         // from seeds seed, seed + 1, …; the best by training loss kept
    std::size_t run_threads = 1;   // runs trained at once (the result does not depend on it)
    // The runs spread over MPI ranks (null: all here): every rank calls with all the rows and the
    // same options, run r trains on rank r mod R, every run's report and then the best run's model
    // reach every rank; the result is the serial one, bit for bit.
    Communicator* communicator = nullptr;
    std::uint64_t seed = 0;
    std::vector<std::string> columns;  // the data's column names, for errors (empty: by index)

    // The paper's training: Adam lr 10⁻³, β 0.9/0.999, ε 10⁻⁷ (Keras), `epochs` epochs of batches of
    // `batch` rows, no validation split, no early stopping, quiet.
    static FitOptions paper_fit_options(std::size_t epochs, std::size_t batch);
};

struct FlowMixtureRun {
    std::uint64_t seed = 0;
    FitReport fit;
    real loss = 0;  // the kept parameters' training loss (mean NLL on the scaled data)
};

struct FlowMixtureFit {
    // The trained model: a Flow whose first layer is the min-max scaling and whose base is the
    // Mixture (scale "minmax"), or the Mixture itself (scale "none").
    DistributionPtr model;
    std::vector<FlowMixtureRun> runs;
    std::size_t best = 0;                       // index into runs
    std::vector<std::size_t> labels;            // argmax posterior of every row, from the best run
    std::vector<std::size_t> sizes;             // rows per component
    std::vector<std::size_t> empty_components;  // components no row chose
    bool diverged = false;                      // the best run stopped on a non-finite loss
    std::string message;                        // one line
};

// Trains options.runs mixtures on the rows of x (N×D) and returns the best. ValueError for empty
// or non-finite data, K > N, runs = 0, or a column that is constant under min-max scaling (naming
// the column).
FlowMixtureFit fit_flow_mixture(const Array& x, const FlowMixtureOptions& options);

// The Mixture inside a model: the model itself when it is one, or the base of a Flow (the scaled
// form above); null otherwise.
Mixture* mixture_inside(Distribution& model);

// The posterior over components (N×K) and its argmax for rows of the model's data space: through
// the Flow's layers first when the Mixture is the base of one (a fixed map such as the scaling has
// the same log-determinant for every component, so the posterior is that of the mapped rows).
// ValueError when the model holds no Mixture.
Array component_posterior(Distribution& model, const Array& x);

// Rows of the model's data space mapped to where its Mixture lives: through the Flow's layers (the
// min-max scaling) when the Mixture is the base of one, unchanged when the model is the Mixture.
// ValueError when the model holds no Mixture.
Array to_mixture_space(Distribution& model, const Array& x);
std::vector<std::size_t> predict_components(Distribution& model, const Array& x);

// n draws of a model holding a Mixture (as mixture_inside) with the component each came from, in
// batches on a no-grad tape from Rng(seed): the same draws as sample_rows(model, n, seed).
// ValueError when the model holds no Mixture or is conditional.
struct ComponentDraws {
    Array x;                             // n×D
    std::vector<std::size_t> component;  // one per row
};
ComponentDraws sample_components(Distribution& model, std::size_t n, std::uint64_t seed);

}  // namespace flowtape
