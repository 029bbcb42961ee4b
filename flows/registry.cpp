#include "flows/registry.hpp"

#include <functional>
#include <map>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "flows/transforms/actnorm.hpp"
#include "flows/transforms/batchnorm.hpp"
#include "flows/continuous/cnf.hpp"
#include "flows/flow.hpp"
#include "flows/distributions/gaussian.hpp"
#include "flows/distributions/gaussian_mixture.hpp"
#include "flows/transforms/maf.hpp"
#include "flows/transforms/nsf.hpp"
#include "flows/transforms/permutation.hpp"
#include "flows/mixtures/mixture.hpp"
#include "flows/mixtures/vmonf.hpp"
#include "flows/transforms/standardize.hpp"
#include "flows/transforms/bounded_to_normal.hpp"
#include "flows/transport/transport_flow.hpp"
#include "flows/transforms/affine_coupling.hpp"
#include "flows/distributions/resampled_base.hpp"

namespace flowtape {
namespace {

using TransformFactory = std::function<TransformPtr(const nlohmann::json&, Rng&)>;
using DistributionFactory = std::function<DistributionPtr(const nlohmann::json&, Rng&)>;

std::string kind_of(const nlohmann::json& config, const char* who) {
    if (!config.is_object() || !config.contains("kind") || !config["kind"].is_string())
        throw IoError(std::string(who) + ": the config has no \"kind\" string: " + config.dump().substr(0, 120));
    return config["kind"].get<std::string>();
}

const std::map<std::string, TransformFactory>& transform_table() {
    static const std::map<std::string, TransformFactory> table = {
        // One line per transform kind.
        {"maf", MafTransform::from_config},
        {"realnvp_coupling", AffineCoupling::from_config},
        {"permutation", Permutation::from_config},
        {"standardize", Standardize::from_config},
        {"bounded_to_normal", BoundedToNormal::from_config},
        {"actnorm", ActNorm::from_config},
        {"batchnorm", BatchNorm::from_config},
        {"nsf", SplineAutoregressive::from_config},
        {"nsf_coupling", SplineCoupling::from_config},
    };
    return table;
}

DistributionPtr make_flow(const nlohmann::json& c, Rng& rng) {
    DistributionPtr base = make_distribution(c.at("base"), rng);
    std::vector<TransformPtr> transforms;
    for (const auto& t : c.at("transforms")) transforms.push_back(make_transform(t, rng));
    return std::make_unique<Flow>(std::move(base), std::move(transforms));
}

const std::map<std::string, DistributionFactory>& distribution_table() {
    static const std::map<std::string, DistributionFactory> table = {
        {"flow", make_flow},
        {"standard_normal",
         [](const nlohmann::json& c, Rng&) { return std::make_unique<StandardNormal>(c.at("dim").get<std::size_t>()); }},
        {"gmm", make_gaussian_mixture},
        {"cnf", ContinuousFlow::from_config},
        {"mixture", Mixture::from_config},
        {"vmonf", VariationalMixture::from_config},
        {"f4f", TransportFlow::from_config},
        {"resampled_gaussian", ResampledGaussian::from_config},
        {"diagonal_gaussian",
         [](const nlohmann::json& c, Rng&) {
             const std::size_t d = c.at("dim").get<std::size_t>();
             return std::make_unique<DiagonalGaussian>(xt::zeros<real>({std::size_t(1), d}),
                                                       xt::zeros<real>({std::size_t(1), d}), c.at("learnable").get<bool>());
         }},
    };
    return table;
}

template <class Table>
auto build(const Table& table, const nlohmann::json& config, Rng& rng, const char* who) {
    const std::string kind = kind_of(config, who);
    const auto it = table.find(kind);
    if (it == table.end()) throw IoError(std::string(who) + ": unknown kind \"" + kind + "\"");
    try {
        return it->second(config, rng);
    } catch (const nlohmann::json::exception& e) {
        throw IoError(std::string(who) + ": bad config for \"" + kind + "\": " + e.what());
    }
}

}  // namespace

TransformPtr make_transform(const nlohmann::json& config, Rng& rng) {
    return build(transform_table(), config, rng, "make_transform");
}

DistributionPtr make_distribution(const nlohmann::json& config, Rng& rng) {
    return build(distribution_table(), config, rng, "make_distribution");
}

}  // namespace flowtape
