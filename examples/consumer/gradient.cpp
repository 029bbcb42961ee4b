// A minimal program using flowtape from another project: f(x) = sum(tanh(x W)) recorded on a tape,
// one backward sweep, and the gradient df/dx = (1 − tanh²(x W)) Wᵀ printed.
#include <cstdio>

#include <flowtape.hpp>

int main() {
    using namespace flowtape;
    Tape tape;
    Var x = tape.variable(Array{{0.5, -1.0}});              // 1×2, we want df/dx
    Var w = tape.constant(Array{{1.0, 2.0}, {3.0, -1.0}});  // 2×2, fixed
    Var f = sum(tanh(matmul(x, w)));                        // 1×1
    tape.backward(f);
    const Array& g = tape.grad(x);
    std::printf("f = %.17g\ndf/dx = %.17g %.17g\n", f.item(), g(0, 0), g(0, 1));
}
