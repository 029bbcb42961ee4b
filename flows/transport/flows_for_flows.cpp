// Flows for flows: the identity-start top flow, the displacement penalty and its schedule, the
// training objective, transport and base transfer (flows_for_flows.hpp).
#include "flows/transport/flows_for_flows.hpp"

#include <cmath>
#include <iomanip>
#include <sstream>

#include "autodiff/ops.hpp"
#include "core/error.hpp"
#include "flows/transforms/nsf.hpp"
#include "flows/transforms/permutation.hpp"

namespace flowtape {

std::unique_ptr<Flow> make_top_flow(const TopFlowSpec& spec, DistributionPtr base, Rng& rng) {
    if (!base) throw ValueError("make_top_flow: no base flow");
    const ParameterList base_parameters = base->parameters();  // kept: items() refers into it
    for (const NamedParameter& p : base_parameters.items()) p.parameter->set_frozen(true);
    if (spec.layers == 0) throw ValueError("make_top_flow: needs at least one layer");
    const std::size_t d = base->dim();
    SplineAutoregressiveConfig c;
    c.dim = d;
    c.bins = spec.bins;
    c.spline.tail_bound = spec.tail_bound;
    c.hidden = spec.hidden;
    c.output_init_scale = 0;  // a zero last MADE layer: each spline is the identity
    std::vector<TransformPtr> transforms;
    for (std::size_t k = 0; k < spec.layers; ++k) {
        if (k > 0) transforms.push_back(Permutation::reverse(d));
        transforms.push_back(std::make_unique<SplineAutoregressive>(c, rng));
    }
    // An odd number of reversals would leave the coordinates swapped: one more makes the whole
    // map the identity at the start.
    if ((spec.layers - 1) % 2 == 1) transforms.push_back(Permutation::reverse(d));
    return std::make_unique<Flow>(std::move(base), std::move(transforms));
}

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
}

Var displacement(const Var& from, const Var& to, const std::string& kind) {
    const Var moved = sub(to, from);
    if (kind == "l1") return sum(abs(moved), 1);
    if (kind == "l2") return sum(square(moved), 1);
    throw ValueError("displacement: unknown distance '" + kind + "' (l1 or l2)");
}

// ---- the objective ----

TransportObjective::TransportObjective(DisplacementPenalty penalty) : penalty_(std::move(penalty)) {
    penalty_.check("TransportObjective");
}

namespace {

Flow& as_flow(Distribution& model) {
    auto* flow = dynamic_cast<Flow*>(&model);
    if (!flow) throw ValueError("TransportObjective: the model (" + model.kind() + ") is not a flow over a base");
    return *flow;
}

}  // namespace

Var TransportObjective::loss(Distribution& model, const Batch& batch) {
    Flow& flow = as_flow(model);
    const TransformResult r = flow.to_latent(batch.x, batch.context);
    // log p(y) − w_t·D(y) per row; the loss is minus its weighted mean.
    Var per_row = add(flow.base().log_prob(r.out, batch.context), r.logdet);
    const real w = penalty_.weight_at(step_++);
    if (penalty_.kind != "none" && w > 0) per_row = sub(per_row, mul_scalar(displacement(batch.x, r.out, penalty_.kind), w));
    return negative_weighted_mean(per_row, batch);
}

Var TransportObjective::validation_loss(Distribution& model, const Batch& batch) {
    return negative_weighted_mean(as_flow(model).log_prob(batch.x, batch.context), batch);
}

std::string TransportObjective::progress() const {
    if (penalty_.kind == "none") return {};
    std::ostringstream s;
    s << penalty_.kind << " weight " << std::setprecision(3) << penalty_.weight_at(step_);
    return s.str();
}

// ---- moving rows ----

namespace {

Array through(Flow& flow, const Array& rows, bool inverse) {
    if (rows.shape()[1] != flow.dim())
        throw ShapeError(std::string(inverse ? "transport_inverse" : "transport") + ": rows " +
                         shape_string(shape_of(rows)) + " for a flow of dimension " + std::to_string(flow.dim()));
    return map_rows(flow, rows, nullptr, flow.dim(), [&](Var x, Var) {
        return Array((inverse ? flow.from_latent(x) : flow.to_latent(x)).out.value());
    });
}

}  // namespace

Array transport(Flow& top, const Array& y) { return through(top, y, false); }

Array transport_inverse(Flow& top, const Array& x) { return through(top, x, true); }

Array base_transfer(Distribution& left, Distribution& right, const Array& x) {
    auto* l = dynamic_cast<Flow*>(&left);
    auto* r = dynamic_cast<Flow*>(&right);
    if (!l || !r) throw ValueError("base_transfer: both base models must be flows");
    if (l->dim() != r->dim())
        throw ValueError("base_transfer: the flows have dimensions " + std::to_string(l->dim()) + " and " +
                         std::to_string(r->dim()));
    return through(*r, through(*l, x, false), true);
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
