// What every distribution has without writing it: samples with their log-density by evaluating
// log_prob at the samples, and batched plain-array evaluation over many rows (see distribution.hpp).
#include "flows/distribution.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace flowtape {
namespace {

// Rows per no-grad pass: large enough to amortise the per-batch work, small enough that the tape's
// buffers stay a few megabytes.
constexpr std::size_t kBatch = 4096;

}  // namespace

SampleResult Distribution::sample_with_log_prob(Tape& tape, std::size_t n, Rng& rng, Var context) {
    const Var x = sample(tape, n, rng, context);
    return {x, log_prob(x, context)};
}

Array map_rows(Distribution& model, const Array& x, const Array* context, std::size_t cols,
               const std::function<Array(Var x, Var context)>& f) {
    const std::size_t n = x.shape()[0];
    if (context && context->shape()[0] != n)
        throw ShapeError("map_rows: context " + shape_string(shape_of(*context)) + " for data " +
                         shape_string(shape_of(x)) + " (one context row per data row)");
    model.set_training(false);
    Array out = Array::from_shape({n, cols});
    Tape tape;
    for (std::size_t begin = 0; begin < n; begin += kBatch) {
        const std::size_t end = std::min(n, begin + kBatch);
        tape.reset();
        const NoGrad no_grad(tape);
        const Var xv = tape.constant(xt::view(x, xt::range(begin, end), xt::all()));
        const Var cv = context ? tape.constant(xt::view(*context, xt::range(begin, end), xt::all())) : Var();
        const Array part = f(xv, cv);
        if (part.shape()[0] != end - begin || part.shape()[1] != cols)
            throw ShapeError("map_rows: a batch of " + std::to_string(end - begin) + " rows gave " +
                             shape_string(shape_of(part)) + ", expected " + shape_string({end - begin, cols}));
        std::copy_n(part.data(), part.size(), out.data() + begin * cols);
    }
    tape.reset();
    return out;
}

Array log_prob_rows(Distribution& model, const Array& x, const Array* context) {
    return map_rows(model, x, context, 1, [&](Var xv, Var cv) { return Array(model.log_prob(xv, cv).value()); });
}

Array sample_rows(Distribution& model, std::size_t n, std::uint64_t seed, const Array* context) {
    if (context && (context->dimension() != 2 || context->shape()[0] != n))
        throw ShapeError("sample_rows: context " + shape_string(shape_of(*context)) + " for " + std::to_string(n) + " draws");
    model.set_training(false);
    const std::size_t d = model.dim();
    Array out = Array::from_shape({n, d});
    Rng rng(seed);
    Tape tape;
    for (std::size_t begin = 0; begin < n; begin += kBatch) {
        const std::size_t m = std::min(n - begin, kBatch);
        tape.reset();
        const NoGrad no_grad(tape);
        const Var c = context ? tape.constant(xt::view(*context, xt::range(begin, begin + m), xt::all())) : Var();
        const Array& x = model.sample(tape, m, rng, c).value();
        std::copy_n(x.data(), m * d, out.data() + begin * d);
    }
    tape.reset();
    return out;
}

}  // namespace flowtape
