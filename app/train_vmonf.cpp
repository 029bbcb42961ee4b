// `flowtape train --flow vmonf`: the variational mixture of K flows of Pires & Figueiredo
// (flows/mixtures/vmonf.hpp), trained on the rows of a CSV file by the ELBO with an annealed
// temperature.
//
// Defaults where the command line says nothing (docs/vmonf.md says how they were chosen): K
// RealNVP components (--component) of 4 layers (--layers) with conditioners of [32, 32] relu units
// (--hidden) over standard normal bases, a uniform prior, a classifier of [64, 64] relu units
// (--classifier-hidden, --classifier-activation), the rows standardised per column (--scale
// standard, kept in the model), T0 = 5 decaying by 0.99 per epoch to 1 (--temperature,
// --temperature-decay, --temperature-min), 500 epochs (--epochs) of batches of 256 (--batch), 20%
// of the rows held out for the monitored negative log-likelihood (--val-fraction), the best
// validation epoch kept. --labels-column turns on semi-supervised training: rows with a label
// (an integer 0..K−1) pretrain the model first (--pretrain-epochs) and then count by their label,
// rows whose label field is empty by their ELBO. K is --components, or one more than the largest
// label. Without labels the model starts from k-means labels (--init kmeans, pretraining as labels
// would; --init uniform is the paper's random start). --pca P trains on P principal components as --flow mixture does.
//
// --prior w1,...,wK sets p(c) (uniform by default). The summary gives the rows per component by
// q(c|x) and by the generative posterior p(c|x), how often the two agree, the temperature of the kept epoch, and says so when the run collapsed (every row
// in one component) — also on stderr.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "app/cli_support.hpp"
#include "app/train_common.hpp"
#include "core/error.hpp"
#include "data/csv.hpp"
#include "data/pca.hpp"
#include "flows/mixtures/vmonf.hpp"

namespace flowtape::app::train {
namespace {

// One more than the largest label given (0 when no row has one).
std::size_t components_from_labels(const IndexArray& labels) {
    std::int64_t top = -1;
    for (std::size_t i = 0; i < labels.shape()[0]; ++i) top = std::max(top, labels(i, 0));
    return static_cast<std::size_t>(top + 1);
}

// "0.5,0.3,0.2" → {0.5, 0.3, 0.2}: K positive numbers (normalised by the model).
std::vector<real> parse_prior(const std::string& text, std::size_t k) {
    std::vector<real> out;
    std::stringstream in(text);
    for (std::string item; std::getline(in, item, ',');) {
        std::size_t used = 0;
        real value = 0;
        try {
            value = std::stod(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != item.size() || !std::isfinite(value) || value <= 0)
            throw ValueError("train: --prior takes K positive numbers separated by commas, got '" + item + "' in '" +
                             text + "'");
        out.push_back(value);
    }
    if (out.size() != k)
        throw ValueError("train: --prior has " + std::to_string(out.size()) + " weights for K = " + std::to_string(k) +
                         " components");
    return out;
}

// Every label 0..K−1 or empty (no label), named by file and line otherwise.
void check_labels(const IndexArray& labels, std::size_t k, const std::string& path, const std::string& column) {
    for (std::size_t i = 0; i < labels.shape()[0]; ++i) {
        const std::int64_t y = labels(i, 0);
        if (y != kNoLabel && (y < 0 || static_cast<std::size_t>(y) >= k))
            throw ValueError("train: " + path + ": data row " + std::to_string(i + 1) + " has label " + std::to_string(y) +
                             " in column '" + column + "', outside 0.." + std::to_string(k - 1) +
                             " (leave the field empty for no label)");
    }
}

VmonfOptions vmonf_options(const TrainOptions& o, std::size_t k) {
    VmonfOptions v;
    v.spec.components = k;
    v.spec.component = o.component_given ? o.component : "realnvp";
    if (o.layers_given) v.spec.layers = o.layers;
    if (o.hidden_given) v.spec.hidden = parse_hidden(o.hidden);
    v.spec.bins = o.bins;
    v.spec.tail_bound = o.tail_bound;
    v.spec.classifier_hidden = parse_hidden(o.classifier_hidden);
    v.spec.classifier_activation = activation_from_name(o.classifier_activation);
    v.spec.threads = std::max<std::size_t>(o.component_threads, 1);
    v.scale = o.scale_given ? o.scale : "standard";
    v.temperature = {o.temperature, o.temperature_decay, o.temperature_min};
    v.temperature.check("train");
    v.fit = VmonfOptions::default_fit_options();
    if (o.epochs_given) v.fit.epochs = o.epochs;
    if (o.batch_given) v.fit.batch = o.batch;
    if (o.lr_given) v.fit.lr = o.lr;
    if (o.val_fraction_given) v.fit.val_fraction = o.val_fraction;
    v.fit.patience = o.patience ? *o.patience : v.fit.epochs;
    v.fit.lr_drops = o.lr_drops;
    v.fit.lr_drop_factor = o.lr_drop_factor;
    if (!o.prior.empty()) v.spec.prior = parse_prior(o.prior, k);
    v.fit.communicator = sharded_communicator(o);  // every rank holds all the rows, trains on its shard
    v.fit.deterministic_sum = o.deterministic_sum;
    v.fit.sum_blocks = o.sum_blocks;
    v.fit.quiet = o.quiet;
    v.fit.progress = &std::cerr;
    v.fit.progress_every = std::max<std::size_t>(1, v.fit.epochs / 10);
    v.pretrain_epochs = o.pretrain_epochs;
    v.init = o.init;  // with labels, the labels start the model (fit_vmonf)
    v.seed = o.seed;
    return v;
}

}  // namespace

void run_train_vmonf(const TrainOptions& o) {
    if (!o.weights_column.empty())
        throw ValueError("train: --weights-column is not for --flow vmonf");
    CsvOptions csv;
    csv.labels_column = o.labels_column;
    Dataset data;  // every rank reads all the rows; a failure on one stops them all
    world().all_or_none([&] { data = read_csv(o.data, csv); });
    const std::size_t k = o.components > 0 ? o.components : data.labels ? components_from_labels(*data.labels) : 0;
    if (k == 0)
        throw ValueError("train: --flow vmonf needs --components K (or a --labels-column with labels to take K from)");
    const VmonfOptions v = vmonf_options(o, k);
    if (data.labels) check_labels(*data.labels, k, o.data, o.labels_column);
    warn_if_generic_blas(o.quiet);
    const std::optional<data::Pca> pca = pca_option(o, data);
    const Array x = pca ? pca->transform(data.x) : data.x;
    const IndexArray* labels = data.labels ? &*data.labels : nullptr;
    std::size_t labelled = 0;
    if (labels)
        for (std::size_t i = 0; i < data.rows(); ++i) labelled += (*labels)(i, 0) != kNoLabel;
    if (!o.quiet)
        std::cerr << "train: vmonf of " << k << " " << v.spec.component << " flows, " << v.fit.epochs << " epochs, "
                  << data.rows() << " rows of " << data.dims() << " columns"
                  << (pca ? " projected on " + std::to_string(o.pca) + " principal components" : std::string())
                  << (labels ? ", " + std::to_string(labelled) + " labelled (semi-supervised)" : std::string())
                  << sharded_summary(o) << "\n";
    const VmonfFit fitted = fit_vmonf(x, labels, v);
    if (fitted.fit.diverged || fitted.pretrain.diverged)
        throw std::runtime_error("train: " + fitted.message + "; no model saved");
    if (world().rank() != 0) return;  // rank 0 writes the model file and speaks
    if (!o.quiet) std::cerr << "train: " << fitted.message << "\n";
    if (fitted.collapsed)
        std::cerr << "train: warning: the run collapsed (every row in one component); try another --seed, a higher "
                     "--temperature or a slower --temperature-decay\n";

    nlohmann::json summary{{"components", k},
                           {"parameters", fitted.model->parameters().scalar_count()},
                           {"fit", report_json(fitted.fit, fitted.model->parameters().scalar_count())},
                           {"pretrain_epochs_run", fitted.pretrain.epochs_run},
                           {"labelled_rows", labelled},
                           {"sizes", fitted.sizes},
                           {"generative_sizes", fitted.generative_sizes},
                           {"empty_components", fitted.empty_components},
                           {"collapsed", fitted.collapsed},
                           {"posterior_agreement", fitted.agreement},
                           {"temperature", fitted.final_temperature},
                           {"message", fitted.message}};
    nlohmann::json options = options_json(o);
    options.update({{"components", k},
                    {"component", v.spec.component},
                    {"layers", v.spec.layers},
                    {"hidden", v.spec.hidden},
                    {"classifier_hidden", v.spec.classifier_hidden},
                    {"classifier_activation", o.classifier_activation},
                    {"scale", v.scale},
                    {"temperature", v.temperature.initial},
                    {"temperature_decay", v.temperature.decay},
                    {"temperature_min", v.temperature.minimum},
                    {"epochs", v.fit.epochs},
                    {"batch", v.fit.batch},
                    {"lr", v.fit.lr},
                    {"val_fraction", v.fit.val_fraction},
                    {"pretrain_epochs", v.pretrain_epochs},
                    {"init", v.init},
                    {"prior", v.spec.prior.empty() ? nlohmann::json("uniform") : nlohmann::json(v.spec.prior)},
                    {"labels_column", o.labels_column.empty() ? nlohmann::json(nullptr) : nlohmann::json(o.labels_column)}});
    save_with_pca(o, *fitted.model, data, options, summary, pca);
}

}  // namespace flowtape::app::train
