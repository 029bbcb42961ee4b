// Tests of the mixture of flows (flow_mixture.hpp):
//   - the model is the paper's: K MAFs of one MADE over fixed diagonal Gaussians (std 0.1, means in
//     [0, 1)), unclamped log-scales, learned equal weights; k-means starts put the base means at the
//     k-means centroids;
//   - the min-max scaling is part of the model: its density on the data's own scale integrates to 1;
//   - it separates well-separated, non-Gaussian clusters (ARI ≈ 1) and keeps the run of lowest loss;
//   - the result is the same bits for any number of run threads and component threads;
//   - components that no row chooses are reported; K = 1 is one cluster;
//   - bad input is refused, and a diverging run says so and keeps finite parameters.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include <nlohmann/json.hpp>

#include "flowtape.hpp"

using namespace flowtape;

namespace {

// Three bent, well-separated clusters (a banana each) of n rows, with their labels.
Dataset three_bananas(std::size_t n, std::uint64_t seed) {
    Rng rng(seed);
    Dataset d;
    d.x = Array::from_shape({n, 2});
    d.labels = IndexArray::from_shape({n, 1});
    const real cx[3] = {0, 8, 4}, cy[3] = {0, 0, 7};
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t c = i % 3;
        const real t = rng.normal(), u = 0.2 * rng.normal();
        d.x(i, 0) = cx[c] + t;
        d.x(i, 1) = cy[c] + 0.4 * t * t + u;
        (*d.labels)(i, 0) = static_cast<std::int64_t>(c);
    }
    return d;
}

cluster::Labels as_labels(const std::vector<std::size_t>& v) { return cluster::Labels(v.begin(), v.end()); }

cluster::Labels as_labels(const IndexArray& a) {
    cluster::Labels out(a.shape()[0]);
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = a(i, 0);
    return out;
}

FlowMixtureOptions quick_options(std::size_t k, std::size_t epochs, std::size_t runs) {
    FlowMixtureOptions o;
    o.spec.components = k;
    o.fit = FlowMixtureOptions::paper_fit_options(epochs, 4000);
    o.fit.lr = 1e-2;  // fewer epochs than the paper's 2000 need a larger step
    o.runs = runs;
    return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(flow_mixture)

BOOST_AUTO_TEST_CASE(the_model_is_the_papers) {
    FlowMixtureSpec spec;
    spec.components = 3;
    Rng rng(1);
    auto m = make_flow_mixture(spec, 2, rng);
    BOOST_REQUIRE(m->size() == 3u);
    BOOST_TEST(m->learns_weights());
    for (real w : m->weights()) BOOST_TEST(w == 1.0 / 3, boost::test_tools::tolerance(1e-15));
    for (std::size_t k = 0; k < 3; ++k) {
        auto& flow = dynamic_cast<Flow&>(m->component(k));
        BOOST_REQUIRE(flow.transforms().size() == 1u);
        const nlohmann::json c = flow.transforms()[0]->config();
        BOOST_TEST(c.at("kind") == "maf");
        BOOST_TEST(c.at("hidden") == nlohmann::json::array({10}));
        BOOST_TEST(c.at("activation") == "tanh");
        BOOST_TEST(c.at("ordering") == "natural");
        BOOST_TEST(c.at("log_scale_bound") == 0.0);
        auto& base = dynamic_cast<DiagonalGaussian&>(flow.base());
        BOOST_TEST(!base.learnable());  // fixed: a buffer, not a parameter
        ParameterList buffers;
        base.collect_buffers(buffers, "");
        const Array& mean = buffers.find("mean").value();
        const Array& log_scale = buffers.find("log_scale").value();
        for (real v : mean) BOOST_TEST((v >= 0 && v < 1));
        for (real v : log_scale) BOOST_TEST(v == std::log(0.1), boost::test_tools::tolerance(1e-15));
    }
    // The k-means start: the base means are the k-means centroids of the rows given.
    const Dataset d = three_bananas(300, 2);
    spec.base_init = "kmeans";
    Rng a(3), b(3);
    auto km = make_flow_mixture(spec, 2, a, &d.x);
    cluster::KMeansOptions ko;
    ko.k = 3;
    ko.n_init = 10;
    const Array centres = cluster::kmeans(d.x, ko, b).centres;
    for (std::size_t k = 0; k < 3; ++k) {
        ParameterList buffers;
        dynamic_cast<Flow&>(km->component(k)).base().collect_buffers(buffers, "");
        const Array& mean = buffers.find("mean").value();
        BOOST_TEST(mean(0, 0) == centres(k, 0));
        BOOST_TEST(mean(0, 1) == centres(k, 1));
    }
}

BOOST_AUTO_TEST_CASE(separates_bent_clusters_and_integrates_to_one) {
    const Dataset d = three_bananas(600, 4);
    const FlowMixtureFit f = fit_flow_mixture(d.x, quick_options(3, 300, 3));
    BOOST_TEST_MESSAGE("flow mixture: " << f.message);
    BOOST_TEST(f.runs.size() == 3u);
    for (const FlowMixtureRun& r : f.runs) BOOST_TEST(f.runs[f.best].loss <= r.loss);
    BOOST_TEST(cluster::adjusted_rand_index(as_labels(*d.labels), as_labels(f.labels)) > 0.95);
    BOOST_TEST(predict_components(*f.model, d.x) == f.labels);
    BOOST_TEST(f.empty_components.empty());
    std::size_t total = 0;
    for (std::size_t s : f.sizes) total += s;
    BOOST_TEST(total == 600u);
    // The density on the data's own scale (scaling included) integrates to 1 over a box around it.
    BOOST_REQUIRE(dynamic_cast<Flow*>(f.model.get()) != nullptr);
    const std::size_t g = 500;
    const real x0 = -6, x1 = 14, y0 = -4, y1 = 16, hx = (x1 - x0) / g, hy = (y1 - y0) / g;
    Array grid = Array::from_shape({g * g, 2});
    for (std::size_t i = 0; i < g; ++i)
        for (std::size_t j = 0; j < g; ++j) {
            grid(i * g + j, 0) = x0 + (j + 0.5) * hx;
            grid(i * g + j, 1) = y0 + (i + 0.5) * hy;
        }
    const real mass = xt::sum(xt::exp(log_prob_rows(*f.model, grid)))() * hx * hy;
    BOOST_TEST(mass == 1.0, boost::test_tools::tolerance(0.01));
}

BOOST_AUTO_TEST_CASE(threads_give_the_same_bits) {
    const Dataset d = three_bananas(300, 5);
    FlowMixtureOptions o = quick_options(3, 20, 3);
    const FlowMixtureFit serial = fit_flow_mixture(d.x, o);
    o.run_threads = 2;
    o.spec.threads = 2;
    const FlowMixtureFit parallel = fit_flow_mixture(d.x, o);
    BOOST_TEST(serial.best == parallel.best);
    for (std::size_t r = 0; r < 3; ++r) BOOST_TEST(serial.runs[r].fit.train_loss == parallel.runs[r].fit.train_loss);
    BOOST_TEST(serial.labels == parallel.labels);
    BOOST_TEST(xt::all(xt::equal(log_prob_rows(*serial.model, d.x), log_prob_rows(*parallel.model, d.x))));
}

BOOST_AUTO_TEST_CASE(empty_components_are_reported_and_k_one_is_one_cluster) {
    // Ten copies of one point and one far away: with an untrained mixture (lr 0) of five components
    // at most two are chosen.
    Array x = xt::zeros<real>({std::size_t(11), std::size_t(2)});
    x(10, 0) = 1;
    x(10, 1) = 1;
    FlowMixtureOptions o = quick_options(5, 1, 1);
    o.fit.lr = 0;
    const FlowMixtureFit f = fit_flow_mixture(x, o);
    BOOST_TEST(f.empty_components.size() >= 3u);
    for (std::size_t k : f.empty_components) BOOST_TEST(f.sizes[k] == 0u);
    BOOST_TEST(f.message.find("received no rows") != std::string::npos, f.message);

    const Dataset d = three_bananas(90, 6);
    const FlowMixtureFit one = fit_flow_mixture(d.x, quick_options(1, 5, 1));
    for (std::size_t l : one.labels) BOOST_TEST(l == 0u);
}

BOOST_AUTO_TEST_CASE(bad_input_is_refused_and_divergence_reported) {
    const Dataset d = three_bananas(60, 7);
    FlowMixtureOptions o = quick_options(3, 5, 1);
    Array constant = d.x;
    for (std::size_t i = 0; i < 60; ++i) constant(i, 1) = 2.5;
    BOOST_CHECK_THROW(fit_flow_mixture(constant, o), ValueError);  // no range to scale column 1 by
    {
        FlowMixtureOptions named = o;
        named.columns = {"x0", "flat"};
        BOOST_CHECK_EXCEPTION(fit_flow_mixture(constant, named), ValueError, [](const ValueError& e) {
            return std::string(e.what()).find("column 'flat' is constant") != std::string::npos;
        });
    }
    BOOST_CHECK_THROW(fit_flow_mixture(Array::from_shape({0, 2}), o), ValueError);
    Array nan = d.x;
    nan(3, 0) = NAN;
    BOOST_CHECK_THROW(fit_flow_mixture(nan, o), ValueError);
    FlowMixtureOptions big = quick_options(61, 5, 1);
    BOOST_CHECK_THROW(fit_flow_mixture(d.x, big), ValueError);  // K > N
    FlowMixtureOptions zero = quick_options(0, 5, 1);
    BOOST_CHECK_THROW(fit_flow_mixture(d.x, zero), ValueError);
    FlowMixtureOptions no_runs = quick_options(3, 5, 0);
    BOOST_CHECK_THROW(fit_flow_mixture(d.x, no_runs), ValueError);
    FlowMixtureOptions kind = o;
    kind.spec.component = "glow";
    BOOST_CHECK_THROW(fit_flow_mixture(d.x, kind), ValueError);

    // A step so large that the unclamped scales overflow: the run stops, keeps finite parameters.
    FlowMixtureOptions wild = quick_options(3, 50, 1);
    wild.fit.lr = 1e4;
    const FlowMixtureFit f = fit_flow_mixture(d.x, wild);
    BOOST_TEST(f.diverged, f.message);
    BOOST_TEST(f.message.find("non-finite") != std::string::npos, f.message);
    const ParameterList params = f.model->parameters();
    for (const NamedParameter& p : params.items())
        for (real v : p.parameter->value()) BOOST_TEST_REQUIRE(std::isfinite(v));
}

BOOST_AUTO_TEST_SUITE_END()
