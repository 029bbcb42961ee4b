// parallel_for: run body(i) for i = 0 … count − 1 on a small pool of threads.
//
// The pool takes the indices in order (an atomic counter), so with one thread it is a plain loop.
// Each index runs on one thread and the bodies must touch disjoint state: the callers (mixture
// components, piecewise pieces, k-means restarts) give each index its own slot, which is why their
// results do not depend on the number of threads. If bodies throw, the remaining indices are not
// started, and after every thread has stopped the exception of the lowest failing index is
// rethrown.
#pragma once

#include <cstddef>
#include <functional>

namespace flowtape {

// threads = 0 is taken as 1; more threads than indices are not started.
void parallel_for(std::size_t count, std::size_t threads, const std::function<void(std::size_t)>& body);

}  // namespace flowtape
