// TransportFlow: the two directions, the conditional split by direction, the identity start and
// the model file's config (transport_flow.hpp).
#include "flows/transport/transport_flow.hpp"

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "autodiff/ops.hpp"
#include "core/error.hpp"
#include "flows/flow.hpp"
#include "flows/registry.hpp"
#include "flows/transforms/nsf.hpp"
#include "flows/transforms/permutation.hpp"

namespace flowtape {

std::string condition_mode_name(ConditionMode mode) {
    switch (mode) {
        case ConditionMode::none: return "none";
        case ConditionMode::delta: return "delta";
        case ConditionMode::concat: return "concat";
    }
    return "none";
}

ConditionMode condition_mode_from_name(const std::string& name) {
    if (name == "none") return ConditionMode::none;
    if (name == "delta") return ConditionMode::delta;
    if (name == "concat") return ConditionMode::concat;
    throw ValueError("flows for flows: unknown condition mode '" + name + "' (none, delta or concat)");
}

namespace {

std::size_t top_context_columns(ConditionMode mode) {
    return mode == ConditionMode::delta ? 1 : mode == ConditionMode::concat ? 2 : 0;
}

void freeze(Distribution& d) {
    const ParameterList params = d.parameters();  // kept: items() refers into it
    for (const NamedParameter& p : params.items()) p.parameter->set_frozen(true);
}

}  // namespace

TransportFlow::TransportFlow(std::vector<TransformPtr> top, DistributionPtr left, DistributionPtr right,
                             ConditionMode mode)
    : top_(std::move(top)),
      left_(std::move(left)),
      right_(std::move(right)),
      mode_(mode),
      condition_range_{std::numeric_limits<real>::quiet_NaN(), std::numeric_limits<real>::quiet_NaN()} {
    if (!left_) throw ValueError("flows for flows: no left base flow");
    const std::size_t d = left_->dim();
    if (right_ && right_->dim() != d)
        throw ValueError("flows for flows: the base flows have dimensions " + std::to_string(d) + " (left) and " +
                         std::to_string(right_->dim()) + " (right)");
    if (conditional()) {
        if (left_->context_dim() != 1)
            throw ValueError("flows for flows: a conditional model needs a base conditional on one column, got a " +
                             left_->kind() + " with context " + std::to_string(left_->context_dim()));
        if (right_) throw ValueError("flows for flows: a conditional model has one shared base (no right base)");
    } else {
        if (left_->context_dim() != 0 || (right_ && right_->context_dim() != 0))
            throw ValueError(
                "flows for flows: the base flows are conditional but the model is not (give a condition mode)");
    }
    const std::size_t context = top_context_columns(mode_);
    for (std::size_t k = 0; k < top_.size(); ++k) {
        if (!top_[k]) throw ValueError("flows for flows: top transform " + std::to_string(k) + " is null");
        if (top_[k]->dim() != d)
            throw ShapeError("flows for flows: top transform " + std::to_string(k) + " has dimension " +
                             std::to_string(top_[k]->dim()) + " but the bases have " + std::to_string(d));
        if (top_[k]->context_dim() != 0 && top_[k]->context_dim() != context)
            throw ShapeError("flows for flows: top transform " + std::to_string(k) + " takes a context of " +
                             std::to_string(top_[k]->context_dim()) + " columns, the " + condition_mode_name(mode_) +
                             " mode gives " + std::to_string(context));
    }
    freeze(*left_);
    if (right_) freeze(*right_);
    left_->set_training(false);
    if (right_) right_->set_training(false);
}

TransformResult TransportFlow::top_map(Var x, Var context, bool inverse) {
    return inverse ? chain_inverse(top_, x, context) : chain_forward(top_, x, context);
}

Var TransportFlow::top_context(Var low, Var high) const {
    if (mode_ == ConditionMode::delta) return sub(high, low);
    return concat({low, high}, 1);
}

Transported TransportFlow::right_to_left(Var y) {
    if (conditional()) throw ValueError("flows for flows: a conditional model moves rows between conditions");
    const TransformResult r = top_map(y, Var(), false);
    return {r.out, add(left_->log_prob(r.out), r.logdet)};
}

Transported TransportFlow::left_to_right(Var x) {
    if (conditional()) throw ValueError("flows for flows: a conditional model moves rows between conditions");
    if (!right_)
        throw ValueError(
            "flows for flows: the model has no right base, so it cannot score left rows (train it with --base-right)");
    const TransformResult r = top_map(x, Var(), true);
    return {r.out, add(right_->log_prob(r.out), r.logdet)};
}

Transported TransportFlow::move_condition(Var x, Var c_in, Var c_target) {
    if (!conditional()) throw ValueError("flows for flows: the model is not conditional (no condition to move)");
    const std::size_t n = x.rows();
    if (c_in.rows() != n || c_target.rows() != n || c_in.cols() != 1 || c_target.cols() != 1)
        throw ShapeError("flows for flows: conditions " + shape_string(c_in.shape()) + " and " +
                         shape_string(c_target.shape()) + " for rows " + shape_string(x.shape()) +
                         " (one column each, one row per row)");
    const Array& from = c_in.value();
    const Array& to = c_target.value();
    std::vector<std::size_t> up, down;  // rows moving to a higher (or equal) condition, and lower
    for (std::size_t i = 0; i < n; ++i) (to(i, 0) >= from(i, 0) ? up : down).push_back(i);

    // Up: S with the context (c_in → c_t); down: S⁻¹ with the swapped context (c_t → c_in).
    const auto move = [&](Var rows, Var low, Var high, Var target, bool inverse) {
        const TransformResult r = top_map(rows, top_context(low, high), inverse);
        return Transported{r.out, add(left_->log_prob(r.out, target), r.logdet)};
    };
    if (down.empty()) return move(x, c_in, c_target, c_target, false);
    if (up.empty()) return move(x, c_target, c_in, c_target, true);

    const Var ct_up = take_rows(c_target, up), ct_down = take_rows(c_target, down);
    const Transported a = move(take_rows(x, up), take_rows(c_in, up), ct_up, ct_up, false);
    const Transported b = move(take_rows(x, down), ct_down, take_rows(c_in, down), ct_down, true);
    // Back in the input's order: row up[k] is row k of the stack, down[k] row |up| + k.
    std::vector<std::size_t> position(n);
    for (std::size_t k = 0; k < up.size(); ++k) position[up[k]] = k;
    for (std::size_t k = 0; k < down.size(); ++k) position[down[k]] = up.size() + k;
    return {take_rows(concat({a.moved, b.moved}, 0), position), take_rows(concat({a.log_prob, b.log_prob}, 0), position)};
}

Var TransportFlow::log_prob(Var x, Var context) {
    if (!conditional()) {
        if (context.valid())
            throw ValueError("flows for flows: the model is not conditional but was given a context " +
                             shape_string(context.shape()));
        return right_to_left(x).log_prob;
    }
    if (!context.valid() || context.cols() != 2)
        throw ValueError("flows for flows: a conditional model needs a context (c_in, c_target) per row, got " +
                         (context.valid() ? shape_string(context.shape()) : std::string("none")));
    return move_condition(x, cols(context, 0, 1), cols(context, 1, 2)).log_prob;
}

Var TransportFlow::sample(Tape& tape, std::size_t n, Rng& rng, Var context) {
    if (conditional() || context.valid())
        throw ValueError("flows for flows: a conditional model has no distribution of its own to sample; transport "
                         "points of the base instead");
    return top_map(left_->sample(tape, n, rng), Var(), true).out;
}

std::size_t TransportFlow::dim() const { return left_->dim(); }

nlohmann::json TransportFlow::config() const {
    nlohmann::json transforms = nlohmann::json::array();
    for (const auto& t : top_) transforms.push_back(t->config());
    nlohmann::json range = nullptr;
    if (std::isfinite(condition_range_.first) && std::isfinite(condition_range_.second))
        range = {condition_range_.first, condition_range_.second};
    return {{"kind", "f4f"},
            {"condition", condition_mode_name(mode_)},
            {"condition_range", range},
            {"transforms", transforms},
            {"left", left_->config()},
            {"right", right_ ? right_->config() : nlohmann::json(nullptr)}};
}

std::unique_ptr<TransportFlow> TransportFlow::from_config(const nlohmann::json& c, Rng& rng) {
    DistributionPtr left = make_distribution(c.at("left"), rng);
    DistributionPtr right = c.at("right").is_null() ? nullptr : make_distribution(c.at("right"), rng);
    std::vector<TransformPtr> transforms;
    for (const auto& t : c.at("transforms")) transforms.push_back(make_transform(t, rng));
    auto model = std::make_unique<TransportFlow>(std::move(transforms), std::move(left), std::move(right),
                                                 condition_mode_from_name(c.at("condition").get<std::string>()));
    if (c.contains("condition_range") && !c["condition_range"].is_null())
        model->set_condition_range(c["condition_range"].at(0).get<real>(), c["condition_range"].at(1).get<real>());
    return model;
}

void TransportFlow::set_training(bool on) {
    // The bases stay in evaluation mode: they are frozen, trained before.
    for (auto& t : top_) t->set_training(on);
}

void TransportFlow::collect_parameters(ParameterList& out, const std::string& prefix) {
    for (std::size_t k = 0; k < top_.size(); ++k)
        top_[k]->collect_parameters(out, qualified_name(prefix, "top." + std::to_string(k)));
    left_->collect_parameters(out, qualified_name(prefix, "left"));
    if (right_) right_->collect_parameters(out, qualified_name(prefix, "right"));
}

void TransportFlow::collect_buffers(ParameterList& out, const std::string& prefix) {
    for (std::size_t k = 0; k < top_.size(); ++k)
        top_[k]->collect_buffers(out, qualified_name(prefix, "top." + std::to_string(k)));
    left_->collect_buffers(out, qualified_name(prefix, "left"));
    if (right_) right_->collect_buffers(out, qualified_name(prefix, "right"));
}

std::unique_ptr<TransportFlow> make_transport_flow(const TopFlowSpec& spec, DistributionPtr left,
                                                   DistributionPtr right, ConditionMode mode, Rng& rng) {
    if (!left) throw ValueError("make_transport_flow: no left base flow");
    if (spec.layers == 0) throw ValueError("make_transport_flow: needs at least one layer");
    const std::size_t d = left->dim();
    SplineAutoregressiveConfig c;
    c.dim = d;
    c.bins = spec.bins;
    c.spline.tail_bound = spec.tail_bound;
    c.hidden = spec.hidden;
    c.residual_blocks = spec.residual_blocks;
    c.context = top_context_columns(mode);
    c.output_init_scale = 0;  // a zero last MADE layer: each spline is the identity
    std::vector<TransformPtr> transforms;
    for (std::size_t k = 0; k < spec.layers; ++k) {
        if (k > 0) transforms.push_back(Permutation::reverse(d));
        transforms.push_back(std::make_unique<SplineAutoregressive>(c, rng));
    }
    // An odd number of reversals would leave the coordinates swapped: one more makes the whole
    // map the identity at the start.
    if ((spec.layers - 1) % 2 == 1) transforms.push_back(Permutation::reverse(d));
    return std::make_unique<TransportFlow>(std::move(transforms), std::move(left), std::move(right), mode);
}

// ---- moving plain rows ----

namespace {

void check_width(const char* who, const Array& rows, std::size_t d) {
    if (rows.shape()[1] != d)
        throw ShapeError(std::string(who) + ": rows " + shape_string(shape_of(rows)) + " for a model of dimension " +
                         std::to_string(d));
}

Array move_unconditional(TransportFlow& model, const Array& rows, bool inverse, const char* who) {
    check_width(who, rows, model.dim());
    if (model.conditional())
        throw ValueError(std::string(who) + ": the model is conditional: give the conditions to move between");
    return map_rows(model, rows, nullptr, model.dim(),
                    [&](Var x, Var) { return Array(model.top_map(x, Var(), inverse).out.value()); });
}

}  // namespace

Array transport_right_to_left(TransportFlow& model, const Array& y) {
    return move_unconditional(model, y, false, "transport_right_to_left");
}

Array transport_left_to_right(TransportFlow& model, const Array& x) {
    return move_unconditional(model, x, true, "transport_left_to_right");
}

Array transport_condition(TransportFlow& model, const Array& x, const Array& c_in, const Array& c_target) {
    check_width("transport_condition", x, model.dim());
    if (!model.conditional()) throw ValueError("transport_condition: the model is not conditional");
    const std::size_t n = x.shape()[0];
    if (shape_of(c_in) != Shape{n, 1} || shape_of(c_target) != Shape{n, 1})
        throw ShapeError("transport_condition: conditions " + shape_string(shape_of(c_in)) + " and " +
                         shape_string(shape_of(c_target)) + " for rows " + shape_string(shape_of(x)) +
                         " (N×1 each)");
    Array context = xt::zeros<real>({n, std::size_t(2)});
    for (std::size_t i = 0; i < n; ++i) {
        context(i, 0) = c_in(i, 0);
        context(i, 1) = c_target(i, 0);
    }
    return map_rows(model, x, &context, model.dim(), [&](Var v, Var c) {
        return Array(model.move_condition(v, cols(c, 0, 1), cols(c, 1, 2)).moved.value());
    });
}

}  // namespace flowtape
