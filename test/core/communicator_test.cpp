// Tests of the one-process communicator and the collectives built on the Communicator interface:
// ordered sums, and agree_or_throw keeping the failing rank's exception type and message. (The MPI
// communicator is tested by the MPI suite, test/mpi/, under mpirun.)
#include <boost/test/unit_test.hpp>

#include "core/communicator.hpp"

using namespace flowtape;

BOOST_AUTO_TEST_SUITE(communicator)

BOOST_AUTO_TEST_CASE(one_process_collectives_are_copies) {
    SerialCommunicator c;
    BOOST_CHECK_EQUAL(c.rank(), 0u);
    BOOST_CHECK_EQUAL(c.size(), 1u);
    std::vector<double> v{1.5, -2}, all;
    std::vector<std::size_t> counts;
    c.all_gather(v, all, counts);
    BOOST_CHECK(all == v);
    BOOST_CHECK(counts == std::vector<std::size_t>{2});
    c.sum_in_rank_order(v);
    BOOST_CHECK(v == (std::vector<double>{1.5, -2}));
    BOOST_CHECK_EQUAL(c.sum_in_rank_order(0.25), 0.25);
    c.agree_or_throw(RankFailure{});  // success: no exception
}

// Parts added one after the other, in order: ((p0 + p1) + p2), the same bits as that fold by
// hand, short (one gather) and long (the reduce-scatter, which one process skips: same path).
BOOST_AUTO_TEST_CASE(parts_are_added_in_their_order) {
    SerialCommunicator c;
    for (std::size_t width : {std::size_t(3), std::size_t(20000)}) {
        std::vector<double> parts(3 * width), total;
        for (std::size_t k = 0; k < parts.size(); ++k) parts[k] = 1.0 / static_cast<double>(k % 97 + 3) * (k % 2 ? 1e8 : 1);
        c.sum_parts_in_order(parts, width, total);
        BOOST_REQUIRE_EQUAL(total.size(), width);
        for (std::size_t k = 0; k < width; ++k) BOOST_CHECK_EQUAL(total[k], (parts[k] + parts[width + k]) + parts[2 * width + k]);
    }
    std::vector<double> total;
    c.sum_parts_in_order({}, 4, total);  // no parts: zeros
    BOOST_CHECK(total == std::vector<double>(4, 0.0));
    BOOST_CHECK_THROW(c.sum_parts_in_order({1, 2, 3}, 2, total), ValueError);
    std::vector<double> got;
    std::vector<std::size_t> counts;
    c.all_to_all({1, 2}, {2}, got, counts);
    BOOST_CHECK(got == (std::vector<double>{1, 2}));
    BOOST_CHECK_THROW(c.all_to_all({1, 2}, {1}, got, counts), ValueError);
}

namespace {

// What all_or_none throws when its work throws `e`: the type's name and the message.
template <class E>
std::string raised_by(const E& e) {
    SerialCommunicator c;
    try {
        c.all_or_none([&] { throw e; });
    } catch (const ValueError& v) {
        return std::string("value: ") + v.what();
    } catch (const IoError& v) {
        return std::string("io: ") + v.what();
    } catch (const Error& v) {
        return std::string("error: ") + v.what();
    }
    return "none";
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_failure_is_raised_with_its_type_and_message) {
    BOOST_CHECK_EQUAL(raised_by(ValueError("bad k")), "value: bad k");
    BOOST_CHECK_EQUAL(raised_by(IoError("a.csv:3:1: not a number")), "io: a.csv:3:1: not a number");
    BOOST_CHECK_EQUAL(raised_by(std::runtime_error("other")), "error: other");
    BOOST_CHECK(RankFailure::of(SolverError("s")).kind == RankFailure::Kind::solver);
}

BOOST_AUTO_TEST_CASE(without_an_mpi_launcher_the_world_is_one_process) {
    // The test runs without mpirun, so world() is the one-process communicator even in an MPI build.
    BOOST_CHECK_EQUAL(world().size(), 1u);
    BOOST_CHECK_EQUAL(world().name(), "one process");
}

BOOST_AUTO_TEST_SUITE_END()
