// The thread pool of parallel_for (see parallel.hpp).
#include "core/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>
#include <vector>

namespace flowtape {

void parallel_for(std::size_t count, std::size_t threads, const std::function<void(std::size_t)>& body) {
    if (count == 0) return;
    std::vector<std::exception_ptr> errors(count);
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    const auto worker = [&] {
        for (std::size_t i = next++; i < count && !failed; i = next++) {
            try {
                body(i);
            } catch (...) {
                errors[i] = std::current_exception();
                failed = true;
            }
        }
    };
    const std::size_t pool_size = std::min(std::max<std::size_t>(threads, 1), count);
    if (pool_size == 1) {
        worker();
    } else {
        std::vector<std::thread> pool;
        pool.reserve(pool_size);
        for (std::size_t t = 0; t < pool_size; ++t) pool.emplace_back(worker);
        for (std::thread& t : pool) t.join();
    }
    for (const std::exception_ptr& e : errors)
        if (e) std::rethrow_exception(e);
}

}  // namespace flowtape
