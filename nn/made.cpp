// MADE: degrees, masks and the forward pass. See Note [MADE degrees and masks].
//
// Note [MADE degrees and masks]. Each unit gets a degree. Input i has degree m(i) ∈ 1..D, its
// position in the ordering + 1. Hidden unit k of a layer has degree 1 + (k mod (D − 1)) for D > 1
// (cyclic, so every degree 1..D−1 is present when the layer has at least D − 1 units), and 0 for
// D = 1 (no input reaches it). A hidden unit may see a unit of the layer below when its degree is
// at least that unit's (M = [m_out ≥ m_in]); an output for input i has degree m(i) and sees hidden
// units of strictly smaller degree (M = [m(i) > m_h]). Composing the masks, output i depends on
// input j only through a chain of non-decreasing degrees from m(j) ending below m(i): only if
// m(j) < m(i). A residual connection h + f(h) keeps this, since f's masks use ≥ and the same
// degrees on both sides.
#include "nn/made.hpp"

#include <string>

#include "core/error.hpp"

namespace flowtape {
namespace {

using Degrees = std::vector<std::size_t>;

void check_config(const MadeConfig& c) {
    if (c.inputs == 0 || c.outputs_per_input == 0)
        throw ValueError("Made: inputs and outputs_per_input must be positive, got inputs " +
                         std::to_string(c.inputs) + ", outputs_per_input " + std::to_string(c.outputs_per_input));
    if (c.hidden.empty()) throw ValueError("Made: needs at least one hidden layer");
    for (std::size_t h : c.hidden) {
        if (h == 0) throw ValueError("Made: hidden layer sizes must be positive, got 0");
        if (c.residual_blocks && h != c.hidden.front())
            throw ValueError("Made: residual blocks need equal hidden sizes, got " + std::to_string(c.hidden.front()) +
                             " and " + std::to_string(h));
    }
}

Degrees hidden_degrees(std::size_t units, std::size_t d) {
    Degrees degrees(units, 0);
    if (d > 1)
        for (std::size_t k = 0; k < units; ++k) degrees[k] = 1 + k % (d - 1);
    return degrees;
}

// M(a, b) = 1 when unit b (above) may see unit a (below): out ≥ in, or out > in when strict.
Array make_mask(const Degrees& in, const Degrees& out, bool strict) {
    Array m = Array::from_shape({in.size(), out.size()});
    for (std::size_t a = 0; a < in.size(); ++a)
        for (std::size_t b = 0; b < out.size(); ++b) m(a, b) = (strict ? out[b] > in[a] : out[b] >= in[a]) ? 1 : 0;
    return m;
}

}  // namespace

Made::Made(const MadeConfig& config, Rng& rng) : config_(config) {
    check_config(config);
    const std::size_t d = config.inputs;
    input_degrees_ = ordering_degrees(config.ordering, d, rng);

    // The degrees of every layer of units, input first. In residual mode the hidden size repeats:
    // the initial layer, then two masked layers per block.
    std::vector<Degrees> units{input_degrees_};
    if (config.residual_blocks) {
        const std::size_t blocks = config.hidden.size() - 1;
        for (std::size_t k = 0; k < 1 + 2 * blocks; ++k) units.push_back(hidden_degrees(config.hidden.front(), d));
    } else {
        for (std::size_t h : config.hidden) units.push_back(hidden_degrees(h, d));
    }
    Degrees output_degrees(config.outputs_per_input * d);
    for (std::size_t col = 0; col < output_degrees.size(); ++col) output_degrees[col] = input_degrees_[col % d];
    units.push_back(output_degrees);

    const std::size_t count = units.size() - 1;  // masked layers
    for (std::size_t k = 0; k < count; ++k) {
        const bool output_layer = k + 1 == count;
        masks_.push_back(make_mask(units[k], units[k + 1], output_layer));
    }
    layers_.reserve(count);
    for (std::size_t k = 0; k < count; ++k)
        layers_.emplace_back(units[k].size(), units[k + 1].size(), masks_[k], rng);
    if (config.context > 0) {
        context_layers_.reserve(count - 1);
        for (std::size_t k = 0; k + 1 < count; ++k) context_layers_.emplace_back(config.context, units[k + 1].size(), rng);
    }
}

Var Made::pre_activation(std::size_t k, Var in, Var context) {
    const Var a = layers_[k].forward(in);
    return context.valid() ? add(a, context_layers_[k].forward(context)) : a;
}

Var Made::forward(Var x, Var context) {
    check_input_width("Made", x, config_.inputs);
    check_context("Made", x, context, config_.context);
    const Activation act = config_.activation;
    const std::size_t last = layers_.size() - 1;
    Var h = x;
    if (config_.residual_blocks) {
        h = pre_activation(0, h, context);
        for (std::size_t k = 1; k < last; k += 2) {
            const Var inner = activate(pre_activation(k, activate(h, act), context), act);
            h = add(h, pre_activation(k + 1, inner, context));
        }
        h = activate(h, act);
    } else {
        for (std::size_t k = 0; k < last; ++k) h = activate(pre_activation(k, h, context), act);
    }
    return layers_[last].forward(h);
}

void Made::collect_parameters(ParameterList& out, const std::string& prefix) {
    for (std::size_t k = 0; k < layers_.size(); ++k)
        layers_[k].collect_parameters(out, qualified_name(prefix, "layers." + std::to_string(k)));
    for (std::size_t k = 0; k < context_layers_.size(); ++k)
        context_layers_[k].collect_parameters(out, qualified_name(prefix, "context." + std::to_string(k)));
}

std::vector<std::size_t> ordering_degrees(Ordering ordering, std::size_t d, Rng& rng) {
    Degrees degrees(d);
    switch (ordering) {
        case Ordering::natural:
            for (std::size_t i = 0; i < d; ++i) degrees[i] = i + 1;
            break;
        case Ordering::reversed:
            for (std::size_t i = 0; i < d; ++i) degrees[i] = d - i;
            break;
        case Ordering::random: {
            const std::vector<std::size_t> order = rng.permutation(d);  // order[k]: the input at position k
            for (std::size_t k = 0; k < d; ++k) degrees[order[k]] = k + 1;
            break;
        }
    }
    return degrees;
}

std::vector<std::size_t> resolve_degrees(const char* who, std::vector<std::size_t> degrees, Ordering ordering,
                                         std::size_t d, Rng& rng) {
    if (degrees.empty()) return ordering_degrees(ordering, d, rng);
    std::vector<bool> seen(d + 1, false);
    bool ok = degrees.size() == d;
    for (std::size_t i = 0; ok && i < d; ++i) {
        ok = degrees[i] >= 1 && degrees[i] <= d && !seen[degrees[i]];
        if (ok) seen[degrees[i]] = true;
    }
    if (!ok) {
        std::string given;
        for (std::size_t m : degrees) {
            if (!given.empty()) given += ',';
            given += std::to_string(m);
        }
        throw ValueError(std::string(who) + ": degrees must be a permutation of 1.." + std::to_string(d) + ", got [" +
                         given + "]");
    }
    return degrees;
}

std::vector<std::size_t> degree_order(const std::vector<std::size_t>& degrees) {
    std::vector<std::size_t> order(degrees.size());
    for (std::size_t i = 0; i < degrees.size(); ++i) order[degrees[i] - 1] = i;
    return order;
}

std::string ordering_name(Ordering o) {
    switch (o) {
        case Ordering::natural: return "natural";
        case Ordering::reversed: return "reversed";
        case Ordering::random: return "random";
    }
    throw ValueError("ordering_name: unknown ordering " + std::to_string(static_cast<int>(o)));
}

Ordering ordering_from_name(const std::string& name) {
    if (name == "natural") return Ordering::natural;
    if (name == "reversed") return Ordering::reversed;
    if (name == "random") return Ordering::random;
    throw ValueError("ordering_from_name: unknown ordering '" + name + "' (expected natural, reversed or random)");
}

}  // namespace flowtape
