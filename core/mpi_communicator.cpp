// The MPI communicator (Open MPI from Debian), compiled with FLOWTAPE_HAVE_MPI when Meson finds MPI;
// without it, mpi_world_or_null() returns null and world() is the one-process communicator.
//
// MPI is initialised on the first use (MPI_THREAD_FUNNELED: only the thread that called world()
// talks to MPI; fit's worker threads never do) and finalised at exit. Every collective checks MPI's
// return code and throws Error naming the call.
#include "core/communicator.hpp"

#ifdef FLOWTAPE_HAVE_MPI
// The C API only: the deprecated C++ bindings warn under -Wextra and are not used.
#define OMPI_SKIP_MPICXX 1
#include <mpi.h>

#include <climits>
#include <cstdlib>
#endif

namespace flowtape {

#ifdef FLOWTAPE_HAVE_MPI

namespace {

void check(int code, const char* call) {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    throw Error(std::string("MPI: ") + call + " failed: " + std::string(text, static_cast<std::size_t>(length)));
}

int as_int(std::size_t n, const char* what) {
    if (n > static_cast<std::size_t>(INT_MAX))
        throw ValueError(std::string("MPI: ") + what + " of " + std::to_string(n) + " values is more than one call carries");
    return static_cast<int>(n);
}

class MpiCommunicator : public Communicator {
public:
    MpiCommunicator() {
        int provided = 0;
        check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
        // Errors come back as codes (and become exceptions) instead of aborting the job.
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        int r = 0, s = 1;
        MPI_Comm_rank(MPI_COMM_WORLD, &r);
        MPI_Comm_size(MPI_COMM_WORLD, &s);
        rank_ = static_cast<std::size_t>(r);
        size_ = static_cast<std::size_t>(s);
        std::atexit([] {
            int finalized = 0;
            MPI_Finalized(&finalized);
            if (!finalized) MPI_Finalize();
        });
    }
    std::size_t rank() const override { return rank_; }
    std::size_t size() const override { return size_; }
    std::string name() const override { return "MPI"; }

    void all_gather(const std::vector<double>& local, std::vector<double>& all,
                    std::vector<std::size_t>& counts) override {
        std::uint64_t mine = local.size();
        std::vector<std::uint64_t> sizes(size_);
        check(MPI_Allgather(&mine, 1, MPI_UINT64_T, sizes.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD), "MPI_Allgather");
        std::vector<int> recv_counts(size_), displacements(size_);
        std::size_t total = 0;
        counts.assign(size_, 0);
        for (std::size_t r = 0; r < size_; ++r) {
            counts[r] = static_cast<std::size_t>(sizes[r]);
            recv_counts[r] = as_int(counts[r], "a gather");
            displacements[r] = as_int(total, "a gather");
            total += counts[r];
        }
        as_int(total, "a gather");
        all.resize(total);
        check(MPI_Allgatherv(local.data(), as_int(local.size(), "a gather"), MPI_DOUBLE, all.data(), recv_counts.data(),
                             displacements.data(), MPI_DOUBLE, MPI_COMM_WORLD),
              "MPI_Allgatherv");
    }

    void all_to_all(const std::vector<double>& send, const std::vector<std::size_t>& send_counts,
                    std::vector<double>& recv, std::vector<std::size_t>& recv_counts) override {
        std::size_t sent = 0;
        for (std::size_t c : send_counts) sent += c;
        if (send_counts.size() != size_ || sent != send.size())
            throw ValueError("all_to_all: " + std::to_string(send_counts.size()) + " counts adding up to " +
                             std::to_string(sent) + " for " + std::to_string(size_) + " ranks and " +
                             std::to_string(send.size()) + " values");
        std::vector<std::uint64_t> out(send_counts.begin(), send_counts.end()), in(size_);
        check(MPI_Alltoall(out.data(), 1, MPI_UINT64_T, in.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD), "MPI_Alltoall");
        std::vector<int> s_counts(size_), s_displ(size_), r_counts(size_), r_displ(size_);
        std::size_t s_at = 0, r_at = 0;
        recv_counts.assign(size_, 0);
        for (std::size_t r = 0; r < size_; ++r) {
            recv_counts[r] = static_cast<std::size_t>(in[r]);
            s_counts[r] = as_int(send_counts[r], "an exchange");
            s_displ[r] = as_int(s_at, "an exchange");
            r_counts[r] = as_int(recv_counts[r], "an exchange");
            r_displ[r] = as_int(r_at, "an exchange");
            s_at += send_counts[r];
            r_at += recv_counts[r];
        }
        as_int(r_at, "an exchange");
        recv.resize(r_at);
        check(MPI_Alltoallv(send.data(), s_counts.data(), s_displ.data(), MPI_DOUBLE, recv.data(), r_counts.data(),
                            r_displ.data(), MPI_DOUBLE, MPI_COMM_WORLD),
              "MPI_Alltoallv");
    }

    void broadcast(std::vector<double>& values, std::size_t root) override {
        std::uint64_t n = values.size();
        check(MPI_Bcast(&n, 1, MPI_UINT64_T, static_cast<int>(root), MPI_COMM_WORLD), "MPI_Bcast");
        values.resize(static_cast<std::size_t>(n));
        check(MPI_Bcast(values.data(), as_int(values.size(), "a broadcast"), MPI_DOUBLE, static_cast<int>(root),
                        MPI_COMM_WORLD),
              "MPI_Bcast");
    }

    void broadcast(std::string& text, std::size_t root) override {
        std::uint64_t n = text.size();
        check(MPI_Bcast(&n, 1, MPI_UINT64_T, static_cast<int>(root), MPI_COMM_WORLD), "MPI_Bcast");
        text.resize(static_cast<std::size_t>(n));
        check(MPI_Bcast(text.data(), as_int(text.size(), "a broadcast"), MPI_CHAR, static_cast<int>(root), MPI_COMM_WORLD),
              "MPI_Bcast");
    }

    void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }

private:
    std::size_t rank_ = 0, size_ = 1;
};

}  // namespace

bool mpi_available() { return true; }

namespace detail {
Communicator* mpi_world_or_null() {
    static MpiCommunicator world;
    return &world;
}
}  // namespace detail

#else

bool mpi_available() { return false; }

namespace detail {
Communicator* mpi_world_or_null() { return nullptr; }
}  // namespace detail

#endif

}  // namespace flowtape
