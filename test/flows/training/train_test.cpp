// Tests of fit: a learnable Gaussian reaches the maximum-likelihood optimum (the data's mean and
// standard deviation, and an NLL equal to the fitted Gaussian's entropy); early stopping stops and
// restores the best epoch's parameters; divergence is caught and the best parameters kept; weights
// act as row multiplicities; the seed makes training bit-identical; bad input throws.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <algorithm>
#include <limits>
#include <numbers>
#include <sstream>

#include "flows/builders.hpp"
#include "flowtape.hpp"

using namespace flowtape;

namespace {

DistributionPtr learnable_gaussian(std::size_t dim) {
    return std::make_unique<DiagonalGaussian>(xt::zeros<real>({std::size_t(1), dim}),
                                              xt::zeros<real>({std::size_t(1), dim}), true);
}

// Data N(mean, diag scale²), n rows.
Array gaussian_data(std::size_t n, const Array& mean, const Array& scale, std::uint64_t seed) {
    Rng rng(seed);
    Array x = rng.normal_array(n, mean.shape()[1]);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t d = 0; d < mean.shape()[1]; ++d) x(i, d) = mean(0, d) + scale(0, d) * x(i, d);
    return x;
}

std::vector<Array> values_of(Distribution& model) {
    std::vector<Array> out;
    const ParameterList params = model.parameters();
    for (const NamedParameter& p : params.items()) out.push_back(p.parameter->value());
    return out;
}

FitOptions quiet_options() {
    FitOptions o;
    o.quiet = true;
    return o;
}

// A K-component mixture that can overfit a handful of points by shrinking onto them.
DistributionPtr overfitting_mixture(std::uint64_t seed) {
    Rng rng(seed);
    return std::make_unique<GaussianMixture>(rng.normal_array(6, 2), xt::zeros<real>({6, 2}),
                                             xt::zeros<real>({1, 6}));
}

// Half the 30 rows for validation, one batch, a high rate: the mixture above overfits in a few
// hundred epochs, and patience 25 stops it.
FitOptions overfitting_options() {
    FitOptions o = quiet_options();
    o.val_fraction = 0.5;
    o.batch = 15;
    o.epochs = 3000;
    o.lr = 0.05;
    o.patience = 25;
    o.seed = 3;
    return o;
}

std::string message_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no exception)";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fit_training)

BOOST_AUTO_TEST_CASE(gaussian_reaches_the_maximum_likelihood_optimum) {
    // The MLE of a diagonal Gaussian is the data's mean and (biased) standard deviation, and its
    // average NLL there is the fitted Gaussian's entropy Σ_d ½ log(2πe σ̂_d²).
    const Array x = gaussian_data(1000, Array{{1.0, -2.0}}, Array{{0.5, 2.0}}, 11);
    DistributionPtr model = learnable_gaussian(2);
    FitOptions o = quiet_options();
    o.val_fraction = 0;  // the optimum of the whole data set
    o.batch = 1000;      // full batch: plain Adam on the exact loss
    o.epochs = 1500;
    o.lr = 0.05;
    o.schedule = "cosine";
    o.patience = 1500;
    const FitReport r = fit(*model, x, o);
    BOOST_TEST(!r.diverged);
    BOOST_TEST(!r.stopped_early);
    BOOST_TEST(r.epochs_run == 1500u);
    ParameterList params = model->parameters();
    const Array& mu = params.find("mean").value();
    const Array& log_sigma = params.find("log_scale").value();
    real entropy = 0;
    for (std::size_t d = 0; d < 2; ++d) {
        const auto column = xt::view(x, xt::all(), d);
        const real mean = xt::mean(column)();
        const real sd = std::sqrt(xt::mean(xt::square(column - mean))());
        BOOST_TEST(std::abs(mu(0, d) - mean) < 1e-6, "mean " << d << ": " << mu(0, d) << " vs " << mean);
        BOOST_TEST(std::abs(std::exp(log_sigma(0, d)) - sd) < 1e-6 * sd, "sd " << d);
        entropy += 0.5 * std::log(2 * std::numbers::pi * std::numbers::e * sd * sd);
    }
    const Estimate ll = average_log_likelihood(*model, x);
    BOOST_TEST(std::abs(-ll.mean - entropy) < 1e-10);
    BOOST_TEST(std::abs(r.best_val_loss - entropy) < 1e-9);  // the monitored (training) loss
}

BOOST_AUTO_TEST_CASE(weights_act_as_row_multiplicities) {
    // Weights w_i ∈ {1, 2, 3} and the data with row i repeated w_i times define the same loss, so
    // both fits reach the same optimum: the weighted mean and standard deviation.
    const Array x = gaussian_data(120, Array{{0.5}}, Array{{1.5}}, 12);
    Array w = xt::empty<real>({std::size_t(120), std::size_t(1)});
    std::vector<real> repeated;
    for (std::size_t i = 0; i < 120; ++i) {
        w(i, 0) = static_cast<real>(1 + i % 3);
        for (std::size_t k = 0; k <= i % 3; ++k) repeated.push_back(x(i, 0));
    }
    Array x_repeated = xt::empty<real>({repeated.size(), std::size_t(1)});
    for (std::size_t i = 0; i < repeated.size(); ++i) x_repeated(i, 0) = repeated[i];

    FitOptions o = quiet_options();
    o.val_fraction = 0;
    o.batch = 1000;
    o.epochs = 1500;
    o.lr = 0.05;
    o.schedule = "cosine";
    o.patience = 1500;
    DistributionPtr weighted = learnable_gaussian(1), duplicated = learnable_gaussian(1);
    fit(*weighted, x, o, &w);
    fit(*duplicated, x_repeated, o);
    real wsum = 0, mean = 0, var = 0;
    for (std::size_t i = 0; i < 120; ++i) wsum += w(i, 0), mean += w(i, 0) * x(i, 0);
    mean /= wsum;
    for (std::size_t i = 0; i < 120; ++i) var += w(i, 0) * (x(i, 0) - mean) * (x(i, 0) - mean);
    const real sd = std::sqrt(var / wsum);
    const std::vector<Array> a = values_of(*weighted), b = values_of(*duplicated);
    BOOST_TEST(std::abs(a[0](0, 0) - mean) < 1e-6);
    BOOST_TEST(std::abs(b[0](0, 0) - mean) < 1e-6);
    BOOST_TEST(std::abs(std::exp(a[1](0, 0)) - sd) < 1e-6);
    BOOST_TEST(std::abs(std::exp(b[1](0, 0)) - sd) < 1e-6);
    // And unweighted, the optimum is elsewhere (the weights matter).
    DistributionPtr plain = learnable_gaussian(1);
    fit(*plain, x, o);
    BOOST_TEST(std::abs(values_of(*plain)[0](0, 0) - mean) > 1e-3);
}

BOOST_AUTO_TEST_CASE(early_stopping_stops_and_restores_the_best_epoch) {
    // 15 training points, 15 validation points, a 6-component mixture: it shrinks its components
    // onto the training points, so the validation loss first falls, then rises.
    const Array x = gaussian_data(30, Array{{0.0, 0.0}}, Array{{1.0, 1.0}}, 13);
    const FitOptions o = overfitting_options();
    DistributionPtr model = overfitting_mixture(14);
    const FitReport r = fit(*model, x, o);
    BOOST_TEST_REQUIRE(r.stopped_early);
    BOOST_TEST(!r.diverged);
    BOOST_TEST(r.best_epoch >= 1u);
    BOOST_TEST(r.epochs_run == r.best_epoch + 25);
    BOOST_TEST_REQUIRE(r.val_loss.size() == r.epochs_run);
    BOOST_TEST(r.val_loss[r.best_epoch - 1] == r.best_val_loss);
    for (real v : r.val_loss) BOOST_TEST(v >= r.best_val_loss);
    BOOST_TEST(r.val_loss.back() > r.best_val_loss);
    BOOST_TEST(r.train_loss.back() < r.train_loss[r.best_epoch - 1]);  // training kept improving
    BOOST_TEST(r.message.find("stopped early at epoch " + std::to_string(r.epochs_run)) != std::string::npos);
    // The restored parameters are those after best_epoch epochs: a run of exactly that many epochs
    // from the same start and seed is bit-identical to them.
    DistributionPtr again = overfitting_mixture(14);
    FitOptions until_best = o;
    until_best.epochs = r.best_epoch;
    const FitReport r2 = fit(*again, x, until_best);
    BOOST_TEST(r2.best_epoch == r.best_epoch);
    const std::vector<Array> a = values_of(*model), b = values_of(*again);
    for (std::size_t k = 0; k < a.size(); ++k) BOOST_TEST((a[k] == b[k]));
}

// Learning-rate drops on a plateau: up to the first plateau the run is the plain early-stopping
// run, bit for bit; then it restores the best parameters and goes on at a tenth of the rate, so its
// best validation loss can only be lower, and it stops at the plateau after the last drop.
BOOST_AUTO_TEST_CASE(lr_drops_continue_from_the_best_epoch_at_a_lower_rate) {
    const Array x = gaussian_data(30, Array{{0.0, 0.0}}, Array{{1.0, 1.0}}, 13);
    const FitOptions o = overfitting_options();
    DistributionPtr plain = overfitting_mixture(14);
    const FitReport r0 = fit(*plain, x, o);
    BOOST_TEST_REQUIRE(r0.stopped_early);
    BOOST_TEST(r0.lr_drops == 0u);

    FitOptions with_drops = o;
    with_drops.lr_drops = 2;
    with_drops.lr_drop_factor = 0.1;
    std::ostringstream progress;
    with_drops.quiet = false;
    with_drops.progress = &progress;
    with_drops.progress_every = 100000;
    DistributionPtr model = overfitting_mixture(14);
    const FitReport r = fit(*model, x, with_drops);
    BOOST_TEST_REQUIRE(r.stopped_early);
    BOOST_TEST(r.lr_drops == 2u);
    BOOST_TEST(r.epochs_run > r0.epochs_run);
    for (std::size_t e = 0; e < r0.epochs_run; ++e) BOOST_TEST(r.val_loss[e] == r0.val_loss[e]);
    BOOST_TEST(r.best_val_loss <= r0.best_val_loss);
    BOOST_TEST(r.val_loss[r.best_epoch - 1] == r.best_val_loss);
    // The epoch after the first drop starts from the best parameters of the first segment, at the
    // lower rate: its validation loss is near the best one, not near the last (overfitted) one.
    const real after_drop = r.val_loss[r0.epochs_run];
    BOOST_TEST(std::abs(after_drop - r0.best_val_loss) < std::abs(r0.val_loss.back() - r0.best_val_loss));
    BOOST_TEST(progress.str().find("learning rate \u00d7 0.1 (drop 1 of 2)") != std::string::npos, progress.str());
    BOOST_TEST(progress.str().find("(drop 2 of 2)") != std::string::npos);

    FitOptions bad = o;
    for (real f : {0.0, 1.0, -0.5}) {
        bad.lr_drop_factor = f;
        BOOST_TEST(message_of([&] { fit(*plain, x, bad); }).find("lr_drop_factor must be in (0, 1)") != std::string::npos);
    }
}

// restore_best = false keeps the parameters of the last epoch run: bit for bit those of a run of
// exactly that many epochs that never stops early, and not those of the best epoch.
BOOST_AUTO_TEST_CASE(keeping_the_last_epoch_instead_of_the_best) {
    const Array x = gaussian_data(30, Array{{0.0, 0.0}}, Array{{1.0, 1.0}}, 13);
    FitOptions o = overfitting_options();
    o.restore_best = false;
    DistributionPtr last = overfitting_mixture(14);
    const FitReport r = fit(*last, x, o);
    BOOST_TEST_REQUIRE(r.stopped_early);
    BOOST_TEST(r.epochs_run == r.best_epoch + 25);
    BOOST_TEST(r.message.find("kept the parameters of the last epoch, " + std::to_string(r.epochs_run)) !=
                   std::string::npos,
               r.message);

    FitOptions no_stop = o;
    no_stop.epochs = r.epochs_run;
    no_stop.patience = r.epochs_run + 1;
    DistributionPtr same = overfitting_mixture(14);
    fit(*same, x, no_stop);
    DistributionPtr best = overfitting_mixture(14);
    fit(*best, x, overfitting_options());
    const std::vector<Array> a = values_of(*last), b = values_of(*same), c = values_of(*best);
    bool differs_from_best = false;
    for (std::size_t k = 0; k < a.size(); ++k) {
        BOOST_TEST((a[k] == b[k]));
        differs_from_best = differs_from_best || !(a[k] == c[k]);
    }
    BOOST_TEST(differs_from_best);
}

// min_improvement: an epoch is a new best only if it beats the best by that relative margin. With
// a learning rate that decays towards zero the loss keeps creeping down; the margin stops the run
// where the creeping no longer counts, and the best epoch follows the rule, read off the history.
BOOST_AUTO_TEST_CASE(a_minimum_improvement_ends_a_creeping_run) {
    const Array x = gaussian_data(200, Array{{1.0, -2.0}}, Array{{2.0, 0.5}}, 21);
    FitOptions o = quiet_options();
    o.batch = 200;
    o.epochs = 3000;
    o.lr = 0.05;
    o.schedule = "exponential";
    o.gamma = 0.97;
    o.patience = 50;
    DistributionPtr creeping = learnable_gaussian(2);
    const FitReport r0 = fit(*creeping, x, o);
    o.min_improvement = 1e-6;
    DistributionPtr margin = learnable_gaussian(2);
    const FitReport r = fit(*margin, x, o);
    BOOST_TEST_REQUIRE(r.stopped_early);
    BOOST_TEST(r.epochs_run < r0.epochs_run);
    // Replay the rule on the validation losses.
    real best = std::numeric_limits<real>::infinity();
    std::size_t best_epoch = 0;
    for (std::size_t e = 0; e < r.val_loss.size(); ++e)
        if (std::isinf(best) || r.val_loss[e] < best - 1e-6 * std::abs(best)) {
            best = r.val_loss[e];
            best_epoch = e + 1;
        }
    BOOST_TEST(r.best_epoch == best_epoch);
    BOOST_TEST(r.best_val_loss == best);
    BOOST_TEST(r.epochs_run == r.best_epoch + 50);
    // Some later epoch was lower, by less than the margin: without it, that epoch would have counted.
    BOOST_TEST(*std::min_element(r.val_loss.begin(), r.val_loss.end()) < r.best_val_loss);

    for (real m : {-1e-3, 1.0, static_cast<real>(NAN)}) {
        FitOptions bad = o;
        bad.min_improvement = m;
        BOOST_TEST(message_of([&] { fit(*margin, x, bad); }).find("min_improvement must be in [0, 1)") !=
                   std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(default_patience_is_two_percent_of_the_epochs) {
    const Array x = gaussian_data(30, Array{{0.0, 0.0}}, Array{{1.0, 1.0}}, 13);
    FitOptions o = quiet_options();
    o.val_fraction = 0.5;
    o.batch = 15;
    o.epochs = 2000;  // patience 40
    o.lr = 0.05;
    o.seed = 3;
    DistributionPtr model = overfitting_mixture(14);
    const FitReport r = fit(*model, x, o);
    BOOST_TEST_REQUIRE(r.stopped_early);
    BOOST_TEST(r.epochs_run == r.best_epoch + 40);
}

BOOST_AUTO_TEST_CASE(divergence_is_caught_and_the_best_parameters_kept) {
    // The learning rate grows 10⁴-fold per epoch (exponential schedule): fine at first, then the
    // parameters blow up and the loss becomes non-finite.
    const Array x = gaussian_data(200, Array{{0.3, -0.1}}, Array{{0.05, 0.05}}, 15);
    FitOptions o = quiet_options();
    o.batch = 40;
    o.epochs = 50;
    o.lr = 1e-4;
    o.schedule = "exponential";
    o.gamma = 1e4;
    o.patience = 50;
    DistributionPtr model = learnable_gaussian(2);
    const FitReport r = fit(*model, x, o);
    BOOST_TEST_REQUIRE(r.diverged);
    BOOST_TEST(!r.stopped_early);
    BOOST_TEST(r.best_epoch >= 1u);
    BOOST_TEST(r.epochs_run < 50u);
    BOOST_TEST(r.message.find("epoch " + std::to_string(r.epochs_run + 1) + ": ") == 0u, r.message);
    BOOST_TEST(r.message.find("became") != std::string::npos, r.message);
    BOOST_TEST(r.message.find("kept the parameters of epoch " + std::to_string(r.best_epoch)) != std::string::npos,
               r.message);
    for (const Array& a : values_of(*model))
        for (real v : a) BOOST_TEST(std::isfinite(v));
    // Those are the parameters after best_epoch epochs.
    DistributionPtr again = learnable_gaussian(2);
    FitOptions until_best = o;
    until_best.epochs = r.best_epoch;
    fit(*again, x, until_best);
    const std::vector<Array> a = values_of(*model), b = values_of(*again);
    for (std::size_t k = 0; k < a.size(); ++k) BOOST_TEST((a[k] == b[k]));
}

BOOST_AUTO_TEST_CASE(divergence_in_the_first_epoch_keeps_the_initial_parameters) {
    const Array x = gaussian_data(200, Array{{0.3, -0.1}}, Array{{0.05, 0.05}}, 15);
    FitOptions o = quiet_options();
    o.batch = 40;
    o.lr = 1e8;
    DistributionPtr model = learnable_gaussian(2);
    const std::vector<Array> before = values_of(*model);
    const FitReport r = fit(*model, x, o);
    BOOST_TEST_REQUIRE(r.diverged);
    BOOST_TEST(r.best_epoch == 0u);
    BOOST_TEST(r.message.find("epoch 1: ") == 0u, r.message);
    BOOST_TEST(r.message.find("kept the initial parameters") != std::string::npos, r.message);
    const std::vector<Array> after = values_of(*model);
    for (std::size_t k = 0; k < before.size(); ++k) BOOST_TEST((before[k] == after[k]));
}

BOOST_AUTO_TEST_CASE(the_seed_makes_training_reproducible) {
    Rng data_rng(16);
    const Array x = data_rng.normal_array(300, 2);
    FlowSpec spec;
    spec.dim = 2;
    spec.layers = 2;
    spec.hidden = {16, 16};
    FitOptions o = quiet_options();
    o.batch = 64;
    o.epochs = 4;
    o.lr = 1e-2;
    auto run = [&](std::uint64_t seed, std::vector<Array>& params) {
        Rng init(17);  // the same starting parameters every time
        DistributionPtr flow = make_maf_flow(spec, init);
        FitOptions os = o;
        os.seed = seed;
        const FitReport r = fit(*flow, x, os);
        params = values_of(*flow);
        return r;
    };
    std::vector<Array> p1, p2, p3;
    const FitReport r1 = run(5, p1), r2 = run(5, p2), r3 = run(6, p3);
    BOOST_TEST(r1.train_loss == r2.train_loss);
    BOOST_TEST(r1.val_loss == r2.val_loss);
    BOOST_TEST_REQUIRE(p1.size() == p2.size());
    for (std::size_t k = 0; k < p1.size(); ++k) BOOST_TEST((p1[k] == p2[k]));
    BOOST_TEST(r1.warm_allocations == 0u);  // 240 training rows: batches of 64 and a tail of 48
    BOOST_TEST(r1.train_loss != r3.train_loss);
    bool some_differ = false;
    for (std::size_t k = 0; k < p1.size(); ++k) some_differ = some_differ || !(p1[k] == p3[k]);
    BOOST_TEST(some_differ);
}

BOOST_AUTO_TEST_CASE(maf_fit_reaches_the_entropy_of_a_gaussian) {
    // x = A ε with ε ~ N(0, I): a correlated Gaussian with entropy H = log(2πe) + log|det A|. An
    // affine autoregressive flow can represent it exactly, so on held-out data the fit's NLL (the
    // cross-entropy H + KL(p‖q)) must approach H. Measured pairwise, as the mean of
    // log p(x) − log q(x), the Monte Carlo error is small because the two densities nearly agree.
    const Array a{{1.0, 0.0}, {0.8, 0.5}};
    const real det = a(0, 0) * a(1, 1) - a(0, 1) * a(1, 0);
    auto draw = [&](std::size_t n, std::uint64_t seed) {
        Rng rng(seed);
        const Array e = rng.normal_array(n, 2);
        Array x = xt::zeros<real>({n, std::size_t(2)});
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t r = 0; r < 2; ++r) x(i, r) = a(r, 0) * e(i, 0) + a(r, 1) * e(i, 1);
        return x;
    };
    auto true_log_density = [&](const Array& x, std::size_t i) {  // log N(A⁻¹x; 0, I) − log|det A|
        const real e0 = x(i, 0) / a(0, 0);
        const real e1 = (x(i, 1) - a(1, 0) * e0) / a(1, 1);
        return -0.5 * (e0 * e0 + e1 * e1) - std::log(2 * std::numbers::pi) - std::log(std::abs(det));
    };
    const real entropy = std::log(2 * std::numbers::pi * std::numbers::e) + std::log(std::abs(det));
    FlowSpec spec;
    spec.dim = 2;
    spec.layers = 2;
    spec.hidden = {16, 16};
    Rng init(41);
    DistributionPtr flow = make_maf_flow(spec, init);
    FitOptions o = quiet_options();
    o.epochs = 100;
    o.patience = 10;
    o.batch = 128;
    o.lr = 5e-3;
    o.seed = 42;
    const FitReport r = fit(*flow, draw(3000, 43), o);
    BOOST_TEST(!r.diverged);
    BOOST_TEST(r.warm_allocations == 0u);
    const Array test = draw(20000, 44);
    Array log_q;
    {
        Tape t;
        NoGrad no_grad(t);
        log_q = flow->log_prob(t.constant(test)).value();
    }
    std::vector<real> gap(20000);
    real mean = 0, entropy_estimate = 0;
    for (std::size_t i = 0; i < 20000; ++i) {
        gap[i] = true_log_density(test, i) - log_q(i, 0);
        mean += gap[i] / 20000;
        entropy_estimate -= true_log_density(test, i) / 20000;
    }
    real var = 0;
    for (real g : gap) var += (g - mean) * (g - mean) / 19999;
    const real error = std::sqrt(var / 20000);
    BOOST_TEST_MESSAGE("MAF on a Gaussian: KL(p||q) = " << mean << " ± " << error << " after " << r.epochs_run
                                                        << " epochs (best " << r.best_epoch << ")");
    BOOST_TEST(std::abs(entropy_estimate - entropy) < 0.03);  // the test data are what we think
    // Within 0.015 nats of the entropy: what mini-batch Adam with early stopping on 2400 training
    // rows reaches (about 0.005 here; more data or epochs do not go much below 0.002, the
    // finite-sample floor). A scale off by 20% alone would cost log 1.2 + 1/(2·1.2²) − ½ ≈ 0.03.
    BOOST_TEST(mean < 0.015, "KL(p||q) ≈ " << mean << " ± " << error);
    BOOST_TEST(mean > -3 * error, "KL(p||q) ≈ " << mean << " ± " << error);
    BOOST_TEST(std::abs(-average_log_likelihood(*flow, test).mean - (entropy_estimate + mean)) < 1e-9);
}

BOOST_AUTO_TEST_CASE(a_batch_larger_than_the_data_is_one_batch) {
    const Array x = gaussian_data(50, Array{{1.0}}, Array{{2.0}}, 18);
    FitOptions o = quiet_options();
    o.epochs = 20;
    o.lr = 0.05;
    o.batch = 40;  // exactly the 40 training rows
    DistributionPtr ga = learnable_gaussian(1), gb = learnable_gaussian(1);
    const FitReport ra = fit(*ga, x, o);
    o.batch = 100000;
    const FitReport rb = fit(*gb, x, o);
    BOOST_TEST(ra.train_loss == rb.train_loss);
    BOOST_TEST(ra.train_loss.back() < ra.train_loss.front());
}

BOOST_AUTO_TEST_CASE(progress_lines_and_quiet) {
    const Array x = gaussian_data(50, Array{{1.0}}, Array{{2.0}}, 18);
    FitOptions o;
    o.epochs = 10;
    o.progress_every = 5;
    o.lr = 0.05;
    std::ostringstream out;
    o.progress = &out;
    DistributionPtr g = learnable_gaussian(1);
    const FitReport r = fit(*g, x, o);
    std::istringstream lines(out.str());
    std::string line;
    std::vector<std::string> all;
    while (std::getline(lines, line)) all.push_back(line);
    BOOST_TEST_REQUIRE(all.size() == 3u);
    BOOST_TEST(all[0].rfind("epoch 5/10  train ", 0) == 0u, all[0]);
    BOOST_TEST(all[0].find("  val ") != std::string::npos);
    BOOST_TEST(all[0].find("  best ") != std::string::npos);
    BOOST_TEST(all[0].find(" s left") != std::string::npos);
    BOOST_TEST(all[1].rfind("epoch 10/10  train ", 0) == 0u, all[1]);
    BOOST_TEST(all[2] == r.message);
    std::ostringstream silent;
    o.progress = &silent;
    o.quiet = true;
    DistributionPtr g2 = learnable_gaussian(1);
    fit(*g2, x, o);
    BOOST_TEST(silent.str().empty());
}

BOOST_AUTO_TEST_CASE(bad_input_throws_naming_fit) {
    DistributionPtr g = learnable_gaussian(2);
    const Array x = gaussian_data(10, Array{{0.0, 0.0}}, Array{{1.0, 1.0}}, 20);
    const FitOptions o = quiet_options();
    auto expect = [&](const std::function<void()>& f, const std::string& fragment) {
        const std::string m = message_of(f);
        BOOST_TEST(m.rfind("fit: ", 0) == 0u, m);
        BOOST_TEST(m.find(fragment) != std::string::npos, m << " (looking for " << fragment << ")");
    };
    BOOST_CHECK_THROW(fit(*g, xt::zeros<real>({0, 2}), o), ValueError);
    expect([&] { fit(*g, xt::zeros<real>({0, 2}), o); }, "0\u00d72");
    BOOST_CHECK_THROW(fit(*g, xt::zeros<real>({10, 3}), o), ShapeError);
    expect([&] { fit(*g, xt::zeros<real>({10, 3}), o); }, "10\u00d73");
    Array nan_data = x;
    nan_data(3, 1) = NAN;
    BOOST_CHECK_THROW(fit(*g, nan_data, o), ValueError);
    const Array wrong_shape = xt::ones<real>({9, 1});
    BOOST_CHECK_THROW(fit(*g, x, o, &wrong_shape), ShapeError);
    expect([&] { fit(*g, x, o, &wrong_shape); }, "9\u00d71");
    Array negative = xt::ones<real>({10, 1});
    negative(4, 0) = -1;
    BOOST_CHECK_THROW(fit(*g, x, o, &negative), ValueError);
    const Array zero = xt::zeros<real>({10, 1});
    BOOST_CHECK_THROW(fit(*g, x, o, &zero), ValueError);
    expect([&] { fit(*g, x, o, &zero); }, "sum to zero");
    for (real f : {1.0, -0.1, 1.5}) {
        FitOptions bad = o;
        bad.val_fraction = f;
        BOOST_CHECK_THROW(fit(*g, x, bad), ValueError);
    }
    BOOST_CHECK_THROW(fit(*g, xt::zeros<real>({1, 2}), o), ValueError);
    expect([&] { fit(*g, xt::zeros<real>({1, 2}), o); }, "at least 2 rows");
    FitOptions one_row_no_split = o;
    one_row_no_split.val_fraction = 0;
    one_row_no_split.epochs = 2;
    BOOST_CHECK_NO_THROW(fit(*g, Array{{0.5, 0.5}}, one_row_no_split));
    FitOptions bad_schedule = o;
    bad_schedule.schedule = "linear";
    expect([&] { fit(*g, x, bad_schedule); }, "unknown schedule 'linear'");
    FitOptions zero_epochs = o;
    zero_epochs.epochs = 0;
    BOOST_CHECK_THROW(fit(*g, x, zero_epochs), ValueError);
    const Array context = xt::zeros<real>({10, 1});
    BOOST_CHECK_THROW(fit(*g, x, o, nullptr, &context), ValueError);
    expect([&] { fit(*g, x, o, nullptr, &context); }, "takes no context");
}

BOOST_AUTO_TEST_CASE(cosine_steps_anneal_the_rate_to_zero_over_every_step) {
    // Data far from the start: every step's gradient has one sign, so Adam's first updates are
    // about the learning rate, and later ones follow the per-step cosine down towards zero.
    struct Tracker : Objective {
        std::vector<real> means;
        Var loss(Distribution& model, const Batch& b) override {
            const ParameterList params = model.parameters();  // kept: items() refers into it
            for (const NamedParameter& p : params.items())
                if (p.name.find("mean") != std::string::npos) means.push_back(p.parameter->value()(0, 0));
            return WeightedNll().loss(model, b);
        }
    } tracker;
    DiagonalGaussian g(xt::zeros<real>({std::size_t(1), std::size_t(1)}), xt::zeros<real>({std::size_t(1), std::size_t(1)}), true);
    const Array x = xt::zeros<real>({std::size_t(100), std::size_t(1)}) + 50.0;
    FitOptions f;
    f.epochs = 4;
    f.batch = 10;
    f.lr = 0.01;
    f.val_fraction = 0;
    f.patience = 4;
    f.schedule = "cosine-steps";
    f.quiet = true;
    fit(g, FitData{x}, f, tracker);
    BOOST_REQUIRE(tracker.means.size() == 40u);  // 4 epochs of 10 steps
    const real first = std::abs(tracker.means[1] - tracker.means[0]);
    const real middle = std::abs(tracker.means[21] - tracker.means[20]);
    const real last = std::abs(tracker.means[39] - tracker.means[38]);
    BOOST_TEST(first == 0.01, boost::test_tools::tolerance(0.05));            // lr·½(1 + cos 0)
    BOOST_TEST(middle / first == 0.5 * (1 + std::cos(M_PI * 20 / 40)), boost::test_tools::tolerance(0.1));
    BOOST_TEST(last / first < 0.02);                                           // cos(π·38/40) ≈ −0.99
    f.schedule = "sideways";
    BOOST_CHECK_THROW(fit(g, FitData{x}, f, tracker), ValueError);
}

BOOST_AUTO_TEST_SUITE_END()
