// `flowtape sample --model M.json -n N`: N draws from a saved model, as CSV on stdout under the
// names of the columns the model was trained on. The draws are a deterministic function of --seed.
// For a model holding a mixture (train --flow mixture) a last column, `component`, says which
// component each draw came from (the draws themselves are the same as without it). A model trained
// on principal components (train --pca) draws in their space; its draws are mapped back to the
// data's columns (the reconstruction from P components).
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>

#include "app/cli_support.hpp"
#include "app/commands.hpp"
#include "core/error.hpp"
#include "data/csv.hpp"
#include "flows/mixtures/flow_mixture.hpp"

namespace flowtape::app {
namespace {

struct SampleOptions {
    std::string model;
    std::size_t n = 1000;
    std::uint64_t seed = 0;
};

void run_sample(const SampleOptions& o) {
    if (o.n == 0) throw ValueError("sample: -n must be at least 1, got 0");
    const LoadedModel loaded = load_model_with_columns("sample", o.model);
    if (mixture_inside(*loaded.model)) {
        const ComponentDraws draws = sample_components(*loaded.model, o.n, o.seed);
        IndexArray component = IndexArray::from_shape({o.n, 1});
        for (std::size_t i = 0; i < o.n; ++i) component(i, 0) = static_cast<std::int64_t>(draws.component[i]);
        write_csv(std::cout, to_data_columns(loaded, draws.x), loaded.columns, component, "component");
    } else {
        write_csv(std::cout, to_data_columns(loaded, sample_rows(*loaded.model, o.n, o.seed)), loaded.columns);  // NonFiniteError if not finite
    }
    std::cout.flush();
    if (!std::cout) throw IoError("sample: could not write to stdout");
}

}  // namespace

Command add_sample(CLI::App& app) {
    auto o = std::make_shared<SampleOptions>();
    CLI::App* sub = app.add_subcommand("sample", "Draw samples from a model file; CSV to stdout");
    sub->add_option("--model", o->model, "Model file written by flowtape train")->required();
    sub->add_option("-n", o->n, "Number of samples")->capture_default_str()
        ->check(unsigned_integer());
    sub->add_option("--seed", o->seed, "Seed of the draws")->capture_default_str()
        ->check(unsigned_integer());
    return {sub, [o] { run_sample(*o); }};
}

}  // namespace flowtape::app
