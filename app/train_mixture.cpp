// `flowtape train --flow mixture`: the mixture of K flows of the mixtures-of-flows paper
// (flows/mixtures/flow_mixture.hpp), trained on the rows of a CSV file.
//
// The paper's settings are the defaults where the command line says nothing: one MAF layer
// (--layers 1) with a MADE of 10 tanh units (--hidden 10) per component over a fixed base
// (--base fixed) at uniform means (--base-init uniform) with standard deviation 0.1, the rows
// min-max scaled (--scale minmax), 2000 epochs (--epochs) of batches of 4000 (--batch), Adam with
// ε = 10⁻⁷, no validation split (--val-fraction 0) and no early stopping, 10 runs (--runs) of which
// the lowest training loss is kept. K is --components, or the number of classes of --labels-column.
// With --pca P the model is trained on the first P principal components of the rows (fitted on them,
// centred, not whitened); the model file's extra holds the projection ("pca"), its density is that
// of the projected rows, cluster/logprob project the rows they read and sample maps its draws back
// to the data's columns (app/cli_support.hpp). The summary gives the variance the P components keep.
//
// The summary adds every run's loss, the chosen seed, the rows per component (components that no
// row chose are named), and, with --labels-column, the clustering's purity, adjusted Rand index,
// NMI and unsupervised accuracy against those labels.
#include <algorithm>
#include <iostream>
#include <numeric>
#include <optional>
#include <set>
#include <stdexcept>

#include "app/cli_support.hpp"
#include "app/train_common.hpp"
#include "core/communicator.hpp"
#include "cluster/metrics.hpp"
#include "core/error.hpp"
#include "data/csv.hpp"
#include "data/pca.hpp"
#include "flows/mixtures/flow_mixture.hpp"

namespace flowtape::app::train {
namespace {

// The classes of the labels, which must all be present (no kNoLabel rows).
std::size_t class_count(const IndexArray& labels, const std::string& path) {
    std::set<std::int64_t> classes;
    for (std::size_t i = 0; i < labels.shape()[0]; ++i) {
        if (labels(i, 0) < 0)
            throw ValueError("train: " + path + ": row " + std::to_string(i + 1) + " has no label (" +
                             std::to_string(labels(i, 0)) + ")");
        classes.insert(labels(i, 0));
    }
    return classes.size();
}

FlowMixtureOptions mixture_options(const TrainOptions& o, std::size_t k) {
    FlowMixtureOptions m;
    m.spec.components = k;
    m.spec.component = o.component;
    m.spec.layers = o.layers_given ? o.layers : 1;
    m.spec.hidden = parse_hidden(o.hidden_given ? o.hidden : "10");
    m.spec.bins = o.bins;
    m.spec.tail_bound = o.tail_bound;
    if (o.base_given && o.base != "fixed" && o.base != "learned")
        throw ValueError("train: --flow mixture takes --base fixed or learned, got '" + o.base + "'");
    m.spec.learn_base = o.base_given && o.base == "learned";
    m.spec.base_init = o.base_init;
    m.spec.base_scale = o.base_scale;
    m.spec.threads = o.component_threads;
    m.scale = o.scale;
    m.fit = FlowMixtureOptions::paper_fit_options(o.epochs_given ? o.epochs : 2000, o.batch_given ? o.batch : 4000);
    m.fit.lr = o.lr;
    if (o.val_fraction_given) m.fit.val_fraction = o.val_fraction;
    if (o.patience) m.fit.patience = o.patience;
    m.fit.quiet = o.quiet || o.threads > 1;
    m.fit.progress = &std::cerr;
    m.fit.progress_every = std::max<std::size_t>(1, m.fit.epochs / 10);
    m.runs = o.runs;
    m.run_threads = o.threads;
    m.seed = o.seed;
    return m;
}

nlohmann::json metrics_json(const IndexArray& labels, const std::vector<std::size_t>& predicted) {
    cluster::Labels truth(labels.shape()[0]), pred(predicted.begin(), predicted.end());
    for (std::size_t i = 0; i < truth.size(); ++i) truth[i] = labels(i, 0);
    return {{"purity", cluster::purity(truth, pred)},
            {"ari", cluster::adjusted_rand_index(truth, pred)},
            {"nmi", cluster::normalized_mutual_info(truth, pred)},
            {"accuracy", cluster::unsupervised_accuracy(truth, pred)}};
}

}  // namespace

std::optional<data::Pca> pca_option(const TrainOptions& o, const Dataset& data) {
    if (o.pca == 0) return std::nullopt;
    if (o.pca > std::min(data.rows(), data.dims()))
        throw ValueError("train: --pca " + std::to_string(o.pca) + " is more than the " +
                         std::to_string(std::min(data.rows(), data.dims())) + " components " + o.data +
                         " has (the smaller of its rows and columns)");
    return data::Pca::fit(data.x, o.pca);
}

void save_with_pca(const TrainOptions& o, Distribution& model, const Dataset& data, nlohmann::json options,
                   nlohmann::json summary, const std::optional<data::Pca>& pca) {
    options["pca"] = o.pca;
    if (pca) summary["pca_explained_variance_ratio"] = std::accumulate(pca->explained_variance_ratio.begin(),
                                                                         pca->explained_variance_ratio.end(), 0.0);
    save_and_summarise(o, model, data, options, summary, pca ? nlohmann::json{{"pca", pca->to_json()}} : nlohmann::json(nullptr));
}

void run_train_mixture(const TrainOptions& o) {
    if (o.runs == 0) throw ValueError("train: --runs must be at least 1, got 0");
    if (!o.weights_column.empty())
        throw ValueError("train: --weights-column is not for --flow mixture (its loss is the plain mean NLL)");
    CsvOptions csv;
    csv.labels_column = o.labels_column;
    Dataset data;
    world().all_or_none([&] { data = read_csv(o.data, csv); });  // every rank: all rows (runs are spread)
    // Every row needs its class, for K and for the metrics.
    const std::size_t classes = data.labels ? class_count(*data.labels, o.data) : 0;
    const std::size_t k = o.components > 0 ? o.components : classes;
    if (k == 0)
        throw ValueError("train: --flow mixture needs --components K (or --labels-column to take K from the classes)");
    FlowMixtureOptions m = mixture_options(o, k);
    m.columns = data.columns;  // a constant column's error names it
    warn_if_generic_blas(o.quiet);
    const std::optional<data::Pca> pca = pca_option(o, data);
    const Array x = pca ? pca->transform(data.x) : data.x;
    if (!o.quiet)
        std::cerr << "train: mixture of " << k << " " << m.spec.component << " flows, " << m.runs << " run(s) of "
                  << m.fit.epochs << " epochs, " << data.rows() << " rows of " << data.dims() << " columns"
                  << (pca ? " projected on " + std::to_string(o.pca) + " principal components" : std::string()) << "\n";
    if (world().size() > 1) m.communicator = &world();  // run r on rank r mod R
    const FlowMixtureFit fitted = fit_flow_mixture(x, m);
    if (fitted.diverged) throw std::runtime_error("train: " + fitted.message + "; no model saved");
    if (world().rank() != 0) return;  // rank 0 writes the model file
    if (!o.quiet) std::cerr << "train: " << fitted.message << "\n";

    nlohmann::json runs = nlohmann::json::array();
    for (const FlowMixtureRun& r : fitted.runs)
        runs.push_back({{"seed", r.seed}, {"loss", r.loss}, {"epochs", r.fit.epochs_run}, {"seconds", r.fit.seconds},
                        {"diverged", r.fit.diverged}});
    nlohmann::json summary{{"components", k},
                           {"parameters", fitted.model->parameters().scalar_count()},
                           {"runs", runs},
                           {"best_run", fitted.best},
                           {"best_seed", fitted.runs[fitted.best].seed},
                           {"loss", fitted.runs[fitted.best].loss},
                           {"sizes", fitted.sizes},
                           {"empty_components", fitted.empty_components},
                           {"message", fitted.message}};
    if (data.labels) summary["metrics"] = metrics_json(*data.labels, fitted.labels);
    nlohmann::json options = options_json(o);
    options.update({{"components", k},
                    {"component", m.spec.component},
                    {"layers", m.spec.layers},
                    {"hidden", m.spec.hidden},
                    {"base", m.spec.learn_base ? "learned" : "fixed"},
                    {"base_init", m.spec.base_init},
                    {"base_scale", m.spec.base_scale},
                    {"scale", m.scale},
                    {"epochs", m.fit.epochs},
                    {"batch", m.fit.batch},
                    {"val_fraction", m.fit.val_fraction},
                    {"runs", m.runs},
                    {"labels_column", o.labels_column.empty() ? nlohmann::json(nullptr) : nlohmann::json(o.labels_column)}});
    save_with_pca(o, *fitted.model, data, options, summary, pca);
}

}  // namespace flowtape::app::train
