// What the paper experiments share: the header every `flowtape bench …` result starts with (the
// command, the date, the machine and the versions, so that a table of figures carries what is
// needed to reproduce and compare it), and the spread of a figure over runs and its formatting.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace flowtape::app {

// Seconds of wall time since `start`.
double seconds_since(std::chrono::steady_clock::time_point start);

// The mean of some values over runs with their spread: the sample standard deviation `sd` and the
// standard error of the mean `se` = sd/√n (both 0 for fewer than two values).
struct Spread {
    double mean = 0, sd = 0, se = 0;
    std::size_t n = 0;
};
Spread spread_of(const std::vector<double>& values);

// "a,b,,c" → {"a", "b", "c"}: a comma-separated option's items, empty ones dropped.
std::vector<std::string> split_list(const std::string& text);

// `value` with `digits` decimals, fixed notation.
std::string fixed(double value, int digits);

// One claim of a paper, checked by a benchmark run: what the paper says (`claim`), its number with
// the table or figure and page it comes from (`paper`), ours from the run (`ours`), the verdict
// ("reproduced", "partly" or "not") and where in the run's output to look (`where`: a section of
// results.md and/or a figure file). Each bench writes its claims to claims.json in its output
// folder (write_claims); `flowtape bench all` gathers them into report.md.
struct Claim {
    std::string claim, paper, ours, verdict, where;
};

// "reproduced" when all `met` of `count` hold, "not" when none, else "partly".
std::string verdict_of(std::size_t met, std::size_t count);

// Writes {"bench": name, "claims": [...]} to dir/claims.json atomically.
void write_claims(const std::string& dir, const std::string& bench, const std::vector<Claim>& claims);

// Markdown lines: command, date (UTC), CPU model and logical cores with the load average, flowtape,
// g++, xtensor, xtensor-blas and OpenBLAS versions and OpenBLAS's thread count.
std::string bench_header(const std::string& command_line);

}  // namespace flowtape::app
