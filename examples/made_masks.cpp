// A MADE's masks, printed. MADE (nn/made.hpp) multiplies each weight matrix by a fixed 0/1 mask so
// that output i depends only on the inputs before i in an ordering. Every unit has a degree: input i
// its position in the ordering + 1, hidden units 1 + (k mod (D − 1)); a hidden unit sees the units
// below of degree ≤ its own, an output of input i sees the hidden units of degree < degree(i).
// We build a Made with D = 3 inputs, hidden {5, 5} and a random ordering, print the input degrees,
// the hidden degrees (column sums of the first mask: a hidden unit of degree m sees m inputs) and
// each mask as a 0/1 grid, then the product of the masks, whose entry (j, i) counts the paths from
// input j to output i. The program checks that a path exists exactly when degree(j) < degree(i), and
// that the Jacobian ∂out_i/∂x_j recorded on the tape is exactly zero wherever there is no path.
#include <cstdio>

#include "autodiff/ops.hpp"
#include "nn/made.hpp"

using namespace flowtape;

void print_grid(const char* title, const Array& a, const char* format) {
    std::printf("%s\n", title);
    for (std::size_t r = 0; r < a.shape()[0]; ++r) {
        for (std::size_t c = 0; c < a.shape()[1]; ++c) std::printf(format, a(r, c));
        std::printf("\n");
    }
}

int main() {
    const std::size_t d = 3;
    MadeConfig config;
    config.inputs = d;
    config.hidden = {5, 5};
    config.ordering = Ordering::random;     // drawn from the rng: degrees are a permutation of 1..3
    config.activation = Activation::tanh;  // no dead units, so every path carries a derivative
    Rng rng(2);
    Made made(config, rng);

    const std::vector<std::size_t>& deg = made.input_degrees();
    std::printf("input degrees:  ");
    for (std::size_t j = 0; j < d; ++j) std::printf(" x%zu:%zu", j, deg[j]);
    std::printf("\nhidden degrees: ");
    for (std::size_t k = 0; k < made.masks()[0].shape()[1]; ++k)
        std::printf(" %g", xt::sum(xt::view(made.masks()[0], xt::all(), k))());
    std::printf("\n\n");
    for (std::size_t layer = 0; layer < made.masks().size(); ++layer) {
        const std::string title = "mask " + std::to_string(layer) + " (row: unit below, column: unit above)";
        print_grid(title.c_str(), made.masks()[layer], " %.0f");
    }

    // Paths: the product of the masks (3×5)(5×5)(5×3), as constants on a tape in no-grad mode.
    Tape tape;
    Array paths;
    {
        NoGrad no_grad(tape);
        Var p = tape.constant(made.masks()[0]);
        for (std::size_t layer = 1; layer < made.masks().size(); ++layer)
            p = matmul(p, tape.constant(made.masks()[layer]));
        paths = p.value();
    }
    std::printf("\n");
    print_grid("paths from input j (row) to output i (column)", paths, " %3.0f");

    // The Jacobian through the tape: one vector-Jacobian product per output, seeded with e_i.
    bool ok = true;
    std::printf("\n∂out_i/∂x_j (row j, column i) at a random point:\n");
    Array jac = xt::zeros<real>({d, d});
    for (std::size_t i = 0; i < d; ++i) {
        tape.reset();
        const Var x = tape.variable(rng.normal_array(1, d));
        Array seed = xt::zeros<real>({std::size_t(1), d});
        seed(0, i) = 1;
        tape.backward(made.forward(x), seed);
        for (std::size_t j = 0; j < d; ++j) jac(j, i) = tape.grad(x)(0, j);
    }
    for (std::size_t j = 0; j < d; ++j) {
        for (std::size_t i = 0; i < d; ++i) {
            const bool allowed = deg[j] < deg[i];
            std::printf(" %+.2e", jac(j, i));
            ok &= (paths(j, i) > 0) == allowed;  // the masks connect exactly the allowed pairs
            ok &= (jac(j, i) != 0) == allowed;   // and the network's derivative follows them
        }
        std::printf("\n");
    }
    std::printf(ok ? "output i depends on input j exactly when degree(j) < degree(i)\n" : "FAILED\n");
    return ok ? 0 : 1;
}
