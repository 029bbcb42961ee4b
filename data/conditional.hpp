// The conditional data sets of the flows-for-flows paper (Section 3.3 and Appendix B): a built-in
// 2-D set whose points are rotated or radially scaled by a condition drawn per row, so that a
// conditional flow can learn p(x | c) and a flows-for-flows model can move points from one value
// of the condition to another. docs/datasets.md lists the constants.
//
//   rotation      an integer angle a uniform in 0..45 (degrees); the point rotated by a
//                 (counter-clockwise) and scaled by 1/√2 (at every angle, so a rotated set stays
//                 inside the square of the unrotated one); condition c = a / 45 ∈ [0, 1].
//   radial-scale  s = 0.5 + 0.5 √u, u uniform; the point times s; condition c = s ∈ [0.5, 1].
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/random.hpp"
#include "core/types.hpp"

namespace flowtape {

struct ConditionalSample {
    Array x;          // N×2
    Array condition;  // N×1
};

// The names below: "rotation", "radial-scale".
std::vector<std::string> condition_names();

// Each row rotated counter-clockwise by `angle_degrees` and scaled by 1/√2; each row times s.
// ShapeError unless points are N×2.
Array rotate_points(const Array& points, real angle_degrees);
Array scale_points(const Array& points, real s);

// n rows of the 2-D set `base_set` (make_dataset), each moved by its own condition drawn as above.
// ValueError for an unknown condition kind (naming the known ones) or base set.
ConditionalSample make_conditional_dataset(const std::string& condition, const std::string& base_set, std::size_t n,
                                           Rng& rng);

// The points of a set at one condition value c: rotation by 45·c, or scaling by c.
Array apply_condition(const std::string& condition, const Array& points, real c);
// The conditions' range: [0, 1] for rotation, [0.5, 1] for radial-scale.
std::pair<real, real> condition_range(const std::string& condition);

}  // namespace flowtape
