// Tests of Mixture, fixed and learned weights:
//   - log p is the weighted sum of the components written out by hand (far components included:
//     log-sum-exp, no underflow), and it integrates to one over a grid in 2-D;
//   - samples come from each component in proportion π_k, interleaved, with the component of each
//     row reported truthfully (well-separated components tell);
//   - responsibilities are π_k p_k / p row by row, and predict their argmax;
//   - gradients with respect to the logits and to a component's parameters pass gradcheck;
//   - fit of the logits alone (the components frozen) reaches the known optimum, the data's
//     component fractions;
//   - a piecewise model file of the earlier format reads as the same Mixture, bit for bit;
//   - bad arguments throw.
// (Model-file round trips of both kinds are in model_file_test.cpp's table.)
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "flowtape.hpp"

using namespace flowtape;

namespace {

DistributionPtr gaussian_at(real mx, real my, real log_scale, bool learnable = false) {
    return std::make_unique<DiagonalGaussian>(Array{{mx, my}}, Array{{log_scale, log_scale}}, learnable);
}

real gaussian_log_density(real x, real y, real mx, real my, real log_scale) {
    const real s2 = std::exp(2 * log_scale);
    return -std::log(2 * M_PI) - 2 * log_scale - 0.5 * ((x - mx) * (x - mx) + (y - my) * (y - my)) / s2;
}

// A small MAF flow on two columns, its parameters moved off their initial values.
DistributionPtr small_maf(std::uint64_t seed) {
    Rng rng(seed);
    FlowSpec spec;
    spec.dim = 2;
    spec.layers = 2;
    spec.hidden = {8, 8};
    spec.batch_norm = false;
    spec.actnorm = false;
    DistributionPtr flow = make_maf_flow(spec, rng);
    const ParameterList params = flow->parameters();
    for (const NamedParameter& p : params.items())
        for (real& v : p.parameter->value()) v += 0.2 * rng.normal();
    return flow;
}

std::unique_ptr<Mixture> three_gaussians(bool learn) {
    std::vector<DistributionPtr> c;
    c.push_back(gaussian_at(-2, 0, 0.0));
    c.push_back(gaussian_at(2, 1, -0.5));
    c.push_back(gaussian_at(0, 40, 0.3));  // far away: its term underflows exp() near the others
    return std::make_unique<Mixture>(std::move(c), std::vector<real>{3.0, 1.0, 2.0}, learn);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(mixture)

BOOST_AUTO_TEST_CASE(log_prob_is_the_weighted_sum_of_the_components) {
    for (bool learn : {false, true}) {
        auto m = three_gaussians(learn);
        const std::vector<real> pi = m->weights();
        BOOST_TEST(pi[0] == 0.5, boost::test_tools::tolerance(1e-15));
        BOOST_TEST(pi[1] == 1.0 / 6, boost::test_tools::tolerance(1e-15));
        BOOST_TEST(m->learns_weights() == learn);
        BOOST_TEST(m->parameters().size() == (learn ? 1u : 0u));
        const Array x{{-2.0, 0.1}, {1.5, 0.5}, {0.0, 40.0}, {0.0, 20.0}, {100.0, -100.0}};
        const Array lp = log_prob_rows(*m, x);
        for (std::size_t i = 0; i < x.shape()[0]; ++i) {
            const real a = std::log(0.5) + gaussian_log_density(x(i, 0), x(i, 1), -2, 0, 0.0);
            const real b = std::log(1.0 / 6) + gaussian_log_density(x(i, 0), x(i, 1), 2, 1, -0.5);
            const real c = std::log(1.0 / 3) + gaussian_log_density(x(i, 0), x(i, 1), 0, 40, 0.3);
            const real top = std::max({a, b, c});
            const real expected = top + std::log(std::exp(a - top) + std::exp(b - top) + std::exp(c - top));
            BOOST_TEST(lp(i, 0) == expected, boost::test_tools::tolerance(1e-12));
            BOOST_TEST(std::isfinite(lp(i, 0)));
        }
    }
}

BOOST_AUTO_TEST_CASE(integrates_to_one_on_a_grid) {
    // Two flows and a Gaussian; the midpoint rule on [−10, 10]² with spacing 0.025 (640 000 cells).
    // The densities are smooth and their mass outside the square is below 1e-9, so the sum is 1 to
    // the rule's O(h²) error, about 1e-4 here.
    for (bool learn : {false, true}) {
        std::vector<DistributionPtr> c;
        c.push_back(small_maf(1));
        c.push_back(small_maf(2));
        c.push_back(gaussian_at(1.5, -1.0, -0.7));
        Mixture m(std::move(c), {0.2, 0.5, 0.3}, learn);
        const std::size_t g = 800;
        const real lo = -10, h = 20.0 / g;
        Array grid = Array::from_shape({g * g, 2});
        for (std::size_t i = 0; i < g; ++i)
            for (std::size_t j = 0; j < g; ++j) {
                grid(i * g + j, 0) = lo + (j + 0.5) * h;
                grid(i * g + j, 1) = lo + (i + 0.5) * h;
            }
        const Array lp = log_prob_rows(m, grid);
        const real total = xt::sum(xt::exp(lp))() * h * h;
        BOOST_TEST(total == 1.0, boost::test_tools::tolerance(1e-3));
    }
}

BOOST_AUTO_TEST_CASE(samples_follow_the_weights_and_report_their_component) {
    for (bool learn : {false, true}) {
        std::vector<DistributionPtr> c;
        c.push_back(gaussian_at(-10, 0, 0.0));
        c.push_back(gaussian_at(10, 0, 0.0));
        c.push_back(gaussian_at(0, 30, 0.0));
        Mixture m(std::move(c), {0.3, 0.5, 0.2}, learn);
        Rng rng(3);
        Tape t;
        NoGrad off(t);
        const std::size_t n = 20000;
        const MixtureSample s = m.sample_components(t, n, rng);
        const Array& x = s.x.value();
        BOOST_TEST(x.shape()[0] == n);
        std::vector<std::size_t> count(3, 0);
        std::size_t first_in_first_half = 0, wrong = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const std::size_t k = s.component[i];
            ++count[k];
            if (k == 0 && i < n / 2) ++first_in_first_half;
            const std::size_t truth = x(i, 1) > 15 ? 2 : x(i, 0) < 0 ? 0 : 1;
            if (truth != k) ++wrong;
        }
        BOOST_TEST(wrong == 0u);
        const real pi[3] = {0.3, 0.5, 0.2};
        for (std::size_t k = 0; k < 3; ++k)  // binomial(n, π_k): 4 standard deviations
            BOOST_TEST(std::abs(static_cast<real>(count[k]) - pi[k] * n) < 4 * std::sqrt(n * pi[k] * (1 - pi[k])));
        // Rows are interleaved, not stacked component by component.
        BOOST_TEST(std::abs(static_cast<real>(first_in_first_half) - 0.5 * count[0]) < 4 * std::sqrt(count[0] * 0.25));
        // sample() is the same draw.
        Rng again(3);
        BOOST_TEST(xt::all(xt::equal(m.sample(t, n, again).value(), x)));
    }
}

BOOST_AUTO_TEST_CASE(responsibilities_are_the_posterior_and_predict_its_argmax) {
    auto m = three_gaussians(false);
    const Array x{{-2.0, 0.1}, {1.5, 0.5}, {0.0, 40.0}, {0.2, 0.4}, {0.0, 20.0}};
    const Array r = m->responsibilities(x);
    const std::vector<std::size_t> labels = m->predict(x);
    BOOST_REQUIRE(r.shape()[0] == 5u && r.shape()[1] == 3u);
    const Array lp = log_prob_rows(*m, x);
    const real mu[3][3] = {{-2, 0, 0.0}, {2, 1, -0.5}, {0, 40, 0.3}};
    const real pi[3] = {0.5, 1.0 / 6, 1.0 / 3};
    for (std::size_t i = 0; i < 5; ++i) {
        std::size_t best = 0;
        for (std::size_t k = 0; k < 3; ++k) {
            const real joint = std::log(pi[k]) + gaussian_log_density(x(i, 0), x(i, 1), mu[k][0], mu[k][1], mu[k][2]);
            BOOST_TEST(r(i, k) == std::exp(joint - lp(i, 0)), boost::test_tools::tolerance(1e-11));
            if (r(i, k) > r(i, best)) best = k;
        }
        BOOST_TEST(xt::sum(xt::view(r, i, xt::all()))() == 1.0, boost::test_tools::tolerance(1e-14));
        BOOST_TEST(labels[i] == best);
    }
    BOOST_TEST(labels[0] == 0u);
    BOOST_TEST(labels[2] == 2u);
    BOOST_CHECK_THROW(m->responsibilities(Array::from_shape({2, 3})), ShapeError);
}

BOOST_AUTO_TEST_CASE(gradients_of_the_logits_and_a_component_pass_gradcheck) {
    std::vector<DistributionPtr> c;
    c.push_back(small_maf(4));
    c.push_back(gaussian_at(0.5, -0.5, -0.2, true));
    c.push_back(gaussian_at(-1.0, 1.0, 0.1, true));
    Mixture m(std::move(c), {0.5, 0.3, 0.2}, true);
    Rng rng(6);
    const Array x = rng.normal_array(7, 2);
    const ParameterList params = m.parameters();
    std::vector<Parameter*> logits{&params.find("logits")}, component;
    for (const NamedParameter& p : params.items())
        if (p.name.rfind("components.0.", 0) == 0 || p.name.rfind("components.1.", 0) == 0)
            component.push_back(p.parameter);
    BOOST_REQUIRE(component.size() > 2u);
    const auto f = [&](Tape& t) { return m.log_prob(t.constant(x)); };
    const GradcheckResult wrt_logits = gradcheck_parameters(f, logits);
    BOOST_TEST(wrt_logits.ok, wrt_logits.worst);
    const GradcheckResult wrt_component = gradcheck_parameters(f, component);
    BOOST_TEST(wrt_component.ok, wrt_component.worst);
    // And through the joint matrix, whose columns each depend on one component.
    const GradcheckResult joint = gradcheck_parameters([&](Tape& t) { return m.joint_log_prob(t.constant(x)); }, logits);
    BOOST_TEST(joint.ok, joint.worst);
}

BOOST_AUTO_TEST_CASE(fitting_the_logits_reaches_the_data_fractions) {
    // Well-separated fixed components: the maximum-likelihood weights are the fractions of the rows
    // each component generated (to within the overlap, here e^-50).
    std::vector<DistributionPtr> c;
    c.push_back(gaussian_at(-5, 0, 0.0, true));
    c.push_back(gaussian_at(5, 0, 0.0, true));
    Mixture m(std::move(c), {0.5, 0.5}, true);
    Rng rng(8);
    const std::size_t n = 1000;
    Array x = rng.normal_array(n, 2);
    std::size_t right = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const bool second = rng.uniform() < 0.8;
        right += second;
        x(i, 0) += second ? 5 : -5;
    }
    ParameterList logits;
    logits.add("logits", m.parameters().find("logits"));
    FitOptions o;
    o.quiet = true;
    o.epochs = 400;
    o.patience = 400;
    o.batch = n;
    o.lr = 0.05;
    o.schedule = "cosine";  // the rate decays to 0: Adam settles on the optimum instead of circling it
    o.val_fraction = 0;
    WeightedNll nll;
    const Array mean_before = m.parameters().find("components.0.mean").value();
    const FitReport r = fit(m, FitData{.x = x}, o, nll, &logits);
    BOOST_REQUIRE(!r.diverged);
    BOOST_TEST(m.weights()[1] == static_cast<real>(right) / n, boost::test_tools::tolerance(1e-4));
    BOOST_TEST(xt::all(xt::equal(m.parameters().find("components.0.mean").value(), mean_before)));
}

BOOST_AUTO_TEST_CASE(components_on_threads_give_the_same_bits) {
    // Three MAF flows with learned weights, trained for a few epochs on one thread and on three:
    // every loss, parameter, log-density and responsibility is the same bits.
    const auto make = [] {
        std::vector<DistributionPtr> c;
        for (std::uint64_t k = 0; k < 3; ++k) c.push_back(small_maf(20 + k));
        return std::make_unique<Mixture>(std::move(c), std::vector<real>{1, 1, 1}, true);
    };
    Rng rng(21);
    const Array x = rng.normal_array(300, 2);
    FitOptions o;
    o.quiet = true;
    o.epochs = 4;
    o.batch = 64;
    o.lr = 1e-2;
    auto one = make(), three = make();
    three->set_threads(3);
    const FitReport r1 = fit(*one, x, o), r3 = fit(*three, x, o);
    BOOST_TEST(r1.train_loss == r3.train_loss);
    BOOST_TEST(r1.val_loss == r3.val_loss);
    const ParameterList p1 = one->parameters(), p3 = three->parameters();
    BOOST_REQUIRE(p1.size() == p3.size());
    for (std::size_t k = 0; k < p1.size(); ++k)
        BOOST_TEST(xt::all(xt::equal(p1.items()[k].parameter->value(), p3.items()[k].parameter->value())),
                   p1.items()[k].name);
    BOOST_TEST(xt::all(xt::equal(log_prob_rows(*one, x), log_prob_rows(*three, x))));
    BOOST_TEST(xt::all(xt::equal(one->responsibilities(x), three->responsibilities(x))));
    BOOST_TEST(r3.warm_allocations == 0u);
    // The side tapes let go of the parameters: drawing on another tape works.
    Rng r(5);
    Tape t;
    BOOST_CHECK_NO_THROW(three->sample(t, 10, r));
}

BOOST_AUTO_TEST_CASE(components_on_threads_pass_gradcheck) {
    std::vector<DistributionPtr> c;
    c.push_back(small_maf(31));
    c.push_back(gaussian_at(0.5, -0.5, -0.2, true));
    Mixture m(std::move(c), {0.6, 0.4}, true);
    m.set_threads(2);
    Rng rng(32);
    const Array x = rng.normal_array(6, 2);
    const ParameterList params = m.parameters();
    const GradcheckResult wrt_params =
        gradcheck_parameters([&](Tape& t) { return m.log_prob(t.constant(x)); }, params.pointers());
    BOOST_TEST(wrt_params.ok, wrt_params.worst);
    // And with respect to the rows themselves (the side tapes take them as variables then).
    const GradcheckResult wrt_x = gradcheck([&](Tape&, const std::vector<Var>& in) { return m.log_prob(in[0]); }, {x});
    BOOST_TEST(wrt_x.ok, wrt_x.worst);
    BOOST_CHECK_THROW(m.set_threads(0), ValueError);
}

BOOST_AUTO_TEST_CASE(an_earlier_piecewise_file_reads_as_the_same_mixture) {
    std::vector<DistributionPtr> c;
    c.push_back(small_maf(11));
    c.push_back(gaussian_at(1, 2, -0.3));
    Mixture m(std::move(c), {0.25, 0.75});
    nlohmann::json doc = model_to_json(m);
    // The format written before the Mixture existed: kind "piecewise", "pieces", names "pieces.k.".
    nlohmann::json legacy = doc;
    legacy["model"] = {{"kind", "piecewise"}, {"pieces", doc["model"]["components"]}, {"weights", doc["model"]["weights"]}};
    for (const char* section : {"parameters", "buffers"}) {
        nlohmann::json renamed = nlohmann::json::object();
        for (const auto& item : doc[section].items()) renamed["pieces." + item.key().substr(11)] = item.value();
        legacy[section] = renamed;
    }
    BOOST_REQUIRE(legacy["parameters"].size() > 0u);
    BOOST_TEST(legacy["parameters"].begin().key().rfind("pieces.", 0) == 0u);
    DistributionPtr back = model_from_json(legacy, "legacy.json");
    BOOST_TEST(back->kind() == "mixture");
    BOOST_TEST(back->config() == m.config());
    Rng rng(12);
    const Array x = rng.normal_array(50, 2);
    BOOST_TEST(xt::all(xt::equal(log_prob_rows(*back, x), log_prob_rows(m, x))));
}

BOOST_AUTO_TEST_CASE(bad_arguments_throw) {
    std::vector<DistributionPtr> none;
    BOOST_CHECK_THROW(Mixture(std::move(none), {}), ValueError);
    std::vector<DistributionPtr> one;
    one.push_back(gaussian_at(0, 0, 0));
    BOOST_CHECK_THROW(Mixture(std::move(one), {0.0}), ValueError);
    std::vector<DistributionPtr> two;
    two.push_back(gaussian_at(0, 0, 0));
    two.push_back(gaussian_at(0, 0, 0));
    BOOST_CHECK_THROW(Mixture(std::move(two), {1.0}), ValueError);
    std::vector<DistributionPtr> dims;
    dims.push_back(gaussian_at(0, 0, 0));
    dims.push_back(std::make_unique<StandardNormal>(3));
    BOOST_CHECK_THROW(Mixture(std::move(dims), {1.0, 1.0}), ValueError);
    std::vector<DistributionPtr> nan;
    nan.push_back(gaussian_at(0, 0, 0));
    BOOST_CHECK_THROW(Mixture(std::move(nan), {NAN}), ValueError);
    auto m = three_gaussians(false);
    Tape t;
    Rng rng(1);
    BOOST_CHECK_THROW(m->sample(t, 0, rng), ValueError);
    BOOST_CHECK_THROW(m->sample(t, 3, rng, t.constant(Array::from_shape({2, 1}))), ShapeError);
}

BOOST_AUTO_TEST_SUITE_END()
