// Tests of the flows-for-flows pieces (flows/transport/flows_for_flows.hpp):
//   - the top flow starts as the identity (to 1e-12 inside the tail bound), its base is frozen;
//   - the penalty's cosine schedule reaches w₀ at step 0, the midpoint halfway and w_min at the end;
//   - the objective is −log p + w·D by hand, its gradient passes gradcheck, and the annealed
//     penalty acts (the loss differs from the unpenalised one while w_t > 0);
//   - training with the L1 penalty on data of the base's own distribution moves the rows less than
//     without it;
//   - base transfer between a flow and itself is the identity; transport and its inverse round-trip.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "flowtape.hpp"

using namespace flowtape;

namespace {

// A small trained-looking base: a RealNVP with random (non-identity) weights.
DistributionPtr small_base(std::uint64_t seed) {
    FlowSpec f;
    f.dim = 2;
    f.layers = 2;
    f.hidden = {8};
    Rng rng(seed);
    DistributionPtr base = make_realnvp_flow(f, rng);
    Rng jitter(seed + 100);
    const ParameterList params = base->parameters();
    for (const NamedParameter& p : params.items())
        p.parameter->value() += 0.3 * jitter.normal_array(p.parameter->value().shape()[0], p.parameter->value().shape()[1]);
    return base;
}

TopFlowSpec small_top() {
    TopFlowSpec s;
    s.layers = 2;
    s.hidden = {16, 16};
    return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(flows_for_flows)

BOOST_AUTO_TEST_CASE(the_top_flow_starts_as_the_identity_over_a_frozen_base) {
    Rng rng(1);
    std::unique_ptr<Flow> top = make_top_flow(small_top(), small_base(2), rng);
    const Array y = rng.uniform_array(50, 2) * 7.8 - 3.9;  // inside the tail bound 4
    const Array moved = transport(*top, y), back = transport_inverse(*top, y);
    BOOST_TEST(xt::amax(xt::abs(moved - y))() < 1e-12);
    BOOST_TEST(xt::amax(xt::abs(back - y))() < 1e-12);
    // So its density is the base's.
    const Array a = log_prob_rows(*top, y), b = log_prob_rows(top->base(), y);
    BOOST_TEST(xt::amax(xt::abs(a - b))() < 1e-12);
    const ParameterList base_params = top->base().parameters(), all = top->parameters();
    for (const NamedParameter& p : base_params.items()) BOOST_TEST(p.parameter->frozen(), p.name);
    std::size_t trainable = 0;
    for (const NamedParameter& p : all.items()) trainable += !p.parameter->frozen();
    BOOST_TEST(trainable > 0u);
    BOOST_CHECK_THROW(make_top_flow(small_top(), nullptr, rng), ValueError);
}

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
    std::unique_ptr<Flow> top = make_top_flow(small_top(), small_base(4), rng);
    // Move the top flow off the identity so the displacement is not zero.
    const ParameterList all = top->parameters();
    for (const NamedParameter& p : all.items())
        if (!p.parameter->frozen()) p.parameter->value() += 0.05 * rng.normal_array(p.parameter->value().shape()[0], p.parameter->value().shape()[1]);
    const Array y = rng.normal_array(8, 2);
    const Array moved = transport(*top, y), lp = log_prob_rows(*top, y);
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
        const Batch batch{t, t.constant(y), t.constant(w), 8};
        BOOST_TEST(o.loss(*top, batch).value()(0, 0) == expected, boost::test_tools::tolerance(1e-11));  // step 0: w₀
        BOOST_TEST(o.steps() == 1u);
        BOOST_TEST(plain.loss(*top, batch).value()(0, 0) == nll, boost::test_tools::tolerance(1e-11));
        BOOST_TEST(o.validation_loss(*top, batch).value()(0, 0) == nll, boost::test_tools::tolerance(1e-11));
        // Steps 1..3 at w_t > 0 still differ from the plain loss; at step 4 the weight is w_min = 0.
        for (int s = 1; s < 4; ++s) BOOST_TEST(o.loss(*top, batch).value()(0, 0) > nll + 1e-9);
        BOOST_TEST(o.loss(*top, batch).value()(0, 0) == nll, boost::test_tools::tolerance(1e-11));
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
        [&](Tape& t) { return o.loss(*top, Batch{t, t.constant(y), t.constant(w), 8}); }, params);
    BOOST_TEST(g.ok, g.worst);
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
        std::unique_ptr<Flow> top = make_top_flow(small_top(), small_base(6), init);
        DisplacementPenalty pen;
        pen.kind = with ? "l1" : "none";
        pen.weight = 1;
        TransportObjective o(pen);
        FitOptions f;
        f.epochs = 15;
        f.batch = 128;
        f.lr = 3e-3;
        f.val_fraction = 0;
        f.patience = 15;
        f.quiet = true;
        const FitReport r = fit(*top, FitData{y}, f, o);
        BOOST_TEST(!r.diverged, r.message);
        moved[with] = mean_distance(transport(*top, y), y).euclidean;
    }
    BOOST_TEST(moved[1] < moved[0], "with L1 " << moved[1] << ", without " << moved[0]);
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
    BOOST_CHECK_THROW(transport(*static_cast<Flow*>(a.get()), Array::from_shape({3, 3})), ShapeError);
}

BOOST_AUTO_TEST_SUITE_END()
