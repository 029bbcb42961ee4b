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
#include "core/error.hpp"
#include "core/random.hpp"
#include "data/csv.hpp"
#include "flows/builders.hpp"
#include "flows/model_file.hpp"
#include "flows/train.hpp"

namespace flowtape::app {
namespace {

struct TrainOptions {
    std::string flow = "maf";
    std::string data;
    std::string out;
    std::size_t layers = 5;
    std::string hidden = "128,128";
    std::size_t bins = 8;
    real tail_bound = 3;
    std::size_t epochs = 200;
    std::size_t batch = 256;
    real lr = 1e-3;
    std::optional<std::size_t> patience;
    real val_fraction = 0.2;
    std::string weights_column;
    std::uint64_t seed = 0;
    bool quiet = false;
};

// Random streams of the command, so that changing one use of randomness leaves the others alone.
enum Stream : std::uint64_t { kWeights = 0 };

const std::vector<std::string>& flow_kinds() {
    static const std::vector<std::string> kinds{"maf", "realnvp", "nsf", "nsf-coupling"};
    return kinds;
}

// "128,128" → {128, 128}; every entry a positive integer.
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

void check_options(const TrainOptions& o) {
    if (std::find(flow_kinds().begin(), flow_kinds().end(), o.flow) == flow_kinds().end())
        throw ValueError("train: unknown --flow '" + o.flow + "' (one of: maf, realnvp, nsf, nsf-coupling)");
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
    // Fail before a long fit rather than after it when the model could not be saved.
    const std::filesystem::path out(o.out);
    const std::filesystem::path dir = out.has_parent_path() ? out.parent_path() : std::filesystem::path(".");
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
        throw IoError("train: cannot write " + o.out + ": directory " + dir.string() + " does not exist");
}

DistributionPtr build_flow(const TrainOptions& o, std::size_t dim) {
    FlowSpec spec;
    spec.dim = dim;
    spec.layers = o.layers;
    spec.hidden = parse_hidden(o.hidden);
    spec.bins = o.bins;
    spec.tail_bound = o.tail_bound;
    Rng rng = Rng::stream(o.seed, kWeights);
    if (o.flow == "maf") return make_maf_flow(spec, rng);
    if (o.flow == "realnvp") return make_realnvp_flow(spec, rng);
    if (o.flow == "nsf") return make_nsf_flow(spec, rng);
    return make_nsf_coupling_flow(spec, rng);
}

nlohmann::json options_json(const TrainOptions& o) {
    nlohmann::json j{{"flow", o.flow},          {"data", o.data},   {"layers", o.layers},
                     {"hidden", parse_hidden(o.hidden)}, {"bins", o.bins}, {"tail_bound", o.tail_bound},
                     {"epochs", o.epochs},      {"batch", o.batch}, {"lr", o.lr},
                     {"val_fraction", o.val_fraction}, {"seed", o.seed}};
    j["patience"] = o.patience ? nlohmann::json(*o.patience) : nlohmann::json(nullptr);
    j["weights_column"] = o.weights_column.empty() ? nlohmann::json(nullptr) : nlohmann::json(o.weights_column);
    return j;
}

nlohmann::json report_json(const FitReport& r, std::size_t parameters) {
    return {{"epochs", r.epochs_run},
            {"best_epoch", r.best_epoch},
            {"best_val_loss", r.best_val_loss},
            {"stopped_early", r.stopped_early},
            {"seconds", r.seconds},
            {"parameters", parameters},
            {"message", r.message}};
}

void run_train(const TrainOptions& o) {
    check_options(o);
    CsvOptions csv;
    csv.weights_column = o.weights_column;
    const Dataset data = read_csv(o.data, csv);  // IoError when the weights column is missing
    DistributionPtr model = build_flow(o, data.dims());
    const std::size_t parameters = model->parameters().scalar_count();
    if (!o.quiet)
        std::cerr << "train: " << o.flow << " flow, " << parameters << " parameters, " << data.rows() << " rows of "
                  << data.dims() << " columns\n";

    FitOptions fit_options;
    fit_options.epochs = o.epochs;
    fit_options.batch = o.batch;
    fit_options.lr = o.lr;
    fit_options.val_fraction = o.val_fraction;
    fit_options.patience = o.patience;
    fit_options.seed = o.seed;
    fit_options.quiet = o.quiet;
    fit_options.progress = o.quiet ? nullptr : &std::cerr;
    fit_options.progress_every = std::max<std::size_t>(1, o.epochs / 10);
    const FitReport report = fit(*model, data.x, fit_options, data.weights ? &*data.weights : nullptr);
    if (report.diverged) throw std::runtime_error("train: " + report.message + "; no model saved");

    nlohmann::json summary = report_json(report, parameters);
    const nlohmann::json extra{{"columns", data.columns}, {"options", options_json(o)}, {"report", summary}};
    save_model(*model, o.out, extra);
    if (!o.quiet) std::cerr << "train: saved " << o.out << "\n";

    summary["flow"] = o.flow;
    summary["out"] = o.out;
    summary["rows"] = data.rows();
    summary["columns"] = data.columns;
    std::cout << summary.dump(2) << '\n';
}

}  // namespace

Command add_train(CLI::App& app) {
    auto o = std::make_shared<TrainOptions>();
    CLI::App* sub = app.add_subcommand("train", "Fit a flow to the rows of a CSV file and save it as a model file");
    sub->add_option("--flow", o->flow, "Flow kind: maf, realnvp, nsf (autoregressive splines), nsf-coupling")
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
    sub->add_option("--weights-column", o->weights_column, "Column of per-row weights (not data)");
    sub->add_option("--seed", o->seed, "Seed of the initial weights, the split and the shuffles")->capture_default_str()
        ->check(unsigned_integer());
    sub->add_flag("--quiet", o->quiet, "No progress on stderr");
    return {sub, [o] { run_train(*o); }};
}

}  // namespace flowtape::app
