// The three 2-D target densities of Stimper et al. (2022), "Resampling base distributions of
// normalizing flows", as the normflows package defines them (normflows/distributions/target.py:
// TwoMoons, CircularGaussianMixture with 8 modes, RingMixture with 2 rings). The piecewise-flows
// paper measures its KL divergences against these, so besides samples we need their log-densities
// and, for a normalised p, their normalising constants.
//
// With r = |x| and a = |x₀|:
//   two-moons            log p̃(x) = −½((r − 2)/0.2)² − ½((a − 2)/0.3)² + log(1 + exp(−4a/0.09))
//                        (= −½((r − 2)/0.2)² + log(e^{−½((x₀−2)/0.3)²} + e^{−½((x₀+2)/0.3)²}));
//                        unnormalised, maximum ≤ log(1 + e^{−½(2/0.3)²}) ≈ 2·10⁻¹⁰.
//   circle-of-gaussians  log p(x) = −log(2π s² K) + log Σₖ exp(−|x − μₖ|²/(2s²)),
//                        K = 8, s = (2/3)·sin(π/K), μₖ = (2 sin(2πk/K), 2 cos(2πk/K));
//                        an equal-weight Gaussian mixture, already normalised.
//   two-rings            log p̃(x) = log Σᵢ exp(−(r − rᵢ)²/(2s²)), rᵢ = (2/n)(i + 1) ∈ {1, 2},
//                        s = 1/(4n) = 1/8 with n = 2 rings; unnormalised.
// (normflows stores the mixture's s in float32; we use the double value of the same formula.)
//
// Every target lives on the box [−4, 4]²: the mass outside is below 10⁻¹² of the total (the
// densities there are below e^{−30} of their peaks). Sampling is restricted to the box and the
// normaliser integrates over it, so samples and normalised density describe the same distribution.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/random.hpp"
#include "core/types.hpp"
#include "data/dataset.hpp"

namespace flowtape {

// "two-moons", "circle-of-gaussians", "two-rings".
std::vector<std::string> target_names();
bool has_log_density(const std::string& name);

// log p̃(x) for each row of x (N×2 → N×1), exactly the formulas above (so unnormalised for
// two-moons and two-rings). ValueError for a name without a density or a non-finite x; ShapeError
// unless x has 2 columns.
Array log_density(const std::string& name, const Array& x);

// Half the side of the target's box [−w, w]² (4 for all three).
real target_half_width(const std::string& name);

// log Z with Z = ∫ p̃ over the box: the midpoint rule on kNormaliserCells² square cells, computed
// on first use and cached (thread-safe). The integrands are smooth and vanish to e^{−30} at the
// box's edge, so the rule converges faster than any power of the cell size (like the trapezoid
// rule for periodic functions): cells of 8/256 = 1/32 are a quarter of the narrowest width (s = 1/8
// of the rings), and 128 and 1024 cells per side agree to 1e-12 (tested, with an independent polar
// quadrature). Values: two-moons log Z = 0.8042144486321 (Z = 2.2349401487677); circle-of-gaussians
// log Z = 0 to 1e-15; two-rings log Z = 1.7759863466023 = log(3 (2π)^{3/2} / 8), its closed form.
inline constexpr std::size_t kNormaliserCells = 256;
real log_normaliser(const std::string& name);
// The same rule with `cells` per side, uncached (for checking the grid). ValueError for cells = 0.
real log_normaliser_quadrature(const std::string& name, std::size_t cells);
// log p(x) = log p̃(x) − log Z: a density that integrates to 1 (what the KL divergence needs).
Array normalised_log_density(const std::string& name, const Array& x);

// n independent draws (n×2, columns "x0", "x1"), deterministic from the Rng.
//   two-moons, two-rings: rejection sampling from the uniform proposal on the box, accepting x
//     with probability p̃(x)/M where M is an upper bound of p̃ (above; for the rings
//     M = 1 + e^{−(1/2)²/(2s²)}, the nearer ring's term being ≤ 1 and the farther one's ≤ e^{−8}).
//     The two-rings label is the ring, drawn from its posterior p(i | x) ∝ exp(−(r − rᵢ)²/(2s²)),
//     so (x, label) is an exact draw from the joint of the mixture.
//   circle-of-gaussians: direct, like normflows: a mode k uniform in 0..7, then x = μₖ + s·ε;
//     the label is k.
// ValueError for another name.
Dataset sample_target(const std::string& name, std::size_t n, Rng& rng);

}  // namespace flowtape
