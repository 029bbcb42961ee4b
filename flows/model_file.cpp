// Model files: arrays to and from JSON by name, the atomic write, and the checks on load.
#include "flows/model_file.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "flows/registry.hpp"

namespace flowtape {
namespace {

using nlohmann::json;

// ---- writing ----

json array_to_json(const std::string& kind, const std::string& name, const Array& a) {
    json values = json::array();
    for (real v : a) {
        if (!std::isfinite(v))
            throw NonFiniteError("save_model: " + kind + " '" + name + "' " + shape_string(shape_of(a)) +
                                 " holds a non-finite value (" + std::to_string(v) + ")");
        values.push_back(v);
    }
    return {{"shape", {a.shape()[0], a.shape()[1]}}, {"values", std::move(values)}};
}

json list_to_json(const std::string& kind, const ParameterList& list) {
    json out = json::object();
    for (const NamedParameter& p : list.items()) out[p.name] = array_to_json(kind, p.name, p.parameter->value());
    return out;
}

std::string system_error() { return std::strerror(errno); }

// ---- reading ----

[[noreturn]] void fail(const std::string& where, const std::string& field, const std::string& what) {
    throw IoError(where + ": " + field + ": " + what);
}

std::string shape_text(const json& j) { return j.dump().substr(0, 80); }

// Copies the entry `name` of the file's section into `target`, checking its shape and values.
void read_array(const std::string& where, const std::string& field, const json& entry, Parameter& target) {
    if (!entry.is_object()) fail(where, field, "expected an object with \"shape\" and \"values\", got " + shape_text(entry));
    if (!entry.contains("shape")) fail(where, field, "missing \"shape\"");
    if (!entry.contains("values")) fail(where, field, "missing \"values\"");
    const json& shape = entry["shape"];
    const Shape expected = target.shape();
    const bool shape_ok = shape.is_array() && shape.size() == 2 && shape[0].is_number_unsigned() &&
                          shape[1].is_number_unsigned();
    if (!shape_ok) fail(where, field + ".shape", "expected [rows, cols], got " + shape_text(shape));
    const Shape found{shape[0].get<std::size_t>(), shape[1].get<std::size_t>()};
    if (found != expected)
        fail(where, field + ".shape", shape_string(found) + " does not match the model's " + shape_string(expected));
    const json& values = entry["values"];
    if (!values.is_array()) fail(where, field + ".values", "expected an array, got " + shape_text(values));
    if (values.size() != target.size())
        fail(where, field + ".values", "has " + std::to_string(values.size()) + " numbers, the shape " +
                                           shape_string(expected) + " needs " + std::to_string(target.size()));
    Array& dst = target.value();
    for (std::size_t k = 0; k < values.size(); ++k) {
        const json& v = values[k];
        if (!v.is_number()) fail(where, field + ".values[" + std::to_string(k) + "]", "not a number: " + v.dump());
        const real x = v.get<real>();
        if (!std::isfinite(x))
            fail(where, field + ".values[" + std::to_string(k) + "]", "not finite: " + std::to_string(x));
        dst.data()[k] = x;
    }
}

// Fills every entry of `list` from the object `section` of the file; rejects names it does not know.
void read_section(const std::string& where, const json& document, const char* section, const ParameterList& list) {
    if (!document.contains(section)) fail(where, section, "missing");
    const json& entries = document[section];
    if (!entries.is_object()) fail(where, section, "expected an object, got " + shape_text(entries));
    for (const NamedParameter& p : list.items()) {
        const std::string field = std::string(section) + "." + p.name;
        if (!entries.contains(p.name)) fail(where, field, "missing (the model has it)");
        read_array(where, field, entries[p.name], *p.parameter);
    }
    std::unordered_set<std::string> known;
    for (const NamedParameter& p : list.items()) known.insert(p.name);
    for (const auto& item : entries.items()) {
        if (known.count(item.key()) == 0)
            fail(where, std::string(section) + "." + item.key(),
                 "unknown name (the model has " + std::to_string(list.size()) + " entries here)");
    }
}

// Note [reading piecewise files]: before the Mixture distribution, a piecewise flow was saved as
// kind "piecewise" with "pieces" and "weights" and its parameters under "pieces.<k>.". It is the
// Mixture with fixed weights whose components are the pieces, so such a file is read as one: the
// config and the names are rewritten, the numbers are untouched. (Top-level piecewise models only:
// nothing ever saved one inside another model.)
json upgrade_piecewise(const json& document) {
    const json& model = document["model"];
    if (!model.is_object() || model.value("kind", "") != "piecewise") return document;
    json out = document;
    out["model"] = {{"kind", "mixture"}, {"components", model.value("pieces", json())},
                    {"weights", model.value("weights", json())}, {"learn_weights", false}};
    for (const char* section : {"parameters", "buffers"}) {
        if (!out.contains(section) || !out[section].is_object()) continue;
        json renamed = json::object();
        for (const auto& item : out[section].items()) {
            const std::string& name = item.key();
            const bool piece = name.rfind("pieces.", 0) == 0;
            renamed[piece ? "components." + name.substr(7) : name] = item.value();
        }
        out[section] = renamed;
    }
    return out;
}

}  // namespace

nlohmann::json model_to_json(Distribution& model, const nlohmann::json& extra) {
    ParameterList buffers;
    model.collect_buffers(buffers, "");
    return {{"format", kModelFormat},         {"version", kModelVersion},
            {"model", model.config()},        {"parameters", list_to_json("parameter", model.parameters())},
            {"buffers", list_to_json("buffer", buffers)}, {"extra", extra}};
}

void save_model(Distribution& model, const std::string& path, const nlohmann::json& extra) {
    write_text_atomically(path, model_to_json(model, extra).dump() + "\n", "save_model");
}

DistributionPtr model_from_json(const nlohmann::json& document, const std::string& where, nlohmann::json* extra) {
    if (!document.is_object()) fail(where, "document", "expected a JSON object, got " + shape_text(document));
    if (!document.contains("format")) fail(where, "format", "missing (not a flowtape model file)");
    if (document["format"] != kModelFormat)
        fail(where, "format", document["format"].dump() + ", expected \"" + kModelFormat + "\"");
    if (!document.contains("version")) fail(where, "version", "missing");
    if (!document["version"].is_number_integer() || document["version"].get<long long>() != kModelVersion)
        fail(where, "version", document["version"].dump() + " is not supported (this build reads version " +
                                   std::to_string(kModelVersion) + ")");
    if (!document.contains("model")) fail(where, "model", "missing");
    const json current = upgrade_piecewise(document);
    DistributionPtr model;
    try {
        Rng rng(0);  // fresh parameter values, overwritten below
        model = make_distribution(current["model"], rng);
    } catch (const Error& e) {
        fail(where, "model", e.what());
    } catch (const nlohmann::json::exception& e) {
        fail(where, "model", std::string("bad config: ") + e.what());
    }
    read_section(where, current, "parameters", model->parameters());
    ParameterList buffers;
    model->collect_buffers(buffers, "");
    read_section(where, current, "buffers", buffers);
    model->set_training(false);
    if (extra) *extra = current.contains("extra") ? current["extra"] : nlohmann::json();
    return model;
}

DistributionPtr load_model(const std::string& path, nlohmann::json* extra) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError(path + ": cannot open: " + system_error());
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw IoError(path + ": cannot read: " + system_error());
    nlohmann::json document;
    try {
        document = nlohmann::json::parse(text.str());
    } catch (const nlohmann::json::exception& e) {  // parse errors, numbers out of range
        throw IoError(path + ": not valid JSON: " + e.what());
    }
    return model_from_json(document, path, extra);
}

}  // namespace flowtape
