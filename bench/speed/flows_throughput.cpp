// bench_flows_throughput: training throughput, sampling and log_prob speed of three whole flows
// built by flows/builders.hpp on 2-D data (issue 3, "Performance"):
//   maf      5 × MAF (MADE 2→128→128→4), reversal permutations between layers
//   realnvp  8 × affine coupling (MLP 1→128→128→2), alternating masks
//   nsf      4 × autoregressive rational-quadratic spline (MADE 2→128→128→46, 8 bins, B = 3)
// One training step = loss −mean log p(x) recorded on one Tape, backward, Adam step, zero_grad,
// tape reset. log_prob of 10⁴ points and sampling of 10⁴ points run under NoGrad. Each figure is
// the median of single-call timings after a warm-up.
//
// Gemm floor. FLOPs of the dense products only, counted per weight matrix W (in×out) at N rows:
// forward 2·N·in·out; a training step adds backward ∂X and ∂W, so 6·N·in·out per matrix (every
// matrix counted, including the first of each network). log_prob = 2·N·Σ in·out; sampling runs
// the inverses, which for MAF and the autoregressive spline take D = 2 passes (2·D·N·Σ in·out),
// one pass for RealNVP. The floor time is these FLOPs divided by the rate of a square dgemm
// (512×512, xt::blas::gemm) measured in this program at the same thread count. The spline, softmax,
// tanh etc. are not counted, so the floor is a lower bound that no implementation can reach.
//
// Usage: bench_flows_throughput [--quick] [--json FILE] [--threads 1,2] [--flows maf,realnvp,nsf]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "autodiff/ops.hpp"
#include "core/random.hpp"
#include "machine.hpp"
#include "core/xtensor_blas.hpp"
#include "flows/builders.hpp"
#include "nn/adam.hpp"
#include "nn/module.hpp"

// OpenBLAS's own extensions (declared here: <cblas.h> conflicts with xtensor-blas's prototypes).
extern "C" {
void openblas_set_num_threads(int num_threads);
char* openblas_get_config(void);
}

namespace {

using flowtape::bench::cpu_model;
using flowtape::bench::median_ms;
using flowtape::bench::openblas_config;
using flowtape::bench::today;

using namespace flowtape;
using Clock = std::chrono::steady_clock;

struct Options {
    bool quick = false;
    std::string json_path;
    std::vector<int> threads{1};
    std::vector<std::string> flows{"maf", "realnvp", "nsf"};
    std::string command_line;
};

std::vector<std::string> split(const std::string& text) {
    std::vector<std::string> out;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) out.push_back(item);
    return out;
}

Options parse_options(int argc, char** argv) {
    Options o;
    for (int k = 0; k < argc; ++k) {
        if (k > 0) o.command_line += ' ';
        o.command_line += argv[k];
    }
    for (int k = 1; k < argc; ++k) {
        const std::string a = argv[k];
        const bool has_value = k + 1 < argc;
        if (a == "--quick") {
            o.quick = true;
        } else if (a == "--json" && has_value) {
            o.json_path = argv[++k];
        } else if (a == "--threads" && has_value) {
            o.threads.clear();
            for (const std::string& t : split(argv[++k])) {
                const int n = std::atoi(t.c_str());
                if (n <= 0) throw ValueError("bench_flows_throughput: --threads takes positive integers, got '" + t + "'");
                o.threads.push_back(n);
            }
        } else if (a == "--flows" && has_value) {
            o.flows = split(argv[++k]);
        } else if (a == "--help" || a == "-h") {
            std::cout << "usage: bench_flows_throughput [--quick] [--json FILE] [--threads 1,2] [--flows maf,realnvp,nsf]\n";
            std::exit(0);
        } else {
            throw ValueError("bench_flows_throughput: unknown option or missing value: '" + a + "' (see --help)");
        }
    }
    return o;
}

// The rate of a square dgemm in GFLOP/s (2n³ per call).
double gemm_gflops(double seconds) {
    const std::size_t n = 512;
    Rng rng(7);
    const Array a = rng.normal_array(n, n), b = rng.normal_array(n, n);
    Array c = Array::from_shape({n, n});
    const double ms = median_ms([&] { xt::blas::gemm(a, b, c, false, false, 1.0, 0.0); }, seconds, 5);
    return 2.0 * static_cast<double>(n * n * n) / (ms * 1e6);
}

// Two correlated Gaussian columns (the values do not change the speed).
Array make_data(std::size_t n, Rng& rng) {
    Array x = rng.normal_array(n, 2);
    for (std::size_t r = 0; r < n; ++r) x(r, 1) = 0.8 * x(r, 0) + 0.6 * x(r, 1) + 0.5;
    return x;
}

DistributionPtr build(const std::string& kind, Rng& rng) {
    FlowSpec spec;
    spec.dim = 2;
    spec.hidden = {128, 128};
    if (kind == "maf") {
        spec.layers = 5;
        return make_maf_flow(spec, rng);
    }
    if (kind == "realnvp") {
        spec.layers = 8;
        return make_realnvp_flow(spec, rng);
    }
    if (kind == "nsf") {
        spec.layers = 4;
        spec.bins = 8;
        return make_nsf_flow(spec, rng);
    }
    throw ValueError("bench_flows_throughput: unknown flow '" + kind + "' (maf, realnvp, nsf)");
}

// Σ in·out over the flow's weight matrices (parameters named "*weight" with two dimensions > 1).
double dense_macs_per_row(const ParameterList& params) {
    double total = 0;
    for (const NamedParameter& p : params.items()) {
        const std::string& n = p.name;
        const Shape s = p.parameter->shape();
        if (n.size() >= 6 && n.compare(n.size() - 6, 6, "weight") == 0 && s[0] > 1 && s[1] > 1)
            total += static_cast<double>(s[0]) * static_cast<double>(s[1]);
    }
    return total;
}

// The (in, out) shape of every weight matrix of the flow (parameters named "*weight", 2-D).
std::vector<Shape> weight_shapes(const ParameterList& params) {
    std::vector<Shape> out;
    for (const NamedParameter& p : params.items()) {
        const std::string& n = p.name;
        if (n.size() >= 6 && n.compare(n.size() - 6, 6, "weight") == 0) out.push_back(p.parameter->shape());
    }
    return out;
}

// The time of the step's dense products alone: for every weight matrix W (in×out) at N rows, the
// three gemm calls of a training step (Y = X·W, ∂X = ∂Y·Wᵀ, ∂W = Xᵀ·∂Y; with `backward` false
// only the first), at exactly the step's shapes, with nothing else around them. Unlike the
// square-dgemm floor this one runs thin products at the rate they really get; it still leaves out
// every elementwise op, so the step cannot beat it. (∂X of each network's first matrix is counted
// although the step needs it only where the input depends on parameters: a few percent at most.)
double gemm_only_ms(const std::vector<Shape>& shapes, std::size_t n, bool backward, double seconds) {
    Rng rng(11);
    struct Buffers { Array x, w, y, dx, dw; };
    std::vector<Buffers> bufs;
    for (const Shape& s : shapes)
        bufs.push_back({rng.normal_array(n, s[0]), rng.normal_array(s[0], s[1]), Array::from_shape({n, s[1]}),
                        Array::from_shape({n, s[0]}), Array::from_shape({s[0], s[1]})});
    return median_ms(
        [&] {
            for (Buffers& b : bufs) {
                xt::blas::gemm(b.x, b.w, b.y, false, false, 1.0, 0.0);
                if (!backward) continue;
                xt::blas::gemm(b.y, b.w, b.dx, false, true, 1.0, 0.0);
                xt::blas::gemm(b.x, b.y, b.dw, true, false, 1.0, 0.0);
            }
        },
        seconds, 20);
}

struct BatchResult {
    std::size_t batch = 0;
    double step_ms = 0, floor_ms = 0, gemm_ms = 0;
    double samples_per_s() const { return static_cast<double>(batch) / (step_ms * 1e-3); }
};

struct FlowResult {
    std::string flow;
    int threads = 0;
    double gflops = 0, macs_per_row = 0;
    std::vector<BatchResult> batches;
    double log_prob_ms = 0, sample_ms = 0, log_prob_floor_ms = 0, sample_floor_ms = 0;
    double log_prob_gemm_ms = 0, sample_gemm_ms = 0;
    real first_loss = 0, last_loss = 0;
};

FlowResult run_flow(const std::string& kind, int threads, double gflops, const Options& o) {
    openblas_set_num_threads(threads);
    const double seconds = o.quick ? 0.3 : 1.5;
    FlowResult r;
    r.flow = kind;
    r.threads = threads;
    r.gflops = gflops;
    for (std::size_t batch : {std::size_t{128}, std::size_t{1024}}) {
        Rng rng(20240501);
        DistributionPtr flow = build(kind, rng);
        const ParameterList params = flow->parameters();
        r.macs_per_row = dense_macs_per_row(params);
        Adam adam(params, AdamOptions{1e-3});
        const Array data = make_data(batch, rng);
        Tape tape;
        real loss_value = 0;
        auto step = [&] {
            const Var loss = neg(mean(flow->log_prob(tape.constant(data))));
            tape.backward(loss);
            loss_value = loss.item();
            adam.step();
            adam.zero_grad();
            tape.reset();
        };
        step();
        if (batch == 128) r.first_loss = loss_value;
        BatchResult b;
        b.batch = batch;
        b.step_ms = median_ms(step, seconds, 20);
        b.floor_ms = 6.0 * static_cast<double>(batch) * r.macs_per_row / (gflops * 1e6);
        b.gemm_ms = gemm_only_ms(weight_shapes(params), batch, true, seconds);
        r.batches.push_back(b);
        r.last_loss = loss_value;
    }
    // log_prob and sampling of 10⁴ points, no gradients.
    const std::size_t n = 10000;
    Rng rng(99);
    DistributionPtr flow = build(kind, rng);
    flow->set_training(false);
    const Array data = make_data(n, rng);
    Tape tape;
    r.log_prob_ms = median_ms(
        [&] {
            NoGrad off(tape);
            const Var lp = flow->log_prob(tape.constant(data));
            (void)lp;
            tape.reset();
        },
        seconds, 10);
    r.sample_ms = median_ms(
        [&] {
            NoGrad off(tape);
            const Var x = flow->sample(tape, n, rng);
            (void)x;
            tape.reset();
        },
        seconds, 10);
    const double passes = kind == "realnvp" ? 1.0 : 2.0;  // D = 2 inverse passes for the autoregressive flows
    r.log_prob_floor_ms = 2.0 * static_cast<double>(n) * r.macs_per_row / (gflops * 1e6);
    r.sample_floor_ms = passes * r.log_prob_floor_ms;
    r.log_prob_gemm_ms = gemm_only_ms(weight_shapes(flow->parameters()), n, false, seconds);
    r.sample_gemm_ms = passes * r.log_prob_gemm_ms;
    return r;
}

void print_header(const Options& o) {
    std::printf("bench_flows_throughput: MAF 5x MADE(2x128), RealNVP 8x MLP(2x128), NSF-AR 4x (8 bins, 2x128), D=2, float64\n");
    std::printf("command:   %s\n", o.command_line.c_str());
    std::printf("date:      %s\n", today().c_str());
    std::printf("machine:   %s, %u logical cores\n", cpu_model().c_str(), std::thread::hardware_concurrency());
    std::printf("versions:  xtensor %d.%d.%d, xtensor-blas %d.%d.%d, OpenBLAS %s, g++ %d.%d\n", XTENSOR_VERSION_MAJOR,
                XTENSOR_VERSION_MINOR, XTENSOR_VERSION_PATCH, XTENSOR_BLAS_VERSION_MAJOR, XTENSOR_BLAS_VERSION_MINOR,
                XTENSOR_BLAS_VERSION_PATCH, openblas_config().c_str(), __GNUC__, __GNUC_MINOR__);
    std::printf("timing:    median of single calls after warm-up (~%.1f s each)\n", o.quick ? 0.3 : 1.5);
    std::printf("floor:     dense FLOPs (step 6*N*in*out per weight, log_prob 2*N*in*out, sampling x D passes for AR) / square dgemm rate\n");
    std::printf("gemm:      the same products timed alone at the step's own shapes (thin ones run below the square rate)\n\n");
}

void print_results(const std::vector<FlowResult>& results) {
    std::printf("%-8s %3s %7s %6s %10s %10s %10s %10s %7s %7s\n", "flow", "thr", "GFLOP/s", "batch", "step ms",
                "floor ms", "gemm ms", "samples/s", "x floor", "x gemm");
    for (const FlowResult& r : results)
        for (const BatchResult& b : r.batches)
            std::printf("%-8s %3d %7.2f %6zu %10.4f %10.4f %10.4f %10.0f %7.2f %7.2f\n", r.flow.c_str(), r.threads,
                        r.gflops, b.batch, b.step_ms, b.floor_ms, b.gemm_ms, b.samples_per_s(), b.step_ms / b.floor_ms,
                        b.step_ms / b.gemm_ms);
    std::printf("\n%-8s %3s %12s %12s %12s %12s %12s %12s\n", "flow", "thr", "log_prob ms", "(floor)", "(gemm)",
                "sample ms", "(floor)", "(gemm)");
    for (const FlowResult& r : results)
        std::printf("%-8s %3d %12.3f %12.3f %12.3f %12.3f %12.3f %12.3f\n", r.flow.c_str(), r.threads, r.log_prob_ms,
                    r.log_prob_floor_ms, r.log_prob_gemm_ms, r.sample_ms, r.sample_floor_ms, r.sample_gemm_ms);
}

void write_json(const std::string& path, const Options& o, const std::vector<FlowResult>& results) {
    std::ofstream f(path);
    if (!f) throw IoError("bench_flows_throughput: cannot write '" + path + "'");
    f << "{\n  \"bench\": \"flowtape flows_throughput\",\n  \"command\": \"" << o.command_line << "\",\n";
    f << "  \"date\": \"" << today() << "\",\n  \"cpu\": \"" << cpu_model() << "\",\n";
    f << "  \"cores\": " << std::thread::hardware_concurrency() << ",\n  \"results\": [\n";
    for (std::size_t k = 0; k < results.size(); ++k) {
        const FlowResult& r = results[k];
        f << "    {\"flow\": \"" << r.flow << "\", \"threads\": " << r.threads << ", \"gemm_gflops\": " << r.gflops
          << ", \"dense_macs_per_row\": " << r.macs_per_row << ", \"log_prob_ms\": " << r.log_prob_ms
          << ", \"sample_ms\": " << r.sample_ms << ", \"log_prob_floor_ms\": " << r.log_prob_floor_ms
          << ", \"sample_floor_ms\": " << r.sample_floor_ms << ", \"log_prob_gemm_ms\": " << r.log_prob_gemm_ms
          << ", \"sample_gemm_ms\": " << r.sample_gemm_ms << ", \"first_loss\": " << r.first_loss
          << ", \"last_loss\": " << r.last_loss << ", \"batches\": [";
        for (std::size_t j = 0; j < r.batches.size(); ++j) {
            const BatchResult& b = r.batches[j];
            f << (j ? ", " : "") << "{\"batch\": " << b.batch << ", \"step_ms\": " << b.step_ms
              << ", \"floor_ms\": " << b.floor_ms << ", \"gemm_ms\": " << b.gemm_ms << ", \"samples_per_s\": " << b.samples_per_s() << "}";
        }
        f << "]}" << (k + 1 < results.size() ? "," : "") << "\n";
    }
    f << "  ]\n}\n";
    if (!f) throw IoError("bench_flows_throughput: failed while writing '" + path + "'");
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const Options o = parse_options(argc, argv);
        print_header(o);
        std::vector<FlowResult> results;
        for (int threads : o.threads) {
            openblas_set_num_threads(threads);
            const double gflops = gemm_gflops(o.quick ? 0.3 : 1.0);
            for (const std::string& kind : o.flows) results.push_back(run_flow(kind, threads, gflops, o));
        }
        print_results(results);
        if (!o.json_path.empty()) write_json(o.json_path, o, results);
        return 0;
    } catch (const flowtape::Error& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 2;
    }
}
