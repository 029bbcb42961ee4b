// What the parts of `flowtape train` share: the options of every flow kind, and the steps every
// kind ends with (its FitOptions, the options and report as JSON, saving the model with the data's
// column names and printing the summary). The kinds live in app/train_cmd.cpp (maf, realnvp, nsf,
// nsf-coupling, pnf, cnf) and app/train_mixture.cpp (mixture).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/communicator.hpp"
#include "data/dataset.hpp"
#include "data/pca.hpp"
#include "flows/distribution.hpp"
#include "flows/training/train.hpp"

namespace flowtape::app::train {

struct TrainOptions {
    std::string flow = "maf";
    std::string data;
    std::string out;
    std::size_t layers = 5;
    std::string hidden = "128,128";
    std::size_t bins = 8;
    real tail_bound = 3;
    std::size_t epochs = 1000;  // with the default patience (2%), 20 epochs without improvement stop it
    std::size_t batch = 256;
    real lr = 1e-3;
    std::optional<std::size_t> patience;
    real val_fraction = 0.2;
    std::size_t lr_drops = 0;
    real lr_drop_factor = 0.1;
    std::string weights_column;
    std::uint64_t seed = 0;
    bool quiet = false;
    // pnf only
    std::string cluster = "kmeans";
    std::string k = "auto";
    std::size_t k_min = 2;
    std::size_t k_max = 20;
    std::size_t threads = 1;
    // cnf only
    bool hidden_given = false;  // --hidden on the command line (else the cnf defaults)
    std::string dynamics = "mlp";
    std::string activation = "tanh";
    std::size_t width = 32;
    std::string base = "gaussian";
    std::string labels_column;
    std::string trace = "exact";
    std::string noise = "rademacher";
    std::string method = "adjoint";
    real rtol = 1e-5;
    real atol = 1e-5;
    real time = 1.0;
    // mixture only (the mixtures-of-flows paper; app/train_mixture.cpp)
    bool layers_given = false, epochs_given = false, batch_given = false, base_given = false,
         val_fraction_given = false;
    std::size_t components = 0;  // K; 0: the number of classes of --labels-column
    std::string component = "maf";
    std::string base_init = "uniform";
    real base_scale = 0.1;
    std::string scale = "minmax";
    std::size_t runs = 10;
    std::size_t pca = 0;  // 0: none
    std::size_t component_threads = 1;
    // vmonf only (the variational mixture of flows; app/train_vmonf.cpp)
    bool component_given = false, scale_given = false, lr_given = false;
    std::string classifier_hidden = "64,64";
    std::string classifier_activation = "relu";
    real temperature = 5;
    real temperature_decay = 0.99;
    real temperature_min = 1;
    std::size_t pretrain_epochs = 200;
    std::string init = "kmeans";
    std::string prior;  // empty: uniform
    // f4f only (flows for flows; app/train_f4f.cpp)
    bool tail_bound_given = false;
    // maf only: "margarine" trains as the piecewise-flows paper's code does (app/train_cmd.cpp).
    std::string preset;
    std::string base_left, base_right, data_left;
    std::string penalty = "none";
    real penalty_weight = 1;
    bool penalty_anneal = false;
    real penalty_weight_min = 0;
    std::string condition_mode = "delta";
    real clip_norm = 5;
    // maf, realnvp, nsf, nsf-coupling (a conditional flow, context = this column) and f4f
    std::string condition_column;
    // Data-parallel training (under mpirun, or one process with --deterministic-sum): the partial
    // gradients added by summation block, and the number of blocks (Note [data-parallel fit]).
    bool deterministic_sum = false;
    std::size_t sum_blocks = 12;
};


// Random streams of the command, so that changing one use of randomness leaves the others alone.
enum Stream : std::uint64_t { kWeights = 0 };

// "128,128" → {128, 128}; every entry a positive integer (ValueError naming --hidden otherwise).
std::vector<std::size_t> parse_hidden(const std::string& text);
// The fit options of the command line, progress every tenth of the epochs.
FitOptions fit_options_of(const TrainOptions& o);
// The communicator for data-parallel training (world(): under mpirun, or for --deterministic-sum),
// or null for plain one-process training.
Communicator* sharded_communicator(const TrainOptions& o);
// ", on 2 ranks (MPI), gradients summed by rank" for the progress line of data-parallel training;
// empty otherwise.
std::string sharded_summary(const TrainOptions& o);
nlohmann::json options_json(const TrainOptions& o);
nlohmann::json report_json(const FitReport& r, std::size_t parameters);
// Saves the model with the data's column names, `options` and `summary` in its "extra", then
// prints the summary (with the flow, the file, the rows and the columns) on stdout.
// `more_extra` (an object, or null) adds fields to the extra, e.g. the PCA of --pca.
// `rows`: the rows trained on, when not data.rows() (data-parallel training: data is one shard).
void save_and_summarise(const TrainOptions& o, Distribution& model, const Dataset& data, const nlohmann::json& options,
                        nlohmann::json summary, const nlohmann::json& more_extra = nullptr, std::size_t rows = 0);

// --flow mixture (app/train_mixture.cpp).
void run_train_mixture(const TrainOptions& o);
// --flow vmonf (app/train_vmonf.cpp).
void run_train_vmonf(const TrainOptions& o);
// --flow f4f (app/train_f4f.cpp).
void run_train_f4f(const TrainOptions& o);
// The PCA of --pca P fitted on the rows (none for P = 0); ValueError when P exceeds the smaller of
// the rows and columns. The mixture kinds train on the projected rows and keep the projection.
std::optional<data::Pca> pca_option(const TrainOptions& o, const Dataset& data);
// save_and_summarise for the mixture kinds: "pca" (P) in the options, the variance the components
// keep in the summary and the projection in the model file's extra when there is one.
void save_with_pca(const TrainOptions& o, Distribution& model, const Dataset& data, nlohmann::json options,
                   nlohmann::json summary, const std::optional<data::Pca>& pca);

}  // namespace flowtape::app::train
