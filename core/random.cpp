#include "core/random.hpp"

#include <cmath>
#include <numbers>

#include "core/error.hpp"

namespace flowtape {
namespace {

std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

Rng::Rng(std::uint64_t seed) {
    std::uint64_t x = seed;
    for (auto& word : s_) word = splitmix64(x);
}

Rng Rng::stream(std::uint64_t seed, std::uint64_t stream) {
    // Mix the stream number through splitmix64 so that neighbouring streams are unrelated.
    std::uint64_t x = stream;
    return Rng(seed ^ splitmix64(x));
}

std::uint64_t Rng::next_u64() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
}

real Rng::uniform() { return static_cast<real>(next_u64() >> 11) * 0x1.0p-53; }

real Rng::uniform(real lo, real hi) { return lo + (hi - lo) * uniform(); }

real Rng::normal() {
    if (has_spare_normal_) {
        has_spare_normal_ = false;
        return spare_normal_;
    }
    // 1 - uniform() lies in (0, 1], so the logarithm is finite.
    const real radius = std::sqrt(-2.0 * std::log(1.0 - uniform()));
    const real angle = 2.0 * std::numbers::pi * uniform();
    spare_normal_ = radius * std::sin(angle);
    has_spare_normal_ = true;
    return radius * std::cos(angle);
}

std::uint64_t Rng::below(std::uint64_t n) {
    if (n == 0) throw ValueError("Rng::below: n must be positive");
    // Accept only draws below the largest multiple of n, so every residue is equally likely.
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    std::uint64_t x;
    do x = next_u64();
    while (x >= limit);
    return x % n;
}

std::size_t Rng::categorical(std::span<const real> weights) {
    if (weights.empty()) throw ValueError("Rng::categorical: needs at least one weight");
    const real u = uniform();
    real cumulative = 0;
    for (std::size_t i = 0; i + 1 < weights.size(); ++i) {
        cumulative += weights[i];
        if (u < cumulative) return i;
    }
    return weights.size() - 1;
}

Array Rng::uniform_array(std::size_t rows, std::size_t cols, real lo, real hi) {
    Array a = Array::from_shape({rows, cols});
    for (auto& v : a) v = uniform(lo, hi);
    return a;
}

Array Rng::normal_array(std::size_t rows, std::size_t cols) {
    Array a = Array::from_shape({rows, cols});
    for (auto& v : a) v = normal();
    return a;
}

Array Rng::rademacher_array(std::size_t rows, std::size_t cols) {
    Array a = Array::from_shape({rows, cols});
    for (auto& v : a) v = (next_u64() >> 63) ? 1.0 : -1.0;
    return a;
}

std::vector<std::size_t> Rng::permutation(std::size_t n) {
    std::vector<std::size_t> p(n);
    for (std::size_t i = 0; i < n; ++i) p[i] = i;
    shuffle(p);
    return p;
}

}  // namespace flowtape
