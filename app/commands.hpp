// The subcommands of the flowtape command. Each file app/<name>.cpp adds its subcommand to the
// parser and returns how to run it; main.cpp runs the one that was named on the command line.
//
// A command reports failure by throwing: flowtape::ValueError and flowtape::IoError for bad input
// (exit status 2), any other exception for other failures (status 1). Results go to stdout,
// progress and messages to stderr.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace flowtape::app {

struct Command {
    CLI::App* parser;           // the subcommand's options, filled in by the parse
    std::function<void()> run;  // runs it with those options
};

// `flowtape demo`: fit a MADE density to a correlated 2-D Gaussian and compare with its entropy.
Command add_demo(CLI::App& app);

// The subcommands over data sets and model files (app/<name>_cmd.cpp).
// `flowtape datasets NAME -n N`: rows of a built-in 2-D data set as CSV.
Command add_datasets(CLI::App& app);
// `flowtape train --flow KIND --data F.csv --out M.json`: fit a flow and save it.
Command add_train(CLI::App& app);
// `flowtape sample --model M.json -n N`: samples of a model as CSV.
Command add_sample(CLI::App& app);
// `flowtape logprob --model M.json --data F.csv`: log p at each row, CSV column logp.
Command add_logprob(CLI::App& app);
// `flowtape transport --model F.json --data X.csv`: rows moved by a flows-for-flows model, CSV.
Command add_transport(CLI::App& app);
// `flowtape kl --model M.json --target NAME`: KL to a target density, JSON.
Command add_kl(CLI::App& app);
// `flowtape plot --model M.json --out fig.png`: density heatmap next to data or samples.
Command add_plot(CLI::App& app);
// `flowtape cluster --algo ALGO --data F.csv [--k K|auto]`: the rows with a cluster label column.
Command add_cluster(CLI::App& app);
// `flowtape cluster-score --labels a.csv --truth b.csv`: clustering metrics as JSON.
Command add_cluster_score(CLI::App& app);

// `flowtape bench pnf|…`: a paper's experiment (app/bench_cmd.cpp dispatches to the experiments of
// bench/papers/experiments.hpp). argc/argv are kept for the command line printed with the results.
Command add_bench(CLI::App& app, int argc, char** argv);

}  // namespace flowtape::app
