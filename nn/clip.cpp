// clip_grad_norm. The norm is computed as a · sqrt(Σ (g/a)²) with a the largest |g|, so gradients
// near the largest double do not overflow to an infinite norm.
#include "nn/clip.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.hpp"

namespace flowtape {

real clip_grad_norm(const ParameterList& params, real max_norm) {
    if (!(max_norm > 0) || !std::isfinite(max_norm))
        throw ValueError("clip_grad_norm: max_norm must be finite and > 0, got " + std::to_string(max_norm));
    real largest = 0;
    for (const NamedParameter& item : params.items()) {
        for (real g : item.parameter->grad()) {
            if (!std::isfinite(g))
                throw NonFiniteError("clip_grad_norm: parameter '" + item.name + "' has a non-finite gradient (" +
                                     std::to_string(g) + ")");
            largest = std::max(largest, std::abs(g));
        }
    }
    if (largest == 0) return 0;
    real sum = 0;
    for (const NamedParameter& item : params.items())
        for (real g : item.parameter->grad()) sum += (g / largest) * (g / largest);
    const real norm = largest * std::sqrt(sum);
    if (norm > max_norm) {
        const real scale = max_norm / norm;
        for (const NamedParameter& item : params.items())
            for (real& g : item.parameter->grad()) g *= scale;
    }
    return norm;
}

}  // namespace flowtape
