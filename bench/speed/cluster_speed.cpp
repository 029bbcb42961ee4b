// bench_cluster_speed: the speed of flowtape's k-means and silhouette on 10⁵ 2-D points.
//
// The points are the circle of eight Gaussians (data/datasets.hpp, seed 1). We time k-means with
// k = 8 and n_init = 1 and 10 (k-means++ seeding, Lloyd, tol 1e-4, max_iter 300), the silhouette of
// the n_init = 10 labels on a subsample of 10⁴ points, and the exact silhouette of the first 2·10⁴
// points. flowtape uses OMP_NUM_THREADS threads (restarts, silhouette blocks; 1 when unset), the
// same count sklearn's OpenMP gets. Each figure is the median over --reps runs. bench/speed/compare_cluster.sh runs this program and
// bench/speed/sklearn_cluster.py (scikit-learn) on the same points (--write-data) and prints the ratios.
//
// Output: one line per task, "flowtape <task> <median seconds> <value>" (value: inertia or score),
// after comment lines (#) giving the command, machine and thread count.
//
// Usage: bench_cluster_speed [--n 100000] [--reps 3] [--write-data FILE]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "cluster/kmeans.hpp"
#include "cluster/silhouette.hpp"
#include "core/random.hpp"
#include "machine.hpp"
#include "data/datasets.hpp"

namespace {

using flowtape::bench::cpu_model;

using namespace flowtape;
using flowtape::bench::median_seconds;
using namespace flowtape::cluster;
using Clock = std::chrono::steady_clock;

}  // namespace

int main(int argc, char** argv) {
    std::size_t n = 100000;
    int reps = 3;
    std::string data_path;
    std::string command = argv[0];
    for (int i = 1; i < argc; ++i) command.append(" ").append(argv[i]);
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const bool has_value = i + 1 < argc;
        if (a == "--n" && has_value) n = std::stoul(argv[++i]);
        else if (a == "--reps" && has_value) reps = std::stoi(argv[++i]);
        else if (a == "--write-data" && has_value) data_path = argv[++i];
        else {
            std::cerr << "bench_cluster_speed: unknown option '" << a << "'\n";
            return 2;
        }
    }
    Rng data_rng(1);
    const Array X = make_dataset("circle-of-gaussians", n, data_rng).x;
    if (!data_path.empty()) {
        std::FILE* f = std::fopen(data_path.c_str(), "w");
        if (!f) {
            std::cerr << "bench_cluster_speed: cannot write " << data_path << "\n";
            return 1;
        }
        for (std::size_t i = 0; i < n; ++i) std::fprintf(f, "%.17g,%.17g\n", X(i, 0), X(i, 1));
        std::fclose(f);
    }
    const char* omp = std::getenv("OMP_NUM_THREADS");
    const char* ob = std::getenv("OPENBLAS_NUM_THREADS");
    std::printf("# command: %s\n# machine: %s\n# OMP_NUM_THREADS=%s OPENBLAS_NUM_THREADS=%s\n", command.c_str(),
                cpu_model().c_str(), omp ? omp : "unset", ob ? ob : "unset");

    // The same thread count as sklearn gets: flowtape's restarts and silhouette blocks use it.
    const std::size_t threads = omp ? std::max(1, std::atoi(omp)) : 1;
    double value = 0;
    int seed = 0;
    double t = median_seconds(reps, [&] {
        Rng rng(static_cast<std::uint64_t>(++seed));
        return kmeans(X, KMeansOptions{8, 1, 300, 1e-4, threads}, rng).inertia;
    }, value);
    std::printf("flowtape kmeans_ninit1 %.6f %.6g\n", t, value);
    Clustering best;
    t = median_seconds(reps, [&] {
        Rng rng(static_cast<std::uint64_t>(++seed));
        best = kmeans(X, KMeansOptions{8, 10, 300, 1e-4, threads}, rng);
        return best.inertia;
    }, value);
    std::printf("flowtape kmeans_ninit10 %.6f %.6g\n", t, value);
    t = median_seconds(reps, [&] {
        Rng rng(static_cast<std::uint64_t>(++seed));
        return silhouette_score_sampled(X, best.labels, 10000, rng, threads);
    }, value);
    std::printf("flowtape silhouette_sample1e4 %.6f %.6g\n", t, value);
    const std::size_t m = std::min<std::size_t>(n, 20000);
    const Array head = xt::view(X, xt::range(0, m), xt::all());
    const Labels head_labels(best.labels.begin(), best.labels.begin() + static_cast<std::ptrdiff_t>(m));
    t = median_seconds(reps, [&] { return silhouette_score(head, head_labels, threads); }, value);
    std::printf("flowtape silhouette_exact2e4 %.6f %.6g\n", t, value);
    return 0;
}
