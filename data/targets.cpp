// The Stimper et al. (2022) targets: their log-densities, samplers and normalising constants (the
// formulas and the choice of box are in targets.hpp). Each target is a row of a small table: a
// pointwise log-density, its box, a bound for rejection sampling and a point sampler.
#include "data/targets.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <numbers>

#include "core/error.hpp"

namespace flowtape {
namespace {

constexpr real pi = std::numbers::pi;
real square(real v) { return v * v; }

// ---- two-moons ----

real two_moons_log_density(real x0, real x1) {
    const real r = std::hypot(x0, x1);
    const real a = std::fabs(x0);
    // The two Gaussian bumps in x₀ at ±2, folded onto a = |x₀| so that the exponent never
    // overflows: log(e^{−½((a−2)/0.3)²} + e^{−½((a+2)/0.3)²}) = −½((a−2)/0.3)² + log1p(e^{−4a/0.09}).
    return -0.5 * square((r - 2) / 0.2) - 0.5 * square((a - 2) / 0.3) + std::log1p(std::exp(-4 * a / 0.09));
}
// The radial factor is ≤ 1, the first bump ≤ 1 and the second ≤ e^{−½(2/0.3)²} (a ≥ 0).
const real two_moons_log_bound = std::log1p(std::exp(-0.5 * square(2 / 0.3)));

// ---- circle-of-gaussians ----

constexpr int cg_modes = 8;
const real cg_scale = 2.0 / 3.0 * std::sin(pi / cg_modes);

real cg_mode_x0(int k) { return 2 * std::sin(2 * pi / cg_modes * k); }
real cg_mode_x1(int k) { return 2 * std::cos(2 * pi / cg_modes * k); }

real circle_of_gaussians_log_density(real x0, real x1) {
    real d[cg_modes];
    for (int k = 0; k < cg_modes; ++k)
        d[k] = (square(x0 - cg_mode_x0(k)) + square(x1 - cg_mode_x1(k))) / (2 * square(cg_scale));
    // log Σ e^{−dₖ} = −d_min + log(1 + Σ_{k≠k_min} e^{−(dₖ − d_min)}): no underflow far from
    // every mode, and log1p keeps the small terms' relative precision near a mode.
    const int k_min = static_cast<int>(std::min_element(d, d + cg_modes) - d);
    real rest = 0;
    for (int k = 0; k < cg_modes; ++k)
        if (k != k_min) rest += std::exp(-(d[k] - d[k_min]));
    return -std::log(2 * pi * square(cg_scale) * cg_modes) - d[k_min] + std::log1p(rest);
}
// Each component's density is at most 1/(2π s²), so the mixture's is too (only used as a shift).
const real cg_log_bound = -std::log(2 * pi * square(cg_scale));

// ---- two-rings ----

constexpr int ring_count = 2;
constexpr real ring_scale = 1.0 / 4 / ring_count;
real ring_radius(int i) { return 2.0 / ring_count * (i + 1); }

// The exponent −(r − rᵢ)²/(2s²) of ring i at radius r.
real ring_exponent(real r, int i) { return -square(r - ring_radius(i)) / (2 * square(ring_scale)); }

real two_rings_log_density(real x0, real x1) {
    const real r = std::hypot(x0, x1);
    const real e0 = ring_exponent(r, 0), e1 = ring_exponent(r, 1);
    return std::max(e0, e1) + std::log1p(std::exp(-std::fabs(e0 - e1)));  // log(e^{e₀} + e^{e₁})
}
// The nearer ring's term is ≤ 1; the farther ring lies ≥ half the spacing (1/2) away.
const real two_rings_log_bound = std::log1p(std::exp(-square(0.5) / (2 * square(ring_scale))));

// ---- the table ----

struct Point {
    real x0, x1;
    std::int64_t label;
};

struct Target {
    const char* name;
    real (*log_density)(real, real);
    real half_width;  // the box [−w, w]²
    real log_bound;   // ≥ max of log_density on the box
    std::size_t classes;
    Point (*draw)(const Target&, Rng&);
};

// Uniform proposals on the box, accepted with probability p̃(x)/M.
Point draw_by_rejection(const Target& t, Rng& rng) {
    const real w = t.half_width;
    while (true) {
        const real x0 = rng.uniform(-w, w);
        const real x1 = rng.uniform(-w, w);
        if (rng.uniform() < std::exp(t.log_density(x0, x1) - t.log_bound)) return {x0, x1, 0};
    }
}

Point draw_two_moons(const Target& t, Rng& rng) { return draw_by_rejection(t, rng); }

Point draw_two_rings(const Target& t, Rng& rng) {
    Point p = draw_by_rejection(t, rng);
    // The ring from its posterior: p(0 | x) = 1/(1 + e^{e₁ − e₀}).
    const real r = std::hypot(p.x0, p.x1);
    const real p_inner = 1 / (1 + std::exp(ring_exponent(r, 1) - ring_exponent(r, 0)));
    p.label = rng.uniform() < p_inner ? 0 : 1;
    return p;
}

Point draw_circle_of_gaussians(const Target&, Rng& rng) {
    const int k = static_cast<int>(rng.below(cg_modes));
    const real e0 = rng.normal();
    const real e1 = rng.normal();
    return {cg_mode_x0(k) + cg_scale * e0, cg_mode_x1(k) + cg_scale * e1, k};
}

const Target targets[] = {
    {"two-moons", two_moons_log_density, 4.0, two_moons_log_bound, 0, draw_two_moons},
    {"circle-of-gaussians", circle_of_gaussians_log_density, 4.0, cg_log_bound, cg_modes, draw_circle_of_gaussians},
    {"two-rings", two_rings_log_density, 4.0, two_rings_log_bound, ring_count, draw_two_rings},
};

std::string known_names() {
    std::string out;
    for (const Target& t : targets) out += (out.empty() ? "" : ", ") + std::string(t.name);
    return out;
}

const Target& find_target(const std::string& name, const char* caller) {
    for (const Target& t : targets)
        if (name == t.name) return t;
    throw ValueError(std::string(caller) + ": no target density named '" + name + "' (known: " + known_names() + ")");
}

// ∫ p̃ over the box by the midpoint rule, with p̃ scaled by e^{−log_bound} (≤ 1) while summing.
real quadrature(const Target& t, std::size_t cells) {
    const real w = t.half_width;
    const real h = 2 * w / static_cast<real>(cells);
    real total = 0;
    for (std::size_t i = 0; i < cells; ++i) {
        const real x0 = -w + (static_cast<real>(i) + 0.5) * h;
        real row = 0;  // one row at a time keeps the partial sums of similar size
        for (std::size_t j = 0; j < cells; ++j) {
            const real x1 = -w + (static_cast<real>(j) + 0.5) * h;
            row += std::exp(t.log_density(x0, x1) - t.log_bound);
        }
        total += row;
    }
    return std::log(total * h * h) + t.log_bound;
}

}  // namespace

std::vector<std::string> target_names() {
    std::vector<std::string> names;
    for (const Target& t : targets) names.emplace_back(t.name);
    return names;
}

bool has_log_density(const std::string& name) {
    return std::any_of(std::begin(targets), std::end(targets), [&](const Target& t) { return name == t.name; });
}

Array log_density(const std::string& name, const Array& x) {
    const Target& t = find_target(name, "log_density");
    if (x.shape()[1] != 2)
        throw ShapeError("log_density('" + name + "'): x is " + shape_string(shape_of(x)) + ", expected N×2");
    Array out = Array::from_shape({x.shape()[0], 1});
    for (std::size_t i = 0; i < x.shape()[0]; ++i) {
        if (!std::isfinite(x(i, 0)) || !std::isfinite(x(i, 1)))
            throw ValueError("log_density('" + name + "'): row " + std::to_string(i) + " of x (" +
                             std::to_string(x(i, 0)) + ", " + std::to_string(x(i, 1)) + ") is not finite");
        out(i, 0) = t.log_density(x(i, 0), x(i, 1));
    }
    return out;
}

real target_half_width(const std::string& name) { return find_target(name, "target_half_width").half_width; }

real log_normaliser_quadrature(const std::string& name, std::size_t cells) {
    const Target& t = find_target(name, "log_normaliser_quadrature");
    if (cells == 0) throw ValueError("log_normaliser_quadrature('" + name + "'): cells must be positive");
    return quadrature(t, cells);
}

real log_normaliser(const std::string& name) {
    const Target& t = find_target(name, "log_normaliser");
    static std::mutex mutex;
    static std::map<std::string, real> cache;
    const std::lock_guard<std::mutex> lock(mutex);
    const auto it = cache.find(t.name);
    if (it != cache.end()) return it->second;
    const real value = quadrature(t, kNormaliserCells);
    cache.emplace(t.name, value);
    return value;
}

Array normalised_log_density(const std::string& name, const Array& x) {
    Array lp = log_density(name, x);
    const real log_z = log_normaliser(name);
    for (real& v : lp) v -= log_z;
    return lp;
}

Dataset sample_target(const std::string& name, std::size_t n, Rng& rng) {
    const Target& t = find_target(name, "sample_target");
    if (n == 0) throw ValueError("sample_target('" + name + "'): n must be positive");
    Dataset d;
    d.x = Array::from_shape({n, 2});
    d.columns = {"x0", "x1"};
    IndexArray labels = IndexArray::from_shape({n, 1});
    for (std::size_t i = 0; i < n; ++i) {
        const Point p = t.draw(t, rng);
        d.x(i, 0) = p.x0;
        d.x(i, 1) = p.x1;
        labels(i, 0) = p.label;
    }
    if (t.classes > 0) d.labels = std::move(labels);
    return d;
}

}  // namespace flowtape
