// bench_mixture_speed: one training epoch of the mixtures-of-flows paper's model, the flowtape half of
// bench/speed/compare_mixture.sh (issue 12, "Performance").
//
// Two configurations, as the paper trains them (flows/mixtures/flow_mixture.hpp): K MAF components,
// each one MADE D→H→2D (tanh, natural order) over a fixed diagonal Gaussian, learned weights, Adam,
// float64.
//   images  K = 5, D = 784, H = 1024 (MNIST5): N = 5131 rows, batches of 4000 (one of 4000, one of
//           1131), the rows uniform in [0, 1) (the speed does not depend on their values)
//   toy     K = 2, D = 2, H = 10: N = 4000 rows (two bananas), one full batch
// One epoch = per batch: loss −mean log p(x), backward, Adam step, zero_grad, tape reset. The first
// epochs are a warm-up (their first allocates every buffer), then each timed epoch alone, the
// median reported.
//
// gemm ms: the epoch's matrix products alone at the step's shapes — every MADE layer's product
// forward, its ∂x and its ∂w, for every component and batch, through the same tiled products the
// step uses (tiled_linear with its bias, forward and backward on a tape; the masks' tiles skip
// about half of a dense product's work, Note [tiles of a MADE mask]) — so step / gemm is the share
// of the epoch spent outside the products. dense gemm ms: the same products dense, as a framework
// without the tiles computes them (PyTorch's F.linear(x, W ⊙ M, b)).
//
// --component-threads T evaluates the components on T threads (Mixture::set_threads), for runs with
// OPENBLAS_NUM_THREADS=1. Prints a JSON document on stdout.
//
// Usage: bench_mixture_speed [--quick] [--configs images,toy] [--component-threads T]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "autodiff/ops.hpp"
#include "core/xtensor_blas.hpp"
#include "flows/flow.hpp"
#include "flows/mixtures/flow_mixture.hpp"
#include "flows/transforms/maf.hpp"
#include "machine.hpp"
#include "nn/adam.hpp"
#include "nn/made.hpp"

extern "C" char* openblas_get_corename(void);

namespace {

using namespace flowtape;
using Clock = std::chrono::steady_clock;
using flowtape::bench::cpu_model;
using flowtape::bench::openblas_config;
using flowtape::bench::today;

struct Config {
    std::string name;
    std::size_t components, dim, hidden, rows, batch;
};

const std::vector<Config> kConfigs{{"images", 5, 784, 1024, 5131, 4000}, {"toy", 2, 2, 10, 4000, 4000}};

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// The batches of an epoch: rows [0, batch), [batch, 2 batch), …
std::vector<std::pair<std::size_t, std::size_t>> batches_of(const Config& c) {
    std::vector<std::pair<std::size_t, std::size_t>> out;
    for (std::size_t b = 0; b < c.rows; b += c.batch) out.emplace_back(b, std::min(c.rows, b + c.batch));
    return out;
}

// One epoch of training; two tapes (full and last batch) reused from epoch to epoch.
struct Trainer {
    std::unique_ptr<Mixture> model;
    ParameterList params;
    std::unique_ptr<Adam> adam;
    Tape full, tail;
    std::vector<Array> parts;

    Trainer(const Config& c, std::size_t threads, const Array& x) {
        FlowMixtureSpec spec;
        spec.components = c.components;
        spec.hidden = {c.hidden};
        spec.threads = threads;
        Rng rng(1);
        model = make_flow_mixture(spec, c.dim, rng);
        params = model->parameters();
        AdamOptions a;
        a.eps = 1e-7;
        adam = std::make_unique<Adam>(params, a);
        for (auto [b, e] : batches_of(c)) parts.push_back(xt::view(x, xt::range(b, e), xt::all()));
    }
    double epoch() {
        const auto t0 = Clock::now();
        for (std::size_t k = 0; k < parts.size(); ++k) {
            Tape& t = parts[k].shape()[0] == parts[0].shape()[0] ? full : tail;
            const Var loss = mul_scalar(mean(model->log_prob(t.constant(parts[k]))), -1.0);
            t.backward(loss);
            t.reset();
            adam->step();
            adam->zero_grad();
        }
        return ms_since(t0);
    }
};

// The MADE layers of every component: (the layer, its input width, its output width).
std::vector<const MaskedLinear*> made_layers(Mixture& m) {
    std::vector<const MaskedLinear*> out;
    for (std::size_t k = 0; k < m.size(); ++k) {
        auto& flow = dynamic_cast<Flow&>(m.component(k));
        auto& maf = dynamic_cast<MafTransform&>(*flow.transforms()[0]);
        for (const MaskedLinear& layer : maf.made().layers()) out.push_back(&layer);
    }
    return out;
}

// The epoch's products alone: each layer's forward and backward at each batch's rows, tiled when the
// layer is (or every one dense), on inputs of the right shapes. Each (layer, batch) keeps its tape
// and inputs, so the timed repetitions reuse warm memory as the training step does.
double products_ms(const std::vector<const MaskedLinear*>& layers, const Config& c, bool dense, Rng& rng) {
    struct Product {
        const MaskedLinear* layer;
        Array x, seed;
        Tape tape;
    };
    std::vector<std::unique_ptr<Product>> products;
    for (auto [b, e] : batches_of(c))
        for (const MaskedLinear* layer : layers) {
            auto p = std::make_unique<Product>();
            p->layer = layer;
            p->x = rng.uniform_array(e - b, layer->in_features());
            p->seed = rng.uniform_array(e - b, layer->out_features());
            products.push_back(std::move(p));
        }
    const auto once = [&](Product& p) {
        Tape& t = p.tape;
        const Var xv = t.variable(p.x), wv = t.variable(p.layer->weight.value()), bv = t.variable(p.layer->bias.value());
        const Var y = p.layer->tiles() && !dense ? tiled_linear(xv, wv, bv, *p.layer->tiles()) : linear(xv, wv, bv);
        t.backward(y, p.seed);
        t.reset();
    };
    for (auto& p : products) once(*p);  // warm-up: every buffer allocated and touched
    std::vector<double> times;
    for (int rep = 0; rep < 5; ++rep) {
        double total = 0;
        for (auto& p : products) {
            const auto t0 = Clock::now();
            once(*p);
            total += ms_since(t0);
        }
        times.push_back(total);
    }
    return median(times);
}

nlohmann::json run(const Config& c, std::size_t threads, bool quick) {
    Rng rng(7);
    const Array x = rng.uniform_array(c.rows, c.dim);
    Trainer trainer(c, threads, x);
    const int warm = 2, timed = quick ? 3 : (c.name == "toy" ? 101 : 7);
    for (int k = 0; k < warm; ++k) trainer.epoch();
    std::vector<double> epochs;
    for (int k = 0; k < timed; ++k) epochs.push_back(trainer.epoch());
    const std::vector<const MaskedLinear*> layers = made_layers(*trainer.model);
    const double gemm = products_ms(layers, c, false, rng), dense = products_ms(layers, c, true, rng);
    return {{"config", c.name},         {"components", c.components}, {"dim", c.dim},
            {"hidden", c.hidden},       {"rows", c.rows},             {"batch", c.batch},
            {"component_threads", threads},
            {"epoch_ms", median(epochs)}, {"gemm_ms", gemm},          {"dense_gemm_ms", dense},
            {"parameters", trainer.params.scalar_count()}};
}

}  // namespace

int main(int argc, char** argv) {
    bool quick = false;
    std::size_t threads = 1;
    std::vector<std::string> configs{"images", "toy"};
    std::string command = argv[0];
    for (int k = 1; k < argc; ++k) {
        const std::string a = argv[k];
        command += " " + a;
        const bool value = k + 1 < argc;
        if (a == "--quick") {
            quick = true;
        } else if (a == "--component-threads" && value) {
            threads = std::strtoul(argv[++k], nullptr, 10);
            command += std::string(" ") + argv[k];
        } else if (a == "--configs" && value) {
            configs.clear();
            std::stringstream in(argv[++k]);
            for (std::string item; std::getline(in, item, ',');) configs.push_back(item);
            command += std::string(" ") + argv[k];
        } else {
            std::fprintf(stderr, "usage: bench_mixture_speed [--quick] [--configs images,toy] [--component-threads T]\n");
            return 2;
        }
    }
    if (threads == 0) threads = 1;
    const char* core = openblas_get_corename();
    nlohmann::json doc{{"bench", "mixture_speed"},
                       {"command", command},
                       {"date", today()},
                       {"machine", cpu_model() + ", " + std::to_string(std::thread::hardware_concurrency()) + " logical cores"},
                       {"versions", "OpenBLAS " + openblas_config() + " (kernels: " + (core ? core : "unknown") +
                                        "), g++ " + std::to_string(__GNUC__) + "." + std::to_string(__GNUC_MINOR__)},
                       {"results", nlohmann::json::array()}};
    for (const std::string& name : configs) {
        const auto it = std::find_if(kConfigs.begin(), kConfigs.end(), [&](const Config& c) { return c.name == name; });
        if (it == kConfigs.end()) {
            std::fprintf(stderr, "bench_mixture_speed: unknown config '%s' (images or toy)\n", name.c_str());
            return 2;
        }
        doc["results"].push_back(run(*it, threads, quick));
    }
    std::printf("%s\n", doc.dump(2).c_str());
    return 0;
}
