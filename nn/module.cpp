// ParameterList bookkeeping and the input checks every layer shares.
#include "nn/module.hpp"

#include "core/error.hpp"

namespace flowtape {

void ParameterList::add(const std::string& name, Parameter& p) {
    if (index_.count(name) != 0) throw ValueError("ParameterList::add: duplicate parameter name '" + name + "'");
    index_.emplace(name, items_.size());
    items_.push_back({name, &p});
}

void ParameterList::append(const ParameterList& other) {
    for (const NamedParameter& item : other.items_) add(item.name, *item.parameter);
}

std::vector<Parameter*> ParameterList::pointers() const {
    std::vector<Parameter*> out;
    out.reserve(items_.size());
    for (const NamedParameter& item : items_) out.push_back(item.parameter);
    return out;
}

Parameter& ParameterList::find(const std::string& name) const {
    const auto it = index_.find(name);
    if (it == index_.end())
        throw ValueError("ParameterList::find: no parameter named '" + name + "' (the list has " +
                         std::to_string(items_.size()) + " parameters)");
    return *items_[it->second].parameter;
}

std::size_t ParameterList::scalar_count() const {
    std::size_t n = 0;
    for (const NamedParameter& item : items_) n += item.parameter->size();
    return n;
}

void ParameterList::zero_grad() const {
    for (const NamedParameter& item : items_) item.parameter->zero_grad();
}

ParameterList Module::parameters() {
    ParameterList list;
    collect_parameters(list, "");
    return list;
}

std::string qualified_name(const std::string& prefix, const std::string& local) {
    return prefix.empty() ? local : prefix + "." + local;
}

void check_input_width(const char* who, Var x, std::size_t width) {
    if (x.cols() != width)
        throw ShapeError(std::string(who) + ": input " + shape_string(x.shape()) + " has " + std::to_string(x.cols()) +
                         " columns, expected " + std::to_string(width));
}

void check_context(const char* who, Var x, Var context, std::size_t width) {
    if (width == 0) {
        if (context.valid())
            throw ValueError(std::string(who) + ": built without a context, but got a context " +
                             shape_string(context.shape()) + " with input " + shape_string(x.shape()));
        return;
    }
    if (!context.valid())
        throw ValueError(std::string(who) + ": needs a context " + shape_string({x.rows(), width}) + " for input " +
                         shape_string(x.shape()) + ", got none");
    if (context.cols() != width || context.rows() != x.rows())
        throw ShapeError(std::string(who) + ": context " + shape_string(context.shape()) + " does not fit input " +
                         shape_string(x.shape()) + " (expected " + shape_string({x.rows(), width}) + ")");
}

}  // namespace flowtape
