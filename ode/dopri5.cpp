// Dormand–Prince 5(4) with Hairer's error norm, initial step and step-size controller.
#include "ode/dopri5.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>

#include "core/error.hpp"
#include "ode/tableau.hpp"

namespace flowtape::ode {
namespace {

std::string num(real x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", x);
    return buf;
}

real euclidean_norm(const Array& z) {
    real s = 0;
    for (real v : z) s += v * v;
    return std::sqrt(s);
}

// "‖z‖ = 1.2 (shape 3×2)", or the values themselves for a small state: what an error message shows.
std::string describe_state(const Array& z) {
    std::string out = "state " + shape_string(shape_of(z));
    if (z.size() <= 4) {
        out += " [";
        for (std::size_t i = 0; i < z.size(); ++i) out += (i ? ", " : "") + num(z.data()[i]);
        out += "]";
    } else {
        out += " with norm " + num(euclidean_norm(z));
    }
    return out;
}

bool all_finite(const Array& a) {
    for (real v : a)
        if (!std::isfinite(v)) return false;
    return true;
}

// sqrt(mean((x_i / (atol + rtol |y_i|))²)): Hairer's scaled RMS norm, for the initial step.
template <class E>
real scaled_norm(const E& x, const Array& y, real rtol, real atol) {
    real s = 0;
    auto xi = x.begin();
    for (auto yi = y.begin(); yi != y.end(); ++yi, ++xi) {
        const real r = *xi / (atol + rtol * std::abs(*yi));
        s += r * r;
    }
    return std::sqrt(s / static_cast<real>(y.size()));
}

}  // namespace

void check_options(const char* who, const OdeOptions& o) {
    auto fail = [&](const std::string& what) { throw ValueError(std::string(who) + ": " + what); };
    if (!(o.rtol >= 0) || !(o.atol >= 0) || (o.rtol == 0 && o.atol == 0) || !std::isfinite(o.rtol) ||
        !std::isfinite(o.atol))
        fail("rtol and atol must be finite, ≥ 0 and not both 0, got rtol = " + num(o.rtol) + ", atol = " + num(o.atol));
    if (!(o.safety > 0 && o.safety <= 1)) fail("safety must be in (0, 1], got " + num(o.safety));
    if (!(o.min_factor > 0 && o.min_factor <= 1 && o.max_factor >= 1))
        fail("need 0 < min_factor ≤ 1 ≤ max_factor, got " + num(o.min_factor) + " and " + num(o.max_factor));
    if (o.max_steps == 0) fail("max_steps must be positive");
    if (!(o.first_step >= 0) || !std::isfinite(o.first_step)) fail("first_step must be finite and ≥ 0, got " + num(o.first_step));
    if (!(o.min_step >= 0) || !std::isfinite(o.min_step)) fail("min_step must be finite and ≥ 0, got " + num(o.min_step));
    if (!(o.max_step > 0)) fail("max_step must be positive, got " + num(o.max_step));
}

Dopri5::Dopri5(OdeOptions options) : options_(options) { check_options("dopri5", options_); }

void Dopri5::evaluate(const Rhs& f, real t, const Array& z, Array& dz, real step, OdeStats& stats) {
    f(t, z, dz);
    ++stats.fevals;
    if (shape_of(dz) != shape_of(z))
        throw ShapeError("dopri5: the right-hand side changed dz's shape to " + shape_string(shape_of(dz)) +
                         ", the state is " + shape_string(shape_of(z)));
    if (!all_finite(dz))
        throw NonFiniteError("dopri5: non-finite derivative at t = " + num(t) + " (step " + num(step) + ") with the " +
                             describe_state(z));
}

real Dopri5::initial_step(const Rhs& f, real t0, real t1, const Array& z, OdeStats& stats) {
    // Hairer, Nørsett & Wanner I, II.4: a first guess from |z| / |f|, refined by one explicit Euler
    // probe estimating the second derivative; h ≈ (0.01 / max(‖f‖, ‖f'‖))^(1/5) for order 5.
    const real rtol = options_.rtol, atol = options_.atol;
    const real direction = t1 > t0 ? 1.0 : -1.0;
    const Array& f0 = k_[0];
    const real d0 = scaled_norm(z, z, rtol, atol), d1 = scaled_norm(f0, z, rtol, atol);
    real h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
    h0 = std::min({h0, options_.max_step, std::abs(t1 - t0)});
    xt::noalias(stage_) = z + (direction * h0) * f0;
    evaluate(f, t0 + direction * h0, stage_, k_[1], direction * h0, stats);
    const real d2 = scaled_norm(k_[1] - f0, z, rtol, atol) / h0;
    const real dmax = std::max(d1, d2);
    const real h1 = dmax <= 1e-15 ? std::max(1e-6, h0 * 1e-3) : std::pow(0.01 / dmax, 1.0 / 5);
    return std::min({100 * h0, h1, options_.max_step});
}

real Dopri5::error_norm(const Array& z, const Array& z_new, real h) {
    using namespace tableau;
    const real rtol = options_.rtol, atol = options_.atol;
    const std::size_t n = z.size();
    const real* k[7];
    for (int i = 0; i < 7; ++i) k[i] = k_[i].data();
    real s = 0;
    for (std::size_t i = 0; i < n; ++i) {
        real e = 0;
        for (int j = 0; j < 7; ++j) e += dopri5_e[j] * k[j][i];
        const real scale = atol + rtol * std::max(std::abs(z.data()[i]), std::abs(z_new.data()[i]));
        const real r = h * e / scale;
        s += r * r;
    }
    return std::sqrt(s / static_cast<real>(n));
}

OdeStats Dopri5::solve(const Rhs& f, Array& z, real t0, real t1, const StepObserver& observer) {
    using namespace tableau;
    if (!std::isfinite(t0) || !std::isfinite(t1))
        throw ValueError("dopri5: times must be finite, got t0 = " + num(t0) + ", t1 = " + num(t1));
    if (z.size() == 0) throw ValueError("dopri5: the state is empty (" + shape_string(shape_of(z)) + ")");
    if (!all_finite(z)) throw NonFiniteError("dopri5: non-finite initial " + describe_state(z) + " at t = " + num(t0));
    OdeStats stats;
    if (t0 == t1) return stats;
    const Shape shape = shape_of(z);
    for (Array& k : k_) ensure_shape(k, shape);
    ensure_shape(stage_, shape);
    ensure_shape(z_new_, shape);

    const real direction = t1 > t0 ? 1.0 : -1.0;
    evaluate(f, t0, z, k_[0], 0.0, stats);
    real h = options_.first_step > 0 ? options_.first_step : initial_step(f, t0, t1, z, stats);
    h = direction * std::min(h, options_.max_step);
    real t = t0;
    bool just_rejected = false;
    while (direction * (t1 - t) > 0) {
        if (stats.steps() >= options_.max_steps)
            throw SolverError("dopri5: reached max_steps = " + std::to_string(options_.max_steps) + " (" +
                              std::to_string(stats.accepted) + " accepted, " + std::to_string(stats.rejected) +
                              " rejected) at t = " + num(t) + " on the way from " + num(t0) + " to " + num(t1) +
                              ", step " + num(h) + ", " + describe_state(z) +
                              "; the problem may be stiff (raise max_steps or loosen rtol/atol)");
        const real min_h = std::max({options_.min_step, 16 * std::numeric_limits<real>::epsilon() * std::abs(t), 1e-290});
        if (std::abs(h) < min_h)
            throw SolverError("dopri5: step size " + num(h) + " fell below the minimum " + num(min_h) + " at t = " +
                              num(t) + " on the way from " + num(t0) + " to " + num(t1) + ", " + describe_state(z) +
                              " (a singularity, or tolerances too tight for double precision)");
        // Stretch a step that would stop just short of t1, so no sliver of a step is left.
        const bool last = direction * (t + 1.01 * h - t1) >= 0;
        if (last) h = t1 - t;

        // Stages 2..7: stage_i = z + h Σ_j a_ij k_j. Stage 7's input is the 5th-order solution.
        for (int i = 1; i < dopri5_stages; ++i) {
            xt::noalias(stage_) = z;
            for (int j = 0; j < i; ++j)
                if (dopri5_a[i][j] != 0) xt::noalias(stage_) += (h * dopri5_a[i][j]) * k_[j];
            if (i == dopri5_stages - 1) xt::noalias(z_new_) = stage_;
            evaluate(f, t + dopri5_c[i] * h, stage_, k_[i], h, stats);
        }

        const real err = error_norm(z, z_new_, h);
        if (err <= 1) {
            t = last ? t1 : t + h;
            std::swap(z, z_new_);
            std::swap(k_[0], k_[6]);  // FSAL
            ++stats.accepted;
            if (observer) observer(t, z);
        } else {
            ++stats.rejected;
        }
        // err^(−1/5): the local error of a 4th-order estimate scales as h⁵.
        real factor = err == 0 ? options_.max_factor : options_.safety * std::pow(err, -1.0 / 5);
        factor = std::clamp(factor, options_.min_factor, (just_rejected || err > 1) ? 1.0 : options_.max_factor);
        just_rejected = err > 1;
        h = direction * std::min(std::abs(h) * factor, options_.max_step);
    }
    return stats;
}

Array dopri5(const Rhs& f, const Array& z0, real t0, real t1, const OdeOptions& options, OdeStats* stats) {
    Array z = z0;
    Dopri5 solver(options);
    const OdeStats s = solver.solve(f, z, t0, t1);
    if (stats) *stats = s;
    return z;
}

}  // namespace flowtape::ode
