// What every speed benchmark prints beside its figures: the CPU, the date, the OpenBLAS build and
// the xtensor versions, so that a table carries what is needed to reproduce and compare it. Header
// only: each benchmark is one program.
#pragma once

#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "core/xtensor_blas.hpp"

// OpenBLAS's own extension (declared here: <cblas.h> conflicts with xtensor-blas's prototypes).
extern "C" char* openblas_get_config(void);

namespace flowtape::bench {

// Median of single calls after a warm-up; enough calls to fill `seconds` (at least min_reps).
template <class F>
inline double median_ms(F&& call, double seconds, std::size_t min_reps) {
    const auto start = std::chrono::steady_clock::now();
    std::size_t warm = 0;
    while (warm < 3 || std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 0.1 * seconds) {
        call();
        ++warm;
    }
    const double estimate = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / static_cast<double>(warm);
    const std::size_t reps = std::clamp<std::size_t>(static_cast<std::size_t>(seconds / estimate), min_reps, 100000);
    std::vector<double> ms(reps);
    for (auto& m : ms) {
        const auto t0 = std::chrono::steady_clock::now();
        call();
        m = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    }
    std::nth_element(ms.begin(), ms.begin() + static_cast<std::ptrdiff_t>(reps / 2), ms.end());
    return ms[reps / 2];
}

// Median wall time of `reps` calls of f; `value` receives the last call's result.
inline double median_seconds(int reps, const std::function<double()>& f, double& value) {
    std::vector<double> t;
    for (int r = 0; r < reps; ++r) {
        const auto start = std::chrono::steady_clock::now();
        value = f();
        t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

// The "model name" of /proc/cpuinfo, or "unknown".
inline std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) == 0) {
            const auto colon = line.find(':');
            if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
        }
    }
    return "unknown";
}

// The local date and time, "2026-12-03 13:45:00 UTC".
inline std::string today() {
    const std::time_t now = std::time(nullptr);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", std::localtime(&now));
    return buf;
}

// OpenBLAS's build string (version, kernels, thread limit), trailing blanks removed.
inline std::string openblas_config() {
    const char* c = openblas_get_config();
    std::string s = c ? c : "unknown";
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s;
}

inline std::string xtensor_version() {
    return std::to_string(XTENSOR_VERSION_MAJOR) + "." + std::to_string(XTENSOR_VERSION_MINOR) + "." +
           std::to_string(XTENSOR_VERSION_PATCH);
}

inline std::string xtensor_blas_version() {
    return std::to_string(XTENSOR_BLAS_VERSION_MAJOR) + "." + std::to_string(XTENSOR_BLAS_VERSION_MINOR) + "." +
           std::to_string(XTENSOR_BLAS_VERSION_PATCH);
}

}  // namespace flowtape::bench
