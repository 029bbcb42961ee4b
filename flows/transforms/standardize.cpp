#include "flows/transforms/standardize.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

#include "autodiff/ops.hpp"
#include "core/error.hpp"

namespace flowtape {

Standardize::Standardize(Array mean, Array scale) : mean_(std::move(mean)), scale_(std::move(scale)) {
    if (mean_.shape()[0] != 1 || mean_.shape()[1] == 0 || shape_of(scale_) != shape_of(mean_))
        throw ValueError("Standardize: mean and scale must both be 1×D, got " + shape_string(shape_of(mean_)) + " and " +
                         shape_string(shape_of(scale_)));
    inv_scale_ = Array::from_shape(shape_of(scale_));
    for (std::size_t j = 0; j < scale_.shape()[1]; ++j) {
        if (!std::isfinite(mean_(0, j)) || !std::isfinite(scale_(0, j)) || !(scale_(0, j) > 0))
            throw ValueError("Standardize: column " + std::to_string(j) + " has mean " + std::to_string(mean_(0, j)) +
                             " and scale " + std::to_string(scale_(0, j)) + " (need finite values and scale > 0)");
        inv_scale_(0, j) = 1 / scale_(0, j);
        logdet_ -= std::log(scale_(0, j));
    }
}

std::unique_ptr<Standardize> Standardize::from_data(const Array& x) {
    const std::size_t n = x.shape()[0], d = x.shape()[1];
    if (n == 0 || d == 0) throw ValueError("Standardize::from_data: no data (" + shape_string(shape_of(x)) + ")");
    Array mean = xt::zeros<real>({std::size_t(1), d}), scale = xt::zeros<real>({std::size_t(1), d});
    for (std::size_t j = 0; j < d; ++j) {
        for (std::size_t i = 0; i < n; ++i) mean(0, j) += x(i, j);
        mean(0, j) /= static_cast<real>(n);
        for (std::size_t i = 0; i < n; ++i) scale(0, j) += (x(i, j) - mean(0, j)) * (x(i, j) - mean(0, j));
        scale(0, j) = std::sqrt(scale(0, j) / static_cast<real>(n));
        if (!(scale(0, j) > 0)) scale(0, j) = 1;
    }
    return std::make_unique<Standardize>(mean, scale);
}

std::unique_ptr<Standardize> Standardize::from_config(const nlohmann::json& config, Rng& /*rng*/) {
    const auto row = [](const std::vector<real>& v) {
        Array a = Array::from_shape({std::size_t(1), v.size()});
        for (std::size_t j = 0; j < v.size(); ++j) a(0, j) = v[j];
        return a;
    };
    return std::make_unique<Standardize>(row(config.at("mean").get<std::vector<real>>()),
                                         row(config.at("scale").get<std::vector<real>>()));
}

// The log-determinant is the same constant for every row: a column of −Σ log σ, made from the
// input so that it lives on the same tape with the right number of rows.
static Var constant_logdet(Var x, real value) { return sum(x, 1) * 0.0 + value; }

TransformResult Standardize::forward(Var x, Var /*context*/) {
    check_input_width("Standardize::forward", x, dim());
    Tape& t = x.tape();
    const Var z = (x - t.constant(mean_)) * t.constant(inv_scale_);
    return {z, constant_logdet(x, logdet_)};
}

TransformResult Standardize::inverse(Var z, Var /*context*/) {
    check_input_width("Standardize::inverse", z, dim());
    Tape& t = z.tape();
    const Var x = z * t.constant(scale_) + t.constant(mean_);
    return {x, constant_logdet(z, -logdet_)};
}

nlohmann::json Standardize::config() const {
    std::vector<real> mean(mean_.begin(), mean_.end()), scale(scale_.begin(), scale_.end());
    return {{"kind", "standardize"}, {"mean", mean}, {"scale", scale}};
}

}  // namespace flowtape
