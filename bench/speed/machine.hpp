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
