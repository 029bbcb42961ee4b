// Standardize: a fixed affine map z = (x − μ) / σ per column, log|det ∂z/∂x| = −Σ_j log σ_j.
//
// Put first in a flow, it moves the data to zero mean and unit spread before any learned layer, so
// that the conditioners see inputs of order one and a flow that starts near the identity starts
// near the data: the pieces of a piecewise flow, small clusters far from the origin, need this (the
// paper's code, margarine, standardises its inputs too). μ and σ come from the training data
// (`from_data`) and are stored in the config, not learned.
#pragma once

#include "core/random.hpp"
#include "flows/transform.hpp"

namespace flowtape {

class Standardize : public Transform {
public:
    // mean and scale are 1×D with every scale finite and > 0 (ValueError otherwise).
    Standardize(Array mean, Array scale);
    // The column means and standard deviations of x (N×D, N ≥ 1); a column with zero spread gets
    // scale 1 (it stays where it is rather than dividing by zero).
    static std::unique_ptr<Standardize> from_data(const Array& x);
    // {"kind": "standardize", "mean": [...], "scale": [...]}; rng unused.
    static std::unique_ptr<Standardize> from_config(const nlohmann::json& config, Rng& rng);

    TransformResult forward(Var x, Var context = Var()) override;
    TransformResult inverse(Var z, Var context = Var()) override;
    std::size_t dim() const override { return mean_.shape()[1]; }
    std::string kind() const override { return "standardize"; }
    nlohmann::json config() const override;
    void collect_parameters(ParameterList& /*out*/, const std::string& /*prefix*/) override {}
    const Array& mean() const { return mean_; }
    const Array& scale() const { return scale_; }

private:
    Array mean_, scale_, inv_scale_;
    real logdet_ = 0;  // −Σ log σ
};

}  // namespace flowtape
