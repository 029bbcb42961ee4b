// Tests of fit_piecewise (the density and sampler of the Mixture it returns are tested in
// mixture_test.cpp): it finds the eight modes of the circle of Gaussians, trains one flow per cluster, gives identical
// models on one thread and on two, reaches a likelihood close to the target's; small clusters are
// merged, zero-weight clusters dropped, bad input refused; a model file round trip is bit-identical.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>

#include "flowtape.hpp"

using namespace flowtape;

namespace {

Array log_prob_of(Distribution& d, const Array& x) {
    Tape t;
    NoGrad off(t);
    return d.log_prob(t.constant(x)).value();
}

PiecewiseOptions small_options() {
    PiecewiseOptions o;
    o.piece.layers = 2;
    o.piece.hidden = {16, 16};
    o.fit.epochs = 30;
    o.fit.batch = 128;
    o.fit.lr = 3e-3;
    o.fit.quiet = true;
    o.k_max = 10;
    o.seed = 5;
    return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(piecewise)

BOOST_AUTO_TEST_CASE(finds_the_eight_modes_and_fits_them) {
    Rng data_rng(11);
    const Dataset data = make_dataset("circle-of-gaussians", 2400, data_rng);
    PiecewiseOptions o = small_options();
    o.fit.epochs = 400;
    o.fit.batch = 64;
    const PiecewiseFit fitted = fit_piecewise(data.x, o);
    BOOST_TEST_MESSAGE("piecewise: " << fitted.report.message);
    BOOST_TEST(fitted.report.k == 8u);
    BOOST_TEST(fitted.report.ks.size() == 9u);  // k = 2 … 10 (small_options)
    real total = 0;
    for (std::size_t k = 0; k < 8; ++k) {
        BOOST_TEST(std::abs(fitted.report.weights[k] - 1.0 / 8) < 0.03);  // the modes have equal mass
        total += fitted.report.weights[k];
        BOOST_TEST(fitted.report.fits[k].epochs_run > 0u);
    }
    BOOST_TEST(total == 1.0, boost::test_tools::tolerance(1e-12));
    // Held-out likelihood: within 0.15 nats of the target's own (its exact normalised log-density).
    Rng test_rng(12);
    const Dataset test = make_dataset("circle-of-gaussians", 4000, test_rng);
    const Array lp = log_prob_of(*fitted.model, test.x);
    const Array target_lp = normalised_log_density("circle-of-gaussians", test.x);
    real model_ll = 0, target_ll = 0;
    for (std::size_t i = 0; i < test.x.shape()[0]; ++i) {
        model_ll += lp(i, 0);
        target_ll += target_lp(i, 0);
    }
    model_ll /= static_cast<real>(test.x.shape()[0]);
    target_ll /= static_cast<real>(test.x.shape()[0]);
    BOOST_TEST_MESSAGE("piecewise on circle of Gaussians: test log-likelihood " << model_ll << ", target's " << target_ll);
    BOOST_TEST(model_ll > target_ll - 0.15);
    // The cost of eq. (18) from its parts.
    double cost = 0;
    for (std::size_t k = 0; k < 8; ++k)
        cost += static_cast<double>(fitted.report.fits[k].epochs_run * fitted.report.rows[k] * fitted.report.parameters[k]);
    BOOST_TEST(fitted.report.cost == cost);
}

BOOST_AUTO_TEST_CASE(parallel_training_gives_the_serial_result) {
    Rng data_rng(21);
    const Dataset data = make_dataset("two-moons", 1500, data_rng);
    PiecewiseOptions o = small_options();
    o.k = 4;
    o.fit.epochs = 10;
    const PiecewiseFit serial = fit_piecewise(data.x, o);
    o.threads = 2;
    const PiecewiseFit parallel = fit_piecewise(data.x, o);
    const Array a = log_prob_of(*serial.model, data.x), b = log_prob_of(*parallel.model, data.x);
    BOOST_TEST(xt::all(xt::equal(a, b)));
    for (std::size_t k = 0; k < 4; ++k) BOOST_TEST(serial.report.fits[k].epochs_run == parallel.report.fits[k].epochs_run);
}

BOOST_AUTO_TEST_CASE(weights_small_clusters_and_bad_input) {
    // Two blobs of 300 rows and 5 far-away rows: with k = 3 the 5 rows form a cluster too small to
    // train on, so they are merged into the nearest one.
    Rng rng(31);
    Array x = rng.normal_array(605, 2);
    for (std::size_t i = 0; i < 605; ++i) x(i, 0) += i < 300 ? -6.0 : i < 600 ? 6.0 : 0.0;
    for (std::size_t i = 600; i < 605; ++i) x(i, 1) += 30.0;
    PiecewiseOptions o = small_options();
    o.k = 3;
    o.fit.epochs = 3;
    const PiecewiseFit merged = fit_piecewise(x, o);
    BOOST_TEST(merged.report.k == 2u);
    BOOST_TEST(merged.report.clustering_note.find("merged") != std::string::npos);
    // W_k from the sample weights: the right blob weighs three times the left one.
    Array w = xt::ones<real>({std::size_t(605), std::size_t(1)});
    for (std::size_t i = 300; i < 605; ++i) w(i, 0) = 3.0;
    o.k = 2;
    o.min_cluster_size = 1;
    const PiecewiseFit weighted = fit_piecewise(xt::view(x, xt::range(0, 600), xt::all()), o, nullptr);
    BOOST_TEST(weighted.report.k == 2u);
    Array x600 = xt::view(x, xt::range(0, 600), xt::all());
    Array w600 = xt::view(w, xt::range(0, 600), xt::all());
    const PiecewiseFit w_fit = fit_piecewise(x600, o, &w600);
    std::vector<real> ws = w_fit.report.weights;
    std::sort(ws.begin(), ws.end());
    BOOST_TEST(ws[0] == 0.25, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(ws[1] == 0.75, boost::test_tools::tolerance(1e-12));
    // A cluster whose weights are all zero carries no mass: it is dropped.
    for (std::size_t i = 0; i < 300; ++i) w600(i, 0) = 0.0;
    const PiecewiseFit dropped = fit_piecewise(x600, o, &w600);
    BOOST_TEST(dropped.report.k == 1u);
    BOOST_TEST(dropped.report.clustering_note.find("dropped") != std::string::npos);
    // Bad input.
    Array negative = w600;
    negative(3, 0) = -1;
    BOOST_CHECK_THROW(fit_piecewise(x600, o, &negative), ValueError);
    Array zero = xt::zeros<real>({std::size_t(600), std::size_t(1)});
    BOOST_CHECK_THROW(fit_piecewise(x600, o, &zero), ValueError);
    o.k = 601;
    BOOST_CHECK_THROW(fit_piecewise(x600, o), ValueError);
    o.k = 2;
    o.algorithm = "no-such-algorithm";
    BOOST_CHECK_THROW(fit_piecewise(x600, o), ValueError);
    Array with_nan = x600;
    with_nan(7, 1) = NAN;
    o.algorithm = "kmeans";
    BOOST_CHECK_THROW(fit_piecewise(with_nan, o), ValueError);
}

BOOST_AUTO_TEST_CASE(parameter_budget_is_shared_by_the_pieces) {
    FlowSpec spec;
    spec.dim = 2;
    spec.layers = 5;
    const auto count = [&](std::size_t w) {
        FlowSpec s = spec;
        s.hidden = {w, w};
        Rng rng(0);
        return static_cast<long>(make_maf_flow(s, rng)->parameters().scalar_count());
    };
    const long budget = 77000;
    const std::size_t w = maf_width_for_budget(spec, budget);
    BOOST_TEST(std::abs(count(w) - budget) <= std::abs(count(w + 1) - budget));
    BOOST_TEST(std::abs(count(w) - budget) <= std::abs(count(w - 1) - budget));
    // The pieces of a piecewise flow share a budget: Σ_k h_k ≈ h.
    Rng data_rng(51);
    const Dataset data = make_dataset("circle-of-gaussians", 800, data_rng);
    PiecewiseOptions o = small_options();
    o.k = 4;
    o.fit.epochs = 1;
    o.parameter_budget = 8000;
    const PiecewiseFit fitted = fit_piecewise(data.x, o);
    const real total = static_cast<real>(fitted.model->parameters().scalar_count());
    BOOST_TEST(std::abs(total - 8000.0) < 0.15 * 8000.0);
    BOOST_CHECK_THROW(maf_width_for_budget(spec, 0), ValueError);
}

BOOST_AUTO_TEST_CASE(model_file_round_trip_is_bit_identical) {
    Rng data_rng(41);
    const Dataset data = make_dataset("two-rings", 1200, data_rng);
    PiecewiseOptions o = small_options();
    o.k = 3;
    o.fit.epochs = 5;
    const PiecewiseFit fitted = fit_piecewise(data.x, o);
    const std::string path = (std::filesystem::temp_directory_path() / "flowtape_piecewise_test.json").string();
    save_model(*fitted.model, path);
    DistributionPtr back = load_model(path);
    std::filesystem::remove(path);
    BOOST_TEST(back->kind() == "mixture");
    BOOST_TEST(!fitted.model->learns_weights());
    BOOST_TEST(fitted.model->weights() == fitted.report.weights);
    const Array a = log_prob_of(*fitted.model, data.x), b = log_prob_of(*back, data.x);
    BOOST_TEST(xt::all(xt::equal(a, b)));
    Rng r1(9), r2(9);
    Tape t;
    NoGrad off(t);
    const Array s1 = fitted.model->sample(t, 50, r1).value();
    const Array s2 = back->sample(t, 50, r2).value();
    BOOST_TEST(xt::all(xt::equal(s1, s2)));
}

BOOST_AUTO_TEST_SUITE_END()
