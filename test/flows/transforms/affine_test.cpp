// Specific properties of the affine transforms, beyond the shared property table
// (transform_properties_test.cpp, which checks round trips, log-determinants and gradients):
//   - MAF's Jacobian is triangular in its degree order, through the tape;
//   - gradients through MAF's D-pass inverse (reparameterised sampling) are exact;
//   - MAF and the RealNVP coupling really use their context;
//   - configs rebuild identical transforms (a random ordering or permutation included);
//   - a MAF flow fits a correlated Gaussian to its entropy, and its samples have its moments;
//   - ActNorm's first training batch comes out standardised, once; BatchNorm's running statistics
//     converge to the data's, and its training-mode gradients (rows coupled) are exact;
//   - the builders make flows that invert and rebuild; warm training steps allocate nothing;
//   - bad arguments throw.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <numbers>

#include <nlohmann/json.hpp>

#include "flowtape.hpp"

using namespace flowtape;

namespace {

void perturb(Module& m, Rng& rng, real scale) {
    const ParameterList params = m.parameters();
    for (const NamedParameter& p : params.items())
        for (real& v : p.parameter->value()) v += scale * rng.normal();
}

// Copies every parameter and buffer of `from` into `to`, by name.
void copy_state(Transform& from, Transform& to) {
    ParameterList a = from.parameters(), b = to.parameters();
    from.collect_buffers(a, "buffers");
    to.collect_buffers(b, "buffers");
    BOOST_TEST_REQUIRE(a.size() == b.size());
    for (const NamedParameter& p : a.items()) b.find(p.name).value() = p.parameter->value();
}

// The forward map's value (z and log|det| side by side), without gradients.
Array forward_value(Transform& t, const Array& x, const Array& context = Array()) {
    Tape tape;
    NoGrad no_grad(tape);
    const Var ctx = context.size() ? tape.constant(context) : Var();
    const TransformResult r = t.forward(tape.constant(x), ctx);
    return concat({r.out, r.logdet}, 1).value();
}

// ∂z/∂x for row `row`, one reverse sweep per output coordinate.
Array jacobian(Transform& t, const Array& x, std::size_t row) {
    const std::size_t n = x.shape()[0], d = x.shape()[1];
    Array jac = xt::zeros<real>({d, d});
    for (std::size_t i = 0; i < d; ++i) {
        Tape tape;
        const Var xv = tape.variable(x);
        const Var z = t.forward(xv).out;
        Array seed = xt::zeros<real>({n, d});
        seed(row, i) = 1;
        tape.backward(z, seed);
        for (std::size_t j = 0; j < d; ++j) jac(i, j) = tape.grad(xv)(row, j);
    }
    return jac;
}

// ---- the correlated Gaussian target ----

struct Gaussian2 {
    real mean[2] = {1.0, -0.5};
    real cov[2][2] = {{2.0, 1.2}, {1.2, 1.0}};
    real det() const { return cov[0][0] * cov[1][1] - cov[0][1] * cov[1][0]; }
    // ½ log det(2πeΣ)
    real entropy() const { return 0.5 * (2 * std::log(2 * std::numbers::pi * std::numbers::e) + std::log(det())); }
    Array sample(std::size_t n, Rng& rng) const {
        // x = μ + L ε with L the Cholesky factor of Σ.
        const real l00 = std::sqrt(cov[0][0]), l10 = cov[1][0] / l00, l11 = std::sqrt(cov[1][1] - l10 * l10);
        Array x = Array::from_shape({n, 2});
        for (std::size_t r = 0; r < n; ++r) {
            const real e0 = rng.normal(), e1 = rng.normal();
            x(r, 0) = mean[0] + l00 * e0;
            x(r, 1) = mean[1] + l10 * e0 + l11 * e1;
        }
        return x;
    }
    real log_prob(real x0, real x1) const {
        const real d0 = x0 - mean[0], d1 = x1 - mean[1], dt = det();
        const real quad = (cov[1][1] * d0 * d0 - 2 * cov[0][1] * d0 * d1 + cov[0][0] * d1 * d1) / dt;
        return -0.5 * quad - 0.5 * std::log(dt) - std::log(2 * std::numbers::pi);
    }
};

constexpr std::size_t kTrainRows = 4096;

// A small MAF flow trained by plain Adam on kTrainRows samples of the target; built once and
// shared by the fit and sampling tests.
Distribution& trained_maf_flow() {
    static DistributionPtr flow = [] {
        Rng rng(2024);
        const Gaussian2 target;
        const Array data = target.sample(kTrainRows, rng);
        FlowSpec spec{.dim = 2};
        spec.layers = 2;
        spec.hidden = {16, 16};
        spec.activation = Activation::tanh;
        DistributionPtr f = make_maf_flow(spec, rng);
        const ParameterList params = f->parameters();
        Adam adam(params, {.lr = 1e-2});
        const std::size_t steps = 1500, batch = 256;
        Array x = Array::from_shape({batch, 2});
        Tape tape;
        for (std::size_t step = 0; step < steps; ++step) {
            tape.reset();
            if (step == steps / 2) adam.set_lr(3e-3);
            if (step == 3 * steps / 4) adam.set_lr(1e-3);
            for (std::size_t r = 0; r < batch; ++r) {
                const std::size_t k = rng.below(kTrainRows);
                x(r, 0) = data(k, 0);
                x(r, 1) = data(k, 1);
            }
            const Var loss = neg(mean(f->log_prob(tape.constant(x))));
            tape.backward(loss);
            adam.step();
            adam.zero_grad();
        }
        return f;
    }();
    return *flow;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(affine)

BOOST_AUTO_TEST_CASE(maf_jacobian_is_triangular_in_the_degree_order) {
    for (const bool residual : {false, true}) {
        BOOST_TEST_CONTEXT("residual blocks " << residual) {
            Rng rng(11);
            MafTransform maf(MafConfig{.dim = 5,
                                       .hidden = {12, 12},
                                       .residual_blocks = residual,
                                       .activation = Activation::tanh,
                                       .ordering = Ordering::random},
                             rng);
            perturb(maf, rng, 0.3);
            const std::vector<std::size_t>& m = maf.input_degrees();
            const Array x = rng.normal_array(3, 5);
            const Array logdet = forward_value(maf, x);
            for (std::size_t row = 0; row < 3; ++row) {
                const Array jac = jacobian(maf, x, row);
                real log_diagonal = 0;
                for (std::size_t i = 0; i < 5; ++i) {
                    for (std::size_t j = 0; j < 5; ++j) {
                        if (m[j] > m[i]) BOOST_TEST(jac(i, j) == 0.0, "z" << i << " depends on later x" << j);
                        if (m[j] < m[i]) BOOST_TEST(std::abs(jac(i, j)) > 1e-10, "z" << i << " ignores earlier x" << j);
                    }
                    BOOST_TEST(jac(i, i) > 0);
                    log_diagonal += std::log(jac(i, i));
                }
                // Triangular, so the log-determinant is the sum over the diagonal.
                BOOST_TEST(std::abs(log_diagonal - logdet(row, 5)) < 1e-10);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(maf_starts_near_the_identity) {
    Rng rng(3);
    MafTransform maf(MafConfig{.dim = 4, .hidden = {32, 32}}, rng);
    const Array x = rng.normal_array(50, 4);
    const Array out = forward_value(maf, x);
    BOOST_TEST(xt::amax(xt::abs(xt::view(out, xt::all(), xt::range(0, 4)) - x))() < 0.1);
    BOOST_TEST(xt::amax(xt::abs(xt::view(out, xt::all(), 4)))() < 0.1);
}

BOOST_AUTO_TEST_CASE(gradients_through_the_maf_inverse_are_exact) {
    // Sampling with gradients on differentiates through the D passes of the inverse.
    Rng rng(5);
    MafTransform maf(MafConfig{.dim = 4, .hidden = {10, 10}, .context = 2, .activation = Activation::tanh,
                               .ordering = Ordering::random},
                     rng);
    perturb(maf, rng, 0.3);
    const Array z = rng.normal_array(4, 4), context = rng.normal_array(4, 2);
    auto record = [&](Var zv, Var cv) {
        const TransformResult r = maf.inverse(zv, cv);
        return concat({r.out, r.logdet}, 1);
    };
    const GradcheckResult wrt_inputs = gradcheck(
        [&](Tape&, const std::vector<Var>& v) { return record(v[0], v[1]); }, {z, context});
    BOOST_TEST(wrt_inputs.ok, wrt_inputs.worst << " error " << wrt_inputs.max_error);
    const GradcheckResult wrt_params = gradcheck_parameters(
        [&](Tape& t) { return record(t.constant(z), t.constant(context)); }, maf.parameters().pointers());
    BOOST_TEST(wrt_params.ok, wrt_params.worst << " error " << wrt_params.max_error);
}

BOOST_AUTO_TEST_CASE(maf_and_coupling_use_their_context) {
    Rng rng(7);
    std::vector<TransformPtr> transforms;
    transforms.push_back(std::make_unique<MafTransform>(MafConfig{.dim = 3, .hidden = {8, 8}, .context = 2}, rng));
    transforms.push_back(
        std::make_unique<MafTransform>(MafConfig{.dim = 3, .hidden = {8, 8}, .context = 2, .residual_blocks = true}, rng));
    transforms.push_back(std::make_unique<AffineCoupling>(CouplingConfig{.dim = 3, .hidden = {8}, .context = 2}, rng));
    const Array x = rng.normal_array(6, 3);
    const Array c1 = rng.normal_array(6, 2), c2 = rng.normal_array(6, 2);
    for (TransformPtr& t : transforms) {
        BOOST_TEST_CONTEXT(t->kind()) {
            BOOST_TEST(t->context_dim() == 2u);
            perturb(*t, rng, 0.3);
            const Array a = forward_value(*t, x, c1), b = forward_value(*t, x, c2);
            // Every row's z and log-determinant change with the context.
            for (std::size_t r = 0; r < 6; ++r) {
                BOOST_TEST(xt::amax(xt::abs(xt::view(a - b, r, xt::range(0, 3))))() > 1e-3);
                BOOST_TEST(std::abs(a(r, 3) - b(r, 3)) > 1e-4);
            }
            // The inverse undoes the forward only with the same context.
            Tape tape;
            NoGrad no_grad(tape);
            const Var z = t->forward(tape.constant(x), tape.constant(c1)).out;
            BOOST_TEST(xt::amax(xt::abs(t->inverse(z, tape.constant(c1)).out.value() - x))() < 1e-9);
            BOOST_TEST(xt::amax(xt::abs(t->inverse(z, tape.constant(c2)).out.value() - x))() > 1e-3);
            // A conditional transform needs its context.
            BOOST_CHECK_THROW(t->forward(tape.constant(x)), ValueError);
        }
    }
}

BOOST_AUTO_TEST_CASE(coupling_passes_its_identity_half_through) {
    Rng rng(9);
    for (const bool flip : {false, true}) {
        AffineCoupling c(CouplingConfig{.dim = 5, .hidden = {8}, .flip = flip}, rng);
        perturb(c, rng, 0.3);
        const std::vector<std::size_t> expected_identity = flip ? std::vector<std::size_t>{1, 3}
                                                                : std::vector<std::size_t>{0, 2, 4};
        BOOST_TEST(c.identity_columns() == expected_identity, boost::test_tools::per_element());
        const Array x = rng.normal_array(4, 5);
        const Array out = forward_value(c, x);
        for (std::size_t col = 0; col < 5; ++col) {
            const bool passes = std::find(expected_identity.begin(), expected_identity.end(), col) != expected_identity.end();
            const real change = xt::amax(xt::abs(xt::view(out, xt::all(), col) - xt::view(x, xt::all(), col)))();
            if (passes) BOOST_TEST(change == 0.0);
            else BOOST_TEST(change > 1e-3);
        }
    }
}

BOOST_AUTO_TEST_CASE(configs_rebuild_identical_transforms) {
    Rng rng(13);
    std::vector<TransformPtr> originals;
    originals.push_back(std::make_unique<MafTransform>(
        MafConfig{.dim = 6, .hidden = {8, 8}, .context = 1, .residual_blocks = true, .ordering = Ordering::random}, rng));
    originals.push_back(std::make_unique<AffineCoupling>(
        CouplingConfig{.dim = 4, .hidden = {8}, .activation = Activation::elu, .flip = true, .log_scale_bound = 2}, rng));
    originals.push_back(Permutation::random(6, rng));
    originals.push_back(std::make_unique<ActNorm>(3));
    originals.push_back(std::make_unique<BatchNorm>(3, 0.2, 1e-4));
    for (TransformPtr& original : originals) {
        BOOST_TEST_CONTEXT(original->kind()) {
            perturb(*original, rng, 0.3);
            original->set_training(false);
            // Rebuilt from its config with a different rng, then given the parameters by name.
            Rng other(999);
            TransformPtr copy = make_transform(nlohmann::json::parse(original->config().dump()), other);
            BOOST_TEST(copy->config() == original->config());
            copy_state(*original, *copy);
            copy->set_training(false);
            const std::size_t d = original->dim();
            const Array x = rng.normal_array(5, d);
            const Array context = rng.normal_array(5, original->context_dim());
            const Array a = forward_value(*original, x, context), b = forward_value(*copy, x, context);
            BOOST_TEST(xt::amax(xt::abs(a - b))() == 0.0);
        }
    }
    // The random ordering and permutation were stored, not redrawn.
    const auto& maf = dynamic_cast<const MafTransform&>(*originals[0]);
    BOOST_TEST(maf.config().at("degrees").get<std::vector<std::size_t>>() == maf.input_degrees(),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(maf_flow_fits_a_correlated_gaussian_to_its_entropy) {
    Distribution& flow = trained_maf_flow();
    const Gaussian2 target;
    Rng rng(77);
    const std::size_t n = 20000;
    const Array test = target.sample(n, rng);
    Array model_nll;
    {
        Tape tape;
        NoGrad no_grad(tape);
        model_nll = -flow.log_prob(tape.constant(test)).value();
    }
    real nll = 0, kl = 0, nll_sq = 0;
    for (std::size_t r = 0; r < n; ++r) {
        nll += model_nll(r, 0);
        nll_sq += model_nll(r, 0) * model_nll(r, 0);
        kl += model_nll(r, 0) + target.log_prob(test(r, 0), test(r, 1));  // log p − log q
    }
    nll /= n;
    kl /= n;
    const real standard_error = std::sqrt((nll_sq / n - nll * nll) / n);
    BOOST_TEST_MESSAGE("average NLL " << nll << " (± " << standard_error << "), entropy " << target.entropy()
                                      << ", KL estimate " << kl);
    // The KL divergence (the NLL's excess over the entropy, estimated with much less noise).
    BOOST_TEST(kl < 0.02);
    BOOST_TEST(kl > -0.01);
    BOOST_TEST(std::abs(nll - target.entropy()) < 0.02 + 3 * standard_error);
}

BOOST_AUTO_TEST_CASE(samples_of_the_trained_flow_have_the_target_moments) {
    Distribution& flow = trained_maf_flow();
    const Gaussian2 target;
    Rng rng(78);
    const std::size_t n = 20000;
    Array x;
    {
        Tape tape;
        NoGrad no_grad(tape);
        x = flow.sample(tape, n, rng).value();
    }
    real mean[2] = {0, 0}, cov[2][2] = {{0, 0}, {0, 0}};
    for (std::size_t r = 0; r < n; ++r)
        for (std::size_t i = 0; i < 2; ++i) mean[i] += x(r, i) / n;
    for (std::size_t r = 0; r < n; ++r)
        for (std::size_t i = 0; i < 2; ++i)
            for (std::size_t j = 0; j < 2; ++j) cov[i][j] += (x(r, i) - mean[i]) * (x(r, j) - mean[j]) / (n - 1);
    // The flow learned the moments of kTrainRows samples and we estimate its own from n samples:
    // both Monte Carlo errors count.
    const real inv_count = 1.0 / kTrainRows + 1.0 / n;
    for (std::size_t i = 0; i < 2; ++i) {
        const real se_mean = std::sqrt(target.cov[i][i] * inv_count);
        BOOST_TEST(std::abs(mean[i] - target.mean[i]) < 4 * se_mean, "mean " << i << ": " << mean[i]);
        for (std::size_t j = 0; j < 2; ++j) {
            const real se_cov =
                std::sqrt((target.cov[i][i] * target.cov[j][j] + target.cov[i][j] * target.cov[i][j]) * inv_count);
            BOOST_TEST(std::abs(cov[i][j] - target.cov[i][j]) < 4 * se_cov, "cov " << i << j << ": " << cov[i][j]);
        }
    }
}

BOOST_AUTO_TEST_CASE(actnorm_standardises_its_first_training_batch_once) {
    Rng rng(21);
    ActNorm an(3);
    BOOST_TEST(!an.initialised());
    Array x = rng.normal_array(200, 3);
    for (std::size_t r = 0; r < 200; ++r) {
        x(r, 0) = 3 + 2 * x(r, 0);
        x(r, 1) = -1 + 0.1 * x(r, 1);
        x(r, 2) = 10 * x(r, 2);
    }
    const Array out = forward_value(an, x);
    BOOST_TEST(an.initialised());
    real expected_logdet = 0;  // −Σ log σ_i with σ_i the batch's standard deviations
    for (std::size_t i = 0; i < 3; ++i) {
        const auto in = xt::view(x, xt::all(), i);
        expected_logdet -= std::log(std::sqrt(xt::mean(xt::square(in - xt::mean(in)()))()));
        const auto column = xt::view(out, xt::all(), i);
        const real m = xt::mean(column)();
        const real v = xt::mean(xt::square(column - m))();
        BOOST_TEST(std::abs(m) < 1e-12);
        BOOST_TEST(std::abs(v - 1) < 1e-4);
    }
    // The same log-determinant for every row.
    for (std::size_t r = 0; r < 200; ++r) BOOST_TEST(std::abs(out(r, 3) - expected_logdet) < 1e-4);
    // Not again: a second batch uses the values set by the first.
    const Array params_before = an.parameters().find("shift").value();
    forward_value(an, rng.normal_array(50, 3));
    BOOST_TEST(xt::amax(xt::abs(an.parameters().find("shift").value() - params_before))() == 0.0);
    // A layer rebuilt from the config and given the saved state does not initialise either.
    Rng other(1);
    TransformPtr copy = make_transform(an.config(), other);
    copy_state(an, *copy);
    const Array y = rng.normal_array(20, 3);
    BOOST_TEST(xt::amax(xt::abs(forward_value(*copy, y) - forward_value(an, y)))() == 0.0);
    // A batch of one row cannot initialise.
    ActNorm fresh(3);
    BOOST_CHECK_THROW(forward_value(fresh, rng.normal_array(1, 3)), ValueError);
}

BOOST_AUTO_TEST_CASE(batchnorm_running_statistics_converge_to_the_data) {
    Rng rng(31);
    BatchNorm bn(2);
    const real mean[2] = {2.0, -3.0}, sd[2] = {0.5, 4.0};
    Array x = Array::from_shape({256, 2});
    for (int batch = 0; batch < 200; ++batch) {
        for (std::size_t r = 0; r < 256; ++r)
            for (std::size_t i = 0; i < 2; ++i) x(r, i) = mean[i] + sd[i] * rng.normal();
        forward_value(bn, x);
    }
    for (std::size_t i = 0; i < 2; ++i) {
        // Momentum 0.1 averages about 19 batches of 256: a standard error near 0.015 σ (mean) and
        // 0.02 σ² (variance); we allow about 4 of them.
        BOOST_TEST(std::abs(bn.running_mean()(0, i) - mean[i]) < 0.06 * sd[i]);
        BOOST_TEST(std::abs(bn.running_var()(0, i) / (sd[i] * sd[i]) - 1) < 0.08);
    }
    // Evaluation mode then standardises data of those statistics.
    bn.set_training(false);
    for (std::size_t r = 0; r < 256; ++r)
        for (std::size_t i = 0; i < 2; ++i) x(r, i) = mean[i] + sd[i] * rng.normal();
    const Array out = forward_value(bn, x);
    for (std::size_t i = 0; i < 2; ++i) BOOST_TEST(std::abs(xt::mean(xt::view(out, xt::all(), i))()) < 0.3);
}

BOOST_AUTO_TEST_CASE(batchnorm_training_mode_gradients_are_exact) {
    // In training mode the batch statistics couple the rows; z and the log-determinant are
    // differentiated through them.
    Rng rng(41);
    BatchNorm bn(3);
    perturb(bn, rng, 0.3);
    const Array x = rng.normal_array(6, 3) * 2.0 + 1.0;
    auto record = [&](Var xv) {
        const TransformResult r = bn.forward(xv);
        return concat({r.out, r.logdet}, 1);
    };
    const GradcheckResult gx = gradcheck([&](Tape&, const std::vector<Var>& v) { return record(v[0]); }, {x});
    BOOST_TEST(gx.ok, gx.worst << " error " << gx.max_error);
    const GradcheckResult gp =
        gradcheck_parameters([&](Tape& t) { return record(t.constant(x)); }, bn.parameters().pointers());
    BOOST_TEST(gp.ok, gp.worst << " error " << gp.max_error);
    // The batch comes out with mean β and standard deviation γ per column.
    const Array out = forward_value(bn, x);
    for (std::size_t i = 0; i < 3; ++i) {
        const auto column = xt::view(out, xt::all(), i);
        const real m = xt::mean(column)();
        const real v = xt::mean(xt::square(column - m))();
        const real log_gamma = bn.parameters().find("log_gamma").value()(0, i);
        const real beta = bn.parameters().find("beta").value()(0, i);
        BOOST_TEST(std::abs(m - beta) < 1e-12);
        // (v + ε) scaled: v_out = γ² v/(v + ε)
        BOOST_TEST(std::abs(v / std::exp(2 * log_gamma) - 1) < 1e-4);
    }
    BOOST_CHECK_THROW(forward_value(bn, rng.normal_array(1, 3)), ValueError);
}

BOOST_AUTO_TEST_CASE(builders_make_working_flows) {
    Rng rng(51);
    FlowSpec spec{.dim = 3};
    spec.layers = 3;
    spec.hidden = {8, 8};
    spec.batch_norm = true;
    spec.actnorm = true;
    spec.permutation = "random";
    spec.base = "diagonal_gaussian";
    for (const bool realnvp : {false, true}) {
        BOOST_TEST_CONTEXT((realnvp ? "realnvp" : "maf")) {
            DistributionPtr flow = realnvp ? make_realnvp_flow(spec, rng) : make_maf_flow(spec, rng);
            Flow& f = dynamic_cast<Flow&>(*flow);
            // MAF: 3 MAFs + 2 permutations; RealNVP: 3 couplings; each followed by ActNorm and BatchNorm.
            BOOST_TEST(f.transforms().size() == (realnvp ? 9u : 11u));
            flow->set_training(false);
            perturb(*flow, rng, 0.1);
            const Array x = rng.normal_array(7, 3);
            Tape tape;
            NoGrad no_grad(tape);
            const TransformResult z = f.to_latent(tape.constant(x));
            const TransformResult back = f.from_latent(z.out);
            BOOST_TEST(xt::amax(xt::abs(back.out.value() - x))() < 1e-9);
            BOOST_TEST(xt::amax(xt::abs(back.logdet.value() + z.logdet.value()))() < 1e-9);
            // The whole flow rebuilds from its config.
            Rng other(3);
            DistributionPtr copy = make_distribution(flow->config(), other);
            BOOST_TEST(copy->config() == flow->config());
        }
    }
    // The alternating masks transform every coordinate.
    Rng r2(2);
    DistributionPtr nvp = make_realnvp_flow(FlowSpec{.dim = 4, .layers = 2, .hidden = {4}}, r2);
    const auto& ts = dynamic_cast<Flow&>(*nvp).transforms();
    BOOST_TEST(dynamic_cast<AffineCoupling&>(*ts[0]).transformed_columns() ==
                   dynamic_cast<AffineCoupling&>(*ts[1]).identity_columns(),
               boost::test_tools::per_element());
    FlowSpec bad{.dim = 2};
    bad.permutation = "shuffle";
    BOOST_CHECK_THROW(make_maf_flow(bad, rng), ValueError);
    bad.permutation = "reverse";
    bad.base = "cauchy";
    BOOST_CHECK_THROW(make_maf_flow(bad, rng), ValueError);
    BOOST_CHECK_THROW(make_realnvp_flow(FlowSpec{.dim = 1}, rng), ValueError);
}

BOOST_AUTO_TEST_CASE(warm_training_steps_allocate_nothing_on_the_tape) {
    // Column selections, log-determinant columns and batch statistics reuse their buffers.
    for (const bool realnvp : {false, true}) {
        Rng rng(71);
        FlowSpec spec{.dim = 4};
        spec.layers = 3;
        spec.hidden = {16, 16};
        spec.batch_norm = true;
        spec.actnorm = true;
        spec.permutation = "random";
        DistributionPtr flow = realnvp ? make_realnvp_flow(spec, rng) : make_maf_flow(spec, rng);
        const ParameterList params = flow->parameters();
        Adam adam(params);
        const Array x = rng.normal_array(64, 4);
        Tape tape;
        std::size_t warm = 0;
        for (int step = 0; step < 3; ++step) {
            tape.reset();
            if (step == 2) warm = tape.allocations();
            tape.backward(neg(mean(flow->log_prob(tape.constant(x)))));
            adam.step();
            adam.zero_grad();
        }
        BOOST_TEST(tape.allocations() == warm, (realnvp ? "realnvp" : "maf"));
    }
}

BOOST_AUTO_TEST_CASE(bad_arguments_throw) {
    Rng rng(61);
    BOOST_CHECK_THROW(AffineCoupling(CouplingConfig{.dim = 1}, rng), ValueError);
    BOOST_CHECK_THROW(MafTransform(MafConfig{.dim = 0}, rng), ValueError);
    BOOST_CHECK_THROW(MafTransform(MafConfig{.dim = 3, .degrees = {1, 1, 3}}, rng), ValueError);
    BOOST_CHECK_THROW(MafTransform(MafConfig{.dim = 3, .degrees = {0, 1, 2}}, rng), ValueError);
    BOOST_CHECK_THROW(MafTransform(MafConfig{.dim = 2, .log_scale_bound = -1}, rng), ValueError);
    BOOST_CHECK_THROW(Permutation({0, 2, 2}), ValueError);
    BOOST_CHECK_THROW(Permutation({0, 3, 1}), ValueError);
    BOOST_CHECK_THROW(BatchNorm(2, 0.0), ValueError);
    BOOST_CHECK_THROW(BatchNorm(2, 0.1, 0.0), ValueError);
    BOOST_CHECK_THROW(ActNorm(0), ValueError);
    BOOST_CHECK_THROW(ordering_from_name("sideways"), ValueError);
    MafTransform maf(MafConfig{.dim = 3, .hidden = {4}}, rng);
    Tape tape;
    BOOST_CHECK_THROW(maf.forward(tape.constant(rng.normal_array(2, 4))), ShapeError);
    BOOST_CHECK_THROW(Permutation::reverse(3)->inverse(tape.constant(rng.normal_array(2, 2))), ShapeError);
}

BOOST_AUTO_TEST_SUITE_END()
