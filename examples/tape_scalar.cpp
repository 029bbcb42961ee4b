// The tape on a scalar function. We record f(x, y) = x·y + exp(x)·y + log(1 + x²) on a Tape, with
// x and y as 1×1 values, run one backward sweep and compare ∂f/∂x and ∂f/∂y with the derivatives
// worked out by hand:
//     ∂f/∂x = y + exp(x)·y + 2x/(1 + x²),        ∂f/∂y = x + exp(x).
// Then no-grad mode: the same ops give the same value but record nothing to differentiate, so no
// gradient reaches x. Last, a Hessian-vector product by reverse-over-forward: jvp records the
// tangent ∇f·v as an ordinary tape value, and a plain backward of it gives ∇(∇f·v) = H v, with
//     H = [[exp(x)·y + 2(1 − x²)/(1 + x²)², 1 + exp(x)], [1 + exp(x), 0]].
// The program returns 1 if any of these disagree beyond rounding (1e-12).
#include <cmath>
#include <cstdio>

#include "autodiff/higher_order.hpp"
#include "autodiff/ops.hpp"

using namespace flowtape;

// f from a 1×2 row z = [x, y]: the same ops whether or not the tape is recording gradients.
Var f_of(Var z) {
    const Var x = cols(z, 0, 1), y = cols(z, 1, 2);
    return x * y + exp(x) * y + log1p(square(x));
}

bool close(const char* what, real got, real want) {
    const bool ok = std::abs(got - want) <= 1e-12 * std::max(1.0, std::abs(want));
    std::printf("  %-10s tape %+.15f   by hand %+.15f   %s\n", what, got, want, ok ? "ok" : "MISMATCH");
    return ok;
}

int main() {
    const real x = 0.7, y = -1.3;
    bool ok = true;

    // 1. Value and gradient: one forward recording, one reverse sweep.
    Tape tape;
    const Var z = tape.variable(Array{{x, y}});
    const Var f = f_of(z);
    tape.backward(f);
    const real f_value = f.item();  // Vars go stale at reset(): keep the number, not the handle
    std::printf("f(%g, %g) = %.15f (%zu nodes on the tape)\n", x, y, f_value, tape.size());
    ok &= close("f", f.item(), x * y + std::exp(x) * y + std::log(1 + x * x));
    ok &= close("df/dx", tape.grad(z)(0, 0), y + std::exp(x) * y + 2 * x / (1 + x * x));
    ok &= close("df/dy", tape.grad(z)(0, 1), x + std::exp(x));

    // 2. No-grad mode: values only. Backward finds no rule to follow, so x's gradient stays zero.
    tape.reset();  // forget the nodes (keeping their memory) before recording again
    const Var z2 = tape.variable(Array{{x, y}});
    Var f2;
    {
        NoGrad no_grad(tape);
        f2 = f_of(z2);
    }
    tape.backward(f2);
    std::printf("no-grad: f = %.15f, gradient reaching (x, y) = (%g, %g)\n", f2.item(), tape.grad(z2)(0, 0),
                tape.grad(z2)(0, 1));
    ok &= close("f", f2.item(), f_value);
    ok &= tape.grad(z2)(0, 0) == 0 && tape.grad(z2)(0, 1) == 0;

    // 3. Hessian-vector product along v: the tangent of f is ∇f·v, and its gradient is H v.
    const real v0 = 1.0, v1 = 2.0;
    tape.reset();
    const Var z3 = tape.variable(Array{{x, y}});
    const ValueAndTangent jv = jvp(tape, z3, tape.constant(Array{{v0, v1}}), f_of);
    tape.backward(jv.tangent);
    const real hxx = std::exp(x) * y + 2 * (1 - x * x) / ((1 + x * x) * (1 + x * x)), hxy = 1 + std::exp(x), hyy = 0;
    std::printf("along v = (%g, %g):\n", v0, v1);
    ok &= close("grad f.v", jv.tangent.item(), (y + std::exp(x) * y + 2 * x / (1 + x * x)) * v0 + (x + std::exp(x)) * v1);
    ok &= close("(Hv)_x", tape.grad(z3)(0, 0), hxx * v0 + hxy * v1);
    ok &= close("(Hv)_y", tape.grad(z3)(0, 1), hxy * v0 + hyy * v1);

    std::printf(ok ? "all derivatives agree\n" : "FAILED\n");
    return ok ? 0 : 1;
}
