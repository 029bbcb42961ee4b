// Communicator: the few collective operations data-parallel training needs from the processes it
// runs on, so that fit and the command never call MPI themselves.
//
// A communicator is a group of `size()` processes, each with its `rank()` (0 … size − 1); every
// collective must be called by every rank, in the same order, with matching arguments. Two
// implementations: the one-process communicator (rank 0 of 1; every collective is a copy), always
// there, and Open MPI's (core/mpi_communicator.cpp), built when Meson finds MPI (the `mpi`
// feature option). world() picks the right one for the process.
//
// Sums are *ordered*: sum_in_rank_order adds every rank's values in rank order, the same order on
// every rank, so every rank gets the same bits, run after run. (MPI_Allreduce promises neither.)
// A different number of ranks adds in a different order and can change the last bits; fit's
// deterministic mode (FitOptions::deterministic_sum) sums fixed blocks of rows instead, which does
// not depend on the number of ranks.
//
// Errors: when one rank fails (a bad row in its part of a file, a failed check), the others must
// not wait forever in the next collective. agree_or_throw() is a collective that every rank calls
// with its own outcome (an empty message for success); if any rank failed, every rank throws the
// same exception: the first failing rank's message, with its type (ValueError stays ValueError).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace flowtape {

// A failure to share with the other ranks: which exception type and its message (kind None: success).
struct RankFailure {
    enum class Kind : std::int64_t { none = 0, value, shape, io, non_finite, solver, other };
    Kind kind = Kind::none;
    std::string message;
    static RankFailure of(const std::exception& e);  // the kind read from e's dynamic type
    [[noreturn]] void raise() const;                 // throws the exception of that kind
};

class Communicator {
public:
    virtual ~Communicator() = default;
    virtual std::size_t rank() const = 0;
    virtual std::size_t size() const = 0;
    // The name of the implementation, for messages: "one process" or "MPI".
    virtual std::string name() const = 0;

    // Every rank's `local` (any length, possibly different per rank) concatenated in rank order,
    // into `all` on every rank; counts[r] is rank r's length.
    virtual void all_gather(const std::vector<double>& local, std::vector<double>& all,
                            std::vector<std::size_t>& counts) = 0;
    // Personalised exchange: `send` holds send_counts[r] values for each rank r, in rank order;
    // `recv` gets what every rank sent to this one, in rank order, recv_counts[r] from rank r.
    // ValueError unless send_counts has size() entries adding up to send.size().
    virtual void all_to_all(const std::vector<double>& send, const std::vector<std::size_t>& send_counts,
                            std::vector<double>& recv, std::vector<std::size_t>& recv_counts) = 0;
    // The root's values (and length) on every rank.
    virtual void broadcast(std::vector<double>& values, std::size_t root) = 0;
    virtual void broadcast(std::string& text, std::size_t root) = 0;
    virtual void barrier() = 0;

    // values = Σ over ranks of each rank's values (equal lengths), added in rank order, the same
    // bits on every rank. ValueError when the lengths differ.
    void sum_in_rank_order(std::vector<double>& values);
    // The sum of parts of `width` values each, every rank holding some of them (`parts`: this
    // rank's, one after another, possibly none), added one part after the other in global order
    // (rank 0's parts, then rank 1's, …): total = ((p₀ + p₁) + p₂) + …, the same bits on every rank.
    // Long vectors go by a reduce-scatter — rank s adds up slice s of every part, the slices then
    // gathered — so each rank moves about 2(R − 1)/R of a part plus its own parts, not all R
    // parts; short ones by one gather. Both add in the same order: the bits do not depend on which.
    // ValueError when parts is not a whole number of parts or the ranks' widths differ.
    void sum_parts_in_order(const std::vector<double>& parts, std::size_t width, std::vector<double>& total);
    // Σ over ranks of one number, in rank order.
    double sum_in_rank_order(double value);
    // A collective: throws the first failing rank's exception on every rank when any rank passes a
    // failure, returns on every rank otherwise.
    void agree_or_throw(const RankFailure& local);
    // Runs `work` and then agree_or_throw on its outcome: an exception on any rank is thrown on all.
    template <class Work>
    void all_or_none(Work&& work) {
        RankFailure failure;
        try {
            work();
        } catch (const std::exception& e) {
            failure = RankFailure::of(e);
        }
        agree_or_throw(failure);
    }
};

// The communicator of a single process: rank 0 of 1.
class SerialCommunicator : public Communicator {
public:
    std::size_t rank() const override { return 0; }
    std::size_t size() const override { return 1; }
    std::string name() const override { return "one process"; }
    void all_gather(const std::vector<double>& local, std::vector<double>& all, std::vector<std::size_t>& counts) override;
    void all_to_all(const std::vector<double>& send, const std::vector<std::size_t>& send_counts,
                    std::vector<double>& recv, std::vector<std::size_t>& recv_counts) override;
    void broadcast(std::vector<double>&, std::size_t) override {}
    void broadcast(std::string&, std::size_t) override {}
    void barrier() override {}
};

// Whether this build of the library has the MPI communicator.
bool mpi_available();
// The communicator of the whole job: MPI's world when the library was built with MPI and the
// process was started by an MPI launcher (mpirun sets OMPI_COMM_WORLD_SIZE or PMIX_RANK), else the
// one-process communicator. MPI is initialised on the first call and finalised at exit.
Communicator& world();

}  // namespace flowtape
