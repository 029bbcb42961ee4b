// `flowtape logprob --model M.json --data F.csv`: log p(x) of a saved model at every row of a CSV
// file, as a CSV column "logp" on stdout (one value per data row, in order). The model's columns
// are picked from the file by name, so a file with extra columns (labels, weights) works; a file
// with other names works when it has exactly as many columns as the model has dimensions.
// A model trained on principal components (train --pca) scores the projected rows: the density is
// that of the P components, not of the D columns.
#include <cmath>
#include <iostream>
#include <memory>
#include <string>

#include "app/cli_support.hpp"
#include "app/commands.hpp"
#include "core/error.hpp"
#include "data/csv.hpp"

namespace flowtape::app {
namespace {

struct LogprobOptions {
    std::string model;
    std::string data;
};

void run_logprob(const LogprobOptions& o) {
    const LoadedModel loaded = load_model_with_columns("logprob", o.model);
    const Array x = model_input(loaded, read_model_data("logprob", o.data, loaded));
    const Array lp = log_prob_rows(*loaded.model, x);
    for (std::size_t i = 0; i < lp.shape()[0]; ++i)
        if (!std::isfinite(lp(i, 0)))
            throw NonFiniteError("logprob: log p is " + std::to_string(lp(i, 0)) + " at data row " + std::to_string(i + 1));
    write_csv(std::cout, lp, {"logp"});
    std::cout.flush();
    if (!std::cout) throw IoError("logprob: could not write to stdout");
}

}  // namespace

Command add_logprob(CLI::App& app) {
    auto o = std::make_shared<LogprobOptions>();
    CLI::App* sub = app.add_subcommand("logprob", "Log-density of a model file at each row of a CSV file; CSV to stdout");
    sub->add_option("--model", o->model, "Model file written by flowtape train")->required();
    sub->add_option("--data", o->data, "CSV file of points")->required();
    return {sub, [o] { run_logprob(*o); }};
}

}  // namespace flowtape::app
