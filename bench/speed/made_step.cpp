// bench_made_step: the speed of one training step of flowtape's foundation (tape, ops, MADE, Adam).
//
// The model is a MADE 2→128→128→4 fitted by the MAF Gaussian negative log-likelihood
//     μ = out[:, 0..D), α = out[:, D..2D), u = (x − μ) ⊙ exp(−α),
//     loss = mean over rows of Σᵢ (½ uᵢ² + αᵢ) + (D/2) log 2π.
// One step is: record the forward pass on the tape, backward, Adam step, zero_grad, tape reset.
// We time it at several batch sizes and OpenBLAS thread counts, and time on its own the sequence of
// gemm calls that the step makes (same shapes, same transposes, straight through xt::blas::gemm on
// preallocated buffers). Their ratio says how much the step costs beyond its matrix products: the
// target is ≤ 1.4 at batch 1024. Each figure is the median over many single-call timings, after a
// warm-up. Step and gemm calls alternate, so that a busy machine slows both alike; the number of
// rounds is sized so that one configuration takes about 1 s (0.2 s with --quick).
// The bench also checks that a warm step allocates nothing on the tape.
//
// --phases also times the phases of a step (forward with the loss, backward, Adam step, zero_grad,
// reset) one by one, to show where the time beyond the gemm calls goes.
//
// Usage: bench_made_step [--quick] [--phases] [--json FILE] [--batches 128,1024,4096] [--threads 1,2]
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <numbers>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "autodiff/ops.hpp"
#include "core/random.hpp"
#include "machine.hpp"
#include "core/xtensor_blas.hpp"
#include "nn/adam.hpp"
#include "nn/made.hpp"
#include "nn/module.hpp"

// OpenBLAS's own extensions. Declared here rather than through <cblas.h>, whose cblas_* prototypes
// conflict with the ones xtensor-blas (xflens) declares.
extern "C" {
void openblas_set_num_threads(int num_threads);
char* openblas_get_config(void);
}

namespace {

using flowtape::bench::cpu_model;
using flowtape::bench::openblas_config;
using flowtape::bench::today;
using flowtape::bench::xtensor_blas_version;
using flowtape::bench::xtensor_version;

using namespace flowtape;
using Clock = std::chrono::steady_clock;

// ---- options ----

struct Options {
    bool quick = false;
    bool phases = false;
    std::string json_path;
    std::vector<std::size_t> batches{128, 1024, 4096};
    std::vector<int> threads{1, 2};
    std::string command_line;
};

std::vector<std::size_t> parse_list(const std::string& text, const char* option) {
    std::vector<std::size_t> out;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        char* end = nullptr;
        const unsigned long v = std::strtoul(item.c_str(), &end, 10);
        if (item.empty() || *end != '\0' || v == 0)
            throw ValueError(std::string("bench_made_step: ") + option + " takes positive integers separated by commas, got '" + text + "'");
        out.push_back(v);
    }
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
        } else if (a == "--phases") {
            o.phases = true;
        } else if (a == "--json" && has_value) {
            o.json_path = argv[++k];
        } else if (a == "--batches" && has_value) {
            o.batches = parse_list(argv[++k], "--batches");
        } else if (a == "--threads" && has_value) {
            o.threads.clear();
            for (std::size_t n : parse_list(argv[++k], "--threads")) o.threads.push_back(static_cast<int>(n));
        } else if (a == "--help" || a == "-h") {
            std::cout << "usage: bench_made_step [--quick] [--phases] [--json FILE] [--batches 128,1024,4096] [--threads 1,2]\n";
            std::exit(0);
        } else {
            throw ValueError("bench_made_step: unknown option or missing value: '" + a + "' (see --help)");
        }
    }
    return o;
}

// ---- the machine and the versions ----

std::string env_or(const char* name, const char* fallback) {
    const char* v = std::getenv(name);
    return v ? v : fallback;
}

// ---- timing ----

struct Timing {
    double median_ms = 0;
    double min_ms = 0;
    std::size_t reps = 0;
};

Timing summarize(std::vector<double> ms) {
    Timing out;
    out.reps = ms.size();
    out.min_ms = *std::min_element(ms.begin(), ms.end());
    const auto middle = ms.begin() + static_cast<std::ptrdiff_t>(ms.size() / 2);
    std::nth_element(ms.begin(), middle, ms.end());
    out.median_ms = *middle;
    return out;
}

// Times two calls, alternating them so that both see the same machine (a busy neighbour slows
// both, not one): warm up, estimate one round, then time `reps` rounds (enough to fill `seconds`)
// call by call and return each call's median. A median of single calls resists the odd slow call.
template <class F, class G>
std::pair<Timing, Timing> time_interleaved(F&& first, G&& second, double seconds, std::size_t min_reps) {
    const auto warm_start = Clock::now();
    std::size_t warm = 0;
    while (warm < 3 || std::chrono::duration<double>(Clock::now() - warm_start).count() < 0.1 * seconds) {
        first();
        second();
        ++warm;
    }
    const double estimate = std::chrono::duration<double>(Clock::now() - warm_start).count() / static_cast<double>(warm);
    const std::size_t reps = std::clamp<std::size_t>(static_cast<std::size_t>(seconds / estimate), min_reps, 200000);
    std::vector<double> ms_first(reps), ms_second(reps);
    for (std::size_t r = 0; r < reps; ++r) {
        const auto t0 = Clock::now();
        first();
        const auto t1 = Clock::now();
        second();
        const auto t2 = Clock::now();
        ms_first[r] = std::chrono::duration<double, std::milli>(t1 - t0).count();
        ms_second[r] = std::chrono::duration<double, std::milli>(t2 - t1).count();
    }
    return {summarize(ms_first), summarize(ms_second)};
}

// ---- the training step ----

MadeConfig bench_config() {
    MadeConfig c;
    c.inputs = 2;
    c.hidden = {128, 128};
    c.outputs_per_input = 2;
    return c;
}

// Two correlated Gaussian columns: a realistic, fixed input (the values do not affect the speed).
Array make_batch(std::size_t n, Rng& rng) {
    Array x = rng.normal_array(n, 2);
    for (std::size_t r = 0; r < n; ++r) x(r, 1) = 0.8 * x(r, 0) + 0.6 * x(r, 1) + 1.0;
    return x;
}

// The phases of a step, for --phases: `mark(k)` is called as phase k ends.
enum Phase { kForward, kBackward, kAdamStep, kZeroGrad, kReset, kPhases };
const char* const kPhaseNames[kPhases] = {"forward", "backward", "adam.step", "zero_grad", "reset"};
struct NoMarks {
    void operator()(int) const {}
};

// One full step; returns the loss.
template <class Marks = NoMarks>
real train_step(Tape& t, Made& made, Adam& adam, const Array& batch, Marks mark = {}) {
    const std::size_t d = batch.shape()[1];
    const Var x = t.constant(batch);
    const Var out = made.forward(x);
    const Var mu = cols(out, 0, d);
    const Var alpha = cols(out, d, 2 * d);
    const Var u = mul(sub(x, mu), exp(neg(alpha)));
    const Var per_row = sum(add(mul_scalar(square(u), 0.5), alpha), 1);
    const Var loss = add_scalar(mean(per_row), 0.5 * static_cast<real>(d) * std::log(2 * std::numbers::pi));
    mark(kForward);
    t.backward(loss);
    const real value = loss.item();
    mark(kBackward);
    adam.step();
    mark(kAdamStep);
    adam.zero_grad();
    mark(kZeroGrad);
    t.reset();
    mark(kReset);
    return value;
}

// The median time of each phase over `reps` steps (--phases): where a step's time goes.
std::array<double, kPhases> time_phases(Tape& t, Made& made, Adam& adam, const Array& batch, std::size_t reps) {
    std::array<std::vector<double>, kPhases> ms;
    for (auto& v : ms) v.resize(reps);
    for (std::size_t r = 0; r < reps; ++r) {
        auto last = Clock::now();
        train_step(t, made, adam, batch, [&](int phase) {
            const auto now = Clock::now();
            ms[phase][r] = std::chrono::duration<double, std::milli>(now - last).count();
            last = now;
        });
    }
    std::array<double, kPhases> median{};
    for (int k = 0; k < kPhases; ++k) median[k] = summarize(ms[k]).median_ms;
    return median;
}

// ---- the gemm calls alone ----

// The matrix products of one step of an MLP with layer widths dims[0] → … → dims[L], as
// autodiff/matmul.cpp issues them: forward y = x W (β = 1 onto the bias rows) for each layer; backward,
// from the last layer down, ∂x = g Wᵀ (not for the first layer, whose input is a constant) then
// ∂W = xᵀ g. Buffers are allocated once, in the constructor.
class GemmSequence {
public:
    GemmSequence(const std::vector<std::size_t>& dims, std::size_t batch, Rng& rng) {
        const std::size_t layers = dims.size() - 1;
        for (std::size_t l = 0; l <= layers; ++l) {
            acts_.push_back(rng.normal_array(batch, dims[l]));
            grads_.push_back(rng.normal_array(batch, dims[l]));
        }
        for (std::size_t l = 0; l < layers; ++l) {
            weights_.push_back(rng.normal_array(dims[l], dims[l + 1]));
            weight_grads_.push_back(Array::from_shape({dims[l], dims[l + 1]}));
        }
    }

    std::size_t calls() const { return 3 * weights_.size() - 1; }

    void run() {
        const std::size_t layers = weights_.size();
        for (std::size_t l = 0; l < layers; ++l) xt::blas::gemm(acts_[l], weights_[l], acts_[l + 1], false, false, 1.0, 1.0);
        for (std::size_t l = layers; l-- > 0;) {
            if (l > 0) xt::blas::gemm(grads_[l + 1], weights_[l], grads_[l], false, true, 1.0, 0.0);
            xt::blas::gemm(acts_[l], grads_[l + 1], weight_grads_[l], true, false, 1.0, 0.0);
        }
    }

private:
    std::vector<Array> acts_, grads_, weights_, weight_grads_;
};

// ---- one configuration ----

struct Result {
    std::size_t batch = 0;
    int threads = 0;
    Timing step, gemm;
    std::size_t warm_allocations = 0;  // tape allocations over all timed steps (must be 0)
    std::array<double, kPhases> phase_ms{};  // with --phases: the median of each phase
    real first_loss = 0, last_loss = 0;
    double ratio() const { return step.median_ms / gemm.median_ms; }
    double samples_per_second() const { return static_cast<double>(batch) / (step.median_ms * 1e-3); }
};

Result run_config(std::size_t batch, int threads, const Options& o) {
    openblas_set_num_threads(threads);
    const double seconds = o.quick ? 0.2 : 1.0;
    const std::size_t min_reps = o.quick ? 10 : 30;

    Result r;
    r.batch = batch;
    r.threads = threads;

    Rng rng(20240501);
    const MadeConfig config = bench_config();
    Made made(config, rng);
    Adam adam(made.parameters(), AdamOptions{1e-3});
    const Array data = make_batch(batch, rng);
    Tape tape;

    // Two warm steps, then the allocation check: a third step must allocate nothing.
    r.first_loss = train_step(tape, made, adam, data);
    train_step(tape, made, adam, data);
    const std::size_t before_check = tape.allocations();
    train_step(tape, made, adam, data);
    const std::size_t after_check = tape.allocations();

    std::vector<std::size_t> dims{config.inputs};
    for (std::size_t h : config.hidden) dims.push_back(h);
    dims.push_back(config.inputs * config.outputs_per_input);
    GemmSequence gemms(dims, batch, rng);

    const std::size_t before_timing = tape.allocations();
    real last = 0;
    std::tie(r.step, r.gemm) =
        time_interleaved([&] { last = train_step(tape, made, adam, data); }, [&] { gemms.run(); }, seconds, min_reps);
    r.last_loss = last;
    r.warm_allocations = (after_check - before_check) + (tape.allocations() - before_timing);
    if (o.phases) r.phase_ms = time_phases(tape, made, adam, data, std::max<std::size_t>(min_reps, r.step.reps / 2));
    return r;
}

// ---- output ----

void print_header(const Options& o) {
    std::printf("bench_made_step: one training step of MADE 2->128->128->4 (MAF Gaussian NLL), float64\n");
    std::printf("  step = forward + backward + Adam step + zero_grad + tape reset; gemm = the step's %s\n",
                "8 gemm calls alone (xt::blas::gemm, preallocated)");
    std::printf("command:   %s\n", o.command_line.c_str());
    std::printf("date:      %s\n", today().c_str());
    std::printf("machine:   %s, %u logical cores\n", cpu_model().c_str(), std::thread::hardware_concurrency());
    std::printf("versions:  xtensor %s, xtensor-blas %s, OpenBLAS %s, g++ %d.%d\n", xtensor_version().c_str(),
                xtensor_blas_version().c_str(), openblas_config().c_str(), __GNUC__, __GNUC_MINOR__);
    std::printf("env:       OPENBLAS_NUM_THREADS=%s OPENBLAS_CORETYPE=%s\n", env_or("OPENBLAS_NUM_THREADS", "(unset)").c_str(),
                env_or("OPENBLAS_CORETYPE", "(unset)").c_str());
    std::printf("timing:    median of single calls after warm-up, step and gemm calls alternating, ~%.1f s per row%s\n\n",
                o.quick ? 0.2 : 1.0, o.quick ? " (--quick)" : "");
}

void print_table(const std::vector<Result>& results) {
    std::printf("%6s %7s %10s %10s %7s %12s %8s %8s\n", "batch", "threads", "step ms", "gemm ms", "ratio", "samples/s",
                "reps", "allocs");
    for (const Result& r : results) {
        std::printf("%6zu %7d %10.4f %10.4f %7.2f %12.0f %8zu %8zu\n", r.batch, r.threads, r.step.median_ms,
                    r.gemm.median_ms, r.ratio(), r.samples_per_second(), r.step.reps, r.warm_allocations);
    }
    std::printf("\nratio = step / gemm (target <= 1.40 at batch 1024); allocs = tape allocations in warm steps "
                "(must be 0)\n");
    for (const Result& r : results)
        if (r.batch == 1024)
            std::printf("batch 1024, %d thread%s: ratio %.2f -> %s\n", r.threads, r.threads == 1 ? "" : "s", r.ratio(),
                        r.ratio() <= 1.4 ? "target met" : "target NOT met");
}

void print_phases(const std::vector<Result>& results) {
    std::printf("\nphases of a step (median ms of each, timed one by one; forward includes the loss):\n");
    std::printf("%6s %7s", "batch", "threads");
    for (const char* name : kPhaseNames) std::printf(" %10s", name);
    std::printf(" %10s\n", "sum");
    for (const Result& r : results) {
        std::printf("%6zu %7d", r.batch, r.threads);
        double total = 0;
        for (double ms : r.phase_ms) {
            std::printf(" %10.4f", ms);
            total += ms;
        }
        std::printf(" %10.4f\n", total);
    }
}

std::string json_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (static_cast<unsigned char>(c) < 0x20) continue;
        out += c;
    }
    return out;
}

void write_json(const std::string& path, const Options& o, const std::vector<Result>& results) {
    std::ofstream f(path);
    if (!f) throw IoError("bench_made_step: cannot write '" + path + "'");
    f << "{\n  \"bench\": \"flowtape made_step\",\n";
    f << "  \"command\": \"" << json_escape(o.command_line) << "\",\n";
    f << "  \"date\": \"" << json_escape(today()) << "\",\n";
    f << "  \"cpu\": \"" << json_escape(cpu_model()) << "\",\n";
    f << "  \"cores\": " << std::thread::hardware_concurrency() << ",\n";
    f << "  \"xtensor\": \"" << xtensor_version() << "\",\n";
    f << "  \"xtensor_blas\": \"" << xtensor_blas_version() << "\",\n";
    f << "  \"openblas\": \"" << json_escape(openblas_config()) << "\",\n";
    f << "  \"results\": [\n";
    for (std::size_t k = 0; k < results.size(); ++k) {
        const Result& r = results[k];
        f << "    {\"batch\": " << r.batch << ", \"threads\": " << r.threads << ", \"step_ms\": " << r.step.median_ms
          << ", \"step_min_ms\": " << r.step.min_ms << ", \"step_reps\": " << r.step.reps << ", \"gemm_ms\": " << r.gemm.median_ms
          << ", \"gemm_reps\": " << r.gemm.reps << ", \"ratio\": " << r.ratio() << ", \"samples_per_s\": " << r.samples_per_second()
          << ", \"warm_allocations\": " << r.warm_allocations << ", \"first_loss\": " << r.first_loss
          << ", \"last_loss\": " << r.last_loss;
        if (o.phases) {
            f << ", \"phases_ms\": {";
            for (int k = 0; k < kPhases; ++k) f << (k ? ", " : "") << "\"" << kPhaseNames[k] << "\": " << r.phase_ms[k];
            f << "}";
        }
        f << "}" << (k + 1 < results.size() ? "," : "") << "\n";
    }
    f << "  ]\n}\n";
    if (!f) throw IoError("bench_made_step: failed while writing '" + path + "'");
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const Options o = parse_options(argc, argv);
        print_header(o);
        std::vector<Result> results;
        for (int threads : o.threads)
            for (std::size_t batch : o.batches) results.push_back(run_config(batch, threads, o));
        print_table(results);
        if (o.phases) print_phases(results);
        if (!o.json_path.empty()) write_json(o.json_path, o, results);

        bool clean = true;
        for (const Result& r : results) {
            if (r.warm_allocations != 0) {
                std::fprintf(stderr, "bench_made_step: a warm step allocated on the tape (%zu allocations at batch %zu, %d threads)\n",
                             r.warm_allocations, r.batch, r.threads);
                clean = false;
            }
        }
        if (clean) std::printf("warm steps: no tape allocation (checked in every configuration)\n");
        return clean ? 0 : 1;
    } catch (const flowtape::Error& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 2;
    }
}
