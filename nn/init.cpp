// Weight initialisers.
#include "nn/init.hpp"

#include <cmath>
#include <string>

#include "core/error.hpp"

namespace flowtape {

Array glorot_uniform(Rng& rng, std::size_t fan_in, std::size_t fan_out) {
    if (fan_in + fan_out == 0) throw ValueError("glorot_uniform: fan_in and fan_out are both 0");
    const real bound = std::sqrt(6.0 / static_cast<real>(fan_in + fan_out));
    return rng.uniform_array(fan_in, fan_out, -bound, bound);
}

Array zeros(std::size_t rows, std::size_t cols) { return xt::zeros<real>({rows, cols}); }

}  // namespace flowtape
