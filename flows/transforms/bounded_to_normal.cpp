#include "flows/transforms/bounded_to_normal.hpp"

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "autodiff/ops.hpp"
#include "core/error.hpp"

namespace flowtape {

namespace {

const real kHalfLog2Pi = 0.5 * std::log(2 * std::acos(-1.0));

Array row_of(const std::vector<real>& v) {
    Array a = Array::from_shape({std::size_t(1), v.size()});
    for (std::size_t j = 0; j < v.size(); ++j) a(0, j) = v[j];
    return a;
}

}  // namespace

BoundedToNormal::BoundedToNormal(Array lo, Array hi) : lo_(std::move(lo)), hi_(std::move(hi)) {
    if (lo_.dimension() != 2 || lo_.shape()[0] != 1 || lo_.shape()[1] == 0 || shape_of(hi_) != shape_of(lo_))
        throw ValueError("BoundedToNormal: lo and hi must both be 1×D, got " + shape_string(shape_of(lo_)) + " and " +
                         shape_string(shape_of(hi_)));
    width_ = Array::from_shape(shape_of(lo_));
    inv_width_ = Array::from_shape(shape_of(lo_));
    for (std::size_t j = 0; j < lo_.shape()[1]; ++j) {
        if (!std::isfinite(lo_(0, j)) || !std::isfinite(hi_(0, j)) || !(lo_(0, j) < hi_(0, j)))
            throw ValueError("BoundedToNormal: column " + std::to_string(j) + " has bounds [" + std::to_string(lo_(0, j)) +
                             ", " + std::to_string(hi_(0, j)) + "] (need finite lo < hi)");
        width_(0, j) = hi_(0, j) - lo_(0, j);
        inv_width_(0, j) = 1 / width_(0, j);
        log_width_ += std::log(width_(0, j));
    }
}

RangeSums RangeSums::of(const Array& x, const Array* weights) {
    const std::size_t n = x.shape()[0], d = x.shape()[1];
    if (weights && shape_of(*weights) != Shape{n, 1})
        throw ShapeError("BoundedToNormal::from_data: weights " + shape_string(shape_of(*weights)) + " for rows " +
                         shape_string(shape_of(x)));
    RangeSums s;
    s.min = Array::from_shape({std::size_t(1), d});
    s.max = Array::from_shape({std::size_t(1), d});
    s.min.fill(std::numeric_limits<real>::infinity());
    s.max.fill(-std::numeric_limits<real>::infinity());
    for (std::size_t i = 0; i < n; ++i) {
        const real w = weights ? (*weights)(i, 0) : 1.0;
        if (!(w >= 0) || !std::isfinite(w))
            throw ValueError("BoundedToNormal::from_data: weight " + std::to_string(w) + " at row " + std::to_string(i));
        s.sum_w += w;
        s.sum_w2 += w * w;
        for (std::size_t j = 0; j < d; ++j) {
            s.min(0, j) = std::min(s.min(0, j), x(i, j));
            s.max(0, j) = std::max(s.max(0, j), x(i, j));
        }
    }
    return s;
}

void RangeSums::add(const RangeSums& other) {
    if (min.size() == 0) {
        *this = other;
        return;
    }
    if (other.min.size() != min.size())
        throw ShapeError("RangeSums::add: sums of " + std::to_string(other.min.size()) + " columns added to " +
                         std::to_string(min.size()));
    for (std::size_t j = 0; j < min.size(); ++j) {
        min(0, j) = std::min(min(0, j), other.min(0, j));
        max(0, j) = std::max(max(0, j), other.max(0, j));
    }
    sum_w += other.sum_w;
    sum_w2 += other.sum_w2;
}

std::unique_ptr<BoundedToNormal> BoundedToNormal::from_data(const Array& x, const Array* weights) {
    if (x.shape()[0] == 0 || x.shape()[1] == 0)
        throw ValueError("BoundedToNormal::from_data: no data (" + shape_string(shape_of(x)) + ")");
    return from_sums(RangeSums::of(x, weights));
}

std::unique_ptr<BoundedToNormal> BoundedToNormal::from_sums(const RangeSums& s) {
    const std::size_t d = s.min.size();
    if (d == 0 || !(s.sum_w2 > 0))
        throw ValueError(d == 0 ? "BoundedToNormal::from_data: no data" : "BoundedToNormal::from_data: the weights sum to zero");
    const real n_eff = s.sum_w * s.sum_w / s.sum_w2;  // Kish's effective sample size
    if (!(n_eff > 3))
        throw ValueError("BoundedToNormal::from_data: an effective sample size of " + std::to_string(n_eff) +
                         " (need more than 3 to widen the bounds)");
    Array lo = Array::from_shape({std::size_t(1), d}), hi = Array::from_shape({std::size_t(1), d});
    for (std::size_t j = 0; j < d; ++j) {
        const real mn = s.min(0, j), mx = s.max(0, j);
        if (!(mn < mx))
            throw ValueError("BoundedToNormal::from_data: column " + std::to_string(j) + " has one value (" +
                             std::to_string(mn) + ") in every row");
        hi(0, j) = ((n_eff - 2) * mx - mn) / (n_eff - 3);
        lo(0, j) = ((n_eff - 2) * mn - mx) / (n_eff - 3);
    }
    return std::make_unique<BoundedToNormal>(lo, hi);
}

std::unique_ptr<BoundedToNormal> BoundedToNormal::from_config(const nlohmann::json& config, Rng& /*rng*/) {
    return std::make_unique<BoundedToNormal>(row_of(config.at("lo").get<std::vector<real>>()),
                                             row_of(config.at("hi").get<std::vector<real>>()));
}

TransformResult BoundedToNormal::forward(Var x, Var /*context*/) {
    check_input_width("BoundedToNormal::forward", x, dim());
    const Array& v = x.value();
    const std::size_t n = v.shape()[0];
    // Rows outside the bounds lie where the density is zero: their log-determinant is −∞ (so is any
    // log-density through this transform) and their z is that of the box's centre, so that the
    // layers after this one see finite values. A piecewise flow needs this: each piece is zero
    // outside its own cluster's box, and the mixture's density there comes from the other pieces.
    // A value exactly on a bound is inside: the inverse puts a sample there when Φ(z) rounds to 0
    // or 1 (|z| above about 8.2), and its u is kept off 0 and 1 below so that z stays finite.
    std::vector<std::size_t> outside;
    for (std::size_t i = 0; i < n; ++i) {
        bool in = true;
        for (std::size_t j = 0; j < v.shape()[1]; ++j) {
            if (std::isnan(v(i, j)))
                throw ValueError("BoundedToNormal: row " + std::to_string(i) + " column " + std::to_string(j) + " is NaN");
            in = in && v(i, j) >= lo_(0, j) && v(i, j) <= hi_(0, j);
        }
        if (!in) outside.push_back(i);
    }
    Tape& t = x.tape();
    Var inside_x = x;
    Array zero_density;  // N×1: 0, or −∞ for the rows outside
    if (!outside.empty()) {
        Array keep = xt::ones<real>({n, dim()}), centre = xt::zeros<real>({n, dim()});
        zero_density = xt::zeros<real>({n, std::size_t(1)});
        for (std::size_t i : outside) {
            zero_density(i, 0) = -std::numeric_limits<real>::infinity();
            for (std::size_t j = 0; j < dim(); ++j) {
                keep(i, j) = 0;
                centre(i, j) = 0.5 * (lo_(0, j) + hi_(0, j));
            }
        }
        inside_x = x * t.constant(keep) + t.constant(centre);
    }
    constexpr real kEdge = 0x1p-53;  // u in [1e-300, 1 − 2⁻⁵³]: Φ⁻¹ finite (|z| ≤ 37)
    const Var u = clamp((inside_x - t.constant(lo_)) * t.constant(inv_width_), 1e-300, 1 - kEdge);
    const Var z = normal_quantile(u);
    // −log φ(z) = ½ z² + ½ log 2π per column.
    const real per_row = -log_width_ + static_cast<real>(dim()) * kHalfLog2Pi;
    Var log_det = add_scalar(mul_scalar(sum(square(z), 1), 0.5), per_row);
    if (!outside.empty()) log_det = log_det + t.constant(zero_density);
    return {z, log_det};
}

TransformResult BoundedToNormal::inverse(Var z, Var /*context*/) {
    check_input_width("BoundedToNormal::inverse", z, dim());
    Tape& t = z.tape();
    const Var x = normal_cdf(z) * t.constant(width_) + t.constant(lo_);
    const real per_row = log_width_ - static_cast<real>(dim()) * kHalfLog2Pi;
    return {x, add_scalar(mul_scalar(sum(square(z), 1), -0.5), per_row)};
}

nlohmann::json BoundedToNormal::config() const {
    std::vector<real> lo(lo_.begin(), lo_.end()), hi(hi_.begin(), hi_.end());
    return {{"kind", "bounded_to_normal"}, {"lo", lo}, {"hi", hi}};
}

}  // namespace flowtape
