// bench_f4f_speed: one flows-for-flows training step, the flowtape half of bench/speed/compare_f4f.sh
// (issue 14, "Targets": at least 2x PyTorch's at float64 and the same threads).
//
// The model of `flowtape bench f4f` (flows/transport/transport_flow.hpp): two frozen base flows of 4
// autoregressive rational-quadratic splines (8 bins on [−4, 4], MADE 2→128→128→46, reversals
// between layers) and the default top chain (TopFlowSpec: 4 such splines with a MADE of two
// residual blocks of 128, starting at the identity, reversals). Two steps, each on a batch of 128
// rows: "right" = loss −mean log p of right rows (S in one pass, scored under the left base) and
// "left" = the same for left rows (S⁻¹ in D passes, under the right base); then backward, Adam step
// over the top chain's parameters (the bases are frozen: no gradient, no step), zero_grad, tape
// reset. After a warm-up, the median of single steps.
//
// Prints a JSON document on stdout. Usage: bench_f4f_speed [--quick]
#include <cstdio>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "autodiff/ops.hpp"
#include "flows/builders.hpp"
#include "flows/transport/transport_flow.hpp"
#include "machine.hpp"
#include "nn/adam.hpp"

extern "C" char* openblas_get_corename(void);

using namespace flowtape;

namespace {

DistributionPtr spline_base(Rng& rng) {
    FlowSpec spec;
    spec.dim = 2;
    spec.layers = 4;
    spec.hidden = {128, 128};
    spec.bins = 8;
    spec.tail_bound = 4;
    return make_nsf_flow(spec, rng);
}

ParameterList trainable_of(Distribution& model) {
    const ParameterList all = model.parameters();
    ParameterList out;
    for (const NamedParameter& p : all.items())
        if (!p.parameter->frozen()) out.add(p.name, *p.parameter);
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    bool quick = false;
    std::string command = argv[0];
    for (int k = 1; k < argc; ++k) {
        const std::string a = argv[k];
        command += " " + a;
        if (a == "--quick") {
            quick = true;
        } else {
            std::fprintf(stderr, "usage: bench_f4f_speed [--quick]\n");
            return 2;
        }
    }
    constexpr std::size_t kBatch = 128;
    Rng rng(20240501);
    DistributionPtr left = spline_base(rng), right = spline_base(rng);
    auto model = make_transport_flow(TopFlowSpec{}, std::move(left), std::move(right), ConditionMode::none, rng);
    model->set_training(true);
    const Array rows = rng.normal_array(kBatch, 2);
    ParameterList params = trainable_of(*model);
    nlohmann::json steps = nlohmann::json::array();
    for (const std::string direction : {"right", "left"}) {
        Adam adam(params, AdamOptions{1e-3});
        Tape tape;
        real last = 0;
        const auto step = [&] {
            const Var x = tape.constant(rows);
            const Transported t = direction == "right" ? model->right_to_left(x) : model->left_to_right(x);
            const Var loss = neg(mean(t.log_prob));
            tape.backward(loss);
            last = loss.value()(0, 0);
            adam.step();
            params.zero_grad();
            tape.reset();
        };
        step();
        const real first = last;
        const double ms = bench::median_ms(step, quick ? 0.3 : 2.0, 20);
        steps.push_back({{"direction", direction}, {"step_ms", ms}, {"first_loss", first}});
    }
    const char* core = openblas_get_corename();
    const nlohmann::json doc{
        {"bench", "f4f_speed"},
        {"command", command},
        {"date", bench::today()},
        {"machine", bench::cpu_model() + ", " + std::to_string(std::thread::hardware_concurrency()) + " logical cores"},
        {"versions", "OpenBLAS " + bench::openblas_config() + " (kernels: " + (core ? core : "unknown") + "), g++ " +
                         std::to_string(__GNUC__) + "." + std::to_string(__GNUC_MINOR__)},
        {"batch", kBatch},
        {"trainable_parameters", params.scalar_count()},
        {"results", steps}};
    std::printf("%s\n", doc.dump(2).c_str());
    return 0;
}
