// `flowtape train`: fits a flow to the rows of a CSV file and saves it as a model file.
//
// Every column of the file is data except the optional weights column (--weights-column), which
// weights each row's term of the negative log-likelihood. The flow is built by flows/builders.hpp
// (maf, realnvp, nsf = autoregressive splines, nsf-coupling = coupling splines), trained by `fit`
// (Adam on mini-batches, a validation split and early stopping, the best epoch's parameters kept),
// and saved atomically with an "extra" JSON holding the data columns' names (sample writes them
// back, logprob and plot pick those columns by name), the options and a summary of the training.
// A summary goes to stdout as JSON; progress lines go to stderr unless --quiet.
//
// --flow pnf is the piecewise flow (flows/mixtures/piecewise.hpp): the rows are clustered (--cluster, k-means
// by default; --k K or auto = the best silhouette over --k-min..--k-max), one MAF with --layers and
// --hidden is trained per cluster (--threads at once), and the model file holds the pieces and
// their weights. Its summary adds the clusters, their weights and the training cost of eq. (18).
//
// --flow cnf is a continuous normalizing flow (flows/continuous/cnf.hpp): --dynamics mlp (--hidden, default
// 64,64, --activation tanh|softplus) or planar (the paper's hypernetwork planar field, --width units,
// --hidden of the hypernetwork, default 32,32), --base gaussian (unit variance at the data mean) or
// gmm (one unit component per class of --labels-column at the class mean; each training row scored
// by its class, the saved model by the whole mixture), --trace exact|hutchinson (--noise), --rtol,
// --atol, --time T, --method adjoint|backprop. The labels column is not data.
//
// --flow mixture is the mixture of K flows of the mixtures-of-flows paper (app/train_mixture.cpp has
// its options and defaults); --flow vmonf the variational mixture of flows (app/train_vmonf.cpp).
//
// A fit that diverges (a non-finite loss or gradient) is a failure, exit status 1 with fit's
// message: nothing is saved, since the restored "best" parameters of a diverging run are rarely
// what the user wanted.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/cli_support.hpp"
#include "app/commands.hpp"
#include "app/train_common.hpp"
#include "core/error.hpp"
#include "core/random.hpp"
#include "data/csv.hpp"
#include "flows/builders.hpp"
#include "flows/transforms/bounded_to_normal.hpp"
#include "flows/continuous/cnf.hpp"
#include "cluster/registry.hpp"
#include "flows/model_file.hpp"
#include "flows/mixtures/piecewise.hpp"
#include "flows/training/data_parallel.hpp"
#include "flows/training/train.hpp"
#include "core/communicator.hpp"

namespace flowtape::app::train {
namespace {

const std::vector<std::string>& flow_kinds() {
    static const std::vector<std::string> kinds{"maf",  "realnvp", "nsf",   "nsf-coupling", "pnf",
                                                "cnf",  "mixture", "vmonf", "f4f"};
    return kinds;
}

}  // namespace

std::vector<std::size_t> parse_hidden(const std::string& text) {
    const auto bad = [&] {
        return ValueError("train: --hidden must be comma-separated positive integers (like 128,128), got '" + text + "'");
    };
    std::vector<std::size_t> sizes;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = std::min(text.find(',', start), text.size());
        const std::string field = text.substr(start, comma - start);
        if (field.empty() || field.find_first_not_of("0123456789") != std::string::npos || field.size() > 6) throw bad();
        const std::size_t v = std::stoul(field);
        if (v == 0) throw bad();
        sizes.push_back(v);
        start = comma + 1;
    }
    return sizes;
}

namespace {

// "auto" → 0 (choose by silhouette), else a positive integer.
std::size_t parse_k(const std::string& text) {
    if (text == "auto") return 0;
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || text.size() > 6 || std::stoul(text) == 0)
        throw ValueError("train: --k must be a positive integer or auto, got '" + text + "'");
    return std::stoul(text);
}

void check_options(const TrainOptions& o) {
    if (std::find(flow_kinds().begin(), flow_kinds().end(), o.flow) == flow_kinds().end())
        throw ValueError("train: unknown --flow '" + o.flow + "' (one of: " + join(flow_kinds()) + ")");
    if (!o.preset.empty() && o.preset != "margarine")
        throw ValueError("train: unknown --preset '" + o.preset + "' (margarine)");
    if (o.preset == "margarine" && o.flow != "maf" && o.flow != "pnf")
        throw ValueError("train: --preset margarine is for --flow maf or pnf, not --flow " + o.flow);
    if (!o.labels_column.empty() && o.flow != "cnf" && o.flow != "mixture" && o.flow != "vmonf")
        throw ValueError("train: --labels-column is for --flow cnf (the gmm base), mixture or vmonf, not --flow " + o.flow);
    const auto& algorithms = cluster::clustering_algorithms();
    if (std::find(algorithms.begin(), algorithms.end(), o.cluster) == algorithms.end()) {
        std::string names;
        for (const auto& a : algorithms) names += (names.empty() ? "" : ", ") + a;
        throw ValueError("train: unknown --cluster '" + o.cluster + "' (one of: " + names + ")");
    }
    parse_k(o.k);
    if (o.k_min < 2 || o.k_max < o.k_min)
        throw ValueError("train: --k-min and --k-max need 2 <= k-min <= k-max, got " + std::to_string(o.k_min) + " and " +
                         std::to_string(o.k_max));
    if (o.threads == 0) throw ValueError("train: --threads must be at least 1, got 0");
    if (o.layers == 0) throw ValueError("train: --layers must be at least 1, got 0");
    if (o.bins == 0) throw ValueError("train: --bins must be at least 1, got 0");
    if (!(std::isfinite(o.tail_bound) && o.tail_bound > 0))
        throw ValueError("train: --tail-bound must be positive, got " + std::to_string(o.tail_bound));
    if (o.epochs == 0) throw ValueError("train: --epochs must be at least 1, got 0");
    if (o.batch == 0) throw ValueError("train: --batch must be at least 1, got 0");
    if (!(std::isfinite(o.lr) && o.lr > 0)) throw ValueError("train: --lr must be positive, got " + std::to_string(o.lr));
    if (o.patience && *o.patience == 0) throw ValueError("train: --patience must be at least 1, got 0");
    if (!(o.val_fraction >= 0 && o.val_fraction < 1))
        throw ValueError("train: --val-fraction must be in [0, 1), got " + std::to_string(o.val_fraction));
    if (!(o.lr_drop_factor > 0 && o.lr_drop_factor < 1))
        throw ValueError("train: --lr-drop-factor must be in (0, 1), got " + std::to_string(o.lr_drop_factor));
    // Fail before a long fit rather than after it when the model could not be saved.
    const std::filesystem::path out(o.out);
    const std::filesystem::path dir = out.has_parent_path() ? out.parent_path() : std::filesystem::path(".");
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
        throw IoError("train: cannot write " + o.out + ": directory " + dir.string() + " does not exist");
}

// --preset margarine: the MAF of margarine v1 (the piecewise-flows paper's code) with its defaults —
// 6 MADEs of [50, 50] tanh units, a random input order per MADE (random permutations between them),
// every column first through BoundedToNormal::from_data of the rows (and weights), full-batch
// steps, at most 20,000 epochs with the default patience of 2% (400) and the best epoch restored.
// Options given on the command line win. With --flow pnf every piece is such a MAF of its own
// cluster (run_train_piecewise). Across ranks `data` is this rank's shard of the rows: the bounds
// and the full batch are those of every rank's rows (bounded_to_normal_across_ranks).
void apply_margarine_preset(TrainOptions& o, FlowSpec& spec, const Dataset& data, const RowShard& shard, bool sharded) {
    if (!o.layers_given) spec.layers = o.layers = 6;  // o too: the model file records what was built
    if (!o.hidden_given) {
        o.hidden = "50,50";
        spec.hidden = {50, 50};
    }
    spec.activation = Activation::tanh;
    spec.permutation = "random";
    const Array* weights = data.weights ? &*data.weights : nullptr;
    const auto bounds = sharded ? bounded_to_normal_across_ranks(world(), FitData{data.x, weights, nullptr, nullptr,
                                                                                  shard.first, shard.total}, o.sum_blocks)
                                : BoundedToNormal::from_data(data.x, weights);
    spec.bounded_lo = bounds->lo();
    spec.bounded_hi = bounds->hi();
    if (!o.epochs_given) o.epochs = 20000;
    if (!o.batch_given) o.batch = shard.total;
}

// `data`: rows `shard` of all the rows (all of them without ranks).
DistributionPtr build_flow(TrainOptions& o, const Dataset& data, std::size_t context, const RowShard& shard, bool sharded) {
    FlowSpec spec;
    spec.dim = data.dims();
    spec.context = context;
    spec.layers = o.layers;
    spec.hidden = parse_hidden(o.hidden);
    spec.bins = o.bins;
    spec.tail_bound = o.tail_bound;
    if (o.preset == "margarine") apply_margarine_preset(o, spec, data, shard, sharded);
    Rng rng = Rng::stream(o.seed, kWeights);
    if (o.flow == "maf") return make_maf_flow(spec, rng);
    if (o.flow == "realnvp") return make_realnvp_flow(spec, rng);
    if (o.flow == "nsf") return make_nsf_flow(spec, rng);
    return make_nsf_coupling_flow(spec, rng);
}

}  // namespace

nlohmann::json options_json(const TrainOptions& o) {
    nlohmann::json j{{"flow", o.flow},          {"data", o.data},   {"layers", o.layers},
                     {"hidden", parse_hidden(o.hidden)}, {"bins", o.bins}, {"tail_bound", o.tail_bound},
                     {"epochs", o.epochs},      {"batch", o.batch}, {"lr", o.lr},
                     {"val_fraction", o.val_fraction}, {"seed", o.seed},
                     {"lr_drops", o.lr_drops}, {"lr_drop_factor", o.lr_drop_factor}};
    if (o.flow == "pnf") {
        j["cluster"] = o.cluster;
        j["k"] = o.k;
        j["k_min"] = o.k_min;
        j["k_max"] = o.k_max;
        j["threads"] = o.threads;
    }
    j["patience"] = o.patience ? nlohmann::json(*o.patience) : nlohmann::json(nullptr);
    j["weights_column"] = o.weights_column.empty() ? nlohmann::json(nullptr) : nlohmann::json(o.weights_column);
    if (o.deterministic_sum || world().size() > 1)
        j["data_parallel"] = {{"ranks", world().size()}, {"deterministic_sum", o.deterministic_sum}, {"sum_blocks", o.sum_blocks}};
    if (!o.preset.empty()) j["preset"] = o.preset;
    return j;
}

nlohmann::json report_json(const FitReport& r, std::size_t parameters) {
    return {{"epochs", r.epochs_run},
            {"best_epoch", r.best_epoch},
            {"best_val_loss", r.best_val_loss},
            {"stopped_early", r.stopped_early},
            {"lr_drops", r.lr_drops},
            {"seconds", r.seconds},
            {"parameters", parameters},
            {"message", r.message}};
}

FitOptions fit_options_of(const TrainOptions& o) {
    FitOptions fit_options;
    fit_options.epochs = o.epochs;
    fit_options.batch = o.batch;
    fit_options.lr = o.lr;
    fit_options.val_fraction = o.val_fraction;
    fit_options.patience = o.patience;
    fit_options.lr_drops = o.lr_drops;
    fit_options.lr_drop_factor = o.lr_drop_factor;
    fit_options.seed = o.seed;
    fit_options.deterministic_sum = o.deterministic_sum;
    fit_options.sum_blocks = o.sum_blocks;
    fit_options.quiet = o.quiet;
    fit_options.progress = o.quiet ? nullptr : &std::cerr;
    fit_options.progress_every = std::max<std::size_t>(1, o.epochs / 10);
    return fit_options;
}

Communicator* sharded_communicator(const TrainOptions& o) {
    return world().size() > 1 || o.deterministic_sum ? &world() : nullptr;
}

std::string sharded_summary(const TrainOptions& o) {
    if (!sharded_communicator(o)) return "";
    const Communicator& comm = world();
    return ", on " + std::to_string(comm.size()) + (comm.size() == 1 ? " rank" : " ranks") + " (" + comm.name() +
           "), gradients summed " + (o.deterministic_sum ? "by block (" + std::to_string(o.sum_blocks) + " blocks)" : "by rank");
}

// Saves the model with the data's column names, the options and the summary in its "extra", then
// prints the summary (with the flow, the file, the rows and the columns) on stdout.
void save_and_summarise(const TrainOptions& o, Distribution& model, const Dataset& data, const nlohmann::json& options,
                        nlohmann::json summary, const nlohmann::json& more_extra, std::size_t rows) {
    nlohmann::json extra{{"columns", data.columns}, {"options", options}, {"report", summary}};
    if (more_extra.is_object()) extra.update(more_extra);
    save_model(model, o.out, extra);
    if (!o.quiet) std::cerr << "train: saved " << o.out << "\n";
    summary["flow"] = o.flow;
    summary["out"] = o.out;
    summary["rows"] = rows ? rows : data.rows();
    summary["columns"] = data.columns;
    std::cout << summary.dump(2) << '\n';
}

namespace {

void run_train_piecewise(const TrainOptions& given, const Dataset& data) {
    TrainOptions o = given;
    PiecewiseOptions p;
    if (o.preset == "margarine") {  // each piece a margarine MAF of its cluster (see apply_margarine_preset)
        if (!o.layers_given) o.layers = 6;
        if (!o.hidden_given) o.hidden = "50,50";
        if (!o.epochs_given) o.epochs = 20000;
        if (!o.batch_given) o.batch = data.rows();  // at least every piece's rows: full-batch steps
        p.piece.activation = Activation::tanh;
        p.piece.permutation = "random";
        p.bounded_to_normal = true;
    }
    p.algorithm = o.cluster;
    p.k = parse_k(o.k);
    p.k_min = o.k_min;
    p.k_max = std::min(o.k_max, data.rows() > 1 ? data.rows() - 1 : std::size_t{1});
    if (p.k == 0 && p.k_max < p.k_min) p.k = 1;  // too few rows to choose: one piece
    p.piece.layers = o.layers;
    p.piece.hidden = parse_hidden(o.hidden);
    p.fit = fit_options_of(o);
    p.threads = o.threads;
    p.seed = o.seed;
    if (world().size() > 1) p.communicator = &world();
    if (!o.quiet) std::cerr << "train: piecewise MAF, clustering " << data.rows() << " rows with " << o.cluster << "\n";
    warn_if_generic_blas(o.quiet);
    const PiecewiseFit fitted = fit_piecewise(data.x, p, data.weights ? &*data.weights : nullptr);
    const PiecewiseReport& r = fitted.report;
    if (r.diverged) throw std::runtime_error("train: " + r.message + "; no model saved");
    if (world().rank() != 0) return;  // rank 0 writes the model file
    nlohmann::json pieces = nlohmann::json::array();
    for (std::size_t k = 0; k < r.k; ++k)
        pieces.push_back({{"rows", r.rows[k]}, {"weight", r.weights[k]}, {"parameters", r.parameters[k]},
                          {"epochs", r.fits[k].epochs_run}, {"best_val_loss", r.fits[k].best_val_loss},
                          {"seconds", r.fits[k].seconds}});
    nlohmann::json summary{{"clusters", r.k},
                           {"cluster_algorithm", o.cluster},
                           {"pieces", pieces},
                           {"parameters", fitted.model->parameters().scalar_count()},
                           {"cost", r.cost},
                           {"cluster_seconds", r.cluster_seconds},
                           {"seconds", r.train_seconds},
                           {"serial_seconds", r.serial_seconds},
                           {"message", r.message}};
    if (!r.ks.empty()) summary["silhouette"] = {{"k", r.ks}, {"score", r.silhouettes}};
    if (!r.clustering_note.empty()) summary["note"] = r.clustering_note;
    if (!o.quiet) std::cerr << "train: " << r.message << "\n";
    save_and_summarise(o, *fitted.model, data, options_json(o), summary);
}

// The continuous flow: its own CSV options (the labels column), base, dynamics and options.
DistributionPtr build_cnf(const TrainOptions& o, const Dataset& data) {
    const std::vector<std::size_t> hidden =
        parse_hidden(o.hidden_given ? o.hidden : (o.dynamics == "planar" ? "32,32" : "64,64"));
    Rng rng = Rng::stream(o.seed, kWeights);
    CnfDynamicsPtr dynamics;
    if (o.dynamics == "mlp")
        dynamics = std::make_unique<MlpDynamics>(data.dims(), hidden, activation_from_name(o.activation), rng);
    else if (o.dynamics == "planar")
        dynamics = std::make_unique<PlanarDynamics>(data.dims(), o.width, hidden, rng);
    else
        throw ValueError("train: unknown --dynamics '" + o.dynamics + "' (mlp or planar)");
    CnfOptions c;
    c.T = o.time;
    c.rtol = o.rtol;
    c.atol = o.atol;
    c.trace = trace_kind_from_name(o.trace);
    c.noise = noise_kind_from_name(o.noise);
    c.method = ode_method_from_name(o.method);
    c.seed = o.seed;
    if (o.base == "gaussian") return std::make_unique<ContinuousFlow>(std::move(dynamics), make_cnf_gaussian_base(data.x), c);
    if (o.base != "gmm") throw ValueError("train: unknown --base '" + o.base + "' (gaussian or gmm)");
    std::vector<std::int64_t> classes;
    DistributionPtr base = make_cnf_class_base(data.x, *data.labels, classes);
    return std::make_unique<ContinuousFlow>(std::move(dynamics), std::move(base), c, classes);
}

void run_train_cnf(const TrainOptions& o) {
    if (o.base == "gmm" && o.labels_column.empty())
        throw ValueError("train: --base gmm needs --labels-column (the class of each row) for " + o.data);
    CsvOptions csv;
    csv.weights_column = o.weights_column;
    csv.labels_column = o.labels_column;
    Dataset data;  // every rank reads all the rows; a failure on one stops them all
    world().all_or_none([&] { data = read_csv(o.data, csv); });  // IoError when a named column is missing
    if (data.labels)
        for (std::size_t i = 0; i < data.rows(); ++i)
            if ((*data.labels)(i, 0) < 0)
                throw ValueError("train: " + o.data + ": row " + std::to_string(i + 1) +
                                 " has no label; --flow cnf needs a class for every row");
    DistributionPtr model = build_cnf(o, data);
    warn_if_generic_blas(o.quiet);
    auto& flow = static_cast<ContinuousFlow&>(*model);
    const std::size_t parameters = model->parameters().scalar_count();
    if (!o.quiet)
        std::cerr << "train: cnf (" << o.dynamics << " dynamics, " << o.base << " base, " << o.trace << " trace), "
                  << parameters << " parameters, " << data.rows() << " rows of " << data.dims() << " columns"
                  << sharded_summary(o) << "\n";
    const Array* weights = data.weights ? &*data.weights : nullptr;
    // Across ranks every rank holds all the rows (the base comes from their moments or classes) and
    // trains on its shard of them (fit_replicated).
    FitOptions fit_options = fit_options_of(o);
    fit_options.communicator = sharded_communicator(o);
    FitReport report;
    if (flow.classes().empty()) {
        WeightedNll nll;
        report = fit_replicated(flow, FitData{.x = data.x, .weights = weights}, fit_options, nll);
    } else {
        CnfClassNll by_class;  // each training row scored by its class's component
        report = fit_replicated(flow, FitData{.x = data.x, .weights = weights, .labels = &*data.labels}, fit_options, by_class);
    }
    if (report.diverged) throw std::runtime_error("train: " + report.message + "; no model saved");
    if (world().rank() != 0) return;  // rank 0 writes the model file

    nlohmann::json summary = report_json(report, parameters);
    nlohmann::json options = options_json(o);
    options["hidden"] = flow.dynamics().config().at("hidden");
    options.update({{"dynamics", o.dynamics}, {"base", o.base}, {"trace", o.trace}, {"noise", o.noise},
                    {"method", o.method}, {"rtol", o.rtol}, {"atol", o.atol}, {"time", o.time},
                    {"labels_column", o.labels_column.empty() ? nlohmann::json(nullptr) : nlohmann::json(o.labels_column)}});
    if (o.dynamics == "planar") options["width"] = o.width;
    if (o.dynamics == "mlp") options["activation"] = o.activation;
    if (!flow.classes().empty()) summary["classes"] = flow.classes();
    save_and_summarise(o, *model, data, options, summary);
}

// Data-parallel training (Note [data-parallel fit] in flows/training/data_parallel.hpp): under
// mpirun every rank reads only its shard of the file's rows (count_csv_rows, then read_csv of its
// rows), fits with the others, and rank 0 alone prints progress and writes the model file. A
// failure on any rank (a bad row names its file:line) is thrown on every rank.
bool runs_sharded(const TrainOptions& o) { return world().size() > 1 || o.deterministic_sum; }

void check_sharded_options(const TrainOptions& o) {
    const Communicator& comm = world();
    const bool spread = o.flow == "pnf" || o.flow == "mixture";  // whole pieces or runs per rank
    if (spread && o.deterministic_sum)
        throw ValueError("train: --deterministic-sum is for the kinds whose rows are shared out (maf, realnvp, nsf, "
                         "nsf-coupling, cnf, vmonf, f4f); --flow " + o.flow + " gives each rank whole " +
                         (o.flow == "pnf" ? "pieces" : "runs") + ", which is the serial model already");
    if (o.sum_blocks < comm.size())
        throw ValueError("train: " + std::to_string(comm.size()) + " ranks need --sum-blocks of at least " +
                         std::to_string(comm.size()) + ", got " + std::to_string(o.sum_blocks));
}

// This rank's rows of the file and where they sit among all of them.
Dataset read_shard(const TrainOptions& o, const CsvOptions& given, RowShard& shard) {
    Communicator& comm = world();
    std::size_t total = 0;
    comm.all_or_none([&] { total = count_csv_rows(o.data); });
    shard = shard_rows(total, o.sum_blocks, comm.rank(), comm.size());
    CsvOptions csv = given;
    csv.first_row = shard.first;
    csv.row_count = shard.rows;
    Dataset data;
    comm.all_or_none([&] { data = read_csv(o.data, csv); });
    return data;
}

void run_train(const TrainOptions& given) {
    check_options(given);
    TrainOptions o = given;  // a preset fills in what was not given
    const bool sharded = runs_sharded(o);
    if (sharded) {
        check_sharded_options(o);
        if (world().rank() != 0) o.quiet = true;  // progress from rank 0 only
    }
    if (o.flow == "cnf") return run_train_cnf(o);
    if (o.flow == "mixture") return run_train_mixture(o);
    if (o.flow == "vmonf") return run_train_vmonf(o);
    if (o.flow == "f4f") return run_train_f4f(o);
    CsvOptions csv;
    csv.weights_column = o.weights_column;
    if (o.flow == "pnf") {  // every rank clusters all the rows; the pieces are spread over the ranks
        Dataset all;
        world().all_or_none([&] { all = read_csv(o.data, csv); });
        return run_train_piecewise(o, all);
    }
    RowShard shard;
    Dataset data = sharded ? read_shard(o, csv, shard) : read_csv(o.data, csv);  // IoError when the weights column is missing
    if (!sharded) shard = {0, data.rows(), data.rows()};
    // A conditional flow: the condition column is the context, not data.
    const bool conditional = !o.condition_column.empty();
    const Array condition = conditional ? take_column("train", data, o.condition_column, o.data) : Array();
    DistributionPtr model = build_flow(o, data, conditional ? 1 : 0, shard, sharded);
    warn_if_generic_blas(o.quiet);
    const std::size_t parameters = model->parameters().scalar_count();
    if (!o.quiet) {
        std::cerr << "train: " << o.flow << " flow, " << parameters << " parameters, " << shard.total << " rows of "
                  << data.dims() << " columns";
        std::cerr << sharded_summary(o) << "\n";
    }

    FitOptions fit_options = fit_options_of(o);
    FitData fit_data{data.x, data.weights ? &*data.weights : nullptr, conditional ? &condition : nullptr};
    if (sharded) {
        fit_options.communicator = &world();
        fit_data.first_row = shard.first;
        fit_data.total_rows = shard.total;
    }
    WeightedNll nll;
    const FitReport report = fit(*model, fit_data, fit_options, nll);
    if (report.diverged) throw std::runtime_error("train: " + report.message + "; no model saved");
    if (world().rank() != 0) return;  // rank 0 writes the model file

    nlohmann::json options = options_json(o);
    options["condition_column"] = conditional ? nlohmann::json(o.condition_column) : nlohmann::json(nullptr);
    save_and_summarise(o, *model, data, options, report_json(report, parameters),
                       conditional ? nlohmann::json{{"condition_column", o.condition_column}} : nlohmann::json(nullptr),
                       shard.total);
}

}  // namespace
}  // namespace flowtape::app::train

namespace flowtape::app {

using train::TrainOptions;

Command add_train(CLI::App& app) {
    auto o = std::make_shared<TrainOptions>();
    CLI::App* sub = app.add_subcommand("train", "Fit a flow to the rows of a CSV file and save it as a model file");
    sub->add_option("--flow", o->flow,
                    "Flow kind: maf, realnvp, nsf (autoregressive splines), nsf-coupling, pnf (piecewise MAF), cnf "
                    "(continuous), mixture (a mixture of K flows), vmonf (a variational mixture of K flows)")
        ->capture_default_str();
    sub->add_option("--data", o->data, "CSV file of training rows (every column but the weights is data)")->required();
    sub->add_option("--out", o->out, "Model file to write (JSON)")->required();
    sub->add_option("--layers", o->layers, "Number of flow layers")->capture_default_str()
        ->check(unsigned_integer());
    sub->add_option("--hidden", o->hidden, "Hidden layer sizes of each conditioner, comma separated")
        ->capture_default_str();
    sub->add_option("--bins", o->bins, "Spline bins (nsf, nsf-coupling)")->capture_default_str()
        ->check(unsigned_integer());
    sub->add_option("--tail-bound", o->tail_bound, "Splines act on [-B, B], identity outside")->capture_default_str();
    sub->add_option("--epochs", o->epochs, "Maximum passes over the training rows")->capture_default_str()
        ->check(unsigned_integer());
    sub->add_option("--batch", o->batch, "Rows per Adam step")->capture_default_str()
        ->check(unsigned_integer());
    sub->add_option("--lr", o->lr, "Adam learning rate")->capture_default_str();
    sub->add_option("--patience", o->patience, "Epochs without improvement before stopping (default 2% of epochs)")
        ->check(unsigned_integer());
    sub->add_option("--val-fraction", o->val_fraction, "Share of rows held out for validation")->capture_default_str();
    sub->add_option("--lr-drops", o->lr_drops,
                    "At a plateau, restore the best epoch and lower the learning rate this many times before stopping")
        ->capture_default_str();
    sub->add_option("--lr-drop-factor", o->lr_drop_factor, "Learning-rate factor of each drop, in (0, 1)")
        ->capture_default_str();
    sub->add_option("--weights-column", o->weights_column, "Column of per-row weights (not data)");
    sub->add_option("--seed", o->seed, "Seed of the initial weights, the split and the shuffles")->capture_default_str()
        ->check(unsigned_integer());
    sub->add_option("--cluster", o->cluster,
                    "pnf: clustering algorithm (kmeans, minibatch-kmeans, meanshift, birch, agglomerative, spectral, gmm)")
        ->capture_default_str();
    sub->add_option("--k", o->k, "pnf: number of clusters, or auto (best silhouette over --k-min..--k-max)")
        ->capture_default_str();
    sub->add_option("--k-min", o->k_min, "pnf: smallest k tried by --k auto")->capture_default_str()
        ->check(unsigned_integer());
    sub->add_option("--k-max", o->k_max, "pnf: largest k tried by --k auto")->capture_default_str()
        ->check(unsigned_integer());
    sub->add_option("--threads", o->threads, "pnf: pieces trained at once; mixture: runs trained at once")->capture_default_str()
        ->check(unsigned_integer());
    sub->add_option("--dynamics", o->dynamics, "cnf: vector field, mlp (time concatenated) or planar (hypernetwork)")
        ->capture_default_str();
    sub->add_option("--activation", o->activation, "cnf, mlp dynamics: tanh or softplus")->capture_default_str();
    sub->add_option("--width", o->width, "cnf, planar dynamics: planar units")->capture_default_str()
        ->check(unsigned_integer());
    sub->add_option("--base", o->base,
                    "cnf: gaussian (at the data mean) or gmm (a component per class); mixture: fixed (default) or learned")
        ->capture_default_str();
    sub->add_option("--labels-column", o->labels_column,
                    "cnf, mixture, vmonf: column of integer class labels (not data; for mixture, K and the summary's metrics; for vmonf, semi-supervised training, empty where a row has none)");
    sub->add_option("--trace", o->trace, "cnf: exact or hutchinson (training only; evaluation is exact)")
        ->capture_default_str();
    sub->add_option("--noise", o->noise, "cnf: Hutchinson noise, rademacher or gaussian")->capture_default_str();
    sub->add_option("--rtol", o->rtol, "cnf: ODE relative tolerance")->capture_default_str();
    sub->add_option("--atol", o->atol, "cnf: ODE absolute tolerance")->capture_default_str();
    sub->add_option("--time", o->time, "cnf: integration time T")->capture_default_str();
    sub->add_option("--method", o->method, "cnf: gradients by adjoint or backprop")->capture_default_str();
    sub->add_option("--components", o->components, "mixture, vmonf: K, the number of flows (default: the classes of --labels-column)")
        ->check(unsigned_integer());
    sub->add_option("--component", o->component, "mixture, vmonf: the flow of each component, maf, realnvp or nsf (default maf; vmonf realnvp)")
        ->capture_default_str();
    sub->add_option("--base-init", o->base_init, "mixture: base means uniform in [0,1) (the paper) or kmeans centroids")
        ->capture_default_str();
    sub->add_option("--base-scale", o->base_scale, "mixture: the bases' standard deviation")->capture_default_str();
    sub->add_option("--scale", o->scale, "mixture: minmax (each column to [0,1], kept in the model) or none; vmonf: standard (the default) or none")
        ->capture_default_str();
    sub->add_option("--runs", o->runs, "mixture: training runs from seeds seed, seed+1, ...; the lowest loss is kept")
        ->capture_default_str()
        ->check(unsigned_integer());
    sub->add_option("--pca", o->pca, "mixture: train on the first P principal components (0: none)")
        ->capture_default_str()
        ->check(unsigned_integer());
    sub->add_option("--component-threads", o->component_threads, "mixture, vmonf: components evaluated at once")
        ->capture_default_str()
        ->check(unsigned_integer());
    sub->add_option("--classifier-hidden", o->classifier_hidden, "vmonf: hidden sizes of the classifier q(c|x)")
        ->capture_default_str();
    sub->add_option("--classifier-activation", o->classifier_activation, "vmonf: the classifier's activation, relu or tanh")
        ->capture_default_str();
    sub->add_option("--temperature", o->temperature, "vmonf: initial softmax temperature T0 (> 0)")->capture_default_str();
    sub->add_option("--temperature-decay", o->temperature_decay, "vmonf: T = max(Tmin, T0 gamma^epoch), gamma in (0, 1]")
        ->capture_default_str();
    sub->add_option("--temperature-min", o->temperature_min, "vmonf: the temperature's floor Tmin (> 0)")
        ->capture_default_str();
    sub->add_option("--pretrain-epochs", o->pretrain_epochs,
                    "vmonf: epochs on the labelled rows first (with --labels-column)")
        ->capture_default_str()
        ->check(unsigned_integer());
    sub->add_option("--prior", o->prior, "vmonf: the prior p(c), K positive weights separated by commas (default uniform)");
    sub->add_option("--init", o->init,
                    "vmonf: kmeans (k-means labels pretrain the model first; the default without --labels-column) or uniform (random start, the paper)")
        ->capture_default_str();
    sub->add_option("--condition-column", o->condition_column,
                    "maf, realnvp, nsf, nsf-coupling: a column of conditions (the flow's context, not data); "
                    "f4f: the condition to move rows along");
    sub->add_option("--base-left", o->base_left, "f4f: the trained flow of the left side X (the target of --data's rows)");
    sub->add_option("--base-right", o->base_right, "f4f: the trained flow of the right side Y (both directions train)");
    sub->add_option("--data-left", o->data_left, "f4f: CSV rows of the left side X (needs --base-right)");
    sub->add_option("--penalty", o->penalty, "f4f: distance penalty none, l1 or l2")->capture_default_str();
    sub->add_option("--penalty-weight", o->penalty_weight, "f4f: the penalty's weight (w0 when annealed)")->capture_default_str();
    sub->add_flag("--penalty-anneal", o->penalty_anneal, "f4f: cosine-anneal the penalty weight from w0 to --penalty-weight-min");
    sub->add_option("--penalty-weight-min", o->penalty_weight_min, "f4f: the annealed weight's end")->capture_default_str();
    sub->add_option("--condition-mode", o->condition_mode, "f4f: the top flow's context, delta (c_target - c_in) or concat")
        ->capture_default_str();
    sub->add_option("--clip-norm", o->clip_norm, "f4f: gradient norm clip (0: off)")->capture_default_str();
    sub->add_option("--preset", o->preset,
                    "maf, pnf: margarine (the piecewise-flows paper's code: 6 MADEs [50, 50] tanh, random orders, columns "
                    "mapped to normals on widened bounds, full-batch steps, 20000 epochs, patience 2%; for pnf per piece)");
    sub->add_flag("--deterministic-sum", o->deterministic_sum,
                  "Add the gradients of fixed blocks of rows in block order: the same model for any number of MPI "
                  "ranks (and without mpirun); costs up to --sum-blocks smaller passes per step");
    sub->add_option("--sum-blocks", o->sum_blocks,
                    "Summation blocks of rows: each MPI rank holds whole blocks, so at least the number of ranks")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    sub->add_flag("--quiet", o->quiet, "No progress on stderr");
    return {sub, [o, sub] {
                o->tail_bound_given = sub->count("--tail-bound") > 0;
                o->hidden_given = sub->count("--hidden") > 0;
                o->layers_given = sub->count("--layers") > 0;
                o->epochs_given = sub->count("--epochs") > 0;
                o->batch_given = sub->count("--batch") > 0;
                o->base_given = sub->count("--base") > 0;
                o->val_fraction_given = sub->count("--val-fraction") > 0;
                o->component_given = sub->count("--component") > 0;
                o->scale_given = sub->count("--scale") > 0;
                o->lr_given = sub->count("--lr") > 0;
                train::run_train(*o);
            }};
}

}  // namespace flowtape::app
