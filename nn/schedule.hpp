// Learning-rate schedules: the rate to use at step t (0-based), for Adam::set_lr.
#pragma once

#include <cstddef>

#include "core/types.hpp"

namespace flowtape {

class LrSchedule {
public:
    // lr at every step. ValueError for a negative or non-finite lr.
    static LrSchedule constant(real lr);
    // lr · γᵗ. ValueError unless γ > 0 and finite.
    static LrSchedule exponential(real lr, real gamma);
    // lr · ½(1 + cos(π t / T)) for t < T, and 0 from t = T on. ValueError for T = 0.
    static LrSchedule cosine(real lr, std::size_t total_steps);

    real at(std::size_t step) const;

private:
    enum class Kind { constant, exponential, cosine };
    LrSchedule(Kind kind, real lr, real gamma, std::size_t total) : kind_(kind), lr_(lr), gamma_(gamma), total_(total) {}
    Kind kind_;
    real lr_;
    real gamma_;
    std::size_t total_;
};

}  // namespace flowtape
