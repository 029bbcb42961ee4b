// Gradient checking by central finite differences in double precision.
//
// The function under test is recorded on a fresh tape from the input arrays; its output (any shape)
// is projected onto fixed random weights w to make a scalar L = Σ w ⊙ f. The analytic gradient of L
// (one backward sweep seeded with w) is compared entry by entry with
//     (L(x + h eᵢ) − L(x − h eᵢ)) / 2h,   h = step · max(1, |xᵢ|).
// The error of an entry is |analytic − numeric| / max(1, |analytic|, |numeric|): relative for
// gradients of size 1 and more, absolute below that. Tests ask for 1e-6 or better; choose inputs
// away from kinks (relu and abs at 0, clamp bounds), where no finite difference can agree.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "autodiff/tape.hpp"

namespace flowtape {

struct GradcheckOptions {
    real step = 1e-6;
    real tolerance = 1e-6;
    std::uint64_t seed = 12345;  // for the projection weights w
};

struct GradcheckResult {
    bool ok = true;
    real max_error = 0;   // the largest entry error
    std::string worst;    // "input 1 entry (2, 0): analytic 0.5 numeric 0.49"
    explicit operator bool() const { return ok; }
};

// f records the function from the Vars made for `inputs` (tape.variable of each, in order).
using GradcheckFn = std::function<Var(Tape&, const std::vector<Var>&)>;
GradcheckResult gradcheck(const GradcheckFn& f, std::vector<Array> inputs, GradcheckOptions options = {});

// The same for a layer: f records the function on the tape (using tape.param for each parameter);
// the gradients with respect to every parameter's value are checked.
using GradcheckParamsFn = std::function<Var(Tape&)>;
GradcheckResult gradcheck_parameters(const GradcheckParamsFn& f, const std::vector<Parameter*>& params,
                                     GradcheckOptions options = {});

}  // namespace flowtape
