// For the tests that write files (test/core, test/data): a fresh folder per test, removed with
// everything in it, its listing (so a stray temporary file shows up), and whole-file reads and
// writes of exact bytes (binary mode: no newline translation).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <system_error>

namespace flowtape::test {

struct TempDir {
    std::filesystem::path path;

    // A folder named after `prefix`, the process and a counter, so tests running at once in
    // several processes, or one after another in one, never share it.
    explicit TempDir(const std::string& prefix = "flowtape_test") {
        static int counter = 0;
        path = std::filesystem::temp_directory_path() /
               (prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
        std::filesystem::create_directories(path);
    }
    ~TempDir() {
        std::error_code ignored;  // a destructor must not throw; a leftover folder is harmless
        std::filesystem::remove_all(path, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    std::string file(const std::string& name) const { return (path / name).string(); }

    // The names of the folder's entries.
    std::set<std::string> names() const {
        std::set<std::string> out;
        for (const auto& entry : std::filesystem::directory_iterator(path)) out.insert(entry.path().filename().string());
        return out;
    }
    std::size_t entries() const { return names().size(); }
};

inline std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_text(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
}

}  // namespace flowtape::test
