// The MPI suite: data-parallel training across ranks (Note [data-parallel fit] in
// flows/training/data_parallel.hpp), run by meson test as `mpirun -n R test_mpi` for R = 2, 3, 4.
//
// Every rank runs every case. The checks never stop a case early (BOOST_CHECK, not REQUIRE): a
// rank that left a case before its collectives would leave the others waiting. At the end each
// rank's verdict is shared (main below), so a failure on rank 1 fails every rank's exit status and
// rank 0 names it.
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstring>
#include <iostream>

#include <xtensor/xview.hpp>

#include "flows/builders.hpp"
#include "flows/mixtures/flow_mixture.hpp"
#include "flows/mixtures/mixture.hpp"
#include "flows/mixtures/piecewise.hpp"
#include "flows/mixtures/vmonf.hpp"
#include "flows/training/data_parallel.hpp"
#include "flowtape.hpp"

using namespace flowtape;

namespace {

constexpr std::size_t kRows = 203;   // not a multiple of the blocks or the ranks
constexpr std::size_t kBlocks = 12;  // divisible by 2, 3 and 4

// The whole data set, the same on every rank: two Gaussian blobs in 2-D.
Array all_rows() {
    Rng rng(7);
    Array x = rng.normal_array(kRows, 2);
    for (std::size_t i = 0; i < kRows; i += 2) x(i, 0) += 3.0;
    return x;
}

// A small MAF built from the seed, identical on every rank.
DistributionPtr small_maf() {
    FlowSpec spec;
    spec.dim = 2;
    spec.layers = 2;
    spec.hidden = {8, 8};
    Rng rng(11);
    return make_maf_flow(spec, rng);
}

Array shard_of(const Array& x, const RowShard& s) {
    Array out = Array::from_shape({s.rows, x.shape()[1]});
    std::copy_n(x.data() + s.first * x.shape()[1], s.rows * x.shape()[1], out.data());
    return out;
}

std::vector<double> grads_of(Distribution& model) {
    std::vector<double> g;
    const ParameterList params = model.parameters();
    for (const NamedParameter& p : params.items())
        g.insert(g.end(), p.parameter->grad().begin(), p.parameter->grad().end());
    return g;
}

std::vector<double> values_of(Distribution& model) {
    std::vector<double> v;
    const ParameterList params = model.parameters();
    for (const NamedParameter& p : params.items())
        v.insert(v.end(), p.parameter->value().begin(), p.parameter->value().end());
    return v;
}

double max_abs_difference(const std::vector<double>& a, const std::vector<double>& b) {
    double d = a.size() == b.size() ? 0.0 : INFINITY;
    for (std::size_t k = 0; k < std::min(a.size(), b.size()); ++k) d = std::max(d, std::abs(a[k] - b[k]));
    return d;
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

FitOptions twenty_steps(bool deterministic) {
    FitOptions o;
    o.epochs = 4;  // 162 training rows in batches of 32: 6 steps per epoch, 24 in all
    o.batch = 32;
    o.lr = 1e-2;
    o.quiet = true;
    o.seed = 5;
    o.deterministic_sum = deterministic;
    o.sum_blocks = kBlocks;
    return o;
}

// The ValueError message of a data-parallel fit of rows s of x on this rank ("" if none).
std::string fit_error(const Array& x, const RowShard& s) {
    const Array mine = shard_of(x, s);
    DistributionPtr model = small_maf();
    WeightedNll nll;
    FitOptions o = twenty_steps(false);
    o.communicator = &world();
    FitData part{mine};
    part.first_row = s.first;
    part.total_rows = kRows;
    try {
        fit(*model, part, o, nll);
    } catch (const ValueError& e) {
        return e.what();
    }
    return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(data_parallel)

BOOST_AUTO_TEST_CASE(the_world_is_mpi_with_several_ranks) {
    Communicator& comm = world();
    BOOST_CHECK_EQUAL(comm.name(), "MPI");
    BOOST_CHECK_GE(comm.size(), 2u);
    // An ordered sum: rank r gives r + 1 in every slot.
    std::vector<double> v(3, static_cast<double>(comm.rank() + 1));
    comm.sum_in_rank_order(v);
    const double expected = static_cast<double>(comm.size() * (comm.size() + 1) / 2);
    for (double e : v) BOOST_CHECK_EQUAL(e, expected);
}

// The ordered sum of parts, short (one gather) and long (reduce-scatter): the bits of adding
// every rank's parts one after the other in global order by hand; ranks holding no part, and
// uneven part counts, included.
BOOST_AUTO_TEST_CASE(parts_summed_across_ranks_are_added_in_global_order) {
    Communicator& comm = world();
    const std::size_t r = comm.rank();
    for (std::size_t width : {std::size_t(5), std::size_t(30011)}) {
        const auto value = [&](std::size_t part, std::size_t k) {
            return std::sin(static_cast<double>(part * 7919 + k)) * (k % 3 ? 1e9 : 1e-3);
        };
        const auto parts_of = [](std::size_t rank) { return rank == 1 ? std::size_t(0) : rank + 1; };  // rank 1: none
        std::size_t first_part = 0;
        for (std::size_t q = 0; q < r; ++q) first_part += parts_of(q);
        std::vector<double> mine;
        for (std::size_t p = 0; p < parts_of(r); ++p)
            for (std::size_t k = 0; k < width; ++k) mine.push_back(value(first_part + p, k));
        std::vector<double> total;
        comm.sum_parts_in_order(mine, width, total);
        std::size_t n_parts = 0;
        for (std::size_t q = 0; q < comm.size(); ++q) n_parts += parts_of(q);
        std::vector<double> expected(width);
        for (std::size_t k = 0; k < width; ++k) {
            expected[k] = value(0, k);
            for (std::size_t p = 1; p < n_parts; ++p) expected[k] += value(p, k);
        }
        BOOST_TEST_CONTEXT("width " << width << ", rank " << r << " of " << comm.size()) {
            BOOST_CHECK(same_bits(total, expected));
        }
    }
}

BOOST_AUTO_TEST_CASE(gradients_summed_across_ranks_equal_the_one_process_gradient) {
    Communicator& comm = world();
    const Array x = all_rows();
    const RowShard s = shard_rows(kRows, kBlocks, comm.rank(), comm.size());
    const Array mine = shard_of(x, s);
    WeightedNll nll;
    SerialCommunicator alone;

    DistributionPtr reference = small_maf(), sharded = small_maf();
    for (bool deterministic : {false, true}) {
        const real loss_one = sharded_loss_and_gradient(*reference, FitData{x}, nll, alone, deterministic, kBlocks);
        const std::vector<double> g_one = grads_of(*reference);
        FitData part{mine};
        part.first_row = s.first;
        part.total_rows = kRows;
        const real loss_ranks = sharded_loss_and_gradient(*sharded, part, nll, comm, deterministic, kBlocks);
        const std::vector<double> g_ranks = grads_of(*sharded);
        BOOST_TEST_CONTEXT("deterministic " << deterministic << ", rank " << comm.rank() << " of " << comm.size()) {
            BOOST_CHECK_SMALL(loss_ranks - loss_one, 1e-12);
            BOOST_CHECK_LT(max_abs_difference(g_ranks, g_one), 1e-12);
            if (deterministic) {
                BOOST_CHECK(same_bits(g_ranks, g_one));
                BOOST_CHECK_EQUAL(loss_ranks, loss_one);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(a_fit_across_ranks_gives_the_one_process_parameters) {
    Communicator& comm = world();
    const Array x = all_rows();
    const RowShard s = shard_rows(kRows, kBlocks, comm.rank(), comm.size());
    const Array mine = shard_of(x, s);
    for (bool deterministic : {false, true}) {
        DistributionPtr alone = small_maf(), ranks = small_maf();
        WeightedNll nll;
        FitOptions o = twenty_steps(deterministic);
        const FitReport r_one = fit(*alone, FitData{x}, o, nll);
        o.communicator = &comm;
        FitData part{mine};
        part.first_row = s.first;
        part.total_rows = kRows;
        const FitReport r_ranks = fit(*ranks, part, o, nll);
        BOOST_TEST_CONTEXT("deterministic " << deterministic << ", rank " << comm.rank() << " of " << comm.size()) {
            BOOST_CHECK_EQUAL(r_ranks.epochs_run, r_one.epochs_run);
            BOOST_CHECK_EQUAL(r_ranks.best_epoch, r_one.best_epoch);
            BOOST_CHECK_LT(max_abs_difference(values_of(*ranks), values_of(*alone)), 1e-9);
            BOOST_CHECK_LT(max_abs_difference(r_ranks.val_loss, r_one.val_loss), 1e-10);
            if (deterministic) {
                BOOST_CHECK(same_bits(values_of(*ranks), values_of(*alone)));
                BOOST_CHECK(same_bits(r_ranks.val_loss, r_one.val_loss));
                BOOST_CHECK(same_bits(r_ranks.train_loss, r_one.train_loss));
            }
        }
        // Every rank ends with the same parameters: rank 0's, broadcast, equal bit for bit.
        std::vector<double> v = values_of(*ranks), v0 = v;
        comm.broadcast(v0, 0);
        BOOST_CHECK(same_bits(v, v0));
    }
}

BOOST_AUTO_TEST_CASE(a_bad_value_on_one_rank_stops_every_rank_with_its_message) {
    Communicator& comm = world();
    Array x = all_rows();
    const RowShard last = shard_rows(kRows, kBlocks, comm.size() - 1, comm.size());
    x(last.first + 1, 1) = NAN;  // in the last rank's shard
    const RowShard s = shard_rows(kRows, kBlocks, comm.rank(), comm.size());
    const std::string message = fit_error(x, s);
    BOOST_TEST_CONTEXT("rank " << comm.rank() << ": " << message) {
        BOOST_CHECK(message.find("rank " + std::to_string(comm.size() - 1) + ": fit: data") != std::string::npos);
        BOOST_CHECK(message.find("non-finite") != std::string::npos);
        BOOST_CHECK(message.find("row 1,") != std::string::npos);  // the row within that rank's shard
    }
}

BOOST_AUTO_TEST_CASE(shards_that_do_not_tile_the_rows_are_refused_on_every_rank) {
    Communicator& comm = world();
    const Array x = all_rows();
    RowShard s = shard_rows(kRows, kBlocks, comm.rank(), comm.size());
    if (comm.rank() == 0) s.rows -= 1;  // a gap between rank 0's rows and rank 1's
    const std::string message = fit_error(x, s);
    BOOST_TEST_CONTEXT("rank " << comm.rank() << ": " << message) {
        BOOST_CHECK(message.find("the shard of rank 1 starts at row") != std::string::npos);
    }
}

// Mixtures and the variational mixture train data-parallel like any objective: the deterministic
// sum gives the one-process model on every rank count, labels (some rows without) travel with
// their rows.
BOOST_AUTO_TEST_CASE(mixtures_and_vmonf_train_across_ranks_as_in_one_process) {
    Communicator& comm = world();
    const Array x = all_rows();
    IndexArray labels = IndexArray::from_shape({kRows, 1});
    for (std::size_t i = 0; i < kRows; ++i) labels(i, 0) = i % 3 == 2 ? kNoLabel : static_cast<std::int64_t>(i % 2);
    const RowShard s = shard_rows(kRows, kBlocks, comm.rank(), comm.size());
    const Array mine = shard_of(x, s);
    IndexArray my_labels = IndexArray::from_shape({s.rows, 1});
    for (std::size_t i = 0; i < s.rows; ++i) my_labels(i, 0) = labels(s.first + i, 0);

    const auto mixture = [] {
        std::vector<DistributionPtr> components;
        components.push_back(small_maf());
        components.push_back(small_maf());
        return Mixture::equal_weights(std::move(components), true);
    };
    const auto vmonf = [] {
        VmonfSpec spec;
        spec.components = 2;
        spec.layers = 2;
        spec.hidden = {8};
        spec.activation = Activation::tanh;
        spec.classifier_hidden = {8};
        Rng rng(3);
        return make_vmonf(spec, 2, rng);
    };
    for (int kind = 0; kind < 2; ++kind) {
        DistributionPtr alone = kind == 0 ? DistributionPtr(mixture()) : DistributionPtr(vmonf());
        DistributionPtr ranks = kind == 0 ? DistributionPtr(mixture()) : DistributionPtr(vmonf());
        WeightedNll nll;
        VmonfObjective elbo_alone({3, 0.9, 1}, false), elbo_ranks({3, 0.9, 1}, false);
        Objective& objective_alone = kind == 0 ? static_cast<Objective&>(nll) : elbo_alone;
        Objective& objective_ranks = kind == 0 ? static_cast<Objective&>(nll) : elbo_ranks;
        FitOptions o = twenty_steps(true);
        FitData everything{x};
        everything.labels = &labels;
        const FitReport r_one = fit(*alone, everything, o, objective_alone);
        o.communicator = &comm;
        FitData part{mine};
        part.labels = &my_labels;
        part.first_row = s.first;
        part.total_rows = kRows;
        const FitReport r_ranks = fit(*ranks, part, o, objective_ranks);
        // And the plain one-process fit (one pass per batch): the same up to rounding, so the
        // objective really is a sum over rows.
        DistributionPtr plain = kind == 0 ? DistributionPtr(mixture()) : DistributionPtr(vmonf());
        VmonfObjective elbo_plain({3, 0.9, 1}, false);
        Objective& objective_plain = kind == 0 ? static_cast<Objective&>(nll) : elbo_plain;
        fit(*plain, everything, twenty_steps(false), objective_plain);
        BOOST_TEST_CONTEXT((kind == 0 ? "mixture" : "vmonf") << ", rank " << comm.rank() << " of " << comm.size()) {
            BOOST_CHECK_LT(max_abs_difference(values_of(*ranks), values_of(*plain)), 1e-9);
            BOOST_CHECK(same_bits(values_of(*ranks), values_of(*alone)));
            BOOST_CHECK(same_bits(r_ranks.train_loss, r_one.train_loss));
            BOOST_CHECK_EQUAL(r_ranks.epochs_run, r_one.epochs_run);
        }
    }
}

// A continuous flow with Hutchinson probes, every rank holding all the rows (fit_replicated): the
// probes restart per step and block (restart_noise), so the deterministic sum gives the
// one-process model bit for bit on every rank count; the probes are really drawn (exact traces
// train another model).
BOOST_AUTO_TEST_CASE(a_cnf_with_hutchinson_probes_trains_across_ranks_as_in_one_process) {
    Communicator& comm = world();
    const Array x = all_rows();
    const auto cnf = [](TraceKind trace) {
        CnfOptions c;
        c.trace = trace;
        c.rtol = c.atol = 1e-6;
        c.seed = 9;
        Rng rng(13);
        auto dynamics = std::make_unique<MlpDynamics>(2, std::vector<std::size_t>{8}, Activation::tanh, rng);
        return std::make_unique<ContinuousFlow>(std::move(dynamics), std::make_unique<StandardNormal>(2), c);
    };
    FitOptions o = twenty_steps(true);
    o.epochs = 2;
    WeightedNll nll;
    auto alone = cnf(TraceKind::hutchinson), ranks = cnf(TraceKind::hutchinson), exact = cnf(TraceKind::exact);
    const FitReport r_one = fit_replicated(*alone, FitData{x}, o, nll);
    fit_replicated(*exact, FitData{x}, o, nll);
    o.communicator = &comm;
    const FitReport r_ranks = fit_replicated(*ranks, FitData{x}, o, nll);
    BOOST_TEST_CONTEXT("rank " << comm.rank() << " of " << comm.size()) {
        BOOST_CHECK(same_bits(values_of(*ranks), values_of(*alone)));
        BOOST_CHECK(same_bits(r_ranks.train_loss, r_one.train_loss));
        BOOST_CHECK_GT(max_abs_difference(values_of(*alone), values_of(*exact)), 1e-8);
    }
}

// Batches by label (the two sides of a transport taking turns) plan from every rank's labels: the
// one-process batches, so the deterministic sum gives the one-process model bit for bit and the
// sum by rank the plain one-process fit up to rounding.
BOOST_AUTO_TEST_CASE(batches_by_label_across_ranks_are_the_one_process_batches) {
    Communicator& comm = world();
    const Array x = all_rows();
    IndexArray labels = IndexArray::from_shape({kRows, 1});
    for (std::size_t i = 0; i < kRows; ++i) labels(i, 0) = i < 150 ? 0 : 1;  // uneven sides, ranks see one or both
    FitData everything{x};
    everything.labels = &labels;
    for (bool deterministic : {false, true}) {
        FitOptions o = twenty_steps(deterministic);
        o.batches_by_label = true;
        WeightedNll nll;
        DistributionPtr alone = small_maf(), ranks = small_maf();
        const FitReport r_one = fit(*alone, everything, o, nll);
        o.communicator = &comm;
        const FitReport r_ranks = fit_replicated(*ranks, everything, o, nll);
        BOOST_TEST_CONTEXT("deterministic " << deterministic << ", rank " << comm.rank() << " of " << comm.size()) {
            BOOST_CHECK_EQUAL(r_ranks.epochs_run, r_one.epochs_run);
            BOOST_CHECK_LT(max_abs_difference(values_of(*ranks), values_of(*alone)), 1e-9);
            if (deterministic) BOOST_CHECK(same_bits(values_of(*ranks), values_of(*alone)));
        }
    }
}

// margarine's bounds of weighted rows held by several ranks: the same bits as one process adding
// the same blocks, on every rank count, and from_data's bounds up to rounding.
BOOST_AUTO_TEST_CASE(bounds_of_weighted_rows_across_ranks_are_those_of_all_rows) {
    Communicator& comm = world();
    const Array x = all_rows();
    Rng rng(21);
    const Array w = rng.uniform_array(kRows, 1, 0.1, 2.0);
    const RowShard s = shard_rows(kRows, kBlocks, comm.rank(), comm.size());
    const Array mine = shard_of(x, s), my_w = shard_of(w, s);
    const auto across = bounded_to_normal_across_ranks(comm, FitData{mine, &my_w, nullptr, nullptr, s.first, kRows}, kBlocks);
    SerialCommunicator one;
    const auto blocks_alone = bounded_to_normal_across_ranks(one, FitData{x, &w}, kBlocks);
    const auto plain = BoundedToNormal::from_data(x, &w);
    const auto flat = [](const Array& a) { return std::vector<double>(a.begin(), a.end()); };
    BOOST_TEST_CONTEXT("rank " << comm.rank() << " of " << comm.size()) {
        BOOST_CHECK(same_bits(flat(across->lo()), flat(blocks_alone->lo())));
        BOOST_CHECK(same_bits(flat(across->hi()), flat(blocks_alone->hi())));
        BOOST_CHECK_LT(max_abs_difference(flat(across->lo()), flat(plain->lo())), 1e-12);
        BOOST_CHECK_LT(max_abs_difference(flat(across->hi()), flat(plain->hi())), 1e-12);
    }
}

BOOST_AUTO_TEST_CASE(replicated_rows_of_different_counts_are_refused_on_every_rank) {
    Communicator& comm = world();
    const Array x = all_rows();
    const Array fewer = xt::view(x, xt::range(0, kRows - 1), xt::all());
    DistributionPtr model = small_maf();
    WeightedNll nll;
    FitOptions o = twenty_steps(false);
    o.communicator = &comm;
    std::string message;
    try {
        fit_replicated(*model, FitData{comm.rank() == comm.size() - 1 ? fewer : x}, o, nll);
    } catch (const ValueError& e) {
        message = e.what();
    }
    BOOST_TEST_CONTEXT("rank " << comm.rank() << ": " << message) {
        BOOST_CHECK(message.find("rank " + std::to_string(comm.size() - 1) + " holds " + std::to_string(kRows - 1) +
                                 " rows, rank 0 " + std::to_string(kRows)) != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(piecewise_pieces_spread_over_ranks_give_the_serial_model) {
    Communicator& comm = world();
    const Array x = all_rows();
    PiecewiseOptions o;
    o.k = 3;
    o.min_cluster_size = 10;
    o.piece.layers = 2;
    o.piece.hidden = {8};
    o.fit = twenty_steps(false);
    o.seed = 4;
    const PiecewiseFit serial = fit_piecewise(x, o);
    o.communicator = &comm;
    const PiecewiseFit spread = fit_piecewise(x, o);
    BOOST_TEST_CONTEXT("rank " << comm.rank() << " of " << comm.size()) {
        BOOST_CHECK_EQUAL(spread.report.k, serial.report.k);
        BOOST_CHECK(same_bits(values_of(*spread.model), values_of(*serial.model)));
        for (std::size_t k = 0; k < std::min(spread.report.k, serial.report.k); ++k) {
            BOOST_CHECK_EQUAL(spread.report.fits[k].epochs_run, serial.report.fits[k].epochs_run);
            BOOST_CHECK(same_bits(spread.report.fits[k].val_loss, serial.report.fits[k].val_loss));
            BOOST_CHECK_EQUAL(spread.report.fits[k].message, serial.report.fits[k].message);
        }
    }
}

BOOST_AUTO_TEST_CASE(mixture_runs_spread_over_ranks_give_the_serial_model) {
    Communicator& comm = world();
    const Array x = all_rows();
    FlowMixtureOptions o;
    o.spec.components = 2;
    o.fit = FlowMixtureOptions::paper_fit_options(15, 64);
    o.runs = 5;  // more runs than some rank counts, fewer than others' multiples
    o.seed = 6;
    const FlowMixtureFit serial = fit_flow_mixture(x, o);
    o.communicator = &comm;
    const FlowMixtureFit spread = fit_flow_mixture(x, o);
    BOOST_TEST_CONTEXT("rank " << comm.rank() << " of " << comm.size()) {
        BOOST_CHECK_EQUAL(spread.best, serial.best);
        BOOST_CHECK(same_bits(values_of(*spread.model), values_of(*serial.model)));
        BOOST_CHECK(spread.labels == serial.labels);
        for (std::size_t r = 0; r < o.runs; ++r) {
            BOOST_CHECK_EQUAL(spread.runs[r].loss, serial.runs[r].loss);
            BOOST_CHECK(same_bits(spread.runs[r].fit.train_loss, serial.runs[r].fit.train_loss));
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

// Boost.Test runs on every rank; afterwards the ranks share their verdicts, so that every rank
// exits with a failure when any failed, and rank 0 says which.
bool init_suite() { return true; }

int main(int argc, char* argv[]) {
    Communicator& comm = world();
    const int status = boost::unit_test::unit_test_main(&init_suite, argc, argv);
    std::vector<double> failed(comm.size(), 0.0);
    failed[comm.rank()] = status != 0 ? 1.0 : 0.0;
    comm.sum_in_rank_order(failed);
    int any = 0;
    for (std::size_t r = 0; r < failed.size(); ++r)
        if (failed[r] != 0) {
            any = 1;
            if (comm.rank() == 0) std::cerr << "test_mpi: rank " << r << " of " << comm.size() << " failed\n";
        }
    if (comm.rank() == 0 && !any) std::cerr << "test_mpi: all " << comm.size() << " ranks passed\n";
    return any;
}
