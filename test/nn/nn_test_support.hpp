// Helpers shared by the nn tests: gradient checks of a layer with respect to its parameters and
// its inputs, and a comparison of two parameter lists.
#pragma once

#include <boost/test/unit_test.hpp>

#include <functional>
#include <string>
#include <vector>

#include "flowtape.hpp"

namespace flowtape::test {

// A layer's forward pass from input Vars (x, then the context if any).
using LayerFn = std::function<Var(const std::vector<Var>&)>;

// Checks ∂(Σ w ⊙ f)/∂θ for every parameter θ of `params` by central differences, tolerance 1e-6.
inline void check_parameter_gradients(const LayerFn& f, const std::vector<Array>& inputs, const ParameterList& params) {
    const GradcheckResult r = gradcheck_parameters(
        [&](Tape& t) {
            std::vector<Var> vars;
            for (const Array& a : inputs) vars.push_back(t.constant(a));
            return f(vars);
        },
        params.pointers());
    BOOST_TEST(r.ok, "parameters: " << r.worst << ", error " << r.max_error);
}

// Checks the gradient with respect to every input array (x and the context), tolerance 1e-6.
// The inputs are wrapped in Parameters and checked with gradcheck_parameters: flowtape::gradcheck
// keeps its analytic tape alive while it evaluates the finite differences, so a layer's own
// parameters would already be bound to that tape when the next one asks for them.
inline void check_input_gradients(const LayerFn& f, const std::vector<Array>& inputs) {
    std::vector<Parameter> wrapped;
    for (std::size_t k = 0; k < inputs.size(); ++k) wrapped.emplace_back("input " + std::to_string(k), inputs[k]);
    std::vector<Parameter*> pointers;
    for (Parameter& p : wrapped) pointers.push_back(&p);
    const GradcheckResult r = gradcheck_parameters(
        [&](Tape& t) {
            std::vector<Var> vars;
            for (Parameter& p : wrapped) vars.push_back(t.param(p));
            return f(vars);
        },
        pointers);
    BOOST_TEST(r.ok, "inputs: " << r.worst << ", error " << r.max_error);
}

inline bool same_values(const ParameterList& a, const ParameterList& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t k = 0; k < a.size(); ++k) {
        if (a.items()[k].name != b.items()[k].name) return false;
        if (a.items()[k].parameter->value() != b.items()[k].parameter->value()) return false;
    }
    return true;
}

}  // namespace flowtape::test
