// `flowtape sample --model M.json -n N`: N draws from a saved model, as CSV on stdout under the
// names of the columns the model was trained on. The draws are a deterministic function of --seed.
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>

#include "app/cli_support.hpp"
#include "app/commands.hpp"
#include "core/error.hpp"
#include "data/csv.hpp"

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
    const Array x = sample_rows(*loaded.model, o.n, o.seed);
    write_csv(std::cout, x, loaded.columns);  // NonFiniteError if a draw is not finite
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
