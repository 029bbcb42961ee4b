// ActNorm: a per-dimension affine map with data-dependent initialisation (Kingma & Dhariwal 2018):
//
//   forward   z = (x − b) · e^ℓ,    log|det ∂z/∂x| = Σ_i ℓ_i   (the same for every row)
//   inverse   x = z · e^−ℓ + b,     log|det ∂x/∂z| = −Σ_i ℓ_i
//
// with b ("shift") and ℓ ("log_scale") trainable 1×D rows, both 0 at construction (the identity).
//
// Initialisation. The first forward in training mode sets b to the batch's column means and ℓ to
// −log(σ + 10⁻⁶) with σ the columns' (biased) standard deviations, so that batch comes out with
// zero mean and unit variance (10⁻⁶ keeps a constant column finite). The flag "initialised" (a 1×1
// buffer, 0 or 1) is listed by collect_buffers, so a saved and reloaded layer keeps its values and
// does not initialise again. In evaluation mode, or once initialised, the parameters are used as
// they are. A transform starts in training mode.
#pragma once

#include "core/random.hpp"
#include "flows/transform.hpp"

namespace flowtape {

class ActNorm : public Transform {
public:
    // ValueError for dim = 0.
    explicit ActNorm(std::size_t dim);
    // From {"kind": "actnorm", "dim"}; rng unused.
    static std::unique_ptr<ActNorm> from_config(const nlohmann::json& config, Rng& rng);

    // Initialises on the first call in training mode (ValueError if that batch has fewer than 2
    // rows). The context, if any, is ignored.
    TransformResult forward(Var x, Var context = Var()) override;
    TransformResult inverse(Var z, Var context = Var()) override;
    std::size_t dim() const override { return shift_.shape()[1]; }
    std::string kind() const override { return "actnorm"; }
    nlohmann::json config() const override;
    void set_training(bool on) override { training_ = on; }
    void collect_parameters(ParameterList& out, const std::string& prefix) override;
    void collect_buffers(ParameterList& out, const std::string& prefix) override;

    bool initialised() const { return initialised_.value()(0, 0) != 0; }
    bool training() const { return training_; }

private:
    void initialise(const Array& x);
    Var logdet_per_row(Var log_scale, std::size_t rows);

    Parameter shift_, log_scale_;
    Parameter initialised_;  // buffer: 1×1, 1 once initialised
    bool training_ = true;
    Array zeros_;  // N×1, to repeat the log-determinant over the rows
};

}  // namespace flowtape
