// Gaussian base distributions: the standard normal, and a diagonal Gaussian whose mean and log-scale
// are fixed or learnable.
//
//   log N(x; μ, diag σ²) = −½ Σ_i ((x_i − μ_i)/σ_i)² − Σ_i log σ_i − (D/2) log 2π
#pragma once

#include "flows/distribution.hpp"

namespace flowtape {

class StandardNormal : public Distribution {
public:
    explicit StandardNormal(std::size_t dim);
    Var log_prob(Var x, Var context = Var()) override;
    Var sample(Tape& tape, std::size_t n, Rng& rng, Var context = Var()) override;
    std::size_t dim() const override { return dim_; }
    std::string kind() const override { return "standard_normal"; }
    nlohmann::json config() const override;
    void collect_parameters(ParameterList&, const std::string&) override {}

private:
    std::size_t dim_;
};

class DiagonalGaussian : public Distribution {
public:
    // Mean 1×D and log-scale 1×D; trainable when `learnable`, else fixed.
    DiagonalGaussian(Array mean, Array log_scale, bool learnable);
    Var log_prob(Var x, Var context = Var()) override;
    Var sample(Tape& tape, std::size_t n, Rng& rng, Var context = Var()) override;
    std::size_t dim() const override { return mean_.value().shape()[1]; }
    std::string kind() const override { return "diagonal_gaussian"; }
    nlohmann::json config() const override;
    void collect_parameters(ParameterList& out, const std::string& prefix) override;
    void collect_buffers(ParameterList& out, const std::string& prefix) override;

    bool learnable() const { return learnable_; }

private:
    Parameter mean_, log_scale_;
    bool learnable_;
};

}  // namespace flowtape
