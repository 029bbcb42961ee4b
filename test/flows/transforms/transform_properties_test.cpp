// One property test over every transform (a new transform adds one line to `all_transforms`):
//   - shapes: forward gives N×D and an N×1 log-determinant, so does inverse;
//   - round trips: inverse(forward(x)) = x and forward(inverse(z)) = z to 1e-9;
//   - the log-determinant equals log|det J| of the Jacobian built row by row through the tape;
//   - the inverse's log-determinant is minus the forward one at the matching points;
//   - gradients of z and log|det| with respect to x and to every parameter pass gradcheck;
// each without and with a context. Parameters are perturbed away from their initial values first,
// so that no transform passes by being the identity.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <functional>
#include <string>

#include "flowtape.hpp"

using namespace flowtape;

namespace {

struct TransformCase {
    std::string name;
    // Builds the transform for dimension `dim` and `context` context columns (0: none).
    std::function<TransformPtr(std::size_t dim, std::size_t context, Rng& rng)> make;
    real input_scale = 1.0;  // inputs are scale·N(0, 1)
    std::size_t min_dim = 1;  // coupling layers need D ≥ 2
};

// The list every transform joins.
std::vector<TransformCase> all_transforms() {
    return {
        // {"name", [](std::size_t d, std::size_t c, Rng& rng) -> TransformPtr { ... }},
        {"maf natural", [](std::size_t d, std::size_t c, Rng& rng) -> TransformPtr { return std::make_unique<MafTransform>(MafConfig{.dim = d, .hidden = {8, 8}, .context = c, .residual_blocks = false, .activation = Activation::tanh, .ordering = Ordering::natural}, rng); }},
        {"maf reversed", [](std::size_t d, std::size_t c, Rng& rng) -> TransformPtr { return std::make_unique<MafTransform>(MafConfig{.dim = d, .hidden = {8, 8}, .context = c, .residual_blocks = false, .activation = Activation::tanh, .ordering = Ordering::reversed}, rng); }},
        {"maf random", [](std::size_t d, std::size_t c, Rng& rng) -> TransformPtr { return std::make_unique<MafTransform>(MafConfig{.dim = d, .hidden = {8, 8}, .context = c, .residual_blocks = false, .activation = Activation::tanh, .ordering = Ordering::random}, rng); }},
        {"maf residual natural", [](std::size_t d, std::size_t c, Rng& rng) -> TransformPtr { return std::make_unique<MafTransform>(MafConfig{.dim = d, .hidden = {8, 8, 8}, .context = c, .residual_blocks = true, .activation = Activation::tanh, .ordering = Ordering::natural}, rng); }},
        {"maf residual reversed", [](std::size_t d, std::size_t c, Rng& rng) -> TransformPtr { return std::make_unique<MafTransform>(MafConfig{.dim = d, .hidden = {8, 8, 8}, .context = c, .residual_blocks = true, .activation = Activation::tanh, .ordering = Ordering::reversed}, rng); }},
        {"maf residual random", [](std::size_t d, std::size_t c, Rng& rng) -> TransformPtr { return std::make_unique<MafTransform>(MafConfig{.dim = d, .hidden = {8, 8, 8}, .context = c, .residual_blocks = true, .activation = Activation::tanh, .ordering = Ordering::random}, rng); }},
        {"maf unclamped, plain start", [](std::size_t d, std::size_t c, Rng& rng) -> TransformPtr { return std::make_unique<MafTransform>(MafConfig{.dim = d, .hidden = {8}, .context = c, .residual_blocks = false, .activation = Activation::tanh, .ordering = Ordering::natural, .log_scale_bound = 0, .output_init_scale = 1}, rng); }},
        {"realnvp_coupling even", [](std::size_t d, std::size_t c, Rng& rng) -> TransformPtr { return std::make_unique<AffineCoupling>(CouplingConfig{.dim = d, .hidden = {8, 8}, .context = c, .activation = Activation::tanh, .flip = false}, rng); }, 1.0, 2},
        {"realnvp_coupling odd", [](std::size_t d, std::size_t c, Rng& rng) -> TransformPtr { return std::make_unique<AffineCoupling>(CouplingConfig{.dim = d, .hidden = {8, 8}, .context = c, .activation = Activation::tanh, .flip = true}, rng); }, 1.0, 2},
        {"permutation reverse", [](std::size_t d, std::size_t, Rng&) -> TransformPtr { return Permutation::reverse(d); }},
        {"permutation random", [](std::size_t d, std::size_t, Rng& rng) -> TransformPtr { return Permutation::random(d, rng); }},
        {"actnorm", [](std::size_t d, std::size_t, Rng&) -> TransformPtr { return std::make_unique<ActNorm>(d); }},
        {"standardize (from data of mean 3, spread 0.5)", [](std::size_t d, std::size_t, Rng& rng) -> TransformPtr {
             return Standardize::from_data(rng.normal_array(64, d) * 0.5 + 3.0);
         }},
        {"bounded_to_normal (from data of spread 3)", [](std::size_t d, std::size_t, Rng& rng) -> TransformPtr {
             return BoundedToNormal::from_data(rng.normal_array(64, d) * 3.0);
         }},
        {"bounded_to_normal on (-5, 7)", [](std::size_t d, std::size_t, Rng&) -> TransformPtr {
             return std::make_unique<BoundedToNormal>(xt::zeros<real>({std::size_t(1), d}) - 5.0,
                                                      xt::zeros<real>({std::size_t(1), d}) + 7.0);
         }},
        {"batchnorm (eval, running statistics from one training batch)", [](std::size_t d, std::size_t, Rng& rng) -> TransformPtr {
             auto bn = std::make_unique<BatchNorm>(d, 0.5);
             Tape t;
             bn->forward(t.constant(rng.normal_array(16, d) * 2.0 + 1.0));  // training mode: moves the running statistics
             return bn;
         }},
        // Spline flows: inputs 2·N(0, 1) so that some points fall in the tails (B = 3), many with B = 1.
        {"nsf K=4 natural", [](std::size_t d, std::size_t c, Rng& rng) -> TransformPtr {
             SplineAutoregressiveConfig s;
             s.dim = d, s.bins = 4, s.hidden = {8, 8}, s.context = c, s.activation = Activation::tanh;
             return std::make_unique<SplineAutoregressive>(s, rng);
         }, 2.0},
        {"nsf K=8 residual random", [](std::size_t d, std::size_t c, Rng& rng) -> TransformPtr {
             SplineAutoregressiveConfig s;
             s.dim = d, s.bins = 8, s.hidden = {8, 8, 8}, s.context = c, s.activation = Activation::tanh;
             s.residual_blocks = true, s.ordering = Ordering::random;
             return std::make_unique<SplineAutoregressive>(s, rng);
         }, 2.0},
        {"nsf K=3 reversed B=1", [](std::size_t d, std::size_t c, Rng& rng) -> TransformPtr {
             SplineAutoregressiveConfig s;
             s.dim = d, s.bins = 3, s.hidden = {8, 8}, s.context = c, s.activation = Activation::tanh;
             s.spline.tail_bound = 1.0, s.ordering = Ordering::reversed;
             return std::make_unique<SplineAutoregressive>(s, rng);
         }, 2.0},
        {"nsf_coupling K=5 even", [](std::size_t d, std::size_t c, Rng& rng) -> TransformPtr {
             SplineCouplingConfig s;
             s.dim = d, s.bins = 5, s.hidden = {8, 8}, s.context = c, s.activation = Activation::tanh;
             return std::make_unique<SplineCoupling>(s, rng);
         }, 2.0, 2},
        {"nsf_coupling K=2 odd B=1", [](std::size_t d, std::size_t c, Rng& rng) -> TransformPtr {
             SplineCouplingConfig s;
             s.dim = d, s.bins = 2, s.hidden = {8}, s.context = c, s.activation = Activation::tanh;
             s.spline.tail_bound = 1.0, s.flip = true;
             return std::make_unique<SplineCoupling>(s, rng);
         }, 2.0, 2},
    };
}

// log|det A| by Gaussian elimination with partial pivoting.
real log_abs_det(Array a) {
    const std::size_t n = a.shape()[0];
    real total = 0;
    for (std::size_t k = 0; k < n; ++k) {
        std::size_t pivot = k;
        for (std::size_t r = k + 1; r < n; ++r)
            if (std::abs(a(r, k)) > std::abs(a(pivot, k))) pivot = r;
        if (pivot != k)
            for (std::size_t c = 0; c < n; ++c) std::swap(a(k, c), a(pivot, c));
        total += std::log(std::abs(a(k, k)));
        for (std::size_t r = k + 1; r < n; ++r) {
            const real f = a(r, k) / a(k, k);
            for (std::size_t c = k; c < n; ++c) a(r, c) -= f * a(k, c);
        }
    }
    return total;
}

void perturb(Transform& t, Rng& rng, real scale) {
    const ParameterList params = t.parameters();
    for (const NamedParameter& p : params.items())
        for (real& v : p.parameter->value()) v += scale * rng.normal();
}

struct Setup {
    TransformPtr transform;
    Array x;
    Array context;  // 0 columns when unconditional
};

Setup make_setup(const TransformCase& c, std::size_t dim, std::size_t context, std::uint64_t seed) {
    Rng rng(seed);
    Setup s;
    s.transform = c.make(dim, context, rng);
    perturb(*s.transform, rng, 0.3);
    s.transform->set_training(false);
    s.x = rng.normal_array(5, dim) * c.input_scale;
    s.context = rng.normal_array(5, context);
    return s;
}

Var context_var(Tape& t, const Array& context) { return context.shape()[1] ? t.constant(context) : Var(); }

void check_transform(const TransformCase& c, std::size_t dim, std::size_t context) {
    BOOST_TEST_CONTEXT(c.name << ", D = " << dim << ", context " << context) {
        Setup s = make_setup(c, dim, context, 1000 + dim + 10 * context);
        Transform& tr = *s.transform;
        const std::size_t n = s.x.shape()[0];
        Array z, logdet;
        {
            Tape t;
            NoGrad no_grad(t);
            const Var ctx = context_var(t, s.context);
            const TransformResult f = tr.forward(t.constant(s.x), ctx);
            BOOST_TEST_REQUIRE((f.out.shape() == Shape{n, dim}));
            BOOST_TEST_REQUIRE((f.logdet.shape() == Shape{n, 1}));
            z = f.out.value();
            logdet = f.logdet.value();
            const TransformResult b = tr.inverse(f.out, ctx);
            BOOST_TEST_REQUIRE((b.out.shape() == Shape{n, dim}));
            BOOST_TEST_REQUIRE((b.logdet.shape() == Shape{n, 1}));
            BOOST_TEST(xt::amax(xt::abs(b.out.value() - s.x))() < 1e-9);
            BOOST_TEST(xt::amax(xt::abs(b.logdet.value() + logdet))() < 1e-9);
            // And the other way round, from latent points.
            Rng rng(7);
            const Array z0 = rng.normal_array(n, dim) * c.input_scale;
            const TransformResult x1 = tr.inverse(t.constant(z0), ctx);
            const TransformResult z1 = tr.forward(x1.out, ctx);
            BOOST_TEST(xt::amax(xt::abs(z1.out.value() - z0))() < 1e-9);
        }
        // log|det J| row by row, J built with one reverse sweep per output coordinate.
        for (std::size_t r = 0; r < n; ++r) {
            Array jac = xt::zeros<real>({dim, dim});
            for (std::size_t i = 0; i < dim; ++i) {
                Tape t;
                const Var x = t.variable(s.x);
                const Var out = tr.forward(x, context_var(t, s.context)).out;
                Array seed = xt::zeros<real>({n, dim});
                seed(r, i) = 1;
                t.backward(out, seed);
                for (std::size_t j = 0; j < dim; ++j) jac(i, j) = t.grad(x)(r, j);
            }
            BOOST_TEST(std::abs(log_abs_det(jac) - logdet(r, 0)) < 1e-8);
        }
        // Gradients of [z, logdet] with respect to x and to the parameters.
        auto record = [&](Tape& t, Var x) {
            const TransformResult f = tr.forward(x, context_var(t, s.context));
            return concat({f.out, f.logdet}, 1);
        };
        const GradcheckResult gx =
            gradcheck([&](Tape& t, const std::vector<Var>& v) { return record(t, v[0]); }, {s.x});
        BOOST_TEST(gx.ok, "wrt x: " << gx.worst << " error " << gx.max_error);
        const GradcheckResult gp = gradcheck_parameters([&](Tape& t) { return record(t, t.constant(s.x)); },
                                                        tr.parameters().pointers());
        BOOST_TEST(gp.ok, "wrt parameters: " << gp.worst << " error " << gp.max_error);
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(transform_properties)

BOOST_AUTO_TEST_CASE(every_transform_round_trips_and_its_logdet_matches_the_jacobian) {
    const auto cases = all_transforms();
    BOOST_TEST_REQUIRE(!cases.empty());
    for (const TransformCase& c : cases) {
        for (std::size_t dim : {1u, 2u, 3u, 5u})
            if (dim >= c.min_dim) check_transform(c, dim, 0);
        check_transform(c, 3, 2);
    }
}

BOOST_AUTO_TEST_SUITE_END()
