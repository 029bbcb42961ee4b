// The communicator's shared collectives (ordered sums, agreement on failures) and the one-process
// implementation. The MPI one is in core/mpi_communicator.cpp.
#include "core/communicator.hpp"

#include <cstdlib>

namespace flowtape {

RankFailure RankFailure::of(const std::exception& e) {
    RankFailure f;
    f.message = e.what();
    if (dynamic_cast<const ValueError*>(&e)) f.kind = Kind::value;
    else if (dynamic_cast<const ShapeError*>(&e)) f.kind = Kind::shape;
    else if (dynamic_cast<const IoError*>(&e)) f.kind = Kind::io;
    else if (dynamic_cast<const NonFiniteError*>(&e)) f.kind = Kind::non_finite;
    else if (dynamic_cast<const SolverError*>(&e)) f.kind = Kind::solver;
    else f.kind = Kind::other;
    if (f.message.empty()) f.message = "an error without a message";
    return f;
}

void RankFailure::raise() const {
    switch (kind) {
        case Kind::value: throw ValueError(message);
        case Kind::shape: throw ShapeError(message);
        case Kind::io: throw IoError(message);
        case Kind::non_finite: throw NonFiniteError(message);
        case Kind::solver: throw SolverError(message);
        default: throw Error(message);
    }
}

void Communicator::sum_in_rank_order(std::vector<double>& values) {
    std::vector<double> all;
    std::vector<std::size_t> counts;
    all_gather(values, all, counts);
    for (std::size_t c : counts)
        if (c != values.size())
            throw ValueError("sum_in_rank_order: ranks give " + std::to_string(c) + " and " +
                             std::to_string(values.size()) + " values");
    const std::size_t n = values.size();
    for (std::size_t k = 0; k < n; ++k) values[k] = all[k];
    for (std::size_t r = 1; r < counts.size(); ++r)
        for (std::size_t k = 0; k < n; ++k) values[k] += all[r * n + k];
}

double Communicator::sum_in_rank_order(double value) {
    std::vector<double> v{value};
    sum_in_rank_order(v);
    return v[0];
}

void Communicator::agree_or_throw(const RankFailure& local) {
    std::vector<double> kinds;
    std::vector<std::size_t> counts;
    all_gather({static_cast<double>(local.kind)}, kinds, counts);
    for (std::size_t r = 0; r < kinds.size(); ++r) {
        if (kinds[r] == 0) continue;
        RankFailure first{static_cast<RankFailure::Kind>(static_cast<std::int64_t>(kinds[r])), local.message};
        broadcast(first.message, r);
        if (size() > 1) first.message = "rank " + std::to_string(r) + ": " + first.message;
        first.raise();
    }
}

void SerialCommunicator::all_gather(const std::vector<double>& local, std::vector<double>& all,
                                    std::vector<std::size_t>& counts) {
    all = local;
    counts.assign(1, local.size());
}

namespace detail {
Communicator* mpi_world_or_null();  // core/mpi_communicator.cpp, or null without MPI
}

Communicator& world() {
    static Communicator* const chosen = [] {
        const bool launched = std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMIX_RANK") || std::getenv("PMI_RANK");
        Communicator* mpi = launched ? detail::mpi_world_or_null() : nullptr;
        return mpi ? mpi : static_cast<Communicator*>(new SerialCommunicator);
    }();
    return *chosen;
}

}  // namespace flowtape
