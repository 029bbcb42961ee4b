// Rng: the one random engine of flowtape, always passed explicitly (there is no global RNG).
//
// The bits come from xoshiro256** (Blackman & Vigna), seeded through splitmix64. Uniform and normal
// variates are produced by our own code rather than <random>'s distributions, whose algorithms
// differ between standard libraries: the same seed gives the same numbers everywhere.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/types.hpp"

namespace flowtape {

class Rng {
public:
    explicit Rng(std::uint64_t seed = 0);

    // An independent engine for sub-task `stream` (a thread, a mixture component), derived from
    // `seed` alone so that results do not depend on the order in which streams are created.
    static Rng stream(std::uint64_t seed, std::uint64_t stream);

    std::uint64_t next_u64();
    // Uniform on [0, 1) with 53 random bits.
    real uniform();
    // Uniform on [lo, hi).
    real uniform(real lo, real hi);
    // Standard normal by the Box–Muller transform; the second variate of each pair is kept.
    real normal();
    // Uniform integer in [0, n), unbiased (rejection of the short last interval). n > 0.
    std::uint64_t below(std::uint64_t n);
    // An index drawn with probability weights[i] (weights summing to one) from one uniform u: the
    // first i whose cumulative weight exceeds u, the last when rounding leaves the sum below u.
    // Mixture components and pieces are picked this way. ValueError for no weights.
    std::size_t categorical(std::span<const real> weights);

    // Arrays of independent variates.
    Array uniform_array(std::size_t rows, std::size_t cols, real lo = 0, real hi = 1);
    Array normal_array(std::size_t rows, std::size_t cols);
    // Each of ±1 with probability 1/2 (Rademacher noise).
    Array rademacher_array(std::size_t rows, std::size_t cols);

    // A uniformly random permutation of 0..n-1 (Fisher–Yates).
    std::vector<std::size_t> permutation(std::size_t n);
    template <class T>
    void shuffle(std::vector<T>& v) {
        for (std::size_t i = v.size(); i > 1; --i) {
            const std::size_t j = static_cast<std::size_t>(below(i));
            std::swap(v[i - 1], v[j]);
        }
    }

private:
    std::uint64_t s_[4];
    bool has_spare_normal_ = false;
    real spare_normal_ = 0;
};

}  // namespace flowtape
