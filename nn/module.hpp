// Module and ParameterList: how layers expose their trainable parameters by name.
//
// A Module owns Parameters and lists them, each under a stable dotted name ("layers.0.weight"), into
// a ParameterList. The optimizer, gradient clipping and model files all work from that list: the
// names are what a saved model stores, so they must not change between versions.
//
// The list holds pointers to the Parameter objects inside the modules. Collect it once the model is
// built and keep the model in place while the list is used (do not move the model or add layers).
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

#include "autodiff/parameter.hpp"
#include "autodiff/tape.hpp"

namespace flowtape {

struct NamedParameter {
    std::string name;
    Parameter* parameter;
};

class ParameterList {
public:
    // Registers `p` under `name`; ValueError if the name is already taken.
    void add(const std::string& name, Parameter& p);
    // Adds every entry of `other`, in order (same duplicate check).
    void append(const ParameterList& other);
    // In registration order.
    const std::vector<NamedParameter>& items() const { return items_; }
    std::vector<Parameter*> pointers() const;
    // ValueError naming the missing name if there is none.
    Parameter& find(const std::string& name) const;
    std::size_t size() const { return items_.size(); }
    // Total number of scalars over all parameters.
    std::size_t scalar_count() const;
    void zero_grad() const;

private:
    std::vector<NamedParameter> items_;
    std::unordered_map<std::string, std::size_t> index_;  // name -> position in items_
};

class Module {
public:
    virtual ~Module() = default;
    // Adds every parameter under prefix + "." + local name (no leading dot when prefix is empty).
    virtual void collect_parameters(ParameterList& out, const std::string& prefix) = 0;
    // collect_parameters(list, "").
    ParameterList parameters();
};

// prefix + "." + local, or local alone when prefix is empty: the naming rule of collect_parameters.
std::string qualified_name(const std::string& prefix, const std::string& local);

// Input checks shared by the layers, each throwing with `who` and the shapes in the message:
// ShapeError unless x has `width` columns.
void check_input_width(const char* who, Var x, std::size_t width);
// For a layer built with `width` context columns (0: none): ValueError for a missing or an
// unexpected context, ShapeError unless the context is (rows of x)×width.
void check_context(const char* who, Var x, Var context, std::size_t width);

}  // namespace flowtape
