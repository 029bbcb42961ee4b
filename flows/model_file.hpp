// Model files: a whole distribution (architecture and every parameter) as versioned JSON.
//
//   {"format": "flowtape-model", "version": 1,
//    "model": <config()>,
//    "parameters": {"<name>": {"shape": [rows, cols], "values": [row-major numbers]}, ...},
//    "buffers": {... the same for non-trainable state ...},
//    "extra": <anything the caller stores: options, data columns, ...>}
//
// Numbers are written by nlohmann::json, which prints the shortest decimal that reads back as the
// same double, so load(save(m)) has bit-identical parameters and log_prob. Files are written to a
// temporary file in the same directory, flushed to disk and renamed into place, so a reader never
// sees half a file. Loading rebuilds the architecture through the registry (make_distribution) and
// then checks every parameter and buffer by name: present, the right shape, finite values, and no
// names the model does not have. Every failure is an IoError "<path>: <field>: <what is wrong>".
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "flows/distribution.hpp"

namespace flowtape {

inline constexpr const char* kModelFormat = "flowtape-model";
inline constexpr int kModelVersion = 1;

// Writes `model` to `path` (atomically). IoError if the file cannot be written; NonFiniteError
// naming the parameter if a value is NaN or infinite (JSON cannot hold it).
void save_model(Distribution& model, const std::string& path, const nlohmann::json& extra = {});

// Reads a model written by save_model, in evaluation mode. If `extra` is given it receives the
// file's "extra" value (null if there is none).
DistributionPtr load_model(const std::string& path, nlohmann::json* extra = nullptr);

// The same two steps without a file, for embedding a model in other JSON. `where` prefixes error
// messages (a path).
nlohmann::json model_to_json(Distribution& model, const nlohmann::json& extra = {});
DistributionPtr model_from_json(const nlohmann::json& document, const std::string& where, nlohmann::json* extra = nullptr);

}  // namespace flowtape
