// The three learning-rate schedules, as closed-form functions of the step.
#include "nn/schedule.hpp"

#include <cmath>
#include <numbers>
#include <string>

#include "core/error.hpp"

namespace flowtape {
namespace {

void check_lr(const char* who, real lr) {
    if (!std::isfinite(lr) || lr < 0)
        throw ValueError(std::string(who) + ": lr must be finite and ≥ 0, got " + std::to_string(lr));
}

}  // namespace

LrSchedule LrSchedule::constant(real lr) {
    check_lr("LrSchedule::constant", lr);
    return LrSchedule(Kind::constant, lr, 1, 0);
}

LrSchedule LrSchedule::exponential(real lr, real gamma) {
    check_lr("LrSchedule::exponential", lr);
    if (!std::isfinite(gamma) || gamma <= 0)
        throw ValueError("LrSchedule::exponential: gamma must be finite and > 0, got " + std::to_string(gamma));
    return LrSchedule(Kind::exponential, lr, gamma, 0);
}

LrSchedule LrSchedule::cosine(real lr, std::size_t total_steps) {
    check_lr("LrSchedule::cosine", lr);
    if (total_steps == 0) throw ValueError("LrSchedule::cosine: total_steps must be positive, got 0");
    return LrSchedule(Kind::cosine, lr, 1, total_steps);
}

real LrSchedule::at(std::size_t step) const {
    const real t = static_cast<real>(step);
    switch (kind_) {
        case Kind::constant: return lr_;
        case Kind::exponential: return lr_ * std::pow(gamma_, t);
        case Kind::cosine:
            if (step >= total_) return 0;
            return lr_ * 0.5 * (1 + std::cos(std::numbers::pi * t / static_cast<real>(total_)));
    }
    return lr_;
}

}  // namespace flowtape
