// What every `flowtape bench …` prints first: the command, the date, the machine and the versions,
// so that a table of figures carries what is needed to reproduce and compare it.
#pragma once

#include <string>

namespace flowtape::app {

// Markdown lines: command, date (UTC), CPU model and logical cores with the load average, flowtape,
// g++, xtensor, xtensor-blas and OpenBLAS versions and OpenBLAS's thread count.
std::string bench_header(const std::string& command_line);

}  // namespace flowtape::app
