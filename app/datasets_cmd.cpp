// `flowtape datasets NAME -n N`: draws N rows of a built-in 2-D data set (data/datasets.hpp) and
// writes them to stdout as CSV under the header x0,x1 (and a label column with --labels, for the
// sets that have classes). The rows are a deterministic function of the seed, so a data file can be
// regenerated exactly from its command line.
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "app/cli_support.hpp"
#include "app/commands.hpp"
#include "core/error.hpp"
#include "core/random.hpp"
#include "data/csv.hpp"
#include "data/datasets.hpp"

namespace flowtape::app {
namespace {

struct DatasetsOptions {
    std::string name;
    std::size_t n = 1000;
    std::uint64_t seed = 0;
    bool labels = false;
};

std::string names_list() {
    std::string out;
    for (const std::string& name : dataset_names()) out += (out.empty() ? "" : ", ") + name;
    return out;
}

void run_datasets(const DatasetsOptions& o) {
    if (o.n == 0) throw ValueError("datasets: -n must be at least 1, got 0");
    // Checked before drawing so the message for --labels names the set, not a missing column.
    const std::size_t classes = dataset_classes(o.name);  // ValueError listing the names if unknown
    if (o.labels && classes == 0)
        throw ValueError("datasets: '" + o.name + "' has no labels (sets with labels: see docs/datasets.md)");
    Rng rng(o.seed);
    const Dataset data = make_dataset(o.name, o.n, rng);
    std::optional<IndexArray> labels;
    if (o.labels) labels = data.labels;
    write_csv(std::cout, data.x, data.columns, labels);
    std::cout.flush();
    if (!std::cout) throw IoError("datasets: could not write to stdout");
}

}  // namespace

Command add_datasets(CLI::App& app) {
    auto options = std::make_shared<DatasetsOptions>();
    CLI::App* sub = app.add_subcommand("datasets", "Write N rows of a built-in 2-D data set as CSV to stdout");
    sub->add_option("name", options->name, "The data set, one of: " + names_list())->required();
    sub->add_option("-n", options->n, "Number of rows")->capture_default_str()
        ->check(unsigned_integer());
    sub->add_option("--seed", options->seed, "Seed of the random draws")->capture_default_str()
        ->check(unsigned_integer());
    sub->add_flag("--labels", options->labels, "Add the class label as a last column 'label'");
    return {sub, [options] { run_datasets(*options); }};
}

}  // namespace flowtape::app
