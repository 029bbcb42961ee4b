#include "autodiff/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/random.hpp"

namespace flowtape {
namespace {

// L = Σ w ⊙ f with f recorded by `record` on a fresh tape.
real projected(const std::function<Var(Tape&)>& record, const Array& w) {
    Tape t;
    NoGrad no_grad(t);
    const Var y = record(t);
    real total = 0;
    const Array& v = y.value();
    for (std::size_t k = 0; k < v.size(); ++k) total += w.data()[k] * v.data()[k];
    return total;
}

// Compares analytic gradients with central differences over every entry of every array in
// `targets` (which `record` reads when it builds the function).
GradcheckResult compare(const std::function<Var(Tape&)>& record, const std::vector<Array*>& targets,
                        const std::vector<Array>& analytic, const Array& w, const GradcheckOptions& o) {
    GradcheckResult result;
    for (std::size_t k = 0; k < targets.size(); ++k) {
        Array& x = *targets[k];
        for (std::size_t e = 0; e < x.size(); ++e) {
            const real original = x.data()[e];
            const real h = o.step * std::max<real>(1, std::abs(original));
            x.data()[e] = original + h;
            const real up = projected(record, w);
            x.data()[e] = original - h;
            const real down = projected(record, w);
            x.data()[e] = original;
            const real numeric = (up - down) / (2 * h);
            const real a = analytic[k].data()[e];
            const real err = std::abs(a - numeric) / std::max<real>({1, std::abs(a), std::abs(numeric)});
            if (!(err <= result.max_error) || !std::isfinite(a)) {
                result.max_error = std::isfinite(err) ? err : INFINITY;
                std::ostringstream where;
                const std::size_t cols = x.shape()[1];
                where << "input " << k << " entry (" << e / cols << ", " << e % cols << "): analytic " << a
                      << ", numeric " << numeric;
                result.worst = where.str();
            }
        }
    }
    result.ok = result.max_error <= o.tolerance;
    return result;
}

}  // namespace

GradcheckResult gradcheck(const GradcheckFn& f, std::vector<Array> inputs, GradcheckOptions o) {
    auto record = [&](Tape& t) {
        std::vector<Var> vars;
        for (const Array& a : inputs) vars.push_back(t.variable(a));
        return f(t, vars);
    };
    // Analytic gradients, one sweep seeded with the projection weights. The tape is closed before
    // the finite differences start, so parameters it bound are free for their tapes.
    Array w;
    std::vector<Array> analytic;
    {
        Tape t;
        std::vector<Var> vars;
        for (const Array& a : inputs) vars.push_back(t.variable(a));
        const Var y = f(t, vars);
        Rng rng(o.seed);
        w = rng.uniform_array(y.rows(), y.cols(), -1, 1);
        t.backward(y, w);
        for (const Var& v : vars) analytic.push_back(t.grad(v));
    }
    std::vector<Array*> targets;
    for (Array& a : inputs) targets.push_back(&a);
    return compare(record, targets, analytic, w, o);
}

GradcheckResult gradcheck_parameters(const GradcheckParamsFn& f, const std::vector<Parameter*>& params,
                                     GradcheckOptions o) {
    std::vector<Array> saved_grads;
    for (Parameter* p : params) {
        saved_grads.push_back(p->grad());
        p->zero_grad();
    }
    Array w;
    {
        Tape t;
        const Var y = f(t);
        Rng rng(o.seed);
        w = rng.uniform_array(y.rows(), y.cols(), -1, 1);
        t.backward(y, w);
    }
    std::vector<Array> analytic;
    std::vector<Array*> targets;
    for (std::size_t k = 0; k < params.size(); ++k) {
        analytic.push_back(params[k]->grad());
        params[k]->grad() = saved_grads[k];
        targets.push_back(&params[k]->value());
    }
    return compare(f, targets, analytic, w, o);
}

}  // namespace flowtape
