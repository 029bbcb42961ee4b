// Tests of training a flows-for-flows model (flows/transport/flows_for_flows.hpp; the model itself
// is tested in transport_flow_test.cpp):
//   - the penalty's cosine schedule reaches w₀ at step 0, the midpoint halfway and w_min at the end;
//   - the objective is −log p + w·D by hand, its gradient passes gradcheck, and the annealed
//     penalty acts (the loss differs from the unpenalised one while w_t > 0); validation uses the
//     final weight (w₀ constant, w_min annealed); the penalty alone is w·D in training and in
//     validation;
//   - training with the L1 penalty on data of the base's own distribution moves the rows less than
//     without it;
//   - two bases: batches alternate between the sides, the left rows' direction trains too;
//   - conditional: the targets are a permutation of the batch's conditions, training moves rows
//     onto the target condition's distribution better than not training;
//   - base transfer between a flow and itself is the identity, also at one condition;
//   - bad input to fit_transport.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "flowtape.hpp"
#include "test/flows/transport/transport_test_support.hpp"

using namespace flowtape;

namespace {

DistributionPtr small_base(std::uint64_t seed) { return flowtape::test::jittered_base(seed); }

TopFlowSpec small_top() {
    TopFlowSpec s;
    s.layers = 2;
    s.hidden = {16, 16};
    return s;
}

std::unique_ptr<TransportFlow> one_base_model(std::uint64_t base_seed, Rng& rng) {
    return make_transport_flow(small_top(), small_base(base_seed), nullptr, ConditionMode::none, rng);
}

using flowtape::test::perturb;

FitOptions quick_fit(std::size_t epochs) {
    FitOptions f;
    f.epochs = epochs;
    f.batch = 128;
    f.lr = 3e-3;
    f.val_fraction = 0;
    f.patience = epochs;
    f.quiet = true;
    return f;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(flows_for_flows)

BOOST_AUTO_TEST_CASE(the_cosine_schedule_runs_from_w0_to_wmin) {
    DisplacementPenalty p;
    p.kind = "l1";
    p.weight = 2;
    p.weight_min = 0.5;
    p.anneal = true;
    p.total_steps = 100;
    BOOST_TEST(p.weight_at(0) == 2.0);
    BOOST_TEST(p.weight_at(50) == 1.25, boost::test_tools::tolerance(1e-14));
    BOOST_TEST(p.weight_at(100) == 0.5);
    BOOST_TEST(p.weight_at(1000) == 0.5);
    BOOST_TEST(p.weight_at(25) > p.weight_at(26));
    p.anneal = false;
    BOOST_TEST(p.weight_at(77) == 2.0);
    p.kind = "l3";
    BOOST_CHECK_THROW(p.check("t"), ValueError);
    p.kind = "l2";
    p.weight = -1;
    BOOST_CHECK_THROW(p.check("t"), ValueError);
    p.weight = 1;
    p.anneal = true;
    p.total_steps = 0;
    BOOST_CHECK_THROW(p.check("t"), ValueError);
}

BOOST_AUTO_TEST_CASE(the_objective_is_the_nll_plus_the_weighted_displacement_and_the_anneal_acts) {
    Rng rng(3);
    std::unique_ptr<TransportFlow> top = one_base_model(4, rng);
    perturb(*top, rng, 0.05);  // off the identity, so the displacement is not zero
    const ParameterList all = top->parameters();
    const Array y = rng.normal_array(8, 2);
    const Array moved = transport_right_to_left(*top, y), lp = log_prob_rows(*top, y);
    for (const std::string kind : {"l1", "l2"}) {
        DisplacementPenalty pen;
        pen.kind = kind;
        pen.weight = 0.7;
        pen.anneal = true;
        pen.total_steps = 4;
        TransportObjective o(pen), plain(DisplacementPenalty{});
        real expected = 0, nll = 0;
        for (std::size_t i = 0; i < 8; ++i) {
            real d = 0;
            for (std::size_t j = 0; j < 2; ++j) {
                const real diff = moved(i, j) - y(i, j);
                d += kind == "l1" ? std::abs(diff) : diff * diff;
            }
            expected += (-lp(i, 0) + 0.7 * d) / 8;
            nll -= lp(i, 0) / 8;
        }
        Tape t;
        NoGrad no_grad(t);
        const Array w = xt::ones<real>({std::size_t(8), std::size_t(1)});
        const Batch batch{t, t.constant(y), t.constant(w), 8, Var()};
        BOOST_TEST(o.loss(*top, batch).value()(0, 0) == expected, boost::test_tools::tolerance(1e-11));  // step 0: w₀
        BOOST_TEST(o.steps() == 1u);
        BOOST_TEST(plain.loss(*top, batch).value()(0, 0) == nll, boost::test_tools::tolerance(1e-11));
        BOOST_TEST(o.validation_loss(*top, batch).value()(0, 0) == nll, boost::test_tools::tolerance(1e-11));  // w_min = 0
        // A constant penalty is validated by the objective it trains (the same weight every epoch).
        DisplacementPenalty constant = pen;
        constant.anneal = false;
        BOOST_TEST(TransportObjective(constant).validation_loss(*top, batch).value()(0, 0) == expected,
                   boost::test_tools::tolerance(1e-11));
        // Steps 1..3 at w_t > 0 still differ from the plain loss; at step 4 the weight is w_min = 0.
        // The step is the batch's (fit numbers them), not a count of the objective's calls.
        const auto at_step = [&](std::size_t step) { return Batch{t, batch.x, batch.weights, 8, Var(), nullptr, 1, step}; };
        for (std::size_t s = 1; s < 4; ++s) BOOST_TEST(o.loss(*top, at_step(s)).value()(0, 0) > nll + 1e-9);
        BOOST_TEST(o.loss(*top, at_step(4)).value()(0, 0) == nll, boost::test_tools::tolerance(1e-11));
        BOOST_TEST(o.steps() == 5u);
        BOOST_TEST(o.loss(*top, at_step(0)).value()(0, 0) == expected, boost::test_tools::tolerance(1e-11));
    }
    // The gradient of the penalised loss w.r.t. the top flow's parameters.
    std::vector<Parameter*> params;
    for (const NamedParameter& p : all.items())
        if (!p.parameter->frozen()) params.push_back(p.parameter);
    DisplacementPenalty pen;
    pen.kind = "l2";
    pen.weight = 0.5;
    TransportObjective o(pen);
    const Array w = xt::ones<real>({std::size_t(8), std::size_t(1)});
    const GradcheckResult g = gradcheck_parameters(
        [&](Tape& t) { return o.loss(*top, Batch{t, t.constant(y), t.constant(w), 8, Var()}); }, params);
    BOOST_TEST(g.ok, g.worst);
}

BOOST_AUTO_TEST_CASE(the_penalty_alone_is_the_weighted_displacement_in_training_and_validation) {
    Rng rng(31);
    std::unique_ptr<TransportFlow> top = one_base_model(4, rng);
    perturb(*top, rng, 0.05);
    const Array y = rng.normal_array(6, 2);
    const Array moved = transport_right_to_left(*top, y);
    real expected = 0;
    for (std::size_t i = 0; i < 6; ++i)
        expected += 1.5 * (std::abs(moved(i, 0) - y(i, 0)) + std::abs(moved(i, 1) - y(i, 1))) / 6;
    DisplacementPenalty pen;
    pen.kind = "l1";
    pen.weight = 1.5;
    pen.penalty_only = true;
    TransportObjective o(pen);
    Tape t;
    NoGrad no_grad(t);
    const Array w = xt::ones<real>({std::size_t(6), std::size_t(1)});
    const Batch batch{t, t.constant(y), t.constant(w), 6, Var()};
    BOOST_TEST(expected > 1e-3);  // the perturbed map moves the rows
    BOOST_TEST(o.loss(*top, batch).value()(0, 0) == expected, boost::test_tools::tolerance(1e-11));
    BOOST_TEST(o.validation_loss(*top, batch).value()(0, 0) == expected, boost::test_tools::tolerance(1e-11));
    pen.kind = "none";
    BOOST_CHECK_THROW(pen.check("t"), ValueError);
    pen.kind = "l2";
    pen.weight = 0;
    BOOST_CHECK_THROW(pen.check("t"), ValueError);
}

BOOST_AUTO_TEST_CASE(the_l1_penalty_keeps_the_map_near_the_identity) {
    // Data from the base's own distribution: the best map is any measure-preserving one; the
    // penalty asks for the identity. Trained with it, the rows move less than without.
    Rng rng(5);
    DistributionPtr base = small_base(6);
    const Array y = sample_rows(*base, 600, 7);
    real moved[2];
    for (int with = 0; with < 2; ++with) {
        Rng init(8);
        std::unique_ptr<TransportFlow> top = one_base_model(6, init);
        TransportFitOptions o;
        o.fit = quick_fit(15);
        o.penalty.kind = with ? "l1" : "none";
        o.penalty.weight = 1;
        const FitReport r = fit_transport(*top, TransportData{&y}, o);
        BOOST_TEST(!r.diverged, r.message);
        moved[with] = mean_distance(transport_right_to_left(*top, y), y).euclidean;
    }
    BOOST_TEST(moved[1] < moved[0], "with L1 " << moved[1] << ", without " << moved[0]);
}

BOOST_AUTO_TEST_CASE(batches_by_label_alternate_sides_and_both_directions_train) {
    // An objective that records each training batch's labels.
    struct Recorder : Objective {
        std::vector<std::vector<std::int64_t>> batches;
        Var loss(Distribution& model, const Batch& b) override {
            std::vector<std::int64_t> labels;
            for (std::size_t i = 0; i < b.x.rows(); ++i) labels.push_back((*b.labels)(i, 0));
            batches.push_back(labels);
            return WeightedNll().loss(model, b);
        }
    } recorder;
    DistributionPtr g = small_base(12);
    Rng rng(13);
    const Array x = rng.normal_array(700, 2);
    IndexArray sides = xt::zeros<std::int64_t>({std::size_t(700), std::size_t(1)});
    for (std::size_t i = 500; i < 700; ++i) sides(i, 0) = 1;  // 500 of side 0, 200 of side 1
    FitOptions f = quick_fit(1);
    f.batch = 64;
    f.batches_by_label = true;
    fit(*g, FitData{x, nullptr, nullptr, &sides}, f, recorder);
    // 8 batches of side 0 (7 full, one of 52) and 4 of side 1 (3 full, one of 8), in turns while both last.
    BOOST_TEST(recorder.batches.size() == 12u);
    std::vector<std::int64_t> order;
    std::size_t rows = 0;
    for (const auto& b : recorder.batches) {
        for (std::int64_t l : b) BOOST_TEST(l == b.front());  // one side per batch
        order.push_back(b.front());
        rows += b.size();
    }
    BOOST_TEST(rows == 700u);
    const std::vector<std::int64_t> expected{0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0};
    BOOST_TEST(order == expected, boost::test_tools::per_element());
    f.batches_by_label = true;
    BOOST_CHECK_THROW(fit(*g, FitData{x}, f, recorder), ValueError);  // no labels

    // Two bases, left rows too: the left rows' log-density (S⁻¹ under the right base) improves.
    Rng init(14);
    auto model = make_transport_flow(small_top(), small_base(15), small_base(16), ConditionMode::none, init);
    const Array y = sample_rows(*small_base(16), 400, 17), left = sample_rows(*small_base(15), 400, 18);
    auto left_nll = [&] {
        Tape t;
        NoGrad ng(t);
        return -xt::mean(model->left_to_right(t.constant(left)).log_prob.value())();
    };
    // The right rows are the right base's, the left rows the left base's: the best map carries one
    // onto the other, so both NLLs should fall from the identity start.
    const real before = left_nll();
    const real before_right = -xt::mean(log_prob_rows(*model, y))();
    TransportFitOptions o;
    o.fit = quick_fit(10);
    const FitReport r = fit_transport(*model, TransportData{&y, &left}, o);
    BOOST_TEST(!r.diverged, r.message);
    BOOST_TEST(left_nll() < before, "left rows' NLL " << left_nll() << " from " << before);
    BOOST_TEST(-xt::mean(log_prob_rows(*model, y))() < before_right);
}

BOOST_AUTO_TEST_CASE(conditional_training_draws_targets_from_the_batch_and_learns_the_shift) {
    // Data: x = c·(1, 1) + 0.3 ε with c uniform in [0, 1]; the conditional base is a Gaussian
    // flow that knows nothing of c (a RealNVP with a context that starts ignoring it); moving
    // rows from c to c' is a shift by (c' − c)(1, 1), which the top flow can learn.
    Rng rng(20);
    const std::size_t n = 1200;
    Array c = rng.uniform_array(n, 1);
    Array x = 0.3 * rng.normal_array(n, 2);
    for (std::size_t i = 0; i < n; ++i) {
        x(i, 0) += c(i, 0);
        x(i, 1) += c(i, 0);
    }
    FlowSpec base_spec;
    base_spec.dim = 2;
    base_spec.layers = 4;
    base_spec.hidden = {32};
    base_spec.context = 1;
    Rng base_rng(21);
    DistributionPtr base = make_maf_flow(base_spec, base_rng);
    FitOptions bf = quick_fit(40);
    BOOST_TEST(!fit(*base, x, bf, nullptr, &c).diverged);

    Rng init(22);
    auto model = make_transport_flow(small_top(), std::move(base), nullptr, ConditionMode::delta, init);
    TransportFitOptions o;
    o.fit = quick_fit(15);
    o.penalty.kind = "l1";  // a small pull towards the simplest map
    o.penalty.weight = 0.1;
    const FitReport r = fit_transport(*model, TransportData{&x, nullptr, &c}, o);
    BOOST_TEST(!r.diverged, r.message);
    BOOST_TEST(model->condition_range().first >= 0.0);
    BOOST_TEST(model->condition_range().second <= 1.0);
    BOOST_TEST(model->condition_range().second > 0.99);
    // Rows at c ≈ 0 moved to c' = 1: their mean should move to about (1, 1), up or down alike.
    const Array zero = xt::zeros<real>({n, std::size_t(1)}), one = xt::ones<real>({n, std::size_t(1)});
    Array at0 = 0.3 * rng.normal_array(n, 2), at1 = at0 + 1.0;
    const Array up = transport_condition(*model, at0, zero, one), down = transport_condition(*model, at1, one, zero);
    for (std::size_t j = 0; j < 2; ++j) {
        BOOST_TEST(std::abs(xt::mean(xt::view(up, xt::all(), j))() - 1.0) < 0.15);
        BOOST_TEST(std::abs(xt::mean(xt::view(down, xt::all(), j))()) < 0.15);
    }
    // Training drew its targets from the batch: the objective's training loss differs from the
    // validation pairing on the same rows, and both are finite.
    TransportObjective objective(DisplacementPenalty{}, 3);
    Tape t;
    NoGrad ng(t);
    Array ctx = xt::zeros<real>({std::size_t(64), std::size_t(2)});
    for (std::size_t i = 0; i < 64; ++i) ctx(i, 0) = ctx(i, 1) = c(i, 0);
    const Array w = xt::ones<real>({std::size_t(64), std::size_t(1)});
    const Array rows = xt::view(x, xt::range(0, 64), xt::all());
    const Batch b{t, t.constant(rows), t.constant(w), 64, t.constant(ctx)};
    const real a = objective.loss(*model, b).item(), v = objective.validation_loss(*model, b).item();
    BOOST_TEST(std::isfinite(a));
    BOOST_TEST(std::isfinite(v));
    BOOST_TEST(a != v);
}

BOOST_AUTO_TEST_CASE(fit_transport_refuses_data_that_do_not_fit_the_model) {
    Rng rng(30);
    auto one = one_base_model(31, rng);
    const Array y = rng.normal_array(50, 2), c = rng.uniform_array(50, 1), wide = rng.normal_array(50, 3);
    TransportFitOptions o;
    o.fit = quick_fit(1);
    BOOST_CHECK_THROW(fit_transport(*one, TransportData{}, o), ValueError);
    BOOST_CHECK_THROW(fit_transport(*one, TransportData{&y, &y}, o), ValueError);       // left rows, no right base
    BOOST_CHECK_THROW(fit_transport(*one, TransportData{&y, nullptr, &c}, o), ValueError);  // a condition, unconditional
    BOOST_CHECK_THROW(fit_transport(*one, TransportData{&wide}, o), ShapeError);
}

BOOST_AUTO_TEST_CASE(base_transfer_through_one_flow_is_the_identity_and_distances_are_means) {
    DistributionPtr a = small_base(9), b = small_base(10);
    Rng rng(11);
    const Array x = rng.normal_array(20, 2);
    BOOST_TEST(xt::amax(xt::abs(base_transfer(*a, *a, x) - x))() < 1e-10);
    const Array ab = base_transfer(*a, *b, x);
    BOOST_TEST(xt::amax(xt::abs(base_transfer(*b, *a, ab) - x))() < 1e-10);
    const MeanDistance m = mean_distance(Array{{0, 0}, {3, 4}}, Array{{0, 0}, {0, 0}});
    BOOST_TEST(m.euclidean == 2.5);
    BOOST_TEST(m.l1 == 3.5);
    StandardNormal g(2);
    BOOST_CHECK_THROW(base_transfer(g, *a, x), ValueError);
    BOOST_CHECK_THROW(base_transfer(*a, *a, Array::from_shape({3, 3})), ShapeError);
    // At one condition, a conditional base's transfer is the identity; between two it round-trips.
    DistributionPtr cond = flowtape::test::jittered_base(12, 1);
    const Array c0 = xt::zeros<real>({std::size_t(20), std::size_t(1)}), c1 = c0 + 0.7;
    BOOST_TEST(xt::amax(xt::abs(base_transfer_condition(*cond, x, c0, c0) - x))() < 1e-10);
    const Array moved = base_transfer_condition(*cond, x, c0, c1);
    BOOST_TEST(xt::amax(xt::abs(moved - x))() > 1e-3);
    BOOST_TEST(xt::amax(xt::abs(base_transfer_condition(*cond, moved, c1, c0) - x))() < 1e-9);
    BOOST_CHECK_THROW(base_transfer_condition(*a, x, c0, c1), ValueError);
}

BOOST_AUTO_TEST_SUITE_END()
