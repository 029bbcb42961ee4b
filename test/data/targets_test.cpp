// Tests of the Stimper et al. targets: log-densities against values worked out by hand, the
// normalising constants (grid refinement, closed forms, an independent polar quadrature), and the
// samplers against the densities (moments and a chi-square over a grid of bins).
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <functional>
#include <iomanip>
#include <numbers>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/random.hpp"
#include "data/targets.hpp"

using namespace flowtape;

namespace {

constexpr real pi = std::numbers::pi;
const std::vector<std::string> names = {"two-moons", "circle-of-gaussians", "two-rings"};

real lp_at(const std::string& name, real x0, real x1) { return log_density(name, Array{{x0, x1}})(0, 0); }

// A function of a point (x₀, x₁) and of the normalised density p there.
using PointFn = std::function<real(real x0, real x1, real p)>;

// ∫ f(x) p(x) dx for each f, in polar coordinates: the periodic trapezoid rule over 720 angles
// and Simpson's rule over 1100 radial steps on [0, 5.5] (the box's inscribed circle holds all but
// e^{−30} of the mass). Independent of the library's Cartesian midpoint grid.
std::vector<real> polar_integrals(const std::string& name, const std::vector<PointFn>& fs) {
    const std::size_t angles = 720, steps = 1100;
    const real r_max = 5.5, h = r_max / steps;
    Array ring = Array::from_shape({angles, 2});
    std::vector<real> total(fs.size(), 0.0);
    for (std::size_t i = 0; i <= steps; ++i) {
        const real r = h * static_cast<real>(i);
        const real simpson = (i == 0 || i == steps) ? 1 : (i % 2 ? 4 : 2);
        for (std::size_t j = 0; j < angles; ++j) {
            const real theta = 2 * pi * static_cast<real>(j) / angles;
            ring(j, 0) = r * std::cos(theta);
            ring(j, 1) = r * std::sin(theta);
        }
        const Array lp = normalised_log_density(name, ring);
        for (std::size_t k = 0; k < fs.size(); ++k) {
            real around = 0;
            for (std::size_t j = 0; j < angles; ++j) {
                const real p = std::exp(lp(j, 0));
                around += fs[k](ring(j, 0), ring(j, 1), p) * p;
            }
            total[k] += simpson * r * around;
        }
    }
    for (real& t : total) t *= (h / 3) * (2 * pi / angles);
    return total;
}

// Z of one ring exp(−(r − ρ)²/(2s²)) over the plane: 2π [s² e^{−ρ²/(2s²)} + ρ s √(2π) Φ(ρ/s)].
real ring_mass(real rho, real s) {
    const real phi = 0.5 * std::erfc(-rho / (s * std::sqrt(2.0)));
    return 2 * pi * (s * s * std::exp(-rho * rho / (2 * s * s)) + rho * s * std::sqrt(2 * pi) * phi);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(targets)

BOOST_AUTO_TEST_CASE(names_and_errors) {
    BOOST_TEST((target_names() == names));
    for (const auto& n : names) BOOST_TEST(has_log_density(n));
    BOOST_TEST(!has_log_density("moons"));
    try {
        log_density("moons", Array{{0.0, 0.0}});
        BOOST_FAIL("no error");
    } catch (const ValueError& e) {
        BOOST_TEST(std::string(e.what()).find("two-moons, circle-of-gaussians, two-rings") != std::string::npos, e.what());
    }
    BOOST_CHECK_THROW(log_density("two-moons", Array{{0.0, 0.0, 0.0}}), ShapeError);
    BOOST_CHECK_THROW(log_density("two-rings", Array{{0.0, NAN}}), ValueError);
    BOOST_CHECK_THROW(log_density("two-rings", Array{{INFINITY, 0.0}}), ValueError);
    BOOST_CHECK_THROW(log_normaliser_quadrature("two-moons", 0), ValueError);
    BOOST_CHECK_THROW(log_normaliser("ring"), ValueError);
    Rng rng(1);
    BOOST_CHECK_THROW(sample_target("two-moons", 0, rng), ValueError);
    BOOST_TEST(log_density("two-moons", Array::from_shape({0, 2})).shape()[0] == 0u);
    BOOST_TEST(target_half_width("two-rings") == 4.0);
}

BOOST_AUTO_TEST_CASE(two_moons_by_hand) {
    // r = |x| = 2 and a = |x₀| = 2: both squares vanish; the log1p term is e^{−8/0.09} ≈ 2·10⁻³⁹.
    BOOST_TEST(std::fabs(lp_at("two-moons", 2, 0)) < 1e-30);
    BOOST_TEST(std::fabs(lp_at("two-moons", -2, 0)) < 1e-30);
    // The origin: −½(2/0.2)² − ½(2/0.3)² + log 2 = −50 − 200/9 + log 2.
    BOOST_TEST(lp_at("two-moons", 0, 0) == -50 - 200.0 / 9 + std::log(2.0), boost::test_tools::tolerance(1e-14));
    // On the circle at the top: only the x₀ terms, −200/9 + log 2.
    BOOST_TEST(lp_at("two-moons", 0, 2) == -200.0 / 9 + std::log(2.0), boost::test_tools::tolerance(1e-14));
    BOOST_TEST(lp_at("two-moons", 0, -2) == -200.0 / 9 + std::log(2.0), boost::test_tools::tolerance(1e-14));
    // (1.5, 0): −½(0.5/0.2)² − ½(0.5/0.3)² = −3.125 − 25/18 (the log1p term is e^{−66.7}).
    BOOST_TEST(lp_at("two-moons", 1.5, 0) == -3.125 - 25.0 / 18, boost::test_tools::tolerance(1e-14));
}

BOOST_AUTO_TEST_CASE(two_moons_equals_its_mixture_form) {
    // normflows' docstring form: −½((r − 2)/0.2)² + log(e^{−½((x₀−2)/0.3)²} + e^{−½((x₀+2)/0.3)²}).
    Rng rng(3);
    const Array x = rng.uniform_array(500, 2, -3, 3);
    const Array lp = log_density("two-moons", x);
    for (std::size_t i = 0; i < 500; ++i) {
        const real x0 = x(i, 0), r = std::hypot(x(i, 0), x(i, 1));
        const real expected = -0.5 * std::pow((r - 2) / 0.2, 2) +
                              std::log(std::exp(-0.5 * std::pow((x0 - 2) / 0.3, 2)) +
                                       std::exp(-0.5 * std::pow((x0 + 2) / 0.3, 2)));
        BOOST_TEST(lp(i, 0) == expected, boost::test_tools::tolerance(1e-12));
    }
}

BOOST_AUTO_TEST_CASE(circle_of_gaussians_by_hand) {
    // s² = (4/9) sin²(π/8); modes 4 sin(πk/8) apart, so at a mode the exponents are
    // d_k = 16 sin²(πk/8)/(2s²) = 18 sin²(πk/8)/sin²(π/8) (18 for the neighbours).
    const real s8 = std::sin(pi / 8), s2 = 4.0 / 9 * s8 * s8;
    real sum = 0;
    for (int k = 0; k < 8; ++k) sum += std::exp(-18 * std::pow(std::sin(pi * k / 8), 2) / (s8 * s8));
    const real at_mode = -std::log(16 * pi * s2) + std::log(sum);
    BOOST_TEST(lp_at("circle-of-gaussians", 0, 2) == at_mode, boost::test_tools::tolerance(1e-13));
    BOOST_TEST(lp_at("circle-of-gaussians", 2, 0) == at_mode, boost::test_tools::tolerance(1e-13));  // mode 2
    BOOST_TEST(lp_at("circle-of-gaussians", -std::sqrt(2.0), -std::sqrt(2.0)) == at_mode,
               boost::test_tools::tolerance(1e-13));  // mode 5
    // The origin is 2 from every mode: −log(16π s²) + log 8 − 2/s².
    BOOST_TEST(lp_at("circle-of-gaussians", 0, 0) == -std::log(2 * pi * s2) - 2 / s2, boost::test_tools::tolerance(1e-13));
}

BOOST_AUTO_TEST_CASE(two_rings_by_hand) {
    // s = 1/8, so (r − rᵢ)²/(2s²) = 32 (r − rᵢ)².
    BOOST_TEST(lp_at("two-rings", 1, 0) == std::log1p(std::exp(-32.0)), boost::test_tools::tolerance(1e-14));
    BOOST_TEST(std::fabs(lp_at("two-rings", 0.6, 0.8) - std::log1p(std::exp(-32.0))) < 1e-15);  // r = 1
    BOOST_TEST(std::fabs(lp_at("two-rings", 1.2, -1.6) - std::log1p(std::exp(-32.0))) < 1e-15);  // r = 2
    BOOST_TEST(lp_at("two-rings", 0, -1.5) == std::log(2.0) - 8, boost::test_tools::tolerance(1e-14));
    BOOST_TEST(lp_at("two-rings", 0, 0) == -32 + std::log1p(std::exp(-96.0)), boost::test_tools::tolerance(1e-14));
    BOOST_TEST(lp_at("two-rings", 3, 0) == -32 + std::log1p(std::exp(-96.0)), boost::test_tools::tolerance(1e-14));
}

BOOST_AUTO_TEST_CASE(normaliser_converges_under_grid_refinement) {
    for (const auto& n : names) {
        const real coarse = log_normaliser_quadrature(n, 128), fine = log_normaliser_quadrature(n, 1024);
        BOOST_TEST_MESSAGE(n << ": log Z = " << std::setprecision(16) << fine << " (128 cells: " << coarse << ")");
        BOOST_TEST(std::fabs(coarse - fine) < 1e-12, n << ": " << coarse << " vs " << fine);
        // The cached value is the documented rule, computed once.
        BOOST_TEST(log_normaliser(n) == log_normaliser_quadrature(n, kNormaliserCells), n);
        BOOST_TEST(log_normaliser(n) == log_normaliser(n), n);
    }
}

BOOST_AUTO_TEST_CASE(normaliser_closed_forms) {
    // The mixture is normalised by construction; the rings have Z = Σᵢ ring_mass(rᵢ, 1/8).
    BOOST_TEST(std::fabs(log_normaliser("circle-of-gaussians")) < 1e-12);
    const real rings = std::log(ring_mass(1, 0.125) + ring_mass(2, 0.125));
    BOOST_TEST(std::fabs(log_normaliser("two-rings") - rings) < 1e-12);
    BOOST_TEST(std::fabs(rings - std::log(3 * std::pow(2 * pi, 1.5) / 8)) < 1e-12);
}

BOOST_AUTO_TEST_CASE(normalised_density_integrates_to_one) {
    for (const auto& n : names) {
        const real total = polar_integrals(n, {[](real, real, real) { return 1.0; }})[0];
        BOOST_TEST_MESSAGE(n << ": ∫p − 1 = " << total - 1);
        BOOST_TEST(std::fabs(total - 1) < 1e-10, n << ": ∫p = " << total);
    }
}

BOOST_AUTO_TEST_CASE(samples_match_the_density) {
    // Sample means of a few functions against their expectations under the normalised density
    // (within 5 standard errors), then a chi-square of the counts in 8×8 bins on the box.
    const std::size_t n = 20000;
    const std::vector<PointFn> fs = {
        [](real x0, real, real) { return x0; },
        [](real, real x1, real) { return x1; },
        [](real x0, real, real) { return x0 * x0; },
        [](real, real x1, real) { return x1 * x1; },
        [](real x0, real x1, real) { return x0 * x1; },
        [](real x0, real x1, real) { return std::hypot(x0, x1); },
        [](real, real, real p) { return p; },  // E_p[p] = ∫ p²
    };
    std::vector<PointFn> with_squares = fs;
    for (const auto& f : fs) with_squares.push_back([f](real a, real b, real p) { return f(a, b, p) * f(a, b, p); });

    for (const auto& name : names) {
        Rng rng(2024);
        const Array x = sample_target(name, n, rng).x;
        const Array p = xt::exp(normalised_log_density(name, x));
        const std::vector<real> m = polar_integrals(name, with_squares);
        for (std::size_t k = 0; k < fs.size(); ++k) {
            real mean = 0;
            for (std::size_t i = 0; i < n; ++i) mean += fs[k](x(i, 0), x(i, 1), p(i, 0));
            mean /= static_cast<real>(n);
            const real sd = std::sqrt(std::max(m[fs.size() + k] - m[k] * m[k], 0.0));
            BOOST_TEST(std::fabs(mean - m[k]) < 5 * sd / std::sqrt(real(n)),
                       name << " f" << k << ": sample mean " << mean << ", expected " << m[k] << " ± " << sd / std::sqrt(real(n)));
        }

        // Expected bin masses by the midpoint rule on 32×32 sub-cells of each bin.
        const int bins = 8, sub = 32;
        const real w = target_half_width(name), bin = 2 * w / bins, h = bin / sub;
        std::vector<real> expected(bins * bins, 0.0), observed(bins * bins, 0.0);
        Array cell = Array::from_shape({sub * sub, 2});
        for (int bx = 0; bx < bins; ++bx)
            for (int by = 0; by < bins; ++by) {
                for (int i = 0; i < sub; ++i)
                    for (int j = 0; j < sub; ++j) {
                        cell(i * sub + j, 0) = -w + bx * bin + (i + 0.5) * h;
                        cell(i * sub + j, 1) = -w + by * bin + (j + 0.5) * h;
                    }
                expected[bx * bins + by] = xt::sum(xt::exp(normalised_log_density(name, cell)))() * h * h * n;
            }
        for (std::size_t i = 0; i < n; ++i) {
            const int bx = static_cast<int>(std::floor((x(i, 0) + w) / bin));
            const int by = static_cast<int>(std::floor((x(i, 1) + w) / bin));
            BOOST_REQUIRE(bx >= 0 && bx < bins && by >= 0 && by < bins);
            observed[bx * bins + by] += 1;
        }
        // Bins expecting fewer than 5 points are pooled into one.
        real chi2 = 0, pooled_e = 0, pooled_o = 0;
        int cells = 0;
        for (int b = 0; b < bins * bins; ++b) {
            if (expected[b] < 5) {
                pooled_e += expected[b];
                pooled_o += observed[b];
                continue;
            }
            chi2 += std::pow(observed[b] - expected[b], 2) / expected[b];
            ++cells;
        }
        if (pooled_e > 0) {
            chi2 += std::pow(pooled_o - pooled_e, 2) / std::max(pooled_e, 1.0);
            ++cells;
        }
        const real dof = cells - 1;
        BOOST_TEST_MESSAGE(name << ": chi2 " << chi2 << " with " << dof << " dof");
        BOOST_TEST(chi2 < dof + 5 * std::sqrt(2 * dof), name << ": chi2 " << chi2 << " with " << dof << " dof");
    }
}

BOOST_AUTO_TEST_CASE(labels_follow_the_components) {
    const std::size_t n = 16000;
    {
        // circle-of-gaussians: label k is the mode; each point lies around its own mode μ_k.
        Rng rng(5);
        const auto d = sample_target("circle-of-gaussians", n, rng);
        BOOST_REQUIRE(d.labels.has_value());
        const real s = 2.0 / 3 * std::sin(pi / 8);
        std::vector<real> count(8, 0), m0(8, 0), m1(8, 0);
        for (std::size_t i = 0; i < n; ++i) {
            const auto k = (*d.labels)(i, 0);
            BOOST_REQUIRE(k >= 0 && k < 8);
            count[k] += 1;
            m0[k] += d.x(i, 0);
            m1[k] += d.x(i, 1);
        }
        for (int k = 0; k < 8; ++k) {
            BOOST_TEST(std::fabs(count[k] - n / 8.0) < 5 * std::sqrt(n * (1.0 / 8) * (7.0 / 8)));
            BOOST_TEST(std::fabs(m0[k] / count[k] - 2 * std::sin(2 * pi * k / 8)) < 5 * s / std::sqrt(count[k]));
            BOOST_TEST(std::fabs(m1[k] / count[k] - 2 * std::cos(2 * pi * k / 8)) < 5 * s / std::sqrt(count[k]));
        }
    }
    {
        // two-rings: the label is the ring, ring i holding mass Zᵢ/Z (2/3 for the outer one); the
        // radius given ring i has mean ≈ (rᵢ² + s²)/rᵢ (the radial density is ∝ r e^{−(r−rᵢ)²/(2s²)}).
        Rng rng(6);
        const auto d = sample_target("two-rings", n, rng);
        BOOST_REQUIRE(d.labels.has_value());
        const real s = 0.125;
        std::vector<real> count(2, 0), radius(2, 0);
        for (std::size_t i = 0; i < n; ++i) {
            const auto k = (*d.labels)(i, 0);
            BOOST_REQUIRE((k == 0 || k == 1));
            count[k] += 1;
            radius[k] += std::hypot(d.x(i, 0), d.x(i, 1));
        }
        const real outer = ring_mass(2, s) / (ring_mass(1, s) + ring_mass(2, s));
        BOOST_TEST(std::fabs(count[1] / n - outer) < 5 * std::sqrt(outer * (1 - outer) / n));
        for (int k = 0; k < 2; ++k) {
            const real rho = k + 1.0;
            BOOST_TEST(std::fabs(radius[k] / count[k] - (rho * rho + s * s) / rho) < 5 * s / std::sqrt(count[k]));
        }
    }
    {
        Rng rng(7);
        BOOST_TEST(!sample_target("two-moons", 10, rng).labels.has_value());
    }
}

BOOST_AUTO_TEST_SUITE_END()
