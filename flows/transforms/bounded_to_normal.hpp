// BoundedToNormal: each column of bounded data mapped to a standard normal, as margarine (the
// piecewise-flows paper's code) does before its flow: through the CDF of a uniform on [lo, hi],
// then the normal quantile,
//     z = Φ⁻¹((x − lo) / (hi − lo)),   log|∂z/∂x| = Σ_j [−log(hi_j − lo_j) − log φ(z_j)],
// and back x = lo + (hi − lo) Φ(z). The bounds are fixed (stored in the config, not learned);
// `from_data` widens the data's range as margarine does, by one gap of the n − 3 between n
// points on each side:
//     hi = ((n − 2) max − min) / (n − 3),   lo = ((n − 2) min − max) / (n − 3),
// n the Kish effective sample size (Σw)² / Σw² (the row count without weights).
//
// The density it gives is zero outside (lo, hi): forward on a value there throws a ValueError
// naming the row, the column and the bounds rather than returning an infinite or NaN
// log-determinant.
#pragma once

#include "core/random.hpp"
#include "flows/transform.hpp"

namespace flowtape {

// What from_data reduces rows to: per column the smallest and largest value, and Σw, Σw² (the
// row count twice without weights). Sums of row sets combine with add, so rows held by several
// processes are reduced part by part (data-parallel training) to the bounds of all of them.
struct RangeSums {
    Array min, max;  // 1×D; +∞ and −∞ for no rows
    real sum_w = 0, sum_w2 = 0;

    // Of the rows of x (N×D, N may be 0) with optional weights (N×1, finite, ≥ 0; ValueError
    // naming the row otherwise).
    static RangeSums of(const Array& x, const Array* weights = nullptr);
    void add(const RangeSums& other);
};

class BoundedToNormal : public Transform {
public:
    // lo and hi are 1×D, finite, lo < hi in every column (ValueError otherwise).
    BoundedToNormal(Array lo, Array hi);
    // The widened bounds of x (N×D) with optional weights (N×1, ≥ 0, positive sum). ValueError for
    // an effective sample size of 3 or less, or a column whose values are all equal.
    static std::unique_ptr<BoundedToNormal> from_data(const Array& x, const Array* weights = nullptr);
    // The same from the sums of the rows; the same ValueErrors, and one for no rows or zero weight.
    static std::unique_ptr<BoundedToNormal> from_sums(const RangeSums& sums);
    // {"kind": "bounded_to_normal", "lo": [...], "hi": [...]}; rng unused.
    static std::unique_ptr<BoundedToNormal> from_config(const nlohmann::json& config, Rng& rng);

    TransformResult forward(Var x, Var context = Var()) override;
    TransformResult inverse(Var z, Var context = Var()) override;
    std::size_t dim() const override { return lo_.shape()[1]; }
    std::string kind() const override { return "bounded_to_normal"; }
    nlohmann::json config() const override;
    void collect_parameters(ParameterList& /*out*/, const std::string& /*prefix*/) override {}
    const Array& lo() const { return lo_; }
    const Array& hi() const { return hi_; }

private:
    Array lo_, hi_, width_, inv_width_;
    real log_width_ = 0;  // Σ_j log(hi_j − lo_j)
};

}  // namespace flowtape
