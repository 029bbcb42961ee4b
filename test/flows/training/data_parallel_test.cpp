// Tests of data-parallel training's one-process side (Note [data-parallel fit]): shards of whole
// blocks that tile the rows, the gradient summed by block equal to the plain one, a deterministic
// fit equal to the plain fit up to rounding and to itself bit for bit, and the refusals. Training
// across real MPI ranks is tested by the MPI suite (test/mpi/).
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "flows/builders.hpp"
#include "flows/training/data_parallel.hpp"
#include "flowtape.hpp"

using namespace flowtape;

namespace {

DistributionPtr small_maf(bool batch_norm = false) {
    FlowSpec spec;
    spec.dim = 2;
    spec.layers = 2;
    spec.hidden = {8};
    spec.batch_norm = batch_norm;
    Rng rng(3);
    return make_maf_flow(spec, rng);
}

Array blobs(std::size_t n) {
    Rng rng(9);
    Array x = rng.normal_array(n, 2);
    for (std::size_t i = 0; i < n; i += 3) x(i, 1) -= 4;
    return x;
}

std::vector<double> values_of(Distribution& model) {
    std::vector<double> v;
    const ParameterList params = model.parameters();
    for (const NamedParameter& p : params.items()) v.insert(v.end(), p.parameter->value().begin(), p.parameter->value().end());
    return v;
}

FitOptions short_fit() {
    FitOptions o;
    o.epochs = 5;
    o.batch = 40;
    o.quiet = true;
    o.seed = 2;
    return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(data_parallel)

BOOST_AUTO_TEST_CASE(shards_are_whole_blocks_that_tile_the_rows_in_rank_order) {
    for (std::size_t total : {0u, 5u, 12u, 203u, 1000003u})
        for (std::size_t blocks : {1u, 4u, 12u, 13u})
            for (std::size_t ranks = 1; ranks <= std::min<std::size_t>(blocks, 5); ++ranks) {
                std::size_t next = 0;
                for (std::size_t r = 0; r < ranks; ++r) {
                    const RowShard s = shard_rows(total, blocks, r, ranks);
                    BOOST_CHECK_EQUAL(s.first, next);
                    BOOST_CHECK_EQUAL(s.total, total);
                    // Its ends are block boundaries.
                    bool starts = false, ends = false;
                    for (std::size_t j = 0; j <= blocks; ++j) {
                        starts = starts || block_begin(total, blocks, j) == s.first;
                        ends = ends || block_begin(total, blocks, j) == s.first + s.rows;
                    }
                    BOOST_CHECK(starts && ends);
                    next = s.first + s.rows;
                }
                BOOST_CHECK_EQUAL(next, total);
            }
    BOOST_CHECK_THROW(shard_rows(10, 2, 0, 3), ValueError);  // more ranks than blocks
    BOOST_CHECK_THROW(shard_rows(10, 0, 0, 1), ValueError);
    BOOST_CHECK_THROW(shard_rows(10, 4, 2, 2), ValueError);
}

BOOST_AUTO_TEST_CASE(the_gradient_summed_by_block_is_the_plain_gradient) {
    const Array x = blobs(101);
    WeightedNll nll;
    SerialCommunicator one;
    DistributionPtr model = small_maf();
    const real plain = sharded_loss_and_gradient(*model, FitData{x}, nll, one, false, 12);
    std::vector<double> g_plain;
    const ParameterList params = model->parameters();
    for (const NamedParameter& p : params.items()) g_plain.insert(g_plain.end(), p.parameter->grad().begin(), p.parameter->grad().end());
    // The same by hand: one tape over every row.
    Tape t;
    params.zero_grad();
    const Var loss = mul_scalar(mean(model->log_prob(t.constant(x))), -1.0);
    t.backward(loss);
    const real by_hand = loss.item();
    t.reset();
    BOOST_CHECK_CLOSE(plain, by_hand, 1e-12);
    std::size_t k = 0;
    double worst = 0;
    for (const NamedParameter& p : params.items())
        for (double g : p.parameter->grad()) worst = std::max(worst, std::abs(g - g_plain[k++]));
    BOOST_CHECK_LT(worst, 1e-12);
    // By block: the same up to rounding.
    const real blocked = sharded_loss_and_gradient(*model, FitData{x}, nll, one, true, 7);
    BOOST_CHECK_CLOSE(blocked, plain, 1e-10);
}

BOOST_AUTO_TEST_CASE(a_deterministic_fit_is_the_plain_fit_up_to_rounding_and_repeats_bit_for_bit) {
    const Array x = blobs(150);
    DistributionPtr plain = small_maf(), a = small_maf(), b = small_maf();
    fit(*plain, x, short_fit());
    FitOptions o = short_fit();
    o.deterministic_sum = true;
    o.sum_blocks = 5;
    const FitReport ra = fit(*a, x, o), rb = fit(*b, x, o);
    const std::vector<double> va = values_of(*a), vb = values_of(*b), vp = values_of(*plain);
    BOOST_CHECK(va == vb);
    BOOST_CHECK(ra.val_loss == rb.val_loss);
    double worst = 0;
    for (std::size_t k = 0; k < va.size(); ++k) worst = std::max(worst, std::abs(va[k] - vp[k]));
    BOOST_CHECK_LT(worst, 1e-9);
    BOOST_CHECK_GT(worst, 0.0);  // sums in another order: not the same bits (else the test proves nothing)
}

BOOST_AUTO_TEST_CASE(models_that_couple_the_rows_of_a_batch_are_refused) {
    const Array x = blobs(60);
    DistributionPtr model = small_maf(true);
    FitOptions o = short_fit();
    o.deterministic_sum = true;
    try {
        fit(*model, x, o);
        BOOST_FAIL("no exception");
    } catch (const ValueError& e) {
        BOOST_CHECK(std::string(e.what()).find("batchnorm layer") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(a_shard_without_a_communicator_is_refused) {
    const Array x = blobs(60);
    DistributionPtr model = small_maf();
    FitData part{x};
    part.first_row = 60;
    part.total_rows = 120;
    WeightedNll nll;
    BOOST_CHECK_THROW(fit(*model, part, short_fit(), nll), ValueError);
    // With deterministic sums on one process, the shard must be all the rows.
    FitOptions o = short_fit();
    o.deterministic_sum = true;
    BOOST_CHECK_THROW(fit(*model, part, o, nll), ValueError);
}

BOOST_AUTO_TEST_SUITE_END()
