// Tests of the flows-for-flows model (flows/transport/transport_flow.hpp):
//   - it starts as the identity (to 1e-12 inside the tail bound) both ways and conditionally, its
//     bases frozen, its density then the left base's;
//   - off the start, the two directions are each other's inverse and their log-densities are the
//     bases' at the moved points plus a log-determinant that matches a finite-difference Jacobian;
//   - a conditional batch mixing up and down rows gives each row what it gets alone, and moving
//     c → c' → c returns the rows;
//   - the model file round-trips (bit-identical log-densities, bases frozen after loading, the
//     condition range kept); bad construction and bad calls throw.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "flowtape.hpp"
#include "test/flows/transport/transport_test_support.hpp"
#include "test/temp_dir.hpp"

using namespace flowtape;

namespace {

DistributionPtr base_flow(std::uint64_t seed, std::size_t context = 0) { return flowtape::test::jittered_base(seed, context); }

TopFlowSpec small_top() {
    TopFlowSpec s;
    s.layers = 3;  // odd: the extra reversal at the end
    s.hidden = {16, 16};
    return s;
}

void perturb(Distribution& model, std::uint64_t seed, real scale) {
    Rng rng(seed);
    flowtape::test::perturb(model, rng, scale);
}

real max_abs(const Array& a) { return xt::amax(xt::abs(a))(); }

Array column(std::size_t n, real v) { return xt::zeros<real>({n, std::size_t(1)}) + v; }

}  // namespace

BOOST_AUTO_TEST_SUITE(transport_flow)

BOOST_AUTO_TEST_CASE(starts_as_the_identity_over_frozen_bases) {
    Rng rng(1);
    auto model = make_transport_flow(small_top(), base_flow(2), base_flow(3), ConditionMode::none, rng);
    const Array y = rng.uniform_array(50, 2) * 7.8 - 3.9;  // inside the tail bound 4
    BOOST_TEST(max_abs(transport_right_to_left(*model, y) - y) < 1e-12);
    BOOST_TEST(max_abs(transport_left_to_right(*model, y) - y) < 1e-12);
    BOOST_TEST(max_abs(log_prob_rows(*model, y) - log_prob_rows(model->left(), y)) < 1e-12);
    std::size_t trainable = 0;
    const ParameterList all = model->parameters();
    for (const NamedParameter& p : all.items()) {
        const bool base = p.name.rfind("left.", 0) == 0 || p.name.rfind("right.", 0) == 0;
        BOOST_TEST(p.parameter->frozen() == base, p.name);
        trainable += !p.parameter->frozen();
    }
    BOOST_TEST(trainable > 0u);
    // Conditional: the identity for any pair of conditions, up or down.
    auto cond = make_transport_flow(small_top(), base_flow(4, 1), nullptr, ConditionMode::concat, rng);
    const Array c_in = rng.uniform_array(50, 1), c_t = rng.uniform_array(50, 1);
    BOOST_TEST(max_abs(transport_condition(*cond, y, c_in, c_t) - y) < 1e-12);
}

BOOST_AUTO_TEST_CASE(the_directions_invert_each_other_and_their_logdets_match_the_jacobian) {
    Rng rng(5);
    auto model = make_transport_flow(small_top(), base_flow(6), base_flow(7), ConditionMode::none, rng);
    perturb(*model, 8, 0.2);
    const Array y = rng.normal_array(30, 2);
    const Array x = transport_right_to_left(*model, y);
    BOOST_TEST(max_abs(x - y) > 1e-2);  // it moves
    BOOST_TEST(max_abs(transport_left_to_right(*model, x) - y) < 1e-10);

    // log p(y) − log p_left(S(y)) = log|det ∂S/∂y|, and the left rows' the same with S⁻¹ and the
    // right base; the Jacobians by central differences.
    const auto jacobian_logdet = [&](bool right_to_left, const Array& at) {
        const real h = 1e-6;
        Array j = xt::zeros<real>({std::size_t(2), std::size_t(2)});
        for (std::size_t k = 0; k < 2; ++k) {
            Array plus = at, minus = at;
            plus(0, k) += h;
            minus(0, k) -= h;
            const Array fp = right_to_left ? transport_right_to_left(*model, plus) : transport_left_to_right(*model, plus);
            const Array fm = right_to_left ? transport_right_to_left(*model, minus) : transport_left_to_right(*model, minus);
            for (std::size_t r = 0; r < 2; ++r) j(r, k) = (fp(0, r) - fm(0, r)) / (2 * h);
        }
        return std::log(std::abs(j(0, 0) * j(1, 1) - j(0, 1) * j(1, 0)));
    };
    for (std::size_t i = 0; i < 5; ++i) {
        const Array row = xt::view(y, xt::range(i, i + 1), xt::all());
        const Array s = transport_right_to_left(*model, row), t = transport_left_to_right(*model, row);
        const real lp = log_prob_rows(*model, row)(0, 0);
        BOOST_TEST(lp - log_prob_rows(model->left(), s)(0, 0) == jacobian_logdet(true, row),
                   boost::test_tools::tolerance(1e-6));
        real lp_left = 0;
        {
            Tape tape;
            NoGrad ng(tape);
            lp_left = model->left_to_right(tape.constant(row)).log_prob.item();
        }
        BOOST_TEST(lp_left - log_prob_rows(*model->right(), t)(0, 0) == jacobian_logdet(false, row),
                   boost::test_tools::tolerance(1e-6));
    }
    // Samples are the left base's moved by S⁻¹: finite, and S takes them back to the base's draws.
    const Array drawn = sample_rows(*model, 20, 9), from_base = sample_rows(model->left(), 20, 9);
    BOOST_TEST(max_abs(transport_right_to_left(*model, drawn) - from_base) < 1e-10);
}

BOOST_AUTO_TEST_CASE(a_mixed_conditional_batch_gives_each_row_its_own_result) {
    for (ConditionMode mode : {ConditionMode::delta, ConditionMode::concat}) {
        Rng rng(10);
        auto model = make_transport_flow(small_top(), base_flow(11, 1), nullptr, mode, rng);
        perturb(*model, 12, 0.2);
        const std::size_t n = 12;
        const Array x = rng.normal_array(n, 2), c_in = rng.uniform_array(n, 1), c_t = rng.uniform_array(n, 1);
        Array context = xt::zeros<real>({n, std::size_t(2)});
        for (std::size_t i = 0; i < n; ++i) {
            context(i, 0) = c_in(i, 0);
            context(i, 1) = c_t(i, 0);
        }
        const Array moved = transport_condition(*model, x, c_in, c_t), lp = log_prob_rows(*model, x, &context);
        std::size_t up = 0;
        for (std::size_t i = 0; i < n; ++i) {
            up += c_t(i, 0) >= c_in(i, 0);
            const Array xi = xt::view(x, xt::range(i, i + 1), xt::all());
            const Array ci = xt::view(context, xt::range(i, i + 1), xt::all());
            const Array alone = transport_condition(*model, xi, column(1, c_in(i, 0)), column(1, c_t(i, 0)));
            BOOST_TEST(max_abs(alone - xt::view(moved, xt::range(i, i + 1), xt::all())) < 1e-13);
            BOOST_TEST(log_prob_rows(*model, xi, &ci)(0, 0) == lp(i, 0), boost::test_tools::tolerance(1e-12));
        }
        BOOST_TEST(up > 0u);
        BOOST_TEST(up < n);  // both directions in the batch
        // c → c' → c.
        BOOST_TEST(max_abs(transport_condition(*model, moved, c_t, c_in) - x) < 1e-10);
        BOOST_TEST(max_abs(moved - x) > 1e-2);
    }
}

BOOST_AUTO_TEST_CASE(the_model_file_round_trips_with_frozen_bases) {
    flowtape::test::TempDir dir;
    for (ConditionMode mode : {ConditionMode::none, ConditionMode::delta}) {
        Rng rng(13);
        auto model = mode == ConditionMode::none
                         ? make_transport_flow(small_top(), base_flow(14), base_flow(15), mode, rng)
                         : make_transport_flow(small_top(), base_flow(16, 1), nullptr, mode, rng);
        perturb(*model, 17, 0.1);
        if (mode != ConditionMode::none) model->set_condition_range(0.25, 0.75);
        const std::string path = dir.file("f4f.json");
        save_model(*model, path);
        DistributionPtr loaded = load_model(path);
        auto* back = dynamic_cast<TransportFlow*>(loaded.get());
        BOOST_REQUIRE(back);
        BOOST_TEST((back->condition_mode() == mode));
        const Array x = rng.normal_array(20, 2);
        Array context = xt::zeros<real>({std::size_t(20), std::size_t(2)});
        for (std::size_t i = 0; i < 20; ++i) context(i, 1) = 0.1 * static_cast<real>(i) - 0.5;
        const Array* ctx = mode == ConditionMode::none ? nullptr : &context;
        const Array a = log_prob_rows(*model, x, ctx), b = log_prob_rows(*loaded, x, ctx);
        BOOST_TEST(max_abs(a - b) == 0.0);
        const ParameterList params = loaded->parameters();
        for (const NamedParameter& p : params.items())
            BOOST_TEST(p.parameter->frozen() == (p.name.rfind("top.", 0) != 0), p.name);
        if (mode != ConditionMode::none) {
            BOOST_TEST(back->condition_range().first == 0.25);
            BOOST_TEST(back->condition_range().second == 0.75);
        } else {
            BOOST_TEST(back->has_right());
        }
    }
}

BOOST_AUTO_TEST_CASE(sample_rows_draws_a_conditional_base_at_each_rows_context) {
    // The benchmark samples the conditional base this way (flows/distribution.hpp): the same draws
    // as the model's own sample on one tape with the same Rng, other draws at another context.
    DistributionPtr base = base_flow(41, 1);
    const std::size_t n = 50;
    const Array at = xt::zeros<real>({n, std::size_t(1)}) + 0.25, other = xt::zeros<real>({n, std::size_t(1)}) + 0.75;
    Array direct;
    {
        Tape t;
        NoGrad no_grad(t);
        Rng rng(9);
        direct = base->sample(t, n, rng, t.constant(at)).value();
    }  // the tape goes, and with it its hold on the parameters
    const Array drawn = sample_rows(*base, n, 9, &at);
    BOOST_TEST(xt::amax(xt::abs(drawn - direct))() == 0.0);
    BOOST_TEST(xt::amax(xt::abs(drawn - sample_rows(*base, n, 9, &other)))() > 1e-6);
    const Array short_context = xt::zeros<real>({n - 1, std::size_t(1)});
    BOOST_CHECK_THROW(sample_rows(*base, n, 9, &short_context), ShapeError);
}

BOOST_AUTO_TEST_CASE(bad_construction_and_bad_calls_throw) {
    Rng rng(18);
    FlowSpec three;
    three.dim = 3;
    three.layers = 1;
    three.hidden = {4};
    BOOST_CHECK_THROW(make_transport_flow(small_top(), base_flow(19), make_realnvp_flow(three, rng), ConditionMode::none, rng),
                      ValueError);  // bases of different dimensions
    BOOST_CHECK_THROW(make_transport_flow(small_top(), nullptr, nullptr, ConditionMode::none, rng), ValueError);
    BOOST_CHECK_THROW(make_transport_flow(small_top(), base_flow(20), nullptr, ConditionMode::delta, rng),
                      ValueError);  // conditional mode, unconditional base
    BOOST_CHECK_THROW(make_transport_flow(small_top(), base_flow(21, 1), nullptr, ConditionMode::none, rng),
                      ValueError);  // conditional base, unconditional mode
    BOOST_CHECK_THROW(condition_mode_from_name("sideways"), ValueError);

    auto one = make_transport_flow(small_top(), base_flow(22), nullptr, ConditionMode::none, rng);
    const Array x = rng.normal_array(4, 2);
    // No right base: the map goes both ways, but left rows cannot be scored.
    BOOST_TEST(max_abs(transport_right_to_left(*one, transport_left_to_right(*one, x)) - x) < 1e-12);
    {
        Tape t;
        NoGrad ng(t);
        BOOST_CHECK_THROW(one->left_to_right(t.constant(x)), ValueError);
    }
    BOOST_CHECK_THROW(transport_right_to_left(*one, Array::from_shape({4, 3})), ShapeError);
    BOOST_CHECK_THROW(transport_condition(*one, x, column(4, 0), column(4, 1)), ValueError);
    auto cond = make_transport_flow(small_top(), base_flow(23, 1), nullptr, ConditionMode::delta, rng);
    BOOST_CHECK_THROW(log_prob_rows(*cond, x), ValueError);  // no condition
    BOOST_CHECK_THROW(sample_rows(*cond, 3, 1), ValueError);
    BOOST_CHECK_THROW(transport_condition(*cond, x, column(3, 0), column(4, 1)), ShapeError);
}

BOOST_AUTO_TEST_SUITE_END()
