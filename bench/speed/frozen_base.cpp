// bench_frozen_base: what a frozen base flow costs in a training step (Flows for Flows: a trained
// flow as the base of a new top flow, only the top trained).
//
// One step = loss −mean log p(x) on a tape, backward, Adam step over the trained parameters,
// zero_grad, reset, at batch N on 2-D data. Three models, the same top flow (5 × MAF, MADE
// 2→128→128→4, reversals between layers) in each:
//   top alone     on a standard normal base;
//   base frozen   on a base flow of the same size whose parameters are frozen (Parameter::
//                 set_frozen, as fit does for the parameters it is not asked to train): the base
//                 runs forward and passes the gradient back to its input, computing no gradient for
//                 its own weights and taking no Adam step;
//   base trained  on the same base flow, every parameter trained.
//   frozen in front  the base flow's layers (frozen) applied to the data FIRST, then the top's, on a
//                 standard normal: the frozen part reads only constants, so the tape records no
//                 backward for it at all.
// And the base flow's log_prob alone in no-grad mode (its forward pass). A frozen base sits on the
// latent side of the top flow, so the top's gradient must pass back through it to its input: it
// should cost its forward pass plus that input gradient (2 of a dense layer's 3 products), against
// 3 products and an Adam step when trained. Frozen layers in front of the trained ones should cost
// their forward pass only.
// Medians of interleaved single-step timings after a warm-up; the ratios are the figures to read.
//
// Usage: bench_frozen_base [--quick] [--batch N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "autodiff/ops.hpp"
#include "flows/distributions/gaussian.hpp"
#include "flows/flow.hpp"
#include "flows/transforms/maf.hpp"
#include "flows/transforms/permutation.hpp"
#include "nn/adam.hpp"

extern "C" char* openblas_get_config(void);

namespace {

using namespace flowtape;
using Clock = std::chrono::steady_clock;

// 5 × MAF (MADE 2→128→128→4) with a reversal between consecutive layers.
std::vector<TransformPtr> maf_layers(Rng& rng) {
    std::vector<TransformPtr> out;
    for (int k = 0; k < 5; ++k) {
        if (k > 0) out.push_back(Permutation::reverse(2));
        out.push_back(std::make_unique<MafTransform>(MafConfig{.dim = 2, .hidden = {128, 128}}, rng));
    }
    return out;
}

DistributionPtr base_flow(std::uint64_t seed) {
    Rng rng(seed);
    return std::make_unique<Flow>(std::make_unique<StandardNormal>(2), maf_layers(rng));
}

struct Model {
    const char* name;
    std::unique_ptr<Flow> flow;
    ParameterList trained;
    std::unique_ptr<Adam> adam;
    Tape tape;
};

// The top flow (always from seed 2) on `base`; trains the top's parameters, and the base's too
// unless `freeze_base`.
void build(Model& m, DistributionPtr base, bool freeze_base) {
    Rng rng(2);
    m.flow = std::make_unique<Flow>(std::move(base), maf_layers(rng));
    const ParameterList all = m.flow->parameters();
    for (const NamedParameter& p : all.items()) {
        const bool in_base = p.name.rfind("base.", 0) == 0;
        if (in_base && freeze_base)
            p.parameter->set_frozen(true);
        else
            m.trained.add(p.name, *p.parameter);
    }
    m.adam = std::make_unique<Adam>(m.trained, AdamOptions{});
}

// The base flow's layers, frozen, in front of the top's layers, on a standard normal.
void build_frozen_in_front(Model& m) {
    Rng base_rng(3), top_rng(2);
    std::vector<TransformPtr> layers = maf_layers(base_rng);
    const std::size_t frozen_count = layers.size();
    for (TransformPtr& t : maf_layers(top_rng)) layers.push_back(std::move(t));
    m.flow = std::make_unique<Flow>(std::make_unique<StandardNormal>(2), std::move(layers));
    const ParameterList all = m.flow->parameters();
    for (const NamedParameter& p : all.items()) {
        const std::size_t layer = std::stoul(p.name.substr(std::string("transforms.").size()));
        if (layer < frozen_count)
            p.parameter->set_frozen(true);
        else
            m.trained.add(p.name, *p.parameter);
    }
    m.adam = std::make_unique<Adam>(m.trained, AdamOptions{});
}

double step_ms(Model& m, const Array& x) {
    const auto start = Clock::now();
    const Var loss = mul_scalar(mean(m.flow->log_prob(m.tape.constant(x))), -1.0);
    m.tape.backward(loss);
    m.tape.reset();
    m.adam->step();
    m.adam->zero_grad();
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double forward_ms(Distribution& d, Tape& tape, const Array& x) {
    const auto start = Clock::now();
    {
        NoGrad no_grad(tape);
        d.log_prob(tape.constant(x));
    }
    tape.reset();
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    bool quick = false;
    std::size_t batch = 1024;
    std::string command = argv[0];
    for (int k = 1; k < argc; ++k) {
        const std::string a = argv[k];
        command += " " + a;
        if (a == "--quick") {
            quick = true;
        } else if (a == "--batch" && k + 1 < argc) {
            batch = std::strtoul(argv[++k], nullptr, 10);
            command += std::string(" ") + argv[k];
        } else {
            std::fprintf(stderr, "usage: bench_frozen_base [--quick] [--batch N]\n");
            return 2;
        }
    }
    Rng rng(1);
    const Array x = rng.normal_array(batch, 2);
    Model top{"top alone", {}, {}, {}, {}}, frozen{"base frozen", {}, {}, {}, {}}, trained{"base trained", {}, {}, {}, {}},
        front{"frozen in front", {}, {}, {}, {}};
    build(top, std::make_unique<StandardNormal>(2), false);
    build(frozen, base_flow(3), true);
    build(trained, base_flow(3), false);
    build_frozen_in_front(front);
    DistributionPtr base_alone = base_flow(3);
    Tape forward_tape;

    const int warm = quick ? 5 : 20, reps = quick ? 15 : 101;
    std::vector<double> t_top, t_frozen, t_trained, t_front, t_forward;
    for (int r = 0; r < warm + reps; ++r) {  // interleaved, so load changes hit all five alike
        const double a = step_ms(top, x), b = step_ms(frozen, x), c = step_ms(trained, x), e = step_ms(front, x);
        const double d = forward_ms(*base_alone, forward_tape, x);
        if (r < warm) continue;
        t_top.push_back(a);
        t_frozen.push_back(b);
        t_trained.push_back(c);
        t_front.push_back(e);
        t_forward.push_back(d);
    }
    const double mt = median(t_top), mf = median(t_frozen), mr = median(t_trained), mb = median(t_forward);
    const double mfr = median(t_front);
    std::printf("# bench_frozen_base\n- command: `%s`\n- OpenBLAS: %s\n- batch %zu, 2-D, medians of %d steps\n\n",
                command.c_str(), openblas_get_config(), batch, reps);
    std::printf("| step | ms | × top alone |\n|---|---:|---:|\n");
    std::printf("| top alone (standard normal base) | %.3f | 1.00 |\n", mt);
    std::printf("| top on a frozen base flow | %.3f | %.2f |\n", mf, mf / mt);
    std::printf("| top on a trained base flow | %.3f | %.2f |\n", mr, mr / mt);
    std::printf("| the base flow's layers frozen in front of the top's | %.3f | %.2f |\n", mfr, mfr / mt);
    std::printf("| the base flow's forward alone (no grad) | %.3f | %.2f |\n\n", mb, mb / mt);
    std::printf("Added to a step, in units of the base flow's forward pass: frozen base %.2f, trained base %.2f, "
                "frozen layers in front %.2f. Parameters trained: %zu of %zu (frozen) against %zu.\n",
                (mf - mt) / mb, (mr - mt) / mb, (mfr - mt) / mb, frozen.trained.scalar_count(),
                frozen.flow->parameters().scalar_count(), trained.trained.scalar_count());
    return 0;
}
