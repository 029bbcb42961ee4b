// The conditional data sets (conditional.hpp): rotation and radial scaling by a per-row condition.
#include "data/conditional.hpp"

#include <cmath>

#include "core/error.hpp"
#include "data/datasets.hpp"

namespace flowtape {
namespace {

void check_points(const char* who, const Array& points) {
    if (points.shape()[1] != 2) throw ShapeError(std::string(who) + ": points " + shape_string(shape_of(points)) + ", expected N×2");
}

void check_kind(const char* who, const std::string& condition) {
    if (condition != "rotation" && condition != "radial-scale")
        throw ValueError(std::string(who) + ": unknown condition '" + condition + "' (rotation or radial-scale)");
}

// Row i rotated by `degrees` and scaled by 1/√2, written into out.
void rotate_row(const Array& in, std::size_t i, real degrees, Array& out) {
    const real t = degrees * std::acos(-1.0) / 180, c = std::cos(t) / std::sqrt(2.0), s = std::sin(t) / std::sqrt(2.0);
    const real x = in(i, 0), y = in(i, 1);
    out(i, 0) = c * x - s * y;
    out(i, 1) = s * x + c * y;
}

}  // namespace

std::vector<std::string> condition_names() { return {"rotation", "radial-scale"}; }

Array rotate_points(const Array& points, real angle_degrees) {
    check_points("rotate_points", points);
    Array out = points;
    for (std::size_t i = 0; i < points.shape()[0]; ++i) rotate_row(points, i, angle_degrees, out);
    return out;
}

Array scale_points(const Array& points, real s) {
    check_points("scale_points", points);
    return points * s;
}

ConditionalSample make_conditional_dataset(const std::string& condition, const std::string& base_set, std::size_t n,
                                           Rng& rng) {
    check_kind("make_conditional_dataset", condition);
    const Dataset base = make_dataset(base_set, n, rng);
    check_points("make_conditional_dataset", base.x);
    ConditionalSample out{base.x, xt::zeros<real>({n, std::size_t(1)})};
    for (std::size_t i = 0; i < n; ++i) {
        if (condition == "rotation") {
            const auto angle = static_cast<real>(rng.below(46));  // 0..45 degrees
            rotate_row(base.x, i, angle, out.x);
            out.condition(i, 0) = angle / 45;
        } else {
            const real s = 0.5 + 0.5 * std::sqrt(rng.uniform());
            out.x(i, 0) *= s;
            out.x(i, 1) *= s;
            out.condition(i, 0) = s;
        }
    }
    return out;
}

Array apply_condition(const std::string& condition, const Array& points, real c) {
    check_kind("apply_condition", condition);
    return condition == "rotation" ? rotate_points(points, 45 * c) : scale_points(points, c);
}

std::pair<real, real> condition_range(const std::string& condition) {
    check_kind("condition_range", condition);
    return condition == "rotation" ? std::pair<real, real>{0, 1} : std::pair<real, real>{0.5, 1};
}

}  // namespace flowtape
