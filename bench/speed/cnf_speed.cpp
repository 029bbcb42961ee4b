// bench_cnf_speed: per-iteration training time and function evaluations of a continuous normalizing
// flow on 2-D data (issue 5, "Performance"), the flowtape half of bench/speed/compare_cnf.sh.
//
// Model: ContinuousFlow with MlpDynamics 2→64→64→2, time concatenated (first layer 3→64), tanh, a
// standard normal base, dopri5 with rtol = atol = 1e-5, T = 1, gradients by the adjoint method. One
// iteration = loss −mean log p(x) over a fixed batch of 512 points recorded on one Tape, backward
// (the adjoint solve), Adam step (lr 1e-3), zero_grad, tape reset. Three traces:
//   exact          the library's exact trace, for this MLP the closed form of flows/continuous/cnf_dynamics.cpp
//                  (one N×H×H product per evaluation, first-order ops only);
//   exact-tangent  the exact trace by D tangent passes (jacobian_trace: f recorded once, one chain of
//                  tangent ops per direction), the generic path, which the library takes for
//                  dynamics without a closed form;
//   hutchinson     εᵀ(∂f/∂z)ε by one tangent pass, Gaussian ε drawn once per iteration.
//
// Each trace starts from the same initial parameters; the first iterations are a warm-up, then each
// of the timed iterations is timed alone and the median is reported, with the forward and backward
// function evaluations (NFE) of the solves (ContinuousFlow::counters) and the time per evaluation.
// The two implementations choose their steps independently, so NFE may differ; time per evaluation
// compares the cost of one evaluation, time per iteration the whole.
//
// --export FILE writes the data batch and the initial parameters (with the names and in×out layout of
// nn/linear.hpp) plus, per trace, this program's initial loss, first forward/backward NFE and gradient
// norm, and the Hutchinson noise of every iteration, as JSON, so bench/speed/torch_cnf.py runs the very same
// computation (the same ε too) and bench/speed/compare_cnf.sh checks its first iteration against ours.
//
// Usage: bench_cnf_speed [--quick] [--threads N] [--dataset two-moons]
//                        [--trace exact|exact-tangent|hutchinson] [--export FILE] [--json FILE]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "autodiff/ops.hpp"
#include "core/random.hpp"
#include "machine.hpp"
#include "core/xtensor_blas.hpp"
#include "data/datasets.hpp"
#include "flows/continuous/cnf.hpp"
#include "flows/distributions/gaussian.hpp"
#include "nn/adam.hpp"
#include "nn/module.hpp"

// OpenBLAS's own extensions (declared here: <cblas.h> conflicts with xtensor-blas's prototypes).
extern "C" {
void openblas_set_num_threads(int num_threads);
char* openblas_get_config(void);
char* openblas_get_corename(void);
}

namespace {

using flowtape::bench::cpu_model;
using flowtape::bench::openblas_config;
using flowtape::bench::today;

using namespace flowtape;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kBatch = 512;
constexpr std::uint64_t kModelSeed = 20261123;
constexpr std::uint64_t kDataSeed = 5;
constexpr real kTolerance = 1e-5;
constexpr real kLearningRate = 1e-3;
constexpr std::uint64_t kNoiseSeed = 17;

// The traces the bench times (see the top of the file).
enum class BenchTrace { exact, exact_tangent, hutchinson };
const char* bench_trace_name(BenchTrace t) {
    return t == BenchTrace::exact ? "exact" : t == BenchTrace::exact_tangent ? "exact-tangent" : "hutchinson";
}
BenchTrace bench_trace_from_name(const std::string& name) {
    for (BenchTrace t : {BenchTrace::exact, BenchTrace::exact_tangent, BenchTrace::hutchinson})
        if (name == bench_trace_name(t)) return t;
    throw ValueError("bench_cnf_speed: --trace takes exact, exact-tangent or hutchinson, got '" + name + "'");
}

struct Options {
    bool quick = false;
    int threads = 1;
    std::string dataset = "two-moons";
    std::vector<BenchTrace> traces{BenchTrace::exact, BenchTrace::exact_tangent, BenchTrace::hutchinson};
    std::string export_path, json_path;
    std::string command_line;
};

Options parse_options(int argc, char** argv) {
    Options o;
    for (int k = 0; k < argc; ++k) o.command_line += (k ? " " : "") + std::string(argv[k]);
    for (int k = 1; k < argc; ++k) {
        const std::string a = argv[k];
        const bool has_value = k + 1 < argc;
        if (a == "--quick") {
            o.quick = true;
        } else if (a == "--threads" && has_value) {
            o.threads = std::atoi(argv[++k]);
            if (o.threads <= 0) throw ValueError("bench_cnf_speed: --threads takes a positive integer");
        } else if (a == "--dataset" && has_value) {
            o.dataset = argv[++k];
        } else if (a == "--trace" && has_value) {  // one trace alone (for profiling)
            o.traces = {bench_trace_from_name(argv[++k])};
        } else if (a == "--export" && has_value) {
            o.export_path = argv[++k];
        } else if (a == "--json" && has_value) {
            o.json_path = argv[++k];
        } else if (a == "--help" || a == "-h") {
            std::cout << "usage: bench_cnf_speed [--quick] [--threads N] [--dataset two-moons] "
                         "[--trace exact|exact-tangent|hutchinson] [--export FILE] [--json FILE]\n";
            std::exit(0);
        } else {
            throw ValueError("bench_cnf_speed: unknown option or missing value: '" + a + "' (see --help)");
        }
    }
    return o;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double mean(const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return s / static_cast<double>(v.size());
}

// The flow with the benchmark's fixed initial parameters (the same for every trace).
std::unique_ptr<ContinuousFlow> make_flow(BenchTrace trace) {
    Rng rng(kModelSeed);
    auto dynamics = std::make_unique<MlpDynamics>(2, std::vector<std::size_t>{64, 64}, Activation::tanh, rng);
    dynamics->use_closed_form_trace(trace != BenchTrace::exact_tangent);
    CnfOptions c;
    c.rtol = kTolerance;
    c.atol = kTolerance;
    c.trace = trace == BenchTrace::hutchinson ? TraceKind::hutchinson : TraceKind::exact;
    c.noise = NoiseKind::gaussian;
    c.method = ode::OdeMethod::adjoint;
    c.seed = kNoiseSeed;
    auto flow = std::make_unique<ContinuousFlow>(std::move(dynamics), std::make_unique<StandardNormal>(2), c);
    flow->set_training(true);
    return flow;
}

std::size_t warm_iterations(const Options& o) { return o.quick ? 1 : 3; }
std::size_t timed_iterations(const Options& o) { return o.quick ? 5 : 15; }

struct Iteration {
    double ms = 0;
    std::size_t nfe_forward = 0, nfe_backward = 0;
    real loss = 0, grad_norm = 0;
};

struct TraceResult {
    std::string trace;
    std::vector<Iteration> timed;
    Iteration first;  // the first iteration (initial parameters)
    double median_ms() const {
        std::vector<double> v;
        for (const Iteration& i : timed) v.push_back(i.ms);
        return median(v);
    }
    double mean_nfe(bool forward) const {
        std::vector<double> v;
        for (const Iteration& i : timed) v.push_back(static_cast<double>(forward ? i.nfe_forward : i.nfe_backward));
        return mean(v);
    }
    // The median over iterations of time / (forward + backward NFE).
    double median_ms_per_eval() const {
        std::vector<double> v;
        for (const Iteration& i : timed) v.push_back(i.ms / static_cast<double>(i.nfe_forward + i.nfe_backward));
        return median(v);
    }
};

TraceResult run_trace(BenchTrace trace, const Array& data, const Options& o) {
    std::unique_ptr<ContinuousFlow> flow = make_flow(trace);
    const ParameterList params = flow->parameters();
    Adam adam(params, AdamOptions{kLearningRate});
    Tape tape;
    auto iterate = [&] {
        Iteration it;
        const auto t0 = Clock::now();
        const Var loss = neg(mean(flow->log_prob(tape.constant(data))));
        tape.backward(loss);
        it.loss = loss.item();
        real g2 = 0;  // the gradient norm, for the side-by-side check (a few µs)
        for (const NamedParameter& p : params.items())
            for (real g : p.parameter->grad()) g2 += g * g;
        it.grad_norm = std::sqrt(g2);
        adam.step();
        adam.zero_grad();
        tape.reset();
        it.ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        it.nfe_forward = flow->counters().forward.fevals;
        it.nfe_backward = flow->counters().backward.fevals;
        return it;
    };
    TraceResult r;
    r.trace = bench_trace_name(trace);
    const std::size_t warm = warm_iterations(o), timed = timed_iterations(o);
    r.first = iterate();
    for (std::size_t k = 1; k < warm; ++k) iterate();
    for (std::size_t k = 0; k < timed; ++k) r.timed.push_back(iterate());
    return r;
}

nlohmann::json to_json(const Array& a) {
    nlohmann::json rows = nlohmann::json::array();
    for (std::size_t i = 0; i < a.shape()[0]; ++i) {
        nlohmann::json row = nlohmann::json::array();
        for (std::size_t j = 0; j < a.shape()[1]; ++j) row.push_back(a(i, j));
        rows.push_back(row);
    }
    return rows;
}

void write_file(const std::string& path, const nlohmann::json& j) {
    std::ofstream f(path);
    if (!f) throw IoError("bench_cnf_speed: cannot write '" + path + "'");
    f << j.dump(1) << "\n";  // nlohmann writes doubles with round-trip precision
    if (!f) throw IoError("bench_cnf_speed: failed while writing '" + path + "'");
}

// The data, the initial parameters, our first iteration of each trace and the Hutchinson noise, for
// bench/speed/torch_cnf.py and bench/speed/compare_cnf.sh.
void export_problem(const std::string& path, const Options& o, const Array& data,
                    const std::vector<TraceResult>& results) {
    std::unique_ptr<ContinuousFlow> flow = make_flow(BenchTrace::exact);  // the initial parameters again
    nlohmann::json params = nlohmann::json::object();
    const ParameterList list = flow->parameters();  // kept alive: items() refers into it
    for (const NamedParameter& p : list.items()) params[p.name] = to_json(p.parameter->value());
    nlohmann::json j;
    j["dataset"] = o.dataset;
    j["batch"] = kBatch;
    j["rtol"] = kTolerance;
    j["atol"] = kTolerance;
    j["T"] = flow->options().T;
    j["lr"] = kLearningRate;
    j["hidden"] = {64, 64};
    j["activation"] = "tanh";
    j["data"] = to_json(data);
    j["parameters"] = params;  // "dynamics.net.layers.k.weight" (in×out) and ".bias" (1×out)
    j["initial"] = nlohmann::json::object();
    for (const TraceResult& r : results)
        j["initial"][r.trace] = {{"loss", r.first.loss},
                                 {"nfe_forward", r.first.nfe_forward},
                                 {"nfe_backward", r.first.nfe_backward},
                                 {"grad_norm", r.first.grad_norm}};
    // ε of each iteration: ContinuousFlow draws one N×D Gaussian array per training log_prob from
    // Rng(seed) (flows/continuous/cnf.hpp), so the same draws from the same seed are the flow's noise.
    Rng noise(kNoiseSeed);
    j["hutchinson_noise"] = nlohmann::json::array();
    for (std::size_t k = 0; k < warm_iterations(o) + timed_iterations(o); ++k)
        j["hutchinson_noise"].push_back(to_json(noise.normal_array(kBatch, 2)));
    write_file(path, j);
}

void write_results(const std::string& path, const Options& o, const std::vector<TraceResult>& results) {
    nlohmann::json j;
    j["bench"] = "flowtape cnf_speed";
    j["command"] = o.command_line;
    j["date"] = today();
    j["threads"] = o.threads;
    j["results"] = nlohmann::json::array();
    for (const TraceResult& r : results) {
        nlohmann::json iters = nlohmann::json::array();
        for (const Iteration& i : r.timed)
            iters.push_back({{"ms", i.ms}, {"nfe_forward", i.nfe_forward}, {"nfe_backward", i.nfe_backward}, {"loss", i.loss}});
        j["results"].push_back({{"trace", r.trace},
                                {"median_ms", r.median_ms()},
                                {"nfe_forward", r.mean_nfe(true)},
                                {"nfe_backward", r.mean_nfe(false)},
                                {"ms_per_eval", r.median_ms_per_eval()},
                                {"initial_loss", r.first.loss},
                                {"initial_nfe_forward", r.first.nfe_forward},
                                {"initial_nfe_backward", r.first.nfe_backward},
                                {"initial_grad_norm", r.first.grad_norm},
                                {"iterations", iters}});
    }
    write_file(path, j);
}

void print_header(const Options& o) {
    std::printf("bench_cnf_speed: CNF, MLP 3->64->64->2 tanh, batch %zu of %s, dopri5 rtol = atol = %g, adjoint, Adam, float64\n",
                kBatch, o.dataset.c_str(), kTolerance);
    std::printf("command:   %s\n", o.command_line.c_str());
    std::printf("date:      %s\n", today().c_str());
    std::printf("machine:   %s, %u logical cores, %d thread(s)\n", cpu_model().c_str(), std::thread::hardware_concurrency(),
                o.threads);
    // The core is the kernel set OpenBLAS chose at load time (DYNAMIC_ARCH; OPENBLAS_CORETYPE overrides it).
    const char* core = openblas_get_corename();
    std::printf("versions:  xtensor %d.%d.%d, xtensor-blas %d.%d.%d, OpenBLAS %s (kernels: %s), g++ %d.%d\n",
                XTENSOR_VERSION_MAJOR, XTENSOR_VERSION_MINOR, XTENSOR_VERSION_PATCH, XTENSOR_BLAS_VERSION_MAJOR,
                XTENSOR_BLAS_VERSION_MINOR, XTENSOR_BLAS_VERSION_PATCH, openblas_config().c_str(), core ? core : "unknown",
                __GNUC__, __GNUC_MINOR__);
    std::printf("timing:    %zu warm-up iteration(s), then the median of %zu single iterations\n\n", warm_iterations(o),
                timed_iterations(o));
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const Options o = parse_options(argc, argv);
        openblas_set_num_threads(o.threads);
        print_header(o);
        Rng data_rng(kDataSeed);
        const Array data = make_dataset(o.dataset, kBatch, data_rng).x;
        std::vector<TraceResult> results;
        for (BenchTrace trace : o.traces) results.push_back(run_trace(trace, data, o));
        std::printf("%-13s %12s %10s %10s %12s %14s\n", "trace", "initial loss", "NFE fwd", "NFE bwd", "ms / iter",
                    "ms / eval");
        for (const TraceResult& r : results)
            std::printf("%-13s %12.8f %10.1f %10.1f %12.3f %14.4f\n", r.trace.c_str(), r.first.loss, r.mean_nfe(true),
                        r.mean_nfe(false), r.median_ms(), r.median_ms_per_eval());
        if (!o.export_path.empty()) export_problem(o.export_path, o, data, results);
        if (!o.json_path.empty()) write_results(o.json_path, o, results);
        return 0;
    } catch (const flowtape::Error& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 2;
    }
}
