// The default objective, the weighted negative log-likelihood, and the weighted-mean reduction the
// objectives share (see objectives.hpp).
#include "flows/training/objectives.hpp"

#include "autodiff/ops.hpp"

namespace flowtape {

Var negative_weighted_mean(const Var& per_row, const Batch& batch) {
    return mul_scalar(sum(mul(per_row, batch.weights)), -1.0 / batch.total_weight);
}

Var WeightedNll::loss(Distribution& model, const Batch& batch) {
    return negative_weighted_mean(model.log_prob(batch.x, batch.context), batch);
}

}  // namespace flowtape
