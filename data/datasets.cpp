// The toy data sets, one small function per set that draws one point (and its class), and the
// name table make_dataset walks. The three Stimper et al. targets are drawn by data/targets.cpp.
//
// Sets that are mixtures (classes) draw the class uniformly for every row, so rows are independent
// draws from the mixture; the reference implementations instead split n evenly between classes
// (and sklearn spaces its angles evenly): the same distributions, but not i.i.d. rows.
// The mixtures-of-flows paper's four sets (circles, half-moons, pinwheel-johnson, two-bananas) are
// the exception: they follow their references' construction — even splits, evenly spaced angles,
// a shuffle — so that they are the sets the paper trained on (up to numpy's random numbers, which
// we do not reproduce: every draw comes from our Rng).
// Below, u ~ U[0, 1), k ~ U{0..K−1}, and ε, ε₀, ε₁ ~ N(0, 1) are fresh draws.
#include "data/datasets.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/error.hpp"

namespace flowtape {
namespace {

constexpr real pi = std::numbers::pi;

struct Point {
    real x0, x1;
    std::int64_t label;
};

// The point (r cos θ, r sin θ).
Point polar(real r, real theta, std::int64_t label) { return {r * std::cos(theta), r * std::sin(theta), label}; }

// pinwheel (FFJORD's toy data, after Johnson et al. 2016), K = 5 arms:
//   f = (1 + 0.3 ε₀, 0.1 ε₁), a = 2πk/K + 0.25·exp(f₀),
//   x = 2·(f₀ cos a + f₁ sin a, −f₀ sin a + f₁ cos a)   (f turned clockwise by a);
//   label k.
Point pinwheel(Rng& rng) {
    const auto k = static_cast<std::int64_t>(rng.below(5));
    const real f0 = 1 + 0.3 * rng.normal();
    const real f1 = 0.1 * rng.normal();
    const real a = 2 * pi * static_cast<real>(k) / 5 + 0.25 * std::exp(f0);
    return {2 * (f0 * std::cos(a) + f1 * std::sin(a)), 2 * (-f0 * std::sin(a) + f1 * std::cos(a)), k};
}

// two-circles: sklearn's make_circles(factor = 0.5, noise = 0.08) scaled by 3 (FFJORD's "circles"):
//   class c ∈ {0 outer, 1 inner}, radius R = 3 or 1.5, θ = 2πu,
//   x = R (cos θ, sin θ) + 0.24 (ε₀, ε₁).
Point two_circles(Rng& rng) {
    const auto c = static_cast<std::int64_t>(rng.below(2));
    const real theta = 2 * pi * rng.uniform();
    Point p = polar(c == 0 ? 3.0 : 1.5, theta, c);
    p.x0 += 0.24 * rng.normal();
    p.x1 += 0.24 * rng.normal();
    return p;
}

// moons: sklearn's make_moons(noise = 0.1), then ×2 − (1, 0.2) as in FFJORD:
//   class c, t = πu; c = 0: m = (cos t, sin t); c = 1: m = (1 − cos t, 0.5 − sin t);
//   x = 2 (m + 0.1 (ε₀, ε₁)) − (1, 0.2).
Point moons(Rng& rng) {
    const auto c = static_cast<std::int64_t>(rng.below(2));
    const real t = pi * rng.uniform();
    real m0 = std::cos(t), m1 = std::sin(t);
    if (c == 1) {
        m0 = 1 - m0;
        m1 = 0.5 - m1;
    }
    m0 += 0.1 * rng.normal();
    m1 += 0.1 * rng.normal();
    return {2 * m0 - 1, 2 * m1 - 0.2, c};
}

// checkerboard (FFJORD, nsf): uniform on the 8 dark squares of a 4×4 board on [−4, 4]²:
//   s = 4u − 2, b ~ U{0, 1}, t = u' − 2b + (⌊s⌋ mod 2), x = 2 (s, t).
//   Every point has ⌊x₀/2⌋ + ⌊x₁/2⌋ even. No labels.
Point checkerboard(Rng& rng) {
    const real s = 4 * rng.uniform() - 2;
    const real b = static_cast<real>(rng.below(2));
    const real parity = std::floor(s) - 2 * std::floor(std::floor(s) / 2);  // ⌊s⌋ mod 2 ∈ {0, 1}
    const real t = rng.uniform() - 2 * b + parity;
    return {2 * s, 2 * t, 0};
}

// four-circles (nsf FourCircles): K = 4 circles of radius 2 centred at
//   c = (1, 1), (1, −1), (−1, 1), (−1, −1) for k = 0..3:
//   x = c_k + 2 (cos 2πu, sin 2πu) + 0.1 (ε₀, ε₁); label k.
Point four_circles(Rng& rng) {
    static constexpr real centres[4][2] = {{1, 1}, {1, -1}, {-1, 1}, {-1, -1}};
    const auto k = static_cast<std::int64_t>(rng.below(4));
    Point p = polar(2.0, 2 * pi * rng.uniform(), k);
    p.x0 += centres[k][0] + 0.1 * rng.normal();
    p.x1 += centres[k][1] + 0.1 * rng.normal();
    return p;
}

// spirals (FFJORD "2spirals", nsf TwoSpirals): two interleaved spirals of 540°:
//   t = 3π √u, d = (−t cos t + 0.5 u₁, t sin t + 0.5 u₂), d ← −d for class 1,
//   x = d/3 + 0.1 (ε₀, ε₁); label the spiral.
Point spirals(Rng& rng) {
    const auto c = static_cast<std::int64_t>(rng.below(2));
    const real t = 3 * pi * std::sqrt(rng.uniform());
    real d0 = -t * std::cos(t) + 0.5 * rng.uniform();
    real d1 = t * std::sin(t) + 0.5 * rng.uniform();
    if (c == 1) {
        d0 = -d0;
        d1 = -d1;
    }
    return {d0 / 3 + 0.1 * rng.normal(), d1 / 3 + 0.1 * rng.normal(), c};
}

// ring (flows4flows' "ring": Anulus with radius 0.5 and std 0.3, i.e. ½·1.5·(2 e_θ + 0.3 ε)):
//   x = 1.5 (cos 2πu, sin 2πu) + 0.225 (ε₀, ε₁). No labels.
Point ring(Rng& rng) {
    Point p = polar(1.5, 2 * pi * rng.uniform(), 0);
    p.x0 += 0.225 * rng.normal();
    p.x1 += 0.225 * rng.normal();
    return p;
}

// ring-wide (the flows-for-flows issue's ring, r = 2.25: x = ½ r (2 (cos 2πu, sin 2πu) + 0.3 ε)):
//   x = 2.25 (cos 2πu, sin 2πu) + 0.3375 (ε₀, ε₁). No labels.
Point ring_wide(Rng& rng) {
    Point p = polar(2.25, 2 * pi * rng.uniform(), 0);
    p.x0 += 0.3375 * rng.normal();
    p.x1 += 0.3375 * rng.normal();
    return p;
}

// concentric-rings (flows4flows ConcentricRings): K = 4 rings, ρ_k = 0.4 (k + 1):
//   x = ρ_k (2 (cos 2πu, sin 2πu) + 0.1 (ε₀, ε₁)), i.e. radius 0.8 (k + 1) with noise 0.04 (k + 1);
//   label k.
Point concentric_rings(Rng& rng) {
    const auto k = static_cast<std::int64_t>(rng.below(4));
    const real rho = 0.4 * static_cast<real>(k + 1);
    Point p = polar(2 * rho, 2 * pi * rng.uniform(), k);
    p.x0 += rho * 0.1 * rng.normal();
    p.x1 += rho * 0.1 * rng.normal();
    return p;
}

// star / eight-star (flows4flows Star with 4 or 8 bars): bar k of K along the angle θ = 2πk/K:
//   b = (2 (u + 0.3) + 0.1 ε₀, 0.1 ε₁)  (a bar from 0.6 to 2.6 on the x₀ axis),
//   x = b turned counter-clockwise by θ: (b₀ cos θ − b₁ sin θ, b₀ sin θ + b₁ cos θ); label k.
Point star_with(Rng& rng, int bars) {
    const auto k = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(bars)));
    const real theta = 2 * pi * static_cast<real>(k) / bars;
    const real u = rng.uniform();  // one draw per statement: the order of draws is fixed
    const real b0 = 2 * (u + 0.3) + 0.1 * rng.normal();
    const real b1 = 0.1 * rng.normal();
    return {b0 * std::cos(theta) - b1 * std::sin(theta), b0 * std::sin(theta) + b1 * std::cos(theta), k};
}
Point star(Rng& rng) { return star_with(rng, 4); }
Point eight_star(Rng& rng) { return star_with(rng, 8); }

// cascading-moons (the multimodal-base CNF paper's Figure 1, Josias & Brink): six half-moons in a
// diagonal chain, labels k = 0..5, the classes taken in turn (row i has class i mod 6, so the counts
// are equal up to one; the paper's sets hold equally many points per mode). Moon k is sklearn's moon
// (k mod 2) — an upper arc opening downwards, then a lower arc opening upwards, interlocked —
// shifted so that every moon's mean lies on one line:
//   t = πu; c = k mod 2: m = (cos t, sin t) for c = 0, (1 − cos t, 0.5 − sin t) for c = 1;
//   δ = (1, 0.5 − 4/π) (the step from moon 0's mean (0, 2/π) to moon 1's (1, 0.5 − 2/π)),
//   x = m + 2⌊k/2⌋ δ + 0.1 (ε₀, ε₁) − (0, 2/π) − 2.5 δ,
// so E[x | k] = (k − 2.5) δ: the class means are evenly spaced on the line through the origin
// along δ ≈ (1, −0.773), and the whole chain is centred at the origin.
Point cascading_moon(Rng& rng, std::int64_t k) {
    const real t = pi * rng.uniform();
    real m0 = std::cos(t), m1 = std::sin(t);
    if (k % 2 == 1) {
        m0 = 1 - m0;
        m1 = 0.5 - m1;
    }
    const real d0 = 1, d1 = 0.5 - 4 / pi;
    const real shift = 2 * static_cast<real>(k / 2) - 2.5;
    const real e0 = 0.1 * rng.normal();
    const real e1 = 0.1 * rng.normal();
    return {m0 + shift * d0 + e0, m1 + shift * d1 - 2 / pi + e1, k};
}

// The rows of cascading-moons, class i mod 6 for row i (not i.i.d. in the class: equal counts).
Dataset cascading_moons(std::size_t n, Rng& rng) {
    Dataset d;
    d.x = Array::from_shape({n, 2});
    d.columns = {"x0", "x1"};
    IndexArray labels = IndexArray::from_shape({n, 1});
    for (std::size_t i = 0; i < n; ++i) {
        const Point p = cascading_moon(rng, static_cast<std::int64_t>(i % 6));
        d.x(i, 0) = p.x0;
        d.x(i, 1) = p.x1;
        labels(i, 0) = p.label;
    }
    d.labels = std::move(labels);
    return d;
}

// ---- the mixtures-of-flows paper's sets (nf-mixture's code) ----
//
// Each is built as a whole, in its reference's order: the noiseless points class by class, then a
// shuffle of the rows, then (sklearn) the noise. Drawing the permutation before the noise, as
// sklearn does, matters only for which of our random numbers lands where.

// numpy's linspace(0, stop, m, endpoint)[j]: j·stop/(m − 1) with the endpoint (the last value
// exactly stop, and 0 alone when m = 1), j·stop/m without.
real linspace_at(real stop, std::size_t j, std::size_t m, bool endpoint) {
    const std::size_t div = endpoint ? m - 1 : m;
    if (div == 0) return 0;
    if (endpoint && j == m - 1) return stop;
    return static_cast<real>(j) * (stop / static_cast<real>(div));
}

// The rows points[order[0]], points[order[1]], … as a labelled 2-D set, with N(0, noise²) added to
// each coordinate of each output row in turn (row 0's x0, row 0's x1, row 1's x0, …).
Dataset labelled_rows(const std::vector<Point>& points, const std::vector<std::size_t>& order, real noise,
                      Rng& rng) {
    const std::size_t n = order.size();
    Dataset d;
    d.x = Array::from_shape({n, 2});
    d.columns = {"x0", "x1"};
    IndexArray labels = IndexArray::from_shape({n, 1});
    for (std::size_t i = 0; i < n; ++i) {
        const Point& p = points[order[i]];
        const real e0 = noise > 0 ? noise * rng.normal() : 0;
        const real e1 = noise > 0 ? noise * rng.normal() : 0;
        d.x(i, 0) = p.x0 + e0;
        d.x(i, 1) = p.x1 + e1;
        labels(i, 0) = p.label;
    }
    d.labels = std::move(labels);
    return d;
}

// circles: sklearn's make_circles(n, noise = 0.01, factor = 0.8), as nf-mixture calls it:
//   n_out = ⌊n/2⌋ points on the unit circle at t = 2πj/n_out (j = 0..n_out − 1, no endpoint),
//   n_in = n − n_out on the circle of radius 0.8 at t = 2πj/n_in; labels 0 outer, 1 inner;
//   rows shuffled, then x += 0.01 (ε₀, ε₁).
Dataset circles(std::size_t n, Rng& rng) {
    constexpr real factor = 0.8, noise = 0.01;
    const std::size_t n_out = n / 2, n_in = n - n_out;
    std::vector<Point> points;
    points.reserve(n);
    for (std::size_t j = 0; j < n_out; ++j) points.push_back(polar(1.0, linspace_at(2 * pi, j, n_out, false), 0));
    for (std::size_t j = 0; j < n_in; ++j) points.push_back(polar(factor, linspace_at(2 * pi, j, n_in, false), 1));
    const std::vector<std::size_t> order = rng.permutation(n);
    return labelled_rows(points, order, noise, rng);
}

// half-moons: sklearn's make_moons(n, noise = 0.1), unscaled (unlike `moons`, FFJORD's ×2 − (1, 0.2)):
//   n_out = ⌊n/2⌋ points of the outer moon (cos t, sin t) at t = πj/(n_out − 1) (endpoint included),
//   n_in = n − n_out of the inner moon (1 − cos t, 1 − sin t − 0.5) at t = πj/(n_in − 1);
//   labels 0 outer, 1 inner; rows shuffled, then x += 0.1 (ε₀, ε₁).
Dataset half_moons(std::size_t n, Rng& rng) {
    constexpr real noise = 0.1;
    const std::size_t n_out = n / 2, n_in = n - n_out;
    std::vector<Point> points;
    points.reserve(n);
    for (std::size_t j = 0; j < n_out; ++j) {
        const real t = linspace_at(pi, j, n_out, true);
        points.push_back({std::cos(t), std::sin(t), 0});
    }
    for (std::size_t j = 0; j < n_in; ++j) {
        const real t = linspace_at(pi, j, n_in, true);
        points.push_back({1 - std::cos(t), 1 - std::sin(t) - 0.5, 1});
    }
    const std::vector<std::size_t> order = rng.permutation(n);
    return labelled_rows(points, order, noise, rng);
}

// pinwheel-johnson: Johnson et al. (2016)'s make_pinwheel_data(radial_std = 0.3,
// tangential_std = 0.05, num_classes = 5, rate = 0.25), scaled by 10, as nf-mixture uses it:
//   row i has class c = i mod 5 (the classes in turn: equal counts up to one);
//   f = (0.3 ε₀ + 1, 0.05 ε₁), a = 2πc/5 + 0.25·exp(f₀),
//   R = [[cos a, −sin a], [sin a, cos a]], x_j = 10 Σᵢ fᵢ R_ij (the row vector f times R), i.e.
//   x = 10 (f₀ cos a + f₁ sin a, −f₀ sin a + f₁ cos a): f turned clockwise by a;
//   all features drawn first (row by row), then the rows shuffled. No further noise.
// (The existing `pinwheel` is FFJORD's variant: tangential std 0.1, scale 2, classes drawn per row.)
Dataset pinwheel_johnson(std::size_t n, Rng& rng) {
    constexpr std::size_t classes = 5;
    constexpr real radial_std = 0.3, tangential_std = 0.05, rate = 0.25, scale = 10;
    std::vector<Point> points;
    points.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        const auto c = static_cast<std::int64_t>(i % classes);
        const real f0 = radial_std * rng.normal() + 1;
        const real f1 = tangential_std * rng.normal();
        const real a = 2 * pi * static_cast<real>(c) / classes + rate * std::exp(f0);
        const real ca = std::cos(a), sa = std::sin(a);
        points.push_back({scale * (f0 * ca + f1 * sa), scale * (-f0 * sa + f1 * ca), c});
    }
    const std::vector<std::size_t> order = rng.permutation(n);
    return labelled_rows(points, order, 0, rng);
}

// two-bananas: nf-mixture's two bananas, after Papamakarios et al. (2017) Fig. 1's banana
// (x₂ ~ N(0, 4), x₁ | x₂ ~ N(x₂²/4, 1)):
//   m = n/2 base points, all x₂ = 2ε₂ drawn first, then all x₁ = ε₁ + x₂²/4;
//   columns (x0, x1) = (x₁, x₂);
//   each column v ← (v − min v) / max v — divided by the maximum BEFORE the shift, not by the range:
//   the reference's quirk, kept (each column's minimum is 0 and its maximum 1 − min/max, not 1);
//   data = [p; p + 2]: the second banana is the same m points shifted by +2 in both coordinates;
//   labels 0 for the first copy, 1 for the second; the rows are not shuffled.
// The paper's code then rescales every set to [0, 1] per column: that is the model's job (its
// min-max scaling), not the data set's, so it is not done here.
Dataset two_bananas(std::size_t n, Rng& rng) {
    if (n % 2 != 0)
        throw ValueError("make_dataset('two-bananas'): n must be even (two copies of n/2 points), got " +
                         std::to_string(n));
    const std::size_t m = n / 2;
    std::vector<real> x1(m), x2(m);
    for (std::size_t i = 0; i < m; ++i) x2[i] = 2 * rng.normal();
    for (std::size_t i = 0; i < m; ++i) x1[i] = rng.normal() + x2[i] * x2[i] / 4;
    for (std::vector<real>* column : {&x1, &x2}) {
        const auto [lo, hi] = std::minmax_element(column->begin(), column->end());
        const real shift = *lo, divisor = *hi;
        // A maximum of exactly 0 would divide by zero (infinities, and 0/0 at the minimum): refused.
        // It has probability zero; a negative maximum, possible for tiny m, flips the column, as
        // the reference's formula does.
        if (divisor == 0)
            throw ValueError("make_dataset('two-bananas'): a column's maximum is 0, so (x − min)/max is undefined");
        for (real& v : *column) v = (v - shift) / divisor;
    }
    Dataset d;
    d.x = Array::from_shape({n, 2});
    d.columns = {"x0", "x1"};
    IndexArray labels = IndexArray::from_shape({n, 1});
    for (std::size_t i = 0; i < m; ++i) {
        d.x(i, 0) = x1[i];
        d.x(i, 1) = x2[i];
        labels(i, 0) = 0;
        d.x(m + i, 0) = x1[i] + 2;
        d.x(m + i, 1) = x2[i] + 2;
        labels(m + i, 0) = 1;
    }
    d.labels = std::move(labels);
    return d;
}

// ---- the table ----

struct Entry {
    const char* name;
    std::size_t classes;                   // 0: no labels
    Point (*draw)(Rng&);                   // one independent row; nullptr when `make` builds the set
    Dataset (*make)(std::size_t, Rng&);    // the whole set; both nullptr: a target of data/targets.hpp
    std::size_t paper_rows;                // the mixtures-of-flows paper's size, 0 if it did not use the set
};

const Entry entries[] = {
    {"two-moons", 0, nullptr, nullptr, 0},
    {"circle-of-gaussians", 8, nullptr, nullptr, 0},
    {"two-rings", 2, nullptr, nullptr, 0},
    {"pinwheel", 5, pinwheel, nullptr, 0},
    {"two-circles", 2, two_circles, nullptr, 0},
    {"moons", 2, moons, nullptr, 0},
    {"checkerboard", 0, checkerboard, nullptr, 0},
    {"four-circles", 4, four_circles, nullptr, 0},
    {"spirals", 2, spirals, nullptr, 0},
    {"ring", 0, ring, nullptr, 0},
    {"ring-wide", 0, ring_wide, nullptr, 0},
    {"concentric-rings", 4, concentric_rings, nullptr, 0},
    {"star", 4, star, nullptr, 0},
    {"eight-star", 8, eight_star, nullptr, 0},
    {"cascading-moons", 6, nullptr, cascading_moons, 0},  // equal class counts
    {"circles", 2, nullptr, circles, 1000},
    {"half-moons", 2, nullptr, half_moons, 1000},
    {"pinwheel-johnson", 5, nullptr, pinwheel_johnson, 5 * 512},
    {"two-bananas", 2, nullptr, two_bananas, 2 * 2000},
};

const Entry& find_entry(const std::string& name, const char* caller) {
    for (const Entry& e : entries)
        if (name == e.name) return e;
    std::string known;
    for (const Entry& e : entries) known += (known.empty() ? "" : ", ") + std::string(e.name);
    throw ValueError(std::string(caller) + ": unknown dataset '" + name + "' (known: " + known + ")");
}

}  // namespace

std::vector<std::string> dataset_names() {
    std::vector<std::string> names;
    for (const Entry& e : entries) names.emplace_back(e.name);
    return names;
}

std::size_t dataset_classes(const std::string& name) { return find_entry(name, "dataset_classes").classes; }

std::size_t dataset_paper_rows(const std::string& name) { return find_entry(name, "dataset_paper_rows").paper_rows; }

Dataset make_dataset(const std::string& name, std::size_t n, Rng& rng) {
    const Entry& e = find_entry(name, "make_dataset");
    if (n == 0) throw ValueError("make_dataset('" + name + "'): n must be positive");
    if (e.make) return e.make(n, rng);
    if (!e.draw) return sample_target(name, n, rng);
    Dataset d;
    d.x = Array::from_shape({n, 2});
    d.columns = {"x0", "x1"};
    IndexArray labels = IndexArray::from_shape({n, 1});
    for (std::size_t i = 0; i < n; ++i) {
        const Point p = e.draw(rng);
        d.x(i, 0) = p.x0;
        d.x(i, 1) = p.x1;
        labels(i, 0) = p.label;
    }
    if (e.classes > 0) d.labels = std::move(labels);
    return d;
}

}  // namespace flowtape
