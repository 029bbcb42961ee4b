// The atomic write of atomic_write.hpp. One owner class, Temporary, holds the temporary file from
// its creation to the rename: its destructor removes the file unless the rename happened, so every
// way out of a write (our own IoError, the writer's exception, a bad_alloc) cleans up alike.
#include "core/atomic_write.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/error.hpp"

namespace flowtape {
namespace {

// Six characters of [0-9A-Za-z], different at every call: splitmix64's finaliser over the process
// id, a per-process counter and the clock. They need not be secret: O_EXCL is what makes the name
// ours; the mixing only makes a clash with another writer (and so a retry) rare.
std::string name_suffix() {
    static std::atomic<std::uint64_t> counter{0};
    std::uint64_t z = (static_cast<std::uint64_t>(::getpid()) << 40) ^ (counter.fetch_add(1) << 20) ^
                      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    static constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    std::string s(6, '0');
    for (char& c : s) {
        c = kAlphabet[z % 62];
        z /= 62;
    }
    return s;
}

std::string folder_of(const std::string& path) {
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    return parent.empty() ? "." : parent.string();
}

// Makes the rename itself durable (the folder's entry, not only the file's bytes). Best effort: the
// file is complete and in place by now, and a folder that cannot be opened or synced (some file
// systems refuse fsync on a directory) is no reason to report a failed write.
void sync_folder(const std::string& folder) {
    const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    (void)::fsync(fd);
    (void)::close(fd);
}

// The temporaries of `target` whose writer is gone — a process killed between creating its
// temporary and the rename (SIGKILL, a power cut) leaves one — removed after a successful write.
// The writer's process id is in the name, <target>.tmp.<pid>.<6 characters>; a temporary whose pid
// no longer exists (kill(pid, 0) says ESRCH) is stale. One of a live process, another writer at
// work, is left alone, as is every name of another form. Best effort: a folder that cannot be
// listed, a file that cannot be removed, is no reason to report the write as failed.
void remove_stale_temporaries(const std::string& target) {
    const std::string prefix = std::filesystem::path(target).filename().string() + ".tmp.";
    std::error_code ec;
    for (std::filesystem::directory_iterator it(folder_of(target), ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.rfind(prefix, 0) != 0) continue;
        const std::string rest = name.substr(prefix.size());  // <pid>.<6 characters>
        const std::size_t dot = rest.find('.');
        if (dot == 0 || dot == std::string::npos || rest.size() != dot + 7 ||
            rest.find_first_not_of("0123456789") != dot)
            continue;
        const long pid = std::strtol(rest.substr(0, dot).c_str(), nullptr, 10);
        if (pid <= 0 || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
        std::error_code ignored;
        std::filesystem::remove(it->path(), ignored);
    }
}

class Temporary {
public:
    Temporary(const std::string& target, const std::string& who) : target_(target), who_(who) {
        // A clash means another writer drew the same six characters (or left a file by that name):
        // draw again. 100 clashes in a row is no longer chance, so it is reported.
        int error = EEXIST;
        for (int attempt = 0; attempt < 100 && error == EEXIST; ++attempt) {
            path_ = target + ".tmp." + std::to_string(::getpid()) + "." + name_suffix();
            fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
            if (fd_ >= 0) return;
            error = errno;
        }
        fail("cannot create a temporary file in '" + folder_of(target) + "'", error);
    }

    ~Temporary() {
        if (fd_ >= 0) (void)::close(fd_);
        if (!committed_) (void)::unlink(path_.c_str());
    }

    Temporary(const Temporary&) = delete;
    Temporary& operator=(const Temporary&) = delete;

    const std::string& path() const { return path_; }

    void write_all(std::string_view text) {
        while (!text.empty()) {
            const ssize_t n = ::write(fd_, text.data(), text.size());
            const int error = errno;
            if (n < 0 && error == EINTR) continue;
            if (n < 0) fail("cannot write '" + path_ + "'", error);
            text.remove_prefix(static_cast<std::size_t>(n));
        }
    }

    // Flushes the file to disk, closes it and renames it over the target. fsync through the
    // descriptor opened at creation reaches the bytes a writer wrote through its own descriptor too:
    // it flushes the file, not one descriptor's writes.
    void commit() {
        if (::fsync(fd_) != 0) {
            const int error = errno;
            fail("cannot flush '" + path_ + "' to disk", error);
        }
        const int closed = ::close(fd_);
        const int close_error = errno;
        fd_ = -1;
        if (closed != 0) fail("cannot close '" + path_ + "'", close_error);
        if (std::rename(path_.c_str(), target_.c_str()) != 0) {
            const int error = errno;
            fail("cannot rename '" + path_ + "' into place", error);
        }
        committed_ = true;
        sync_folder(folder_of(target_));
        remove_stale_temporaries(target_);
    }

private:
    // `error` is errno as the failing call left it, read by the caller right after that call: the
    // strings of the message are built later, and an allocation may change errno.
    [[noreturn]] void fail(const std::string& what, int error) const {
        throw IoError(target_ + ": " + who_ + ": " + what + ": " + std::strerror(error));
    }

    std::string target_, who_, path_;
    int fd_ = -1;
    bool committed_ = false;
};

}  // namespace

void write_text_atomically(const std::string& path, std::string_view text, const std::string& who) {
    Temporary temporary(path, who);
    temporary.write_all(text);
    temporary.commit();
}

void write_atomically(const std::string& path, const std::function<void(const std::string& temporary)>& write,
                      const std::string& who) {
    Temporary temporary(path, who);
    write(temporary.path());
    temporary.commit();
}

}  // namespace flowtape
