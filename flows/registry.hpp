// Rebuilding transforms and distributions from their JSON config (for model files).
//
// Every kind has one line in the tables of registry.cpp. Parameters are created with fresh values
// from `rng`; a model file then overwrites them by name.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "flows/distribution.hpp"
#include "flows/transform.hpp"

namespace flowtape {

TransformPtr make_transform(const nlohmann::json& config, Rng& rng);
DistributionPtr make_distribution(const nlohmann::json& config, Rng& rng);

}  // namespace flowtape
