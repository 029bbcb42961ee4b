// Flows for flows: the displacement penalty and its schedule, the training objective, fit_transport,
// base transfer and distances (flows_for_flows.hpp).
#include "flows/transport/flows_for_flows.hpp"

#include <cmath>
#include <limits>
#include <iomanip>
#include <sstream>

#include "autodiff/ops.hpp"
#include "core/error.hpp"
#include "flows/training/data_parallel.hpp"

namespace flowtape {

// ---- the penalty ----

real DisplacementPenalty::weight_at(std::size_t step) const {
    if (!anneal) return weight;
    if (step >= total_steps) return weight_min;
    const real pi = std::acos(-1.0);
    return weight_min + 0.5 * (weight - weight_min) *
                            (1 + std::cos(pi * static_cast<real>(step) / static_cast<real>(total_steps)));
}

void DisplacementPenalty::check(const char* who) const {
    if (kind != "none" && kind != "l1" && kind != "l2")
        throw ValueError(std::string(who) + ": unknown penalty '" + kind + "' (none, l1 or l2)");
    if (!std::isfinite(weight) || weight < 0 || !std::isfinite(weight_min) || weight_min < 0)
        throw ValueError(std::string(who) + ": penalty weights must be finite and ≥ 0, got " + std::to_string(weight) +
                         " and " + std::to_string(weight_min));
    if (anneal && total_steps == 0)
        throw ValueError(std::string(who) + ": an annealed penalty needs the number of training steps");
    if (penalty_only && (kind == "none" || weight <= 0))
        throw ValueError(std::string(who) + ": training on the penalty alone needs an l1 or l2 penalty of positive weight");
}

Var displacement(const Var& from, const Var& to, const std::string& kind) {
    const Var moved = sub(to, from);
    if (kind == "l1") return sum(abs(moved), 1);
    if (kind == "l2") return sum(square(moved), 1);
    throw ValueError("displacement: unknown distance '" + kind + "' (l1 or l2)");
}

// ---- the objective ----

TransportObjective::TransportObjective(DisplacementPenalty penalty, std::uint64_t seed)
    : penalty_(std::move(penalty)), seed_(seed), rng_(Rng::stream(seed, 7)) {
    penalty_.check("TransportObjective");
}

namespace {

TransportFlow& as_transport(Distribution& model) {
    auto* flow = dynamic_cast<TransportFlow*>(&model);
    if (!flow) throw ValueError("TransportObjective: the model (" + model.kind() + ") is not a flows-for-flows model");
    return *flow;
}

// The targets of a batch's conditions: a random permutation of them (training), or each row paired
// with the next row's condition (validation: a fixed pairing).
Var target_conditions(const Var& c_in, bool training, Rng& rng) {
    const Array& c = c_in.value();
    const std::size_t n = c.shape()[0];
    Array target = xt::zeros<real>({n, std::size_t(1)});
    if (training) {
        const std::vector<std::size_t> order = rng.permutation(n);
        for (std::size_t i = 0; i < n; ++i) target(i, 0) = c(order[i], 0);
    } else {
        for (std::size_t i = 0; i < n; ++i) target(i, 0) = c((i + 1) % n, 0);
    }
    return c_in.tape().constant(target);
}

}  // namespace

Var TransportObjective::penalised_loss(TransportFlow& model, const Batch& batch, real weight, bool training) {
    Var rows = batch.x, weights = batch.weights;
    Transported moved;
    if (model.conditional()) {
        if (!batch.context.valid() || batch.context.cols() != 2)
            throw ValueError("TransportObjective: a conditional model trains on rows with a context (c_in, c_target)");
        const Var c_in = cols(batch.context, 0, 1);
        moved = model.move_condition(batch.x, c_in, target_conditions(c_in, training, rng_));
    } else if (batch.labels) {
        // Label 0: right rows (S, scored under the left base); 1: left rows (S⁻¹, under the right).
        std::vector<std::size_t> right, left;
        for (std::size_t i = 0; i < batch.x.rows(); ++i) {
            const std::int64_t side = (*batch.labels)(i, 0);
            if (side != 0 && side != 1)
                throw ValueError("TransportObjective: row " + std::to_string(i) + " has side " + std::to_string(side) +
                                 " (0 right, 1 left)");
            (side == 0 ? right : left).push_back(i);
        }
        if (left.empty()) {
            moved = model.right_to_left(batch.x);
        } else if (right.empty()) {
            moved = model.left_to_right(batch.x);
        } else {  // a mixed validation chunk: each side its own way, the rows regrouped to match
            const Var right_rows = take_rows(batch.x, right), left_rows = take_rows(batch.x, left);
            const Transported r = model.right_to_left(right_rows);
            const Transported l = model.left_to_right(left_rows);
            moved = {concat({r.moved, l.moved}, 0), concat({r.log_prob, l.log_prob}, 0)};
            rows = concat({right_rows, left_rows}, 0);
            weights = concat({take_rows(batch.weights, right), take_rows(batch.weights, left)}, 0);
        }
    } else {
        moved = model.right_to_left(batch.x);
    }
    Var per_row = moved.log_prob;
    if (penalty_.penalty_only)
        per_row = mul_scalar(displacement(rows, moved.moved, penalty_.kind), -weight);
    else if (penalty_.kind != "none" && weight > 0)
        per_row = sub(per_row, mul_scalar(displacement(rows, moved.moved, penalty_.kind), weight));
    const Batch regrouped{batch.tape, rows, weights, batch.total_weight, batch.context, batch.labels, batch.epoch, batch.step};
    return negative_weighted_mean(per_row, regrouped);
}

Var TransportObjective::loss(Distribution& model, const Batch& batch) {
    step_ = batch.step + 1;  // the steps taken, for progress: fit numbers them
    return penalised_loss(as_transport(model), batch, penalty_.weight_at(batch.step), true);
}

void TransportObjective::restart_noise(std::uint64_t stream) { rng_ = Rng::stream(seed_, stream); }

Var TransportObjective::validation_loss(Distribution& model, const Batch& batch) {
    return penalised_loss(as_transport(model), batch, penalty_.final_weight(), false);
}

std::string TransportObjective::progress() const {
    if (penalty_.kind == "none") return {};
    std::ostringstream s;
    s << penalty_.kind << " weight " << std::setprecision(3) << penalty_.weight_at(step_);
    return s.str();
}

// ---- training ----

namespace {

void check_rows(const char* what, const Array* rows, std::size_t d) {
    if (rows->shape()[0] == 0) throw ValueError(std::string("fit_transport: no ") + what + " rows");
    if (rows->shape()[1] != d)
        throw ShapeError(std::string("fit_transport: ") + what + " rows " + shape_string(shape_of(*rows)) +
                         " for a model of dimension " + std::to_string(d));
}

}  // namespace

FitReport fit_transport(TransportFlow& model, const TransportData& data, const TransportFitOptions& options) {
    if (!data.right) throw ValueError("fit_transport: no rows to train on");
    check_rows(model.conditional() ? "data" : "right", data.right, model.dim());
    TransportFitOptions o = options;
    o.fit.batches_by_label = false;
    const std::size_t n_right = data.right->shape()[0];

    Array rows, context;
    IndexArray sides;
    if (model.conditional()) {
        if (!data.condition)
            throw ValueError("fit_transport: the model is conditional but the data have no condition");
        if (data.left) throw ValueError("fit_transport: a conditional model trains on one set of rows (no left rows)");
        if (shape_of(*data.condition) != Shape{n_right, 1})
            throw ShapeError("fit_transport: condition " + shape_string(shape_of(*data.condition)) + " for rows " +
                             shape_string(shape_of(*data.right)) + " (N×1)");
        real lo = std::numeric_limits<real>::infinity(), hi = -lo;
        context = xt::zeros<real>({n_right, std::size_t(2)});
        for (std::size_t i = 0; i < n_right; ++i) {
            const real c = (*data.condition)(i, 0);
            if (!std::isfinite(c))
                throw ValueError("fit_transport: condition " + std::to_string(c) + " at row " + std::to_string(i));
            context(i, 0) = context(i, 1) = c;  // the targets are drawn per batch
            lo = std::min(lo, c);
            hi = std::max(hi, c);
        }
        model.set_condition_range(lo, hi);
    } else {
        if (data.condition) throw ValueError("fit_transport: the model is not conditional but the data have a condition");
        if (data.left) {
            if (!model.has_right())
                throw ValueError("fit_transport: left rows need a right base flow to score them (the model has one base)");
            check_rows("left", data.left, model.dim());
            const std::size_t n_left = data.left->shape()[0];
            rows = xt::concatenate(xt::xtuple(*data.right, *data.left), 0);
            sides = xt::zeros<std::int64_t>({n_right + n_left, std::size_t(1)});
            for (std::size_t i = n_right; i < n_right + n_left; ++i) sides(i, 0) = 1;
            o.fit.batches_by_label = true;
        }
    }
    const Array& x = rows.size() ? rows : *data.right;
    if (o.penalty.anneal && o.penalty.total_steps == 0) {
        // About the number of steps fit takes: the training rows in batches, a part batch per side.
        const auto n_train = static_cast<std::size_t>(std::ceil(static_cast<double>(x.shape()[0]) * (1 - o.fit.val_fraction)));
        const std::size_t per_epoch = (n_train + o.fit.batch - 1) / o.fit.batch + (o.fit.batches_by_label ? 1 : 0);
        o.penalty.total_steps = std::max<std::size_t>(1, per_epoch * o.fit.epochs);
    }
    TransportObjective objective(o.penalty, o.fit.seed);
    const FitData fit_data{x, nullptr, model.conditional() ? &context : nullptr, sides.size() ? &sides : nullptr};
    return fit_replicated(model, fit_data, o.fit, objective);
}

// ---- base transfer ----

namespace {

Flow& as_flow(Distribution& d, const char* who) {
    auto* flow = dynamic_cast<Flow*>(&d);
    if (!flow) throw ValueError(std::string(who) + ": the base model (" + d.kind() + ") is not a flow");
    return *flow;
}

// Rows through a flow's transforms to its latent space (or back), with an optional context.
Array through(Flow& flow, const Array& rows, const Array* context, bool inverse, const char* who) {
    if (rows.shape()[1] != flow.dim())
        throw ShapeError(std::string(who) + ": rows " + shape_string(shape_of(rows)) + " for a flow of dimension " +
                         std::to_string(flow.dim()));
    return map_rows(flow, rows, context, flow.dim(), [&](Var x, Var c) {
        return Array((inverse ? flow.from_latent(x, c) : flow.to_latent(x, c)).out.value());
    });
}

}  // namespace

Array base_transfer(Distribution& left, Distribution& right, const Array& x) {
    Flow& l = as_flow(left, "base_transfer");
    Flow& r = as_flow(right, "base_transfer");
    if (l.dim() != r.dim())
        throw ValueError("base_transfer: the flows have dimensions " + std::to_string(l.dim()) + " and " +
                         std::to_string(r.dim()));
    return through(r, through(l, x, nullptr, false, "base_transfer"), nullptr, true, "base_transfer");
}

Array base_transfer_condition(Distribution& base, const Array& x, const Array& c_in, const Array& c_target) {
    Flow& flow = as_flow(base, "base_transfer_condition");
    if (flow.context_dim() != 1)
        throw ValueError("base_transfer_condition: the base flow takes a context of " +
                         std::to_string(flow.context_dim()) + " columns, not one condition");
    const Array z = through(flow, x, &c_in, false, "base_transfer_condition");
    return through(flow, z, &c_target, true, "base_transfer_condition");
}

MeanDistance mean_distance(const Array& a, const Array& b) {
    if (a.shape() != b.shape())
        throw ShapeError("mean_distance: " + shape_string(shape_of(a)) + " and " + shape_string(shape_of(b)));
    const std::size_t n = a.shape()[0], d = a.shape()[1];
    MeanDistance out;
    for (std::size_t i = 0; i < n; ++i) {
        real sq = 0, l1 = 0;
        for (std::size_t j = 0; j < d; ++j) {
            const real diff = a(i, j) - b(i, j);
            sq += diff * diff;
            l1 += std::abs(diff);
        }
        out.euclidean += std::sqrt(sq);
        out.l1 += l1;
    }
    if (n > 0) {
        out.euclidean /= static_cast<real>(n);
        out.l1 /= static_cast<real>(n);
    }
    return out;
}

}  // namespace flowtape
