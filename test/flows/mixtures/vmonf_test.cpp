// Tests of the variational mixture of flows (vmonf.hpp):
//   - the ELBO of eq. (1) is log p(x) − KL(q(c|x) ‖ p(c|x)) row by row, so ELBO ≤ log p(x), with
//     equality when q is the generative posterior (identical components, a uniform classifier);
//   - the ELBO and the semi-supervised objective pass gradcheck with respect to the classifier and
//     every flow; the labelled objective is log q(y|x) + log p(x|y);
//   - the temperature schedule is T_e = max(T_min, T_0 γ^e), and the posterior q = softmax(g/T);
//   - a model file round trip keeps the density, q and the temperature;
//   - training separates well-separated clusters, pretraining on labels makes q follow them
//     (not just up to a permutation), and the result is the same bits for the same seed;
//   - bad input is refused with a clear message.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "flowtape.hpp"

using namespace flowtape;

namespace {

VmonfSpec small_spec(std::size_t k) {
    VmonfSpec s;
    s.components = k;
    s.layers = 2;
    s.hidden = {8};
    s.activation = Activation::tanh;
    s.classifier_hidden = {8};
    s.classifier_activation = Activation::tanh;
    return s;
}

// Three round clusters of n rows far apart, with their labels.
Dataset three_blobs(std::size_t n, std::uint64_t seed) {
    Rng rng(seed);
    Dataset d;
    d.x = Array::from_shape({n, 2});
    d.labels = IndexArray::from_shape({n, 1});
    const real cx[3] = {0, 6, 3}, cy[3] = {0, 0, 5};
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t c = i % 3;
        d.x(i, 0) = cx[c] + 0.5 * rng.normal();
        d.x(i, 1) = cy[c] + 0.5 * rng.normal();
        (*d.labels)(i, 0) = static_cast<std::int64_t>(c);
    }
    return d;
}

Array values(Distribution& m, const std::function<Var(Var)>& f, const Array& x) {
    Tape t;
    NoGrad no_grad(t);
    m.set_training(false);
    return f(t.constant(x)).value();
}

VmonfOptions quick_options(std::size_t k, std::size_t epochs) {
    VmonfOptions o;
    o.spec = small_spec(k);
    o.spec.hidden = {16, 16};
    o.spec.classifier_hidden = {16};
    o.fit = VmonfOptions::default_fit_options();
    o.fit.epochs = epochs;
    o.fit.patience = epochs;
    o.fit.batch = 128;
    o.fit.lr = 3e-3;
    o.fit.quiet = true;
    o.temperature = {3, 0.97, 1};
    o.pretrain_epochs = 40;
    return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(vmonf)

BOOST_AUTO_TEST_CASE(the_elbo_is_log_p_minus_the_kl_of_q_from_the_posterior) {
    Rng rng(1);
    auto m = make_vmonf(small_spec(3), 2, rng);
    const Array x = rng.normal_array(9, 2) * 2.0;
    for (real t : {1.0, 2.5}) {
        m->set_temperature(t);
        const Array elbo = values(*m, [&](Var v) { return m->elbo(v, t); }, x);
        const Array log_p = values(*m, [&](Var v) { return m->log_prob(v); }, x);
        const Array q = m->responsibilities(x), post = m->generative_posterior(x);
        for (std::size_t i = 0; i < 9; ++i) {
            real kl = 0;
            for (std::size_t c = 0; c < 3; ++c) kl += q(i, c) * std::log(q(i, c) / post(i, c));
            BOOST_TEST(elbo(i, 0) <= log_p(i, 0) + 1e-12);
            BOOST_TEST(elbo(i, 0) == log_p(i, 0) - kl, boost::test_tools::tolerance(1e-10));
            BOOST_TEST(kl > 1e-6);  // a random classifier is not the posterior
        }
    }
}

BOOST_AUTO_TEST_CASE(the_elbo_equals_log_p_when_q_is_the_posterior) {
    // Identical components make p(c|x) the prior; a classifier with a zero last layer gives the
    // uniform q; with a uniform prior the two are equal and the bound is tight.
    Rng rng(2);
    auto m = make_vmonf(small_spec(3), 2, rng);
    const ParameterList params = m->parameters();
    for (const NamedParameter& p : params.items()) {
        const std::string c0 = "components.0.";
        if (p.name.rfind("components.", 0) == 0 && p.name.rfind(c0, 0) != 0) {
            const std::string rest = p.name.substr(p.name.find('.', std::string("components.").size()) + 1);
            p.parameter->value() = params.find(c0 + rest).value();
        }
        if (p.name.rfind("classifier.layers.1.", 0) == 0) p.parameter->value().fill(0);
    }
    const Array x = rng.normal_array(6, 2);
    const Array elbo = values(*m, [&](Var v) { return m->elbo(v, 1.0); }, x);
    const Array log_p = values(*m, [&](Var v) { return m->log_prob(v); }, x);
    const Array q = m->responsibilities(x);
    for (std::size_t i = 0; i < 6; ++i) {
        BOOST_TEST(q(i, 1) == 1.0 / 3, boost::test_tools::tolerance(1e-14));
        BOOST_TEST(elbo(i, 0) == log_p(i, 0), boost::test_tools::tolerance(1e-12));
    }
}

BOOST_AUTO_TEST_CASE(the_objectives_pass_gradcheck_for_the_classifier_and_every_flow) {
    Rng rng(3);
    auto m = make_vmonf(small_spec(3), 2, rng);
    const Array x = rng.normal_array(5, 2);
    IndexArray labels = IndexArray::from_shape({5, 1});
    const std::int64_t given[5] = {2, kNoLabel, 0, kNoLabel, 1};
    for (std::size_t i = 0; i < 5; ++i) labels(i, 0) = given[i];
    const ParameterList params = m->parameters();
    std::vector<Parameter*> classifier, flows;
    for (const NamedParameter& p : params.items())
        (p.name.rfind("classifier.", 0) == 0 ? classifier : flows).push_back(p.parameter);
    BOOST_REQUIRE(classifier.size() == 4u);
    for (std::size_t k = 0; k < 3; ++k) {
        bool found = false;
        for (const NamedParameter& p : params.items()) found |= p.name.rfind("components." + std::to_string(k) + ".", 0) == 0;
        BOOST_TEST(found);
    }
    const GradcheckParamsFn elbo = [&](Tape& t) { return m->elbo(t.constant(x), 1.7); };
    const GradcheckParamsFn semi = [&](Tape& t) { return m->semi_supervised_objective(t.constant(x), labels, 1.7); };
    for (const GradcheckParamsFn* f : {&elbo, &semi}) {
        const GradcheckResult c = gradcheck_parameters(*f, classifier);
        BOOST_TEST(c.ok, c.worst);
        const GradcheckResult p = gradcheck_parameters(*f, flows);
        BOOST_TEST(p.ok, p.worst);
    }
}

BOOST_AUTO_TEST_CASE(labelled_rows_get_log_q_of_their_label_plus_their_components_log_density) {
    Rng rng(4);
    auto m = make_vmonf(small_spec(2), 2, rng);
    const Array x = rng.normal_array(4, 2);
    IndexArray labels = IndexArray::from_shape({4, 1});
    const std::int64_t given[4] = {1, kNoLabel, 0, 1};
    for (std::size_t i = 0; i < 4; ++i) labels(i, 0) = given[i];
    const Array semi = values(*m, [&](Var v) { return m->semi_supervised_objective(v, labels, 2.0); }, x);
    const Array log_q = values(*m, [&](Var v) { return m->log_posterior(v, 2.0); }, x);
    const Array elbo = values(*m, [&](Var v) { return m->elbo(v, 2.0); }, x);
    for (std::size_t i = 0; i < 4; ++i) {
        if (given[i] == kNoLabel) {
            BOOST_TEST(semi(i, 0) == elbo(i, 0), boost::test_tools::tolerance(1e-14));
            continue;
        }
        const auto y = static_cast<std::size_t>(given[i]);
        const Array row = xt::view(x, xt::range(i, i + 1), xt::all());
        const Array lp = values(m->component(y), [&](Var v) { return m->component(y).log_prob(v); }, row);
        BOOST_TEST(semi(i, 0) == log_q(i, y) + lp(0, 0), boost::test_tools::tolerance(1e-12));
    }
    labels(1, 0) = 2;
    BOOST_CHECK_THROW(values(*m, [&](Var v) { return m->semi_supervised_objective(v, labels, 1.0); }, x), ValueError);
    labels(1, 0) = kNoLabel;
    BOOST_CHECK_THROW(values(*m, [&](Var v) { return m->labelled_objective(v, labels, 1.0); }, x), ValueError);
}

BOOST_AUTO_TEST_CASE(the_temperature_decays_to_its_minimum_and_sharpens_q) {
    const TemperatureSchedule s{5, 0.5, 1.5};
    BOOST_TEST(s.at(0) == 5.0);
    BOOST_TEST(s.at(1) == 2.5);
    BOOST_TEST(s.at(2) == 1.5);  // 1.25 is below the minimum
    BOOST_TEST(s.at(50) == 1.5);
    BOOST_CHECK_THROW((TemperatureSchedule{0, 0.5, 1}.check("t")), ValueError);
    BOOST_CHECK_THROW((TemperatureSchedule{1, 0, 1}.check("t")), ValueError);
    BOOST_CHECK_THROW((TemperatureSchedule{1, 1.5, 1}.check("t")), ValueError);
    BOOST_CHECK_THROW((TemperatureSchedule{1, 0.5, -1}.check("t")), ValueError);
    BOOST_CHECK_NO_THROW((TemperatureSchedule{1, 1, 1}.check("t")));

    Rng rng(5);
    auto m = make_vmonf(small_spec(3), 2, rng);
    const Array x = rng.normal_array(4, 2);
    const Array g = values(*m, [&](Var v) { return m->classifier_logits(v); }, x);
    m->set_temperature(4);
    const Array q = m->responsibilities(x);
    for (std::size_t i = 0; i < 4; ++i) {
        real total = 0;
        for (std::size_t c = 0; c < 3; ++c) total += std::exp(g(i, c) / 4);
        for (std::size_t c = 0; c < 3; ++c)
            BOOST_TEST(q(i, c) == std::exp(g(i, c) / 4) / total, boost::test_tools::tolerance(1e-12));
    }
    BOOST_CHECK_THROW(m->set_temperature(0), ValueError);
}

BOOST_AUTO_TEST_CASE(a_model_file_keeps_the_density_the_posterior_and_the_temperature) {
    Rng rng(6);
    auto m = make_vmonf(small_spec(3), 2, rng);
    m->set_temperature(2.25);
    const Array x = rng.normal_array(5, 2);
    const Array log_p = log_prob_rows(*m, x), q = m->responsibilities(x);
    const std::string path = (std::filesystem::temp_directory_path() / "flowtape_vmonf_test.json").string();
    save_model(*m, path);
    DistributionPtr loaded = load_model(path);
    std::filesystem::remove(path);
    BOOST_TEST(loaded->kind() == "vmonf");
    auto* v = vmonf_inside(*loaded);
    BOOST_REQUIRE(v != nullptr);
    BOOST_TEST(v->temperature() == 2.25);
    const Array log_p2 = log_prob_rows(*loaded, x), q2 = v->responsibilities(x);
    for (std::size_t i = 0; i < 5; ++i) {
        BOOST_TEST(log_p2(i, 0) == log_p(i, 0));
        for (std::size_t c = 0; c < 3; ++c) BOOST_TEST(q2(i, c) == q(i, c));
    }
}

BOOST_AUTO_TEST_CASE(the_objective_follows_the_schedule_and_adds_the_fronts_log_determinant) {
    VmonfObjective o({4, 0.5, 1.5}, false), pre({4, 0.5, 1.5}, true);
    o.begin_epoch(1, 10);
    BOOST_TEST(o.temperature() == 4.0);
    BOOST_TEST(o.progress() == "T 4");
    o.begin_epoch(2, 10);
    BOOST_TEST(o.temperature() == 2.0);
    o.begin_epoch(5, 10);
    BOOST_TEST(o.temperature() == 1.5);
    pre.begin_epoch(1, 10);
    BOOST_TEST(pre.temperature() == 1.0);  // pretraining is at T = 1
    BOOST_CHECK_THROW(VmonfObjective({0, 0.5, 1}, false), ValueError);

    // On a Flow whose base is the VMoNF, the loss is the ELBO of the mapped rows plus the front's
    // log-determinant: here (x − 1) / 2 per column, log|det| = −2 log 2 per row.
    Rng rng(11);
    auto inner = make_vmonf(small_spec(2), 2, rng);
    VariationalMixture& v = *inner;
    std::vector<TransformPtr> front;
    front.push_back(std::make_unique<Standardize>(Array{{1, 1}}, Array{{2, 2}}));
    Flow model(std::move(inner), std::move(front));
    const Array x = rng.normal_array(6, 2);
    const Array z = (x - 1.0) / 2.0;
    Tape t;
    NoGrad no_grad(t);
    const Array w = xt::ones<real>({std::size_t(6), std::size_t(1)});
    o.begin_epoch(2, 10);
    const Batch batch{t, t.constant(x), t.constant(w), 6, Var()};
    const real loss = o.loss(model, batch).value()(0, 0);
    const Array elbo = v.elbo(t.constant(z), 2.0).value();
    real expected = 0;
    for (std::size_t i = 0; i < 6; ++i) expected -= (elbo(i, 0) - 2 * std::log(2.0)) / 6;
    BOOST_TEST(loss == expected, boost::test_tools::tolerance(1e-12));
    const real nll = o.validation_loss(model, batch).value()(0, 0);
    t.reset();  // let go of the parameters for log_prob_rows's own tape
    const Array lp = log_prob_rows(model, x);
    BOOST_TEST(nll == -xt::mean(lp)(), boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(components_on_threads_give_the_same_training_and_pass_gradcheck) {
    // Training on one thread and on two gives the same bits (Mixture::set_threads runs each
    // component's arithmetic unchanged), and the threaded objective's gradients pass gradcheck.
    const Dataset d = three_blobs(90, 14);
    VmonfOptions one = quick_options(3, 4), two = one;
    two.spec.threads = 2;
    const VmonfFit a = fit_vmonf(d.x, nullptr, one), b = fit_vmonf(d.x, nullptr, two);
    BOOST_TEST(a.fit.train_loss == b.fit.train_loss);
    BOOST_TEST(a.labels == b.labels);
    BOOST_TEST(xt::all(xt::equal(log_prob_rows(*a.model, d.x), log_prob_rows(*b.model, d.x))));

    Rng rng(15);
    auto m = make_vmonf(small_spec(3), 2, rng);
    m->set_threads(2);
    const Array x = rng.normal_array(5, 2);
    IndexArray labels = IndexArray::from_shape({5, 1});
    for (std::size_t i = 0; i < 5; ++i) labels(i, 0) = i % 2 ? kNoLabel : static_cast<std::int64_t>(i % 3);
    const ParameterList params = m->parameters();
    const GradcheckResult g = gradcheck_parameters(
        [&](Tape& t) { return m->semi_supervised_objective(t.constant(x), labels, 1.5); }, params.pointers());
    BOOST_TEST(g.ok, g.worst);
}

BOOST_AUTO_TEST_CASE(a_given_prior_survives_the_model_file) {
    VmonfSpec spec = small_spec(3);
    spec.prior = {2, 1, 1};  // normalised to 0.5, 0.25, 0.25
    Rng rng(13);
    auto m = make_vmonf(spec, 2, rng);
    const std::vector<real> w = m->weights();
    BOOST_TEST(w[0] == 0.5);
    BOOST_TEST(w[1] == 0.25);
    const std::string path = (std::filesystem::temp_directory_path() / "flowtape_vmonf_prior.json").string();
    save_model(*m, path);
    DistributionPtr loaded = load_model(path);
    std::filesystem::remove(path);
    BOOST_TEST((vmonf_inside(*loaded)->weights() == w));
    const Array x = rng.normal_array(4, 2);
    const Array p1 = m->generative_posterior(x), p2 = vmonf_inside(*loaded)->generative_posterior(x);
    BOOST_TEST((p1 == p2));
}

BOOST_AUTO_TEST_CASE(training_separates_well_separated_clusters_and_repeats_its_bits) {
    const Dataset d = three_blobs(600, 7);
    const VmonfOptions o = quick_options(3, 60);
    const VmonfFit a = fit_vmonf(d.x, nullptr, o);
    cluster::Labels truth(600), pred(a.labels.begin(), a.labels.end());
    for (std::size_t i = 0; i < 600; ++i) truth[i] = (*d.labels)(i, 0);
    BOOST_TEST(cluster::adjusted_rand_index(truth, pred) > 0.95, a.message);
    BOOST_TEST(!a.collapsed);
    BOOST_TEST(a.agreement > 0.9);
    BOOST_TEST(a.final_temperature >= 1.0);
    BOOST_TEST(a.pretrain.epochs_run == 40u);  // the k-means start, the default
    // The kept parameters' temperature is the schedule's at the kept epoch.
    BOOST_REQUIRE(a.fit.best_epoch > 0u);
    BOOST_TEST(a.final_temperature == o.temperature.at(a.fit.best_epoch - 1));
    BOOST_TEST(vmonf_inside(*a.model)->temperature() == a.final_temperature);
    // The losses fit reports are on the data's scale: the kept validation loss is the held-out NLL
    // of the saved model, as log_prob_rows computes it (on the whole set here, so only close).
    BOOST_TEST(std::isfinite(a.fit.best_val_loss));
    // From the uniform start (no k-means labels) on clusters this far apart the ELBO alone
    // separates them too.
    VmonfOptions uniform = o;
    uniform.init = "uniform";
    const VmonfFit u = fit_vmonf(d.x, nullptr, uniform);
    BOOST_TEST(u.pretrain.epochs_run == 0u);
    const cluster::Labels upred(u.labels.begin(), u.labels.end());
    BOOST_TEST(cluster::adjusted_rand_index(truth, upred) > 0.9, u.message);
    // The model is the standardisation in front of the VMoNF; its density is on the data's scale.
    BOOST_TEST(a.model->kind() == "flow");
    BOOST_REQUIRE(vmonf_inside(*a.model) != nullptr);
    const VmonfFit b = fit_vmonf(d.x, nullptr, o);
    BOOST_TEST(b.labels == a.labels);
    const Array la = log_prob_rows(*a.model, d.x), lb = log_prob_rows(*b.model, d.x);
    for (std::size_t i = 0; i < 600; ++i) BOOST_TEST(la(i, 0) == lb(i, 0));
}

BOOST_AUTO_TEST_CASE(pretraining_on_labels_makes_q_follow_them) {
    Dataset d = three_blobs(300, 8);
    IndexArray labels = *d.labels;
    // Rows with labels 0/1/2 named 2/0/1: q must follow the names, not only the partition.
    for (std::size_t i = 0; i < 300; ++i) labels(i, 0) = (labels(i, 0) + 2) % 3;
    for (std::size_t i = 0; i < 300; i += 4) labels(i, 0) = kNoLabel;  // a quarter unlabelled
    VmonfOptions o = quick_options(3, 20);
    const VmonfFit f = fit_vmonf(d.x, &labels, o);
    BOOST_TEST(f.pretrain.epochs_run == 40u);
    std::size_t right = 0, unlabelled = 0;
    for (std::size_t i = 0; i < 300; i += 4) {
        ++unlabelled;
        right += static_cast<std::int64_t>(f.labels[i]) == ((*d.labels)(i, 0) + 2) % 3;
    }
    BOOST_TEST(right == unlabelled, f.message);
}

BOOST_AUTO_TEST_CASE(bad_input_is_refused) {
    const Dataset d = three_blobs(30, 9);
    VmonfOptions o = quick_options(1, 2);
    BOOST_CHECK_THROW(fit_vmonf(d.x, nullptr, o), ValueError);  // K = 1
    o = quick_options(31, 2);
    BOOST_CHECK_THROW(fit_vmonf(d.x, nullptr, o), ValueError);  // K > N
    o = quick_options(3, 2);
    IndexArray labels = *d.labels;
    labels(4, 0) = 3;
    try {
        fit_vmonf(d.x, &labels, o);
        BOOST_FAIL("labels outside 0..K-1 were accepted");
    } catch (const ValueError& e) {
        BOOST_TEST(std::string(e.what()).find("row 4 has label 3, outside 0..2") != std::string::npos, e.what());
    }
    labels.fill(kNoLabel);
    BOOST_CHECK_THROW(fit_vmonf(d.x, &labels, o), ValueError);  // no label at all
    o.temperature = {0, 0.9, 1};
    BOOST_CHECK_THROW(fit_vmonf(d.x, nullptr, o), ValueError);
    o.temperature = {5, 1.1, 1};
    BOOST_CHECK_THROW(fit_vmonf(d.x, nullptr, o), ValueError);
    o = quick_options(3, 2);
    Array bad = d.x;
    bad(7, 1) = std::nan("");
    BOOST_CHECK_THROW(fit_vmonf(bad, nullptr, o), ValueError);
    o.spec.component = "glow";
    BOOST_CHECK_THROW(fit_vmonf(d.x, nullptr, o), ValueError);
    o.spec.component = "realnvp";
    o.init = "random";
    BOOST_CHECK_THROW(fit_vmonf(d.x, nullptr, o), ValueError);
    o.init = "kmeans";
    o.spec.prior = {0.5, 0.5};
    BOOST_CHECK_THROW(fit_vmonf(d.x, nullptr, o), ValueError);
}

BOOST_AUTO_TEST_SUITE_END()
