// Uniform random labels (see random_labels.hpp).
#include "cluster/random_labels.hpp"

#include <string>

#include "core/error.hpp"

namespace flowtape::cluster {

Labels random_labels(std::size_t n, std::size_t k, Rng& rng) {
    if (n == 0) throw ValueError("random_labels: n = 0, no rows to label");
    if (k == 0) throw ValueError("random_labels: k = 0, must be at least 1 (for " + std::to_string(n) + " rows)");
    Labels labels(n);
    for (auto& l : labels) l = static_cast<std::int64_t>(rng.below(k));
    return labels;
}

}  // namespace flowtape::cluster
