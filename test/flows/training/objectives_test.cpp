// Tests of fit with an objective and a list of parameters to train:
//   - WeightedNll through the objective interface gives the same bits as the plain maximum-likelihood
//     fit, and its batch loss is −Σ w log p / Σ w;
//   - every batch an objective sees carries its own rows' weights, context and labels (row i of x
//     tagged with i in all three), in training and in validation;
//   - begin_epoch runs once per epoch before its steps, and the objective's progress shows in the
//     progress lines;
//   - a frozen base under a trained transform: the base's values and gradients are never touched,
//     the tape records no gradient for it, the freeze is undone after fit; the trained part reaches
//     the known optimum (a Gaussian's maximum-likelihood shift and scale);
//   - bad trainable lists, labels and objectives are refused with fit's errors.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <sstream>

#include "flowtape.hpp"

using namespace flowtape;

namespace {

FitOptions quiet_options() {
    FitOptions o;
    o.quiet = true;
    return o;
}

DistributionPtr learnable_gaussian(std::size_t dim, real mean = 0) {
    return std::make_unique<DiagonalGaussian>(Array(xt::zeros<real>({std::size_t(1), dim}) + mean),
                                              xt::zeros<real>({std::size_t(1), dim}), true);
}

// Checks that each batch's weights, context and labels belong to its rows: x(i, 0) = i, and the
// weight, context and label of row i are 1 + i, −i and i mod 3 (kNoLabel for every fifth row). The
// loss is a Gaussian's weighted NLL, so training moves something.
class RowChecking : public Objective {
public:
    Var loss(Distribution& model, const Batch& b) override {
        check(b);
        ++steps;
        return negative_weighted_mean(model.log_prob(b.x), b);
    }
    Var validation_loss(Distribution& model, const Batch& b) override {
        check(b);
        validation_rows += b.x.rows();
        return negative_weighted_mean(model.log_prob(b.x), b);
    }
    void begin_epoch(std::size_t epoch, std::size_t epochs) override {
        BOOST_TEST(epoch == epochs_begun + 1);
        BOOST_TEST(epochs == 4u);
        BOOST_TEST(steps == (epoch - 1) * 3);  // three batches per epoch, none run yet this epoch
        epochs_begun = epoch;
    }
    std::string progress() const override { return "seen " + std::to_string(steps); }

    std::size_t epochs_begun = 0, steps = 0, validation_rows = 0;
    std::size_t mismatches = 0;

private:
    void check(const Batch& b) {
        BOOST_REQUIRE(b.labels);
        BOOST_REQUIRE(b.context.valid());
        real total = 0;
        for (std::size_t r = 0; r < b.x.rows(); ++r) {
            const real i = b.x.value()(r, 0);
            const auto row = static_cast<std::int64_t>(i);
            const std::int64_t label = row % 5 == 0 ? kNoLabel : row % 3;
            if (b.weights.value()(r, 0) != 1 + i || b.context.value()(r, 0) != -i || (*b.labels)(r, 0) != label)
                ++mismatches;
            total += b.weights.value()(r, 0);
        }
        BOOST_TEST(b.total_weight == total);
        BOOST_TEST(b.epoch >= 1u);
    }
};

// A Gaussian that takes (and ignores) one context column, for the context plumbing.
class ContextGaussian : public DiagonalGaussian {
public:
    ContextGaussian() : DiagonalGaussian(xt::zeros<real>({1, 2}), xt::zeros<real>({1, 2}), true) {}
    std::size_t context_dim() const override { return 1; }
    Var log_prob(Var x, Var /*context*/) override { return DiagonalGaussian::log_prob(x); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(objectives)

BOOST_AUTO_TEST_CASE(weighted_nll_is_the_default_bit_for_bit) {
    Rng rng(3);
    const Array x = rng.normal_array(300, 2) * 1.5 + 0.7;
    const Array w = rng.uniform_array(300, 1) + 0.1;
    FitOptions o = quiet_options();
    o.epochs = 20;
    o.batch = 64;
    DistributionPtr a = learnable_gaussian(2), b = learnable_gaussian(2);
    const FitReport ra = fit(*a, x, o, &w);
    WeightedNll nll;
    const FitReport rb = fit(*b, FitData{.x = x, .weights = &w}, o, nll);
    BOOST_TEST(ra.train_loss == rb.train_loss);
    BOOST_TEST(ra.val_loss == rb.val_loss);
    const ParameterList pa = a->parameters(), pb = b->parameters();
    for (std::size_t k = 0; k < pa.size(); ++k)
        BOOST_TEST(xt::all(xt::equal(pa.items()[k].parameter->value(), pb.items()[k].parameter->value())));

    // The batch loss itself: −Σ w log p / Σ w.
    Tape tape;
    const Array xs = xt::view(x, xt::range(0, 5), xt::all()), ws = xt::view(w, xt::range(0, 5), xt::all());
    const Batch batch{tape, tape.constant(xs), tape.constant(ws), xt::sum(ws)(), Var(), nullptr, 1};
    const Array lp = log_prob_rows(*a, xs);
    real want = 0;
    for (std::size_t i = 0; i < 5; ++i) want -= ws(i, 0) * lp(i, 0) / xt::sum(ws)();
    BOOST_TEST(nll.loss(*a, batch).item() == want, boost::test_tools::tolerance(1e-14));
}

BOOST_AUTO_TEST_CASE(each_batch_carries_its_own_weights_context_and_labels) {
    const std::size_t n = 100;
    Array x = Array::from_shape({n, 2}), w = Array::from_shape({n, 1}), c = Array::from_shape({n, 1});
    IndexArray y = IndexArray::from_shape({n, 1});
    for (std::size_t i = 0; i < n; ++i) {
        x(i, 0) = static_cast<real>(i);
        x(i, 1) = 0.01 * static_cast<real>(i % 7);
        w(i, 0) = 1.0 + static_cast<real>(i);
        c(i, 0) = -static_cast<real>(i);
        y(i, 0) = i % 5 == 0 ? kNoLabel : static_cast<std::int64_t>(i % 3);
    }
    ContextGaussian model;
    RowChecking objective;
    FitOptions o = quiet_options();
    o.epochs = 4;
    o.batch = 30;  // 80 training rows: batches of 30, 30 and 20
    o.patience = 10;
    std::ostringstream progress;
    o.quiet = false;
    o.progress = &progress;
    o.progress_every = 1;
    const FitReport r = fit(model, FitData{.x = x, .weights = &w, .context = &c, .labels = &y}, o, objective);
    BOOST_TEST(r.epochs_run == 4u);
    BOOST_TEST(objective.mismatches == 0u);
    BOOST_TEST(objective.epochs_begun == 4u);
    BOOST_TEST(objective.steps == 12u);
    BOOST_TEST(objective.validation_rows == 4u * 20u);
    BOOST_TEST(progress.str().find("seen 3") != std::string::npos, progress.str());
    BOOST_TEST(progress.str().find("seen 12") != std::string::npos, progress.str());
}

BOOST_AUTO_TEST_CASE(a_frozen_base_is_never_trained_nor_differentiated) {
    // Data N(3, 0.5²); the flow is a one-dimensional MAF (its MADE has nothing to condition on, so
    // it is an affine map with a learned shift and log-scale) on a FROZEN Gaussian base N(1, 1).
    // Only the transform trains.
    Rng rng(5);
    const Array x = rng.normal_array(2000, 1) * 0.5 + 3.0;
    std::vector<TransformPtr> ts;
    ts.push_back(std::make_unique<MafTransform>(MafConfig{.dim = 1, .hidden = {4}}, rng));
    Flow flow(learnable_gaussian(1, 1.0), std::move(ts));
    ParameterList trained;
    flow.transforms()[0]->collect_parameters(trained, "transforms.0");
    ParameterList base_params;
    flow.base().collect_parameters(base_params, "base");
    BOOST_REQUIRE(base_params.size() == 2u);
    std::vector<Array> base_before;
    for (const NamedParameter& p : base_params.items()) base_before.push_back(p.parameter->value());

    FitOptions o = quiet_options();
    o.epochs = 500;
    o.patience = 500;
    o.batch = 2000;
    o.lr = 0.05;
    o.schedule = "cosine";  // Adam settles on the optimum as the rate decays
    o.val_fraction = 0;
    WeightedNll nll;
    const FitReport r = fit(flow, FitData{.x = x}, o, nll, &trained);
    BOOST_REQUIRE(!r.diverged);
    for (std::size_t k = 0; k < base_params.size(); ++k) {
        const Parameter& p = *base_params.items()[k].parameter;
        BOOST_TEST(xt::all(xt::equal(p.value(), base_before[k])));
        BOOST_TEST(xt::all(xt::equal(p.grad(), 0.0)));  // never written
        BOOST_TEST(!p.frozen());                        // the freeze was undone
    }
    // The map z = (x − μ) e^{−α} onto N(1, 1) at the optimum: the NLL is the entropy of N(3, 0.5²)
    // estimated on the data, ½ log(2πe σ̂²).
    const real m = xt::mean(x)(), v = xt::mean(xt::square(x - m))();
    const real entropy = 0.5 * std::log(2 * M_PI * M_E * v);
    BOOST_TEST(r.best_val_loss == entropy, boost::test_tools::tolerance(2e-3));

    // On a tape, the frozen leaves need no gradient, and ops on them alone record no backward rule.
    Tape tape;
    base_params.items()[0].parameter->set_frozen(true);
    const Var leaf = tape.param(*base_params.items()[0].parameter);
    BOOST_TEST(!tape.needs_grad(leaf.index()));
    const Var y = exp(leaf);
    BOOST_TEST(!tape.needs_grad(y.index()));
    BOOST_TEST(tape.node(y.index()).backward == nullptr);
    base_params.items()[0].parameter->set_frozen(false);
}

BOOST_AUTO_TEST_CASE(bad_trainable_lists_labels_and_objectives_are_refused) {
    Rng rng(9);
    const Array x = rng.normal_array(50, 2);
    DistributionPtr model = learnable_gaussian(2);
    DistributionPtr other = learnable_gaussian(2);
    FitOptions o = quiet_options();
    o.epochs = 2;
    WeightedNll nll;
    const ParameterList foreign = other->parameters();
    BOOST_CHECK_THROW(fit(*model, FitData{.x = x}, o, nll, &foreign), ValueError);  // not the model's
    const ParameterList none;
    BOOST_CHECK_THROW(fit(*model, FitData{.x = x}, o, nll, &none), ValueError);  // nothing to train
    ParameterList own = model->parameters();
    own.items()[0].parameter->set_frozen(true);
    BOOST_CHECK_THROW(fit(*model, FitData{.x = x}, o, nll, &own), ValueError);  // frozen and listed
    ParameterList one;
    one.add("log_scale", *own.items()[1].parameter);
    const Array mean_before = own.items()[0].parameter->value();
    BOOST_CHECK_NO_THROW(fit(*model, FitData{.x = x}, o, nll, &one));
    BOOST_TEST(own.items()[0].parameter->frozen());  // still frozen: fit restores what it found
    BOOST_TEST(xt::all(xt::equal(own.items()[0].parameter->value(), mean_before)));
    own.items()[1].parameter->set_frozen(true);
    BOOST_CHECK_THROW(fit(*model, x, o), ValueError);  // every parameter frozen: nothing to train
    own.items()[0].parameter->set_frozen(false);
    own.items()[1].parameter->set_frozen(false);

    IndexArray short_labels = xt::zeros<std::int64_t>({49, 1});
    BOOST_CHECK_THROW(fit(*model, FitData{.x = x, .labels = &short_labels}, o, nll), ShapeError);
    IndexArray bad_labels = xt::zeros<std::int64_t>({50, 1});
    bad_labels(3, 0) = -2;
    BOOST_CHECK_THROW(fit(*model, FitData{.x = x, .labels = &bad_labels}, o, nll), ValueError);

    struct PerRow : Objective {  // forgets to reduce to a scalar
        Var loss(Distribution& m, const Batch& b) override { return m.log_prob(b.x); }
    } per_row;
    BOOST_CHECK_THROW(fit(*model, FitData{.x = x}, o, per_row), ShapeError);
}

BOOST_AUTO_TEST_SUITE_END()
