// `flowtape train --flow f4f`: a flows-for-flows model (flows/transport/transport_flow.hpp) over
// base flows already trained and saved by `flowtape train`, which it freezes.
//
//   --base-left L.json [--base-right R.json] --data Y.csv [--data-left X.csv]
//   [--penalty none|l1|l2] [--penalty-weight W] [--penalty-anneal [--penalty-weight-min w]]
//   [--condition-column C [--condition-mode delta|concat]]
//
// Unconditional: the rows of --data are the right distribution Y; the top flow learns to carry
// them onto the left base's X (and its inverse X → Y). With --base-right and --data-left the left
// rows train the other direction too, batches of the two sides taking turns. Conditional
// (--condition-column): one conditional base (--base-left, trained with `train --condition-column`),
// the rows of --data and their condition column; each batch's targets are a permutation of its own
// conditions.
//
// Defaults (the paper's protocol, scaled to files of thousands of rows; docs/flows_for_flows.md):
// 4 autoregressive spline layers of 8 bins on [−4, 4] with a MADE of two residual blocks of 128
// (--layers, --hidden, --bins, --tail-bound), 50 epochs (--epochs) of batches of 128 (--batch),
// Adam at 10⁻³ (--lr) cosine-annealed to zero per step, gradients clipped to norm 5
// (--clip-norm), 20% of the rows held out, the best validation epoch kept.
#include <iostream>
#include <stdexcept>

#include "app/cli_support.hpp"
#include "app/train_common.hpp"
#include "core/error.hpp"
#include "data/csv.hpp"
#include "flows/model_file.hpp"
#include "flows/transport/flows_for_flows.hpp"

namespace flowtape::app::train {
namespace {

DistributionPtr load_base(const std::string& path, const char* side) {
    try {
        return load_model(path);
    } catch (const IoError& e) {
        throw IoError(std::string("train: --base-") + side + ": " + e.what());
    }
}

TopFlowSpec top_spec(const TrainOptions& o) {
    TopFlowSpec spec;
    if (o.layers_given) spec.layers = o.layers;
    if (o.hidden_given) spec.hidden = parse_hidden(o.hidden);
    spec.bins = o.bins;
    if (o.tail_bound_given) spec.tail_bound = o.tail_bound;
    return spec;
}

TransportFitOptions transport_options(const TrainOptions& o) {
    TransportFitOptions t;
    t.fit = fit_options_of(o);
    t.fit.communicator = sharded_communicator(o);  // every rank holds all the rows, trains on its shard
    t.fit.epochs = o.epochs_given ? o.epochs : 50;
    t.fit.batch = o.batch_given ? o.batch : 128;
    t.fit.lr = o.lr_given ? o.lr : 1e-3;
    t.fit.schedule = "cosine-steps";
    t.fit.clip_norm = o.clip_norm;
    t.fit.patience = o.patience ? *o.patience : t.fit.epochs;
    t.fit.progress_every = std::max<std::size_t>(1, t.fit.epochs / 10);
    t.penalty.kind = o.penalty;
    t.penalty.weight = o.penalty_weight;
    t.penalty.anneal = o.penalty_anneal;
    t.penalty.weight_min = o.penalty_weight_min;
    // fit_transport counts the steps an annealed weight spans; check the rest here.
    DisplacementPenalty checked = t.penalty;
    checked.total_steps = 1;
    checked.check("train");
    return t;
}

void check_dims(const Dataset& data, const std::string& path, std::size_t dim) {
    if (data.dims() != dim)
        throw ValueError("train: " + path + " has " + std::to_string(data.dims()) + " data columns (" + join(data.columns) +
                         ") but the base flows have dimension " + std::to_string(dim));
}

}  // namespace

void run_train_f4f(const TrainOptions& o) {
    if (o.base_left.empty()) throw ValueError("train: --flow f4f needs --base-left (a trained flow, the target side X)");
    if (!o.weights_column.empty()) throw ValueError("train: --weights-column is not for --flow f4f");
    if (!o.data_left.empty() && o.base_right.empty())
        throw ValueError("train: --data-left trains the left → right direction, which needs --base-right");
    const bool conditional = !o.condition_column.empty();
    if (conditional && (!o.base_right.empty() || !o.data_left.empty()))
        throw ValueError("train: a conditional f4f model has one shared base (--base-left) and one data file");
    const TransportFitOptions options = transport_options(o);

    // Every rank reads the bases and all the rows; a failure on one stops them all.
    DistributionPtr left, right;
    world().all_or_none([&] {
        left = load_base(o.base_left, "left");
        if (!o.base_right.empty()) right = load_base(o.base_right, "right");
    });
    const ConditionMode mode = conditional ? condition_mode_from_name(o.condition_mode) : ConditionMode::none;
    if (mode == ConditionMode::none && left->context_dim() > 0)
        throw ValueError("train: the base in " + o.base_left + " is conditional; give --condition-column");
    if (mode != ConditionMode::none && left->context_dim() != 1)
        throw ValueError("train: --condition-column needs a base conditional on one column; " + o.base_left +
                         " takes a context of " + std::to_string(left->context_dim()));
    if (right && right->dim() != left->dim())
        throw ValueError("train: the base flows have dimensions " + std::to_string(left->dim()) + " (" + o.base_left +
                         ") and " + std::to_string(right->dim()) + " (" + o.base_right + ")");
    const std::size_t dim = left->dim();

    Dataset data;
    std::optional<Dataset> left_data;
    world().all_or_none([&] {
        data = read_csv(o.data);
        if (!o.data_left.empty()) left_data = read_csv(o.data_left);
    });
    const Array condition = conditional ? take_column("train", data, o.condition_column, o.data) : Array();
    check_dims(data, o.data, dim);
    if (left_data) check_dims(*left_data, o.data_left, dim);

    Rng rng = Rng::stream(o.seed, kWeights);
    std::unique_ptr<TransportFlow> model = make_transport_flow(top_spec(o), std::move(left), std::move(right), mode, rng);
    warn_if_generic_blas(o.quiet);
    const std::size_t trainable = model->parameters().scalar_count() - model->left().parameters().scalar_count() -
                                  (model->right() ? model->right()->parameters().scalar_count() : 0);
    if (!o.quiet)
        std::cerr << "train: f4f (" << (conditional ? condition_mode_name(mode) + " conditional" : std::string(model->has_right() ? "two bases" : "one base"))
                  << "), " << trainable << " trainable parameters, " << data.rows() << " rows"
                  << (left_data ? " and " + std::to_string(left_data->rows()) + " left rows" : std::string())
                  << ", penalty " << options.penalty.kind << sharded_summary(o) << "\n";
    const TransportData td{&data.x, left_data ? &left_data->x : nullptr, conditional ? &condition : nullptr};
    const FitReport report = fit_transport(*model, td, options);
    if (report.diverged) throw std::runtime_error("train: " + report.message + "; no model saved");
    if (world().rank() != 0) return;  // rank 0 writes the model file

    // How far the training rows moved (the paper's Table 1 measure).
    const Array moved = conditional ? Array() : transport_right_to_left(*model, data.x);
    nlohmann::json summary = report_json(report, trainable);
    if (!conditional) {
        const MeanDistance d = mean_distance(moved, data.x);
        summary["mean_translation"] = {{"euclidean", d.euclidean}, {"l1", d.l1}};
    } else {
        summary["condition_range"] = {model->condition_range().first, model->condition_range().second};
    }
    nlohmann::json opts = options_json(o);
    const TopFlowSpec spec = top_spec(o);
    opts.update({{"layers", spec.layers},
                 {"hidden", spec.hidden},
                 {"tail_bound", spec.tail_bound},
                 {"epochs", options.fit.epochs},
                 {"batch", options.fit.batch},
                 {"lr", options.fit.lr},
                 {"schedule", options.fit.schedule},
                 {"clip_norm", options.fit.clip_norm},
                 {"base_left", o.base_left},
                 {"base_right", o.base_right.empty() ? nlohmann::json(nullptr) : nlohmann::json(o.base_right)},
                 {"data_left", o.data_left.empty() ? nlohmann::json(nullptr) : nlohmann::json(o.data_left)},
                 {"penalty", options.penalty.kind},
                 {"penalty_weight", options.penalty.weight},
                 {"penalty_anneal", options.penalty.anneal},
                 {"penalty_weight_min", options.penalty.weight_min},
                 {"condition_column", conditional ? nlohmann::json(o.condition_column) : nlohmann::json(nullptr)},
                 {"condition_mode", condition_mode_name(mode)}});
    save_and_summarise(o, *model, data, opts, summary,
                       conditional ? nlohmann::json{{"condition_column", o.condition_column}} : nlohmann::json(nullptr));
}

}  // namespace flowtape::app::train
