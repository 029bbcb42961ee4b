// The number type and the array types every module shares.
//
// Values are 2-D row-major arrays: rows are the batch, columns the features. A scalar is a 1×1
// array. Integer arrays carry indices (a bin per element for splines, a label per row).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/xtensor.hpp"

namespace flowtape {

using real = double;
using Array = xt::xtensor<real, 2>;
using IndexArray = xt::xtensor<std::int64_t, 2>;
using Shape = std::array<std::size_t, 2>;

// The label of a row that has none (semi-supervised data): labels are class numbers ≥ 0 otherwise.
inline constexpr std::int64_t kNoLabel = -1;

inline Shape shape_of(const Array& a) { return {a.shape()[0], a.shape()[1]}; }

// "3×4", for error messages.
std::string shape_string(Shape s);

// Resizes `a` to `s` only when its shape differs; returns true when memory was (re)allocated.
// Reusing buffers this way is what lets a second identical training step allocate nothing.
inline bool ensure_shape(Array& a, Shape s) {
    if (a.shape()[0] == s[0] && a.shape()[1] == s[1]) return false;
    const bool same_size = a.size() == s[0] * s[1];
    a.resize(s);
    return !same_size;
}

}  // namespace flowtape
