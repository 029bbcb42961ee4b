// `flowtape kl --model M.json --target NAME`: the KL divergence D(q‖p) of a saved 2-D model q to
// one of the three Stimper et al. target densities p (data/targets.hpp), by Monte Carlo over n
// samples of q, printed as JSON with both estimators of flows/training/metrics.hpp:
//   "kl":                  eq. (16) of the piecewise-flows paper, mean of log q − log p with p the
//                          target normalised over its box [−4, 4]² (its log Z by quadrature): an
//                          unbiased estimate of the KL itself;
//   "kl_self_normalised":  as the code released with that paper: both densities normalised over
//                          the samples, which needs p only up to a constant but converges to
//                          KL + log(E_q[p]/E_q[q]), not to the KL, when q ≠ p.
// Each comes with its standard error. Both use the same n samples (the same seed), so their
// difference is not sampling noise.
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "app/cli_support.hpp"
#include "app/commands.hpp"
#include "core/error.hpp"
#include "core/random.hpp"
#include "data/targets.hpp"
#include "flows/training/metrics.hpp"

namespace flowtape::app {
namespace {

struct KlOptions {
    std::string model;
    std::string target;
    std::size_t n = 10000;
    std::uint64_t seed = 0;
};

nlohmann::json estimate_json(const KlEstimate& e, const char* estimator) {
    return {{"value", e.kl.mean}, {"error", e.kl.error}, {"estimator", estimator}};
}

void run_kl(const KlOptions& o) {
    const std::vector<std::string> targets = target_names();
    if (std::find(targets.begin(), targets.end(), o.target) == targets.end() || !has_log_density(o.target))
        throw ValueError("kl: unknown --target '" + o.target + "' (one of: " + join(targets) + ")");
    if (o.n < 2) throw ValueError("kl: -n must be at least 2 to estimate an error, got " + std::to_string(o.n));
    const LoadedModel loaded = load_model_with_columns("kl", o.model);
    refuse_pca("kl", o.model, loaded);
    if (loaded.model->dim() != 2)
        throw ShapeError("kl: the model in " + o.model + " has dimension " + std::to_string(loaded.model->dim()) +
                         " but the target '" + o.target + "' is 2-D");
    const std::string name = o.target;
    Rng rng_normalised(o.seed);
    const KlEstimate normalised = kl_divergence(
        *loaded.model, [&](const Array& x) { return normalised_log_density(name, x); }, o.n, rng_normalised, false);
    Rng rng_self(o.seed);
    const KlEstimate self = kl_divergence(
        *loaded.model, [&](const Array& x) { return log_density(name, x); }, o.n, rng_self, true);
    const nlohmann::json out{
        {"target", o.target},
        {"n", o.n},
        {"seed", o.seed},
        {"kl", estimate_json(normalised, "eq. 16: mean of log q - log p, p normalised over [-4,4]^2")},
        {"kl_self_normalised",
         estimate_json(self, "self-normalised over the samples (piecewise-flows code); not the KL when q != p")}};
    std::cout << out.dump(2) << '\n';
}

}  // namespace

Command add_kl(CLI::App& app) {
    auto o = std::make_shared<KlOptions>();
    CLI::App* sub = app.add_subcommand("kl", "KL divergence of a 2-D model file to a target density; JSON to stdout");
    sub->add_option("--model", o->model, "Model file written by flowtape train")->required();
    sub->add_option("--target", o->target, "Target: two-moons, circle-of-gaussians, two-rings")->required();
    sub->add_option("-n", o->n, "Number of samples of the model")->capture_default_str()
        ->check(unsigned_integer());
    sub->add_option("--seed", o->seed, "Seed of the samples")->capture_default_str()
        ->check(unsigned_integer());
    return {sub, [o] { run_kl(*o); }};
}

}  // namespace flowtape::app
