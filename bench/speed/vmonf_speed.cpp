// bench_vmonf_speed: one ELBO training step of the variational mixture of flows, the flowtape half of
// bench/speed/compare_vmonf.sh (issue 13, "Targets").
//
// The model of `train --flow vmonf` with its defaults (flows/mixtures/vmonf.hpp): K = 5 RealNVP
// flows of 4 affine couplings (MLP conditioners 1→32→32→2, relu, log s = 3 tanh(r/3)) over standard
// normal bases, a uniform prior, a classifier 2→64→64→5 (relu), float64. One step = on one batch of
// 256 rows: loss −mean ELBO(x) at T = 2 (eq. (1)), backward, Adam step over every parameter,
// zero_grad, tape reset. After a warm-up, the median of single steps.
//
// Prints a JSON document on stdout. Usage: bench_vmonf_speed [--quick] [--component-threads T]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "autodiff/ops.hpp"
#include "flows/mixtures/vmonf.hpp"
#include "machine.hpp"
#include "nn/adam.hpp"

extern "C" char* openblas_get_corename(void);

using namespace flowtape;

int main(int argc, char** argv) {
    bool quick = false;
    std::size_t threads = 1;
    std::string command = argv[0];
    for (int k = 1; k < argc; ++k) {
        const std::string a = argv[k];
        command += " " + a;
        if (a == "--quick") {
            quick = true;
        } else if (a == "--component-threads" && k + 1 < argc) {
            threads = std::max<unsigned long>(1, std::strtoul(argv[++k], nullptr, 10));
            command += std::string(" ") + argv[k];
        } else {
            std::fprintf(stderr, "usage: bench_vmonf_speed [--quick] [--component-threads T]\n");
            return 2;
        }
    }
    constexpr std::size_t kBatch = 256, kComponents = 5;
    constexpr real kTemperature = 2;
    VmonfSpec spec;
    spec.components = kComponents;
    spec.threads = threads;
    Rng rng(20240501);
    auto model = make_vmonf(spec, 2, rng);
    model->set_training(true);
    const Array x = rng.normal_array(kBatch, 2);
    ParameterList params = model->parameters();
    Adam adam(params, AdamOptions{1e-3});
    Tape tape;
    real last = 0;
    const auto step = [&] {
        const Var loss = neg(mean(model->elbo(tape.constant(x), kTemperature)));
        tape.backward(loss);
        last = loss.value()(0, 0);
        adam.step();
        params.zero_grad();
        tape.reset();
    };
    step();
    const real first = last;
    const double ms = bench::median_ms(step, quick ? 0.3 : 2.0, 20);
    const char* core = openblas_get_corename();
    const nlohmann::json doc{
        {"bench", "vmonf_speed"},
        {"command", command},
        {"date", bench::today()},
        {"machine", bench::cpu_model() + ", " + std::to_string(std::thread::hardware_concurrency()) + " logical cores"},
        {"versions", "OpenBLAS " + bench::openblas_config() + " (kernels: " + (core ? core : "unknown") + "), g++ " +
                         std::to_string(__GNUC__) + "." + std::to_string(__GNUC_MINOR__)},
        {"components", kComponents},
        {"batch", kBatch},
        {"component_threads", threads},
        {"parameters", params.scalar_count()},
        {"first_loss", first},
        {"step_ms", ms}};
    std::printf("%s\n", doc.dump(2).c_str());
    return 0;
}
