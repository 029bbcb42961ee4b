// The adjoint sensitivity method, the taped Dormand–Prince replay, and the odeint tape node.
//
// Adjoint system (Chen et al. 2018, Algorithm 1), solved from t1 down to t0 with a(t) = dL/dz(t):
//     dz/dt   = f(t, z; θ)
//     da/dt   = −a · ∂f/∂z
//     da_θ/dt = −a · ∂f/∂θ         a_θ(t1) = 0           → a_θ(t0) = dL/dθ
//     da_t/dt = −a · ∂f/∂t         a_t(t1) = −dL/dt1     → a_t(t0) = dL/dt0
// with dL/dt1 = a(t1) · f(t1, z(t1)). The three products are one vector–Jacobian product: record f
// on a scratch tape from variables z and t, sweep back from f seeded with a, read the gradients of
// z, t and each parameter leaf.
#include "ode/adjoint.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "ode/tableau.hpp"

namespace flowtape::ode {
namespace {

void check_result(const char* who, Var f, Shape expected) {
    if (f.shape() != expected)
        throw ShapeError(std::string(who) + ": the dynamics returned " + shape_string(f.shape()) + " for a state of " +
                         shape_string(expected));
}

void check_time(const char* who, Var t, const char* name) {
    if (t.shape() != Shape{1, 1})
        throw ShapeError(std::string(who) + ": " + name + " must be 1×1, got " + shape_string(t.shape()));
}

// The augmented state [z, a, a_θ, a_t] lives in one 1×M row (the solver's error norm covers all of it).
struct AugmentedLayout {
    std::size_t state = 0;   // N·S
    std::size_t params = 0;  // total parameter scalars
    std::size_t size() const { return 2 * state + params + 1; }
    std::size_t a() const { return state; }
    std::size_t theta() const { return 2 * state; }
    std::size_t time() const { return 2 * state + params; }
};

// One vector–Jacobian product of the dynamics per evaluation, on the dynamics' adjoint tape, reset
// each time (so after the first evaluation of the first solve nothing is allocated).
class AdjointRhs {
public:
    AdjointRhs(Dynamics& dynamics, Shape state_shape)
        : dynamics_(dynamics), params_(dynamics.parameters()), shape_(state_shape), tape_(dynamics.adjoint_tape()) {
        layout_.state = state_shape[0] * state_shape[1];
        for (Parameter* p : params_) layout_.params += p->size();
        z_ = Array::from_shape(state_shape);
        a_ = Array::from_shape(state_shape);
        t_ = Array::from_shape({1, 1});
    }
    const AugmentedLayout& layout() const { return layout_; }

    void operator()(real t, const Array& y, Array& dy) {
        const real* in = y.data();
        std::copy(in, in + layout_.state, z_.data());
        std::copy(in + layout_.a(), in + layout_.a() + layout_.state, a_.data());
        t_(0, 0) = t;
        tape_.reset();
        const Mark start = tape_.mark();
        const Var zv = tape_.variable(z_), tv = tape_.variable(t_);
        const Var f = dynamics_(tv, zv);
        check_result("odeint_adjoint_backward", f, shape_);
        real* out = dy.data();
        std::copy(f.value().begin(), f.value().end(), out);
        tape_.backward_to(f, a_, start);
        negate_into(tape_.grad(zv), out + layout_.a());
        std::size_t offset = layout_.theta();
        for (Parameter* p : params_) {
            // A parameter the dynamics did not read this time has no leaf here: its product is 0.
            if (p->slot().tape == &tape_) {
                negate_into(tape_.grad(tape_.param(*p)), out + offset);
            } else {
                std::fill(out + offset, out + offset + p->size(), 0.0);
            }
            offset += p->size();
        }
        out[layout_.time()] = -tape_.grad(tv)(0, 0);
    }

    // a · f(t, z), for dL/dt1.
    real dot_with_f(real t, const Array& z, const Array& a) {
        tape_.reset();
        NoGrad no_grad(tape_);
        const Var f = dynamics_(tape_.constant(t), tape_.constant(z));
        check_result("odeint_adjoint_backward", f, shape_);
        real s = 0;
        for (std::size_t i = 0; i < z.size(); ++i) s += a.data()[i] * f.value().data()[i];
        tape_.reset();
        return s;
    }

    void release() { tape_.reset(); }  // frees the parameters for other tapes

private:
    static void negate_into(const Array& g, real* out) {
        for (std::size_t i = 0; i < g.size(); ++i) out[i] = -g.data()[i];
    }
    Dynamics& dynamics_;
    std::vector<Parameter*> params_;
    Shape shape_;
    AugmentedLayout layout_;
    Tape& tape_;
    Array z_, a_, t_;
};

// Options travel in the tape node's saved row.
constexpr std::size_t kOptionCount = 9;
void pack_options(const OdeOptions& o, Array& row) {
    const real values[kOptionCount] = {o.rtol,      o.atol,
                                       o.first_step, o.min_step,
                                       o.max_step,   static_cast<real>(o.max_steps),
                                       o.safety,     o.min_factor,
                                       o.max_factor};
    std::copy(values, values + kOptionCount, row.data());
}
OdeOptions unpack_options(const Array& row) {
    const real* v = row.data();
    OdeOptions o;
    o.rtol = v[0];
    o.atol = v[1];
    o.first_step = v[2];
    o.min_step = v[3];
    o.max_step = v[4];
    o.max_steps = static_cast<std::size_t>(v[5]);
    o.safety = v[6];
    o.min_factor = v[7];
    o.max_factor = v[8];
    return o;
}

}  // namespace

Rhs dynamics_rhs(Dynamics& dynamics, Tape& tape) {
    return [&dynamics, &tape](real t, const Array& z, Array& dz) {
        NoGrad no_grad(tape);
        const Mark start = tape.mark();
        try {
            const Var f = dynamics(tape.constant(t), tape.constant(z));
            check_result("odeint", f, shape_of(z));
            xt::noalias(dz) = f.value();
        } catch (...) {
            tape.rewind(start);
            throw;
        }
        tape.rewind(start);
    };
}

Array odeint_forward(Dynamics& dynamics, const Array& z0, real t0, real t1, const OdeOptions& options,
                     OdeStats* stats, Tape* tape, const StepObserver& observer) {
    Tape local;
    Tape& scratch = tape ? *tape : local;
    Array z = z0;
    Dopri5 solver(options);
    const OdeStats s = solver.solve(dynamics_rhs(dynamics, scratch), z, t0, t1, observer);
    if (stats) *stats = s;
    return z;
}

AdjointResult odeint_adjoint_backward(Dynamics& dynamics, const Array& z1, const Array& grad_z1, real t0, real t1,
                                      const OdeOptions& options) {
    if (shape_of(z1) != shape_of(grad_z1))
        throw ShapeError("odeint_adjoint_backward: z1 " + shape_string(shape_of(z1)) + " and dL/dz1 " +
                         shape_string(shape_of(grad_z1)) + " differ");
    AdjointRhs rhs(dynamics, shape_of(z1));
    const AugmentedLayout& layout = rhs.layout();
    AdjointResult result;
    result.grad_t1 = rhs.dot_with_f(t1, z1, grad_z1);

    // [z(t1), a(t1) = dL/dz1, a_θ = 0, a_t = −dL/dt1], solved from t1 back to t0.
    Array y = xt::zeros<real>({std::size_t(1), layout.size()});
    std::copy(z1.begin(), z1.end(), y.data());
    std::copy(grad_z1.begin(), grad_z1.end(), y.data() + layout.a());
    y(0, layout.time()) = -result.grad_t1;
    Dopri5 solver(options);
    try {
        result.stats = solver.solve([&rhs](real t, const Array& s, Array& ds) { rhs(t, s, ds); }, y, t1, t0);
    } catch (...) {
        rhs.release();
        throw;
    }
    rhs.release();

    const Shape shape = shape_of(z1);
    result.z0 = Array::from_shape(shape);
    result.grad_z0 = Array::from_shape(shape);
    std::copy(y.data(), y.data() + layout.state, result.z0.data());
    std::copy(y.data() + layout.a(), y.data() + layout.a() + layout.state, result.grad_z0.data());
    result.grad_t0 = y(0, layout.time());
    std::size_t offset = layout.theta();
    for (Parameter* p : dynamics.parameters()) {
        Array& g = p->grad();
        if (g.shape() != p->value().shape()) g = xt::zeros<real>(p->value().shape());
        const real* src = y.data() + offset;
        for (std::size_t i = 0; i < g.size(); ++i) g.data()[i] += src[i];
        offset += p->size();
    }
    return result;
}

// ---- odeint, adjoint: one node; its backward rule runs the adjoint solve ----

namespace {

void odeint_adjoint_rule(Tape& t, std::uint32_t self) {
    const Node& n = t.node(self);
    auto* dynamics = static_cast<Dynamics*>(n.context[0]);
    auto* counters = static_cast<OdeCounters*>(n.context[1]);
    const real t0 = t.node(n.inputs[1]).value(0, 0), t1 = t.node(n.inputs[2]).value(0, 0);
    const AdjointResult r = odeint_adjoint_backward(*dynamics, n.value, n.grad, t0, t1, unpack_options(n.saved));
    if (counters) counters->backward = r.stats;
    t.accumulate(n.inputs[0], r.grad_z0);
    if (t.needs_grad(n.inputs[1])) t.accumulate(n.inputs[1], Array{{r.grad_t0}});
    if (t.needs_grad(n.inputs[2])) t.accumulate(n.inputs[2], Array{{r.grad_t1}});
}

Var odeint_adjoint(Dynamics& dynamics, Var z0, Var t0, Var t1, const OdeOptions& options, OdeCounters* counters) {
    Tape& tape = z0.tape();
    OdeStats stats;
    // The forward evaluations run on z0's own tape (no-grad, rewound), where the parameters may
    // already have leaves.
    Array z1 = odeint_forward(dynamics, z0.value(), t0.item(), t1.item(), options, &stats, &tape);
    if (counters) counters->forward = stats;
    const std::uint32_t i = tape.push("odeint_adjoint", odeint_adjoint_rule, {z0, t0, t1}, z0.shape());
    Node& n = tape.node(i);
    xt::noalias(n.value) = z1;
    // The parameters are inputs the tape cannot see: the node needs its backward whenever gradients
    // are recorded and the dynamics have parameters, even for a constant z0.
    if (tape.grad_enabled() && !dynamics.parameters().empty()) {
        n.needs_grad = true;
        n.backward = odeint_adjoint_rule;
    }
    pack_options(options, tape.saved(i, {1, kOptionCount}));
    n.context[0] = &dynamics;
    n.context[1] = counters;
    return tape.finish(i, nullptr);
}

// ---- odeint, backprop: every Dormand–Prince stage on the tape ----

Var odeint_backprop(Dynamics& dynamics, Var z0, Var t0, Var t1, const OdeOptions& options, OdeCounters* counters) {
    using namespace tableau;
    Tape& tape = z0.tape();
    const real t0v = t0.item(), t1v = t1.item();
    // The grid of accepted times, chosen from values by an untaped solve.
    std::vector<real> times{t0v};
    OdeStats stats;
    odeint_forward(dynamics, z0.value(), t0v, t1v, options, &stats, &tape,
                   [&times](real t, const Array&) { times.push_back(t); });
    if (counters) counters->forward = stats;
    if (t0v == t1v) return z0;
    // Each time is t0 + (t1 − t0)·s with the fraction s a constant, so the steps scale with t1 − t0
    // and dL/dt0, dL/dt1 are those of the discrete solver with its grid fixed.
    const Var span = sub(t1, t0);
    auto fraction = [&](real t) { return (t - t0v) / (t1v - t0v); };
    Var z = z0;
    Var k[7];
    for (std::size_t step = 0; step + 1 < times.size(); ++step) {
        const real s0 = fraction(times[step]), s1 = fraction(times[step + 1]);
        const Var t = add(t0, mul_scalar(span, s0));
        const Var h = mul_scalar(span, s1 - s0);
        if (step == 0) {
            k[0] = dynamics(t, z);
            check_result("odeint", k[0], z0.shape());
        }
        Var stage;
        for (int i = 1; i < dopri5_stages; ++i) {
            Var increment;
            for (int j = 0; j < i; ++j) {
                if (dopri5_a[i][j] == 0) continue;
                const Var term = mul_scalar(k[j], dopri5_a[i][j]);
                increment = increment.valid() ? add(increment, term) : term;
            }
            stage = add(z, mul(h, increment));
            k[i] = dynamics(add(t, mul_scalar(h, dopri5_c[i])), stage);
            check_result("odeint", k[i], z0.shape());
        }
        z = stage;  // the last stage's input is the 5th-order solution
        k[0] = k[6];
    }
    return z;
}

}  // namespace

Var odeint(Dynamics& dynamics, Var z0, Var t0, Var t1, const OdeOptions& options, OdeMethod method,
           OdeCounters* counters) {
    check_time("odeint", t0, "t0");
    check_time("odeint", t1, "t1");
    check_options("odeint", options);
    if (method == OdeMethod::backprop) return odeint_backprop(dynamics, z0, t0, t1, options, counters);
    return odeint_adjoint(dynamics, z0, t0, t1, options, counters);
}

Var odeint(Dynamics& dynamics, Var z0, real t0, real t1, const OdeOptions& options, OdeMethod method,
           OdeCounters* counters) {
    Tape& tape = z0.tape();
    return odeint(dynamics, z0, tape.constant(t0), tape.constant(t1), options, method, counters);
}

}  // namespace flowtape::ode
