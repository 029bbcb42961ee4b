// The communicator's shared collectives (ordered sums, agreement on failures) and the one-process
// implementation. The MPI one is in core/mpi_communicator.cpp.
#include "core/communicator.hpp"

#include <algorithm>
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
    std::vector<double> total;
    sum_parts_in_order(values, values.size(), total);
    values.swap(total);
}

namespace {

// Below this many values per part one gather is quicker than a reduce-scatter and a gather.
constexpr std::size_t kScatterFrom = 8192;

void check_widths(const std::vector<double>& widths, std::size_t width) {
    for (std::size_t r = 0; r < widths.size(); ++r)
        if (widths[r] != static_cast<double>(width))
            throw ValueError("sum_in_rank_order: ranks give " + std::to_string(static_cast<std::size_t>(widths[r])) +
                             " and " + std::to_string(width) + " values");
}

}  // namespace

void Communicator::sum_parts_in_order(const std::vector<double>& parts, std::size_t width, std::vector<double>& total) {
    if (width == 0 ? !parts.empty() : parts.size() % width != 0)
        throw ValueError("sum_parts_in_order: " + std::to_string(parts.size()) + " values are not parts of " +
                         std::to_string(width));
    const std::size_t ranks = size();
    std::vector<double> all;
    std::vector<std::size_t> counts;
    if (width < kScatterFrom || ranks == 1) {
        // One gather: the width first (to check it), then every part, added in order.
        std::vector<double> with_width{static_cast<double>(width)};
        with_width.insert(with_width.end(), parts.begin(), parts.end());
        all_gather(with_width, all, counts);
        std::vector<double> widths;
        std::size_t at = 0;
        for (std::size_t c : counts) {
            widths.push_back(all[at]);
            at += c;
        }
        check_widths(widths, width);
        total.assign(width, 0.0);
        bool first = true;
        at = 0;
        for (std::size_t c : counts) {
            for (std::size_t p = 1; p < c; p += width) {
                if (first) std::copy_n(all.begin() + static_cast<std::ptrdiff_t>(at + p), width, total.begin());
                else
                    for (std::size_t k = 0; k < width; ++k) total[k] += all[at + p + k];
                first = false;
            }
            at += c;
        }
        return;
    }
    // Reduce-scatter: slice s = values [⌊s·W/R⌋, ⌊(s+1)·W/R⌋) of every part goes to rank s, which
    // adds them in global part order; then the sums of the slices gathered, in slice order.
    std::vector<double> widths;
    all_gather({static_cast<double>(width)}, widths, counts);
    check_widths(widths, width);
    const std::size_t n_parts = parts.size() / width;
    const auto slice_begin = [&](std::size_t s) { return s * width / ranks; };
    std::vector<double> send;
    send.reserve(parts.size());
    std::vector<std::size_t> send_counts(ranks);
    for (std::size_t s = 0; s < ranks; ++s) {
        const std::size_t b = slice_begin(s), e = slice_begin(s + 1);
        for (std::size_t p = 0; p < n_parts; ++p)
            send.insert(send.end(), parts.begin() + static_cast<std::ptrdiff_t>(p * width + b),
                        parts.begin() + static_cast<std::ptrdiff_t>(p * width + e));
        send_counts[s] = n_parts * (e - b);
    }
    std::vector<double> received;
    all_to_all(send, send_counts, received, counts);
    const std::size_t mine = slice_begin(rank() + 1) - slice_begin(rank());
    std::vector<double> slice(mine, 0.0);
    bool first = true;
    for (std::size_t p = 0; mine > 0 && (p + 1) * mine <= received.size(); ++p) {  // rank order = part order
        if (first) std::copy_n(received.begin() + static_cast<std::ptrdiff_t>(p * mine), mine, slice.begin());
        else
            for (std::size_t k = 0; k < mine; ++k) slice[k] += received[p * mine + k];
        first = false;
    }
    all_gather(slice, total, counts);
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

void SerialCommunicator::all_to_all(const std::vector<double>& send, const std::vector<std::size_t>& send_counts,
                                    std::vector<double>& recv, std::vector<std::size_t>& recv_counts) {
    if (send_counts.size() != 1 || send_counts[0] != send.size())
        throw ValueError("all_to_all: one process sends all " + std::to_string(send.size()) + " values to itself");
    recv = send;
    recv_counts = send_counts;
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
