// The time of one data-parallel step's gradient sum as a function of the parameter count P (issue
// 16, docs/scaling.md): Communicator::sum_parts_in_order on `mpirun -n R`, as fit calls it —
// by rank (one part of P values per rank: a reduce-scatter and a gather from P = 8192 on) and by
// block (12 blocks over the ranks, --deterministic-sum) — beside the plain gather of every rank's
// values that the short path uses (R·P values received per rank). Every rank times the same
// fixed number of calls, each after a barrier; the table gives the median over calls of the
// slowest rank, in microseconds, and the bytes a rank receives per call.
//
// Usage: mpirun -n R bench_reduce_speed [--max P] [--blocks G]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench/speed/machine.hpp"
#include "core/communicator.hpp"

using namespace flowtape;

namespace {

// The median over `reps` calls of the slowest rank's time of one call, in µs.
template <class F>
double median_us(Communicator& comm, std::size_t reps, F&& call) {
    call();  // warm-up: buffers, connections
    std::vector<double> us(reps);
    for (auto& u : us) {
        comm.barrier();
        const auto t0 = std::chrono::steady_clock::now();
        call();
        u = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    }
    std::nth_element(us.begin(), us.begin() + static_cast<std::ptrdiff_t>(reps / 2), us.end());
    std::vector<double> all;
    std::vector<std::size_t> counts;
    comm.all_gather({us[reps / 2]}, all, counts);
    return *std::max_element(all.begin(), all.end());
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t max_p = 3000000, blocks = 12;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--max") == 0) max_p = std::stoul(argv[i + 1]);
        else if (std::strcmp(argv[i], "--blocks") == 0) blocks = std::stoul(argv[i + 1]);
    }
    Communicator& comm = world();
    const std::size_t r = comm.rank(), ranks = comm.size();
    if (r == 0) {
        std::printf("command: mpirun -n %zu bench_reduce_speed --max %zu --blocks %zu\n", ranks, max_p, blocks);
        std::printf("date:    %s\nmachine: %s; %s communicator, %zu ranks\n", bench::today().c_str(),
                    bench::cpu_model().c_str(), comm.name().c_str(), ranks);
        std::printf("%10s %12s %14s %14s %14s %14s\n", "P", "MB per part", "by rank µs", "gather µs", "by block µs",
                    "by rank GB/s");
    }
    const std::size_t my_blocks = (r + 1) * blocks / ranks - r * blocks / ranks;
    for (std::size_t p : {1000, 3000, 10000, 30000, 100000, 300000, 1000000, 3000000, 10000000}) {
        if (p > max_p) break;
        const std::size_t reps = std::clamp<std::size_t>(static_cast<std::size_t>(3e7 / static_cast<double>(p)), 7, 1001);
        std::vector<double> mine(p), total, all;
        std::vector<std::size_t> counts;
        for (std::size_t k = 0; k < p; ++k) mine[k] = std::sin(static_cast<double>(k + r));
        std::vector<double> block_parts;
        for (std::size_t b = 0; b < my_blocks; ++b) block_parts.insert(block_parts.end(), mine.begin(), mine.end());
        const double by_rank = median_us(comm, reps, [&] { comm.sum_parts_in_order(mine, p, total); });
        const double gather = median_us(comm, reps, [&] {
            comm.all_gather(mine, all, counts);  // then the adds in rank order, as the short path
            total.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(p));
            for (std::size_t q = 1; q < ranks; ++q)
                for (std::size_t k = 0; k < p; ++k) total[k] += all[q * p + k];
        });
        const double by_block = median_us(comm, std::max<std::size_t>(7, reps / 4),
                                          [&] { comm.sum_parts_in_order(block_parts, p, total); });
        // A ring all-reduce moves 2(R − 1)/R · 8P bytes per rank; the effective bandwidth of ours by that yardstick.
        const double bytes = 2.0 * static_cast<double>(ranks - 1) / static_cast<double>(ranks) * 8.0 * static_cast<double>(p);
        if (r == 0)
            std::printf("%10zu %12.3f %14.1f %14.1f %14.1f %14.2f\n", p, 8.0 * static_cast<double>(p) / 1e6, by_rank,
                        gather, by_block, bytes / (by_rank * 1e3));
    }
    return 0;
}
