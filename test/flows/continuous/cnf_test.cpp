// Tests of the continuous normalizing flow (flows/continuous/cnf.hpp, flows/continuous/cnf_dynamics.hpp): the log-determinant
// of linear dynamics against T·tr(A) and the flow map against the matrix exponential; the planar
// field's trace against its closed form; Hutchinson's estimate unbiased around the exact trace; log p
// against the change of variables with a finite-difference Jacobian of the flow map; the density
// integrating to one on a grid; sample_with_log_prob against log_prob; adjoint gradients equal to
// backpropagation; a short fit reaching a Gaussian's entropy; the class-mixture base (class scoring,
// the mixture at test time, missing labels); model files; solver failures inside fit.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <numbers>

#include <nlohmann/json.hpp>

#include "flowtape.hpp"

using namespace flowtape;

namespace {

// f(z) = z A for row vectors z: ∂f/∂z = Aᵀ per row, so Tr = tr(A) and z(T) = x e^{AT}.
class LinearDynamics : public CnfDynamics {
public:
    explicit LinearDynamics(Array a) : a_("a", std::move(a)) {}
    Var velocity(Var, Var z) override { return matmul(z, z.tape().param(a_)); }
    std::size_t dim() const override { return a_.shape()[0]; }
    std::string kind() const override { return "test_linear"; }
    nlohmann::json config() const override { return {{"kind", kind()}}; }
    void collect_parameters(ParameterList& out, const std::string& prefix) override {
        out.add(qualified_name(prefix, "a"), a_);
    }

private:
    Parameter a_;
};

// f(z) = log(z a): NaN as soon as a row of z a turns negative.
class LogDynamics : public CnfDynamics {
public:
    LogDynamics() : a_("a", Array{{1.0, 1.0}}) {}
    Var velocity(Var, Var z) override { return log(mul(z, z.tape().param(a_))); }
    std::size_t dim() const override { return 2; }
    std::string kind() const override { return "test_log"; }
    nlohmann::json config() const override { return {{"kind", kind()}}; }
    void collect_parameters(ParameterList& out, const std::string& prefix) override {
        out.add(qualified_name(prefix, "a"), a_);
    }

private:
    Parameter a_;
};

// e^{M} by its Taylor series (‖M‖ ≈ 1 here: 40 terms are exact to rounding).
Array expm(const Array& m) {
    const std::size_t d = m.shape()[0];
    Array result = xt::eye<real>(d), term = xt::eye<real>(d);
    for (int k = 1; k < 40; ++k) {
        Array next = xt::zeros<real>({d, d});
        for (std::size_t i = 0; i < d; ++i)
            for (std::size_t j = 0; j < d; ++j)
                for (std::size_t l = 0; l < d; ++l) next(i, j) += term(i, l) * m(l, j);
        term = next / static_cast<real>(k);
        result += term;
    }
    return result;
}

CnfOptions tight(real tol = 1e-9) {
    CnfOptions o;
    o.rtol = tol;
    o.atol = tol;
    return o;
}

std::unique_ptr<ContinuousFlow> mlp_flow(std::uint64_t seed, CnfOptions options = tight(), std::size_t dim = 2,
                                         std::vector<std::size_t> hidden = {8, 8}) {
    Rng rng(seed);
    auto dynamics = std::make_unique<MlpDynamics>(dim, hidden, Activation::tanh, rng);
    return std::make_unique<ContinuousFlow>(std::move(dynamics), std::make_unique<StandardNormal>(dim), options);
}

std::unique_ptr<ContinuousFlow> planar_flow(std::uint64_t seed, CnfOptions options = tight()) {
    Rng rng(seed);
    auto dynamics = std::make_unique<PlanarDynamics>(2, 6, std::vector<std::size_t>{8}, rng);
    return std::make_unique<ContinuousFlow>(std::move(dynamics), std::make_unique<StandardNormal>(2), options);
}

Array log_prob_values(Distribution& model, const Array& x) {
    Tape tape;
    NoGrad no_grad(tape);
    return model.log_prob(tape.constant(x)).value();
}

real det(const Array& j) {
    if (j.shape()[0] == 1) return j(0, 0);
    return j(0, 0) * j(1, 1) - j(0, 1) * j(1, 0);
}

// Three labelled clusters in 2-D, classes 2, 5 and 7 with 30, 20 and 10 rows.
struct Labelled {
    Array x;
    IndexArray labels;
};
Labelled labelled_data() {
    Rng rng(7);
    const std::size_t counts[3] = {30, 20, 10};
    const std::int64_t names[3] = {2, 5, 7};
    const real centres[3][2] = {{-2, 0}, {2, 1}, {0, 3}};
    Labelled out;
    out.x = Array::from_shape({60, 2});
    out.labels = IndexArray::from_shape({60, 1});
    std::size_t row = 0;
    for (int c = 0; c < 3; ++c)
        for (std::size_t i = 0; i < counts[c]; ++i, ++row) {
            out.x(row, 0) = centres[c][0] + 0.3 * rng.normal();
            out.x(row, 1) = centres[c][1] + 0.3 * rng.normal();
            out.labels(row, 0) = names[c];
        }
    return out;
}

std::unique_ptr<ContinuousFlow> class_flow(const Labelled& data, std::uint64_t seed, CnfOptions options = tight(1e-7)) {
    std::vector<std::int64_t> classes;
    DistributionPtr base = make_cnf_class_base(data.x, data.labels, classes);
    Rng rng(seed);
    auto dynamics = std::make_unique<MlpDynamics>(2, std::vector<std::size_t>{8}, Activation::softplus, rng);
    return std::make_unique<ContinuousFlow>(std::move(dynamics), std::move(base), options, classes);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cnf)

BOOST_AUTO_TEST_CASE(linear_dynamics_log_det_is_T_trace_A) {
    const Array a{{0.3, -0.7}, {0.4, -0.5}};
    CnfOptions o = tight(1e-10);
    o.T = 1.3;
    ContinuousFlow flow(std::make_unique<LinearDynamics>(a), std::make_unique<StandardNormal>(2), o);
    const Array x{{0.5, -1.0}, {2.0, 0.25}, {-1.5, 1.5}};
    const ContinuousFlow::Latent latent = flow.to_latent(x);
    const real trace = a(0, 0) + a(1, 1);
    const Array e = expm(a * o.T);
    const Array lp = log_prob_values(flow, x);
    for (std::size_t i = 0; i < 3; ++i) {
        // Δ(T) = −T tr(A); log p(x) = log N(z(T)) + T tr(A).
        BOOST_CHECK_SMALL(latent.delta(i, 0) + o.T * trace, 1e-9);
        real expected_lp = o.T * trace - std::log(2 * std::numbers::pi);
        for (std::size_t j = 0; j < 2; ++j) {
            const real z = x(i, 0) * e(0, j) + x(i, 1) * e(1, j);
            BOOST_CHECK_SMALL(latent.z(i, j) - z, 1e-8);
            expected_lp -= 0.5 * z * z;
        }
        BOOST_CHECK_SMALL(lp(i, 0) - expected_lp, 1e-8);
    }
}

BOOST_AUTO_TEST_CASE(planar_trace_matches_closed_form) {
    Rng rng(3);
    PlanarDynamics f(2, 5, {8}, rng);
    const real t = 0.37;
    const Array z{{0.3, -0.8}, {1.2, 0.4}};
    const PlanarDynamics::Fields p = f.fields_at(t);  // before the tape below binds the parameters
    Tape tape;
    const Var tv = tape.constant(Array{{t}});
    const ValueAndTrace vt = jacobian_trace(tape, tape.constant(z), [&](Var zz) { return f.velocity(tv, zz); });
    for (std::size_t i = 0; i < 2; ++i) {
        real trace = 0, f0 = 0;
        for (std::size_t m = 0; m < 5; ++m) {
            const real h = std::tanh(z(i, 0) * p.w(0, m) + z(i, 1) * p.w(1, m) + p.b(0, m));
            trace += (1 - h * h) * (p.u(m, 0) * p.w(0, m) + p.u(m, 1) * p.w(1, m)) / 5.0;
            f0 += p.u(m, 0) * h / 5.0;
        }
        BOOST_CHECK_SMALL(vt.trace.value()(i, 0) - trace, 1e-12);
        BOOST_CHECK_SMALL(vt.value.value()(i, 0) - f0, 1e-12);
    }
}

BOOST_AUTO_TEST_CASE(log_prob_matches_finite_difference_jacobian) {
    // log p(x) = log N(z(T)) + log|det ∂z/∂x|, the Jacobian by central differences of the flow map.
    const Array x{{0.4, -0.3}, {-1.1, 0.9}};
    for (int kind = 0; kind < 2; ++kind) {
        auto flow = kind == 0 ? mlp_flow(11, tight(1e-11)) : planar_flow(12, tight(1e-11));
        const Array lp = log_prob_values(*flow, x);
        const real h = 1e-5;
        for (std::size_t i = 0; i < 2; ++i) {
            Array j = Array::from_shape({2, 2});
            for (std::size_t c = 0; c < 2; ++c) {
                Array plus = xt::view(x, xt::range(i, i + 1), xt::all());
                Array minus = plus;
                plus(0, c) += h;
                minus(0, c) -= h;
                const Array zp = flow->to_latent(plus).z, zm = flow->to_latent(minus).z;
                for (std::size_t r = 0; r < 2; ++r) j(r, c) = (zp(0, r) - zm(0, r)) / (2 * h);
            }
            const Array z = flow->to_latent(Array(xt::view(x, xt::range(i, i + 1), xt::all()))).z;
            const real expected = -0.5 * (z(0, 0) * z(0, 0) + z(0, 1) * z(0, 1)) - std::log(2 * std::numbers::pi) +
                                  std::log(std::abs(det(j)));
            BOOST_TEST_INFO("dynamics " << (kind == 0 ? "mlp" : "planar") << ", row " << i);
            BOOST_CHECK_SMALL(lp(i, 0) - expected, 1e-6);
        }
    }
}

BOOST_AUTO_TEST_CASE(hutchinson_is_unbiased_around_the_exact_trace) {
    const Array x{{0.5, -0.2}, {-1.0, 0.8}};
    for (NoiseKind noise : {NoiseKind::gaussian, NoiseKind::rademacher}) {
        CnfOptions o = tight(1e-7);
        o.trace = TraceKind::hutchinson;
        o.noise = noise;
        o.seed = 99;
        auto flow = mlp_flow(21, o);
        flow->set_training(false);
        const Array exact = log_prob_values(*flow, x);  // evaluation mode: exact trace
        flow->set_training(true);
        const int draws = 300;
        Array sum = xt::zeros<real>({2, 1}), sum_sq = xt::zeros<real>({2, 1});
        bool differs = false;
        for (int k = 0; k < draws; ++k) {
            const Array lp = log_prob_values(*flow, x);
            differs = differs || std::abs(lp(0, 0) - exact(0, 0)) > 1e-6;
            sum += lp;
            sum_sq += lp * lp;
        }
        BOOST_CHECK(differs);  // the estimator is really stochastic
        for (std::size_t i = 0; i < 2; ++i) {
            const real mean = sum(i, 0) / draws;
            const real var = sum_sq(i, 0) / draws - mean * mean;
            const real standard_error = std::sqrt(var / draws);
            BOOST_TEST_INFO(noise_kind_name(noise) << " row " << i << ": mean " << mean << " exact " << exact(i, 0)
                                                   << " se " << standard_error);
            BOOST_CHECK(std::abs(mean - exact(i, 0)) < 4 * standard_error + 1e-6);
        }
    }
}

BOOST_AUTO_TEST_CASE(density_integrates_to_one) {
    Rng rng(5);
    CnfOptions o = tight(1e-6);
    auto dynamics = std::make_unique<MlpDynamics>(2, std::vector<std::size_t>{8}, Activation::tanh, rng);
    ContinuousFlow flow(std::move(dynamics), make_cnf_gaussian_base(Array{{0.0, 0.0}}), o);
    const std::size_t side = 61;
    const real lo = -6, step = 12.0 / (side - 1);
    Array grid = Array::from_shape({side * side, 2});
    for (std::size_t i = 0; i < side; ++i)
        for (std::size_t j = 0; j < side; ++j) {
            grid(i * side + j, 0) = lo + step * i;
            grid(i * side + j, 1) = lo + step * j;
        }
    const Array lp = log_prob_values(flow, grid);
    real mass = 0;
    for (std::size_t k = 0; k < lp.shape()[0]; ++k) mass += std::exp(lp(k, 0)) * step * step;
    BOOST_CHECK_SMALL(mass - 1.0, 5e-3);
}

BOOST_AUTO_TEST_CASE(sample_with_log_prob_agrees_with_log_prob) {
    for (int kind = 0; kind < 2; ++kind) {
        auto flow = kind == 0 ? mlp_flow(31, tight(1e-10)) : planar_flow(32, tight(1e-10));
        Tape tape;
        Rng rng(4);
        const SampleResult s = flow->sample_with_log_prob(tape, 5, rng);
        const Array lp = log_prob_values(*flow, s.x.value());
        for (std::size_t i = 0; i < 5; ++i) BOOST_CHECK_SMALL(lp(i, 0) - s.log_prob.value()(i, 0), 1e-7);
        // sample() draws the same points from the same seed (solving dz/dt = f alone, whose steps
        // differ from those of the augmented solve: equal to the solver's tolerance).
        Rng again(4);
        const Array x = flow->sample(tape, 5, again).value();
        for (std::size_t k = 0; k < x.size(); ++k) BOOST_CHECK_SMALL(x.data()[k] - s.x.value().data()[k], 1e-9);
        // and the latent of a sample is the base draw it came from.
        Rng third(4);
        const Array z = flow->base().sample(tape, 5, third).value();
        const Array back = flow->to_latent(x).z;
        for (std::size_t k = 0; k < z.size(); ++k) BOOST_CHECK_SMALL(back.data()[k] - z.data()[k], 1e-7);
    }
}

BOOST_AUTO_TEST_CASE(adjoint_gradients_equal_backprop) {
    const Array x{{0.5, -0.2}, {-1.0, 0.8}, {0.1, 1.4}};
    for (int variant = 0; variant < 3; ++variant) {
        // 0: MLP, exact trace; 1: MLP, Hutchinson (the same noise in both runs); 2: planar, exact.
        std::vector<Array> grads[2];
        for (int m = 0; m < 2; ++m) {
            CnfOptions o = tight(1e-10);
            o.method = m == 0 ? ode::OdeMethod::adjoint : ode::OdeMethod::backprop;
            if (variant == 1) o.trace = TraceKind::hutchinson;
            o.seed = 8;
            auto flow = variant == 2 ? planar_flow(41, o) : mlp_flow(41, o);
            flow->set_training(true);
            ParameterList params = flow->parameters();
            params.zero_grad();
            Tape tape;
            const Var loss = mul_scalar(sum(flow->log_prob(tape.constant(x))), -1.0 / 3);
            tape.backward(loss);
            for (const NamedParameter& p : params.items()) grads[m].push_back(p.parameter->grad());
            if (m == 0) BOOST_CHECK(flow->counters().backward.fevals > 0);  // the adjoint solve ran
        }
        BOOST_REQUIRE_EQUAL(grads[0].size(), grads[1].size());
        real worst = 0;
        for (std::size_t k = 0; k < grads[0].size(); ++k)
            for (std::size_t e = 0; e < grads[0][k].size(); ++e) {
                const real a = grads[0][k].data()[e], b = grads[1][k].data()[e];
                worst = std::max(worst, std::abs(a - b) / std::max({1.0, std::abs(a), std::abs(b)}));
            }
        BOOST_TEST_INFO("variant " << variant);
        BOOST_CHECK_LT(worst, 1e-6);
    }
}

BOOST_AUTO_TEST_CASE(fit_approaches_gaussian_entropy) {
    // x ~ N(m, Σ) with Σ = L Lᵀ; the entropy ½ log det(2πe Σ) is the best expected NLL.
    Rng rng(17);
    const std::size_t n = 400;
    const real l00 = 0.6, l10 = 0.5, l11 = 0.4;
    Array x = Array::from_shape({n, 2});
    for (std::size_t i = 0; i < n; ++i) {
        const real e0 = rng.normal(), e1 = rng.normal();
        x(i, 0) = 1.0 + l00 * e0;
        x(i, 1) = -0.5 + l10 * e0 + l11 * e1;
    }
    const real entropy = std::log(2 * std::numbers::pi * std::exp(1.0)) + std::log(l00 * l11);
    Rng init(3);
    CnfOptions o;  // the defaults: rtol = atol = 1e-5, adjoint, exact trace
    ContinuousFlow flow(std::make_unique<MlpDynamics>(2, std::vector<std::size_t>{16}, Activation::tanh, init),
                        make_cnf_gaussian_base(x), o);
    const real before = -xt::mean(log_prob_values(flow, x))();
    FitOptions f;
    f.epochs = 40;
    f.patience = 40;
    f.batch = 100;
    f.lr = 2e-2;
    f.val_fraction = 0;
    f.quiet = true;
    const FitReport report = fit(flow, x, f);
    BOOST_REQUIRE(!report.diverged);
    const real after = -xt::mean(log_prob_values(flow, x))();
    BOOST_TEST_MESSAGE("cnf fit: NLL " << before << " -> " << after << ", entropy " << entropy << ", "
                                       << report.seconds << " s");
    BOOST_CHECK_LT(after, before - 0.5);
    BOOST_CHECK_SMALL(after - entropy, 0.1);
}

BOOST_AUTO_TEST_CASE(class_base_scores_by_class_in_training_and_by_mixture_at_test) {
    const Labelled data = labelled_data();
    auto flow = class_flow(data, 51);
    BOOST_REQUIRE_EQUAL(flow->classes().size(), 3u);
    BOOST_CHECK(flow->classes() == (std::vector<std::int64_t>{2, 5, 7}));
    auto& gmm = dynamic_cast<GaussianMixture&>(flow->base());
    // Components at the class means, unit scales, weights = class frequencies.
    real mean0 = 0;
    for (std::size_t i = 0; i < 30; ++i) mean0 += data.x(i, 0) / 30;
    BOOST_CHECK_SMALL(gmm.means()(0, 0) - mean0, 1e-12);
    BOOST_CHECK_SMALL(gmm.weights()(0, 2) - 10.0 / 60, 1e-12);
    BOOST_CHECK_EQUAL(xt::amax(xt::abs(gmm.log_scales()))(), 0.0);

    const Array x = xt::view(data.x, xt::range(0, 60, 7), xt::all());
    const std::size_t n = x.shape()[0];
    flow->set_training(false);
    const Array mixture = log_prob_values(*flow, x);
    // log p(x) = log Σ_k w_k p(x | k), p(x | k) by log_prob_by_class with every row given class k.
    Array per_class = Array::from_shape({n, 3});
    for (std::size_t k = 0; k < 3; ++k) {
        IndexArray labels = IndexArray::from_shape({n, 1});
        labels.fill(flow->classes()[k]);
        Tape tape;
        NoGrad no_grad(tape);
        const Array lp = flow->log_prob_by_class(tape.constant(x), tape.constant(flow->class_one_hot(labels))).value();
        for (std::size_t i = 0; i < n; ++i) per_class(i, k) = lp(i, 0);
    }
    for (std::size_t i = 0; i < n; ++i) {
        real total = 0;
        for (std::size_t k = 0; k < 3; ++k) total += gmm.weights()(0, k) * std::exp(per_class(i, k));
        BOOST_CHECK_SMALL(mixture(i, 0) - std::log(total), 1e-9);
    }

    // The objective: class scoring for training, the whole mixture for validation (weighted means).
    IndexArray labels = xt::view(data.labels, xt::range(0, 60, 7), xt::all());
    Array weights = Array::from_shape({n, 1});
    real total = 0;
    for (std::size_t i = 0; i < n; ++i) total += weights(i, 0) = 0.5 + 0.1 * static_cast<real>(i);
    CnfClassNll by_class;
    Tape tape;
    NoGrad no_grad(tape);
    const Batch batch{tape, tape.constant(x), tape.constant(weights), total, Var(), &labels, 1};
    real want_train = 0, want_val = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t k = static_cast<std::size_t>(
            std::find(flow->classes().begin(), flow->classes().end(), labels(i, 0)) - flow->classes().begin());
        want_train -= weights(i, 0) * per_class(i, k) / total;
        want_val -= weights(i, 0) * mixture(i, 0) / total;
    }
    BOOST_CHECK_SMALL(by_class.loss(*flow, batch).item() - want_train, 1e-12);
    BOOST_CHECK_SMALL(by_class.validation_loss(*flow, batch).item() - want_val, 1e-12);
}

BOOST_AUTO_TEST_CASE(class_samples_come_from_their_component) {
    // The latent of a class sample is a draw from that class's unit Gaussian: mean μ_k, variance 1.
    const Labelled data = labelled_data();
    auto flow = class_flow(data, 54, tight(1e-8));
    auto& gmm = dynamic_cast<GaussianMixture&>(flow->base());
    Tape tape;
    Rng rng(9);
    const std::size_t n = 400;
    const Array x = flow->sample_class(tape, n, rng, 5).value();
    const Array z = flow->to_latent(x).z;
    for (std::size_t j = 0; j < 2; ++j) {
        real mean = 0, sq = 0;
        for (std::size_t i = 0; i < n; ++i) {
            mean += z(i, j) / n;
            sq += z(i, j) * z(i, j) / n;
        }
        BOOST_CHECK_SMALL(mean - gmm.means()(1, j), 4.0 / std::sqrt(real(n)));  // class 5 is component 1
        BOOST_CHECK_SMALL(sq - mean * mean - 1.0, 0.25);
    }
    BOOST_CHECK_THROW(flow->sample_class(tape, 3, rng, 4), ValueError);
    BOOST_CHECK_THROW(mlp_flow(1)->sample_class(tape, 3, rng, 0), ValueError);
}

BOOST_AUTO_TEST_CASE(class_base_missing_labels_are_errors) {
    const Labelled data = labelled_data();
    auto flow = class_flow(data, 52);
    flow->set_training(true);
    Tape tape;
    BOOST_CHECK_THROW(flow->log_prob(tape.constant(data.x)), ValueError);
    BOOST_CHECK_THROW(flow->log_prob_by_class(tape.constant(data.x), Var()), ValueError);
    BOOST_CHECK_THROW(flow->log_prob_by_class(tape.constant(data.x), tape.constant(xt::zeros<real>({60, 2}))),
                      ShapeError);
    IndexArray unknown = IndexArray::from_shape({1, 1});
    unknown(0, 0) = 3;
    BOOST_CHECK_THROW(flow->class_one_hot(unknown), ValueError);
    FitOptions f;
    f.epochs = 1;
    f.quiet = true;
    BOOST_CHECK_THROW(fit(*flow, data.x, f), ValueError);  // plain likelihood: no labels in training mode
    CnfClassNll by_class;
    BOOST_CHECK_THROW(fit(*flow, FitData{.x = data.x}, f, by_class), ValueError);  // the objective without labels
    IndexArray bad = data.labels;
    bad.fill(3);  // not a class of the flow
    BOOST_CHECK_THROW(fit(*flow, FitData{.x = data.x, .labels = &bad}, f, by_class), ValueError);
    auto plain = mlp_flow(1);
    BOOST_CHECK_THROW(fit(*plain, FitData{.x = data.x, .labels = &data.labels}, f, by_class), ValueError);
    BOOST_CHECK_THROW(plain->log_prob_by_class(tape.constant(data.x), tape.constant(xt::zeros<real>({60, 1}))),
                      ValueError);
    BOOST_CHECK_THROW(plain->log_prob(tape.constant(data.x), tape.constant(xt::zeros<real>({60, 1}))), ValueError);
}

BOOST_AUTO_TEST_CASE(class_base_fit_by_the_class_objective) {
    const Labelled data = labelled_data();
    auto flow = class_flow(data, 53, tight(1e-5));
    const Array one_hot = flow->class_one_hot(data.labels);
    auto class_nll = [&] {
        Tape tape;
        NoGrad no_grad(tape);
        return -xt::mean(flow->log_prob_by_class(tape.constant(data.x), tape.constant(one_hot)).value())();
    };
    const real before = class_nll();
    FitOptions f;
    f.epochs = 15;
    f.patience = 15;
    f.batch = 30;
    f.lr = 1e-2;
    f.val_fraction = 0.2;
    f.quiet = true;
    CnfClassNll by_class;
    const FitReport report = fit(*flow, FitData{.x = data.x, .labels = &data.labels}, f, by_class);
    BOOST_REQUIRE(!report.diverged);
    BOOST_CHECK(!flow->training());
    BOOST_CHECK_LT(class_nll(), before);
}

BOOST_AUTO_TEST_CASE(model_file_round_trip_is_bit_identical) {
    const Labelled data = labelled_data();
    std::vector<std::unique_ptr<ContinuousFlow>> flows;
    flows.push_back(class_flow(data, 61));
    flows.push_back(planar_flow(62, tight(1e-6)));
    {
        Rng rng(63);
        CnfOptions o;
        o.trace = TraceKind::hutchinson;
        o.noise = NoiseKind::gaussian;
        o.method = ode::OdeMethod::backprop;
        o.T = 0.8;
        flows.push_back(std::make_unique<ContinuousFlow>(
            std::make_unique<MlpDynamics>(2, std::vector<std::size_t>{8}, Activation::softplus, rng),
            make_cnf_gaussian_base(data.x), o));
    }
    for (auto& flow : flows) {
        const nlohmann::json doc = model_to_json(*flow);
        DistributionPtr loaded = model_from_json(doc, "memory");
        BOOST_CHECK_EQUAL(loaded->kind(), "cnf");
        BOOST_CHECK_EQUAL(loaded->config().dump(), flow->config().dump());
        flow->set_training(false);
        const Array a = log_prob_values(*flow, data.x), b = log_prob_values(*loaded, data.x);
        BOOST_CHECK(a == b);
    }
}

BOOST_AUTO_TEST_CASE(solver_failure_in_fit_keeps_the_best_parameters) {
    // A step limit of 3 cannot cover [0, T]: the first solve throws SolverError inside fit, which
    // stops with the initial parameters and a message naming the solver.
    CnfOptions o = tight(1e-8);
    o.max_steps = 3;
    auto flow = mlp_flow(71, o);
    const ParameterList params = flow->parameters();
    std::vector<Array> initial;
    for (const NamedParameter& p : params.items()) initial.push_back(p.parameter->value());
    Tape tape;
    BOOST_CHECK_THROW(flow->log_prob(tape.constant(Array{{0.1, 0.2}})), SolverError);
    tape.reset();
    const Array x = Rng(2).normal_array(40, 2);
    FitOptions f;
    f.epochs = 3;
    f.quiet = true;
    const FitReport report = fit(*flow, x, f);
    BOOST_CHECK(report.diverged);
    BOOST_CHECK(report.message.find("max_steps") != std::string::npos);
    BOOST_TEST_MESSAGE(report.message);
    for (std::size_t k = 0; k < initial.size(); ++k) BOOST_CHECK(params.items()[k].parameter->value() == initial[k]);
    // The flow still works once the limit is raised.
    o.max_steps = 10000;
    flow->set_options(o);
    BOOST_CHECK(std::isfinite(log_prob_values(*flow, x)(0, 0)));
}

BOOST_AUTO_TEST_CASE(non_finite_dynamics_in_fit_keep_the_best_parameters) {
    ContinuousFlow flow(std::make_unique<LogDynamics>(), std::make_unique<StandardNormal>(2));
    Tape tape;
    BOOST_CHECK_THROW(flow.log_prob(tape.constant(Array{{-1.0, 0.5}})), NonFiniteError);
    tape.reset();
    const Array x = Rng(3).normal_array(20, 2);  // negative entries: log of a negative number
    FitOptions f;
    f.epochs = 2;
    f.quiet = true;
    const FitReport report = fit(flow, x, f);
    BOOST_CHECK(report.diverged);
    BOOST_CHECK(report.message.find("non-finite") != std::string::npos);
    BOOST_TEST_MESSAGE(report.message);
    BOOST_CHECK_EQUAL(flow.parameters().items()[0].parameter->value()(0, 0), 1.0);
}

BOOST_AUTO_TEST_CASE(bad_options_and_shapes) {
    Rng rng(1);
    CnfOptions o;
    o.T = 0;
    BOOST_CHECK_THROW(ContinuousFlow(std::make_unique<MlpDynamics>(2, std::vector<std::size_t>{4}, Activation::tanh, rng),
                                     std::make_unique<StandardNormal>(2), o),
                      ValueError);
    BOOST_CHECK_THROW(ContinuousFlow(std::make_unique<MlpDynamics>(2, std::vector<std::size_t>{4}, Activation::tanh, rng),
                                     std::make_unique<StandardNormal>(3)),
                      ShapeError);
    BOOST_CHECK_THROW(MlpDynamics(2, {4}, Activation::relu, rng), ValueError);
    BOOST_CHECK_THROW(PlanarDynamics(2, 0, {4}, rng), ValueError);
    BOOST_CHECK_THROW(trace_kind_from_name("approx"), ValueError);
    auto flow = mlp_flow(2);
    Tape tape;
    BOOST_CHECK_THROW(flow->log_prob(tape.constant(xt::zeros<real>({3, 3}))), ShapeError);
    BOOST_CHECK_THROW(make_cnf_dynamics(nlohmann::json{{"kind", "cnf_spiral"}, {"dim", 2}}, rng), IoError);
}

BOOST_AUTO_TEST_SUITE_END()
