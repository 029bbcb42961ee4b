// Small helpers shared by the files that define ops (not part of the public API).
#pragma once

#include <string>

#include "autodiff/ops.hpp"

namespace flowtape::detail {

// The broadcast shape of two operands (each dimension equal or 1), or ShapeError naming the op.
Shape broadcast_shapes(const char* op, Shape a, Shape b);

// Throws ShapeError "<op>: shapes 3×4 and 2×4 differ (it takes two arrays of one shape)" unless a == b.
void require_same_shape(const char* op, Shape a, Shape b);

// Throws ValueError "<op>: needs a non-empty input, got 0×3".
void require_nonempty(const char* op, Shape s);

// Throws ValueError unless axis is 0 or 1.
void require_axis(const char* op, int axis);

// Sums terms that may be absent (an invalid Var), for tangent rules: the tangent of an op is a sum
// of one term per input that carries a tangent.
class TangentSum {
public:
    void add(Var term) {
        if (!term.valid()) return;
        total_ = total_.valid() ? flowtape::add(total_, term) : term;
    }
    Var get() const { return total_; }

private:
    Var total_;
};

}  // namespace flowtape::detail
