// The atomic write (core/atomic_write.hpp): what a reader of the target may see. Each test works in
// a fresh folder and checks the folder's whole listing afterwards, so a temporary file left behind
// by any path through the helper shows up as an extra entry.
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "test/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace flowtape;
using flowtape::test::read_text;
using flowtape::test::TempDir;
using flowtape::test::write_text;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Bytes a text file would mangle: NUL, CR LF, a lone CR, high bytes.
const std::string kAwkwardBytes = std::string("line 1\r\nline 2\rnul:") + '\0' + "\xff\xfe end";

}  // namespace

BOOST_AUTO_TEST_SUITE(atomic_write)

BOOST_AUTO_TEST_CASE(text_round_trip_byte_for_byte) {
    TempDir dir("flowtape_atomic_write_test");
    const std::string path = dir.file("out.bin");
    write_text_atomically(path, kAwkwardBytes, "test");
    BOOST_TEST(read_text(path) == kAwkwardBytes);
    write_text_atomically(dir.file("empty"), "", "test");
    BOOST_TEST(fs::file_size(dir.file("empty")) == 0u);
    BOOST_TEST((dir.names() == std::set<std::string>{"empty", "out.bin"}));
}

BOOST_AUTO_TEST_CASE(writer_round_trip_through_the_temporary_path) {
    TempDir dir("flowtape_atomic_write_test");
    const std::string path = dir.file("figure.png");
    std::string seen;
    write_atomically(
        path,
        [&](const std::string& temporary) {
            seen = temporary;
            std::ofstream out(temporary, std::ios::binary | std::ios::trunc);  // as cairo opens it
            out << kAwkwardBytes;
        },
        "test");
    BOOST_TEST(read_text(path) == kAwkwardBytes);
    // The temporary was in the target's folder, named after it, and is gone now.
    BOOST_TEST(fs::path(seen).parent_path() == fs::path(path).parent_path());
    BOOST_TEST(fs::path(seen).filename().string().rfind("figure.png.tmp.", 0) == 0u, seen);
    BOOST_TEST(!fs::exists(seen));
    BOOST_TEST((dir.names() == std::set<std::string>{"figure.png"}));
}

BOOST_AUTO_TEST_CASE(temporaries_get_unique_names) {
    TempDir dir("flowtape_atomic_write_test");
    const std::string path = dir.file("out.txt");
    std::set<std::string> temporaries;
    for (int k = 0; k < 50; ++k)
        write_atomically(
            path,
            [&](const std::string& temporary) {
                temporaries.insert(temporary);
                write_text(temporary, std::to_string(k));
            },
            "test");
    BOOST_TEST(temporaries.size() == 50u);
    BOOST_TEST(read_text(path) == "49");
    // A file that already holds the plain ".tmp" name (the old scheme's) is neither used nor touched.
    write_text(path + ".tmp", "someone else's");
    write_text_atomically(path, "new", "test");
    BOOST_TEST(read_text(path + ".tmp") == "someone else's");
    BOOST_TEST((dir.names() == std::set<std::string>{"out.txt", "out.txt.tmp"}));
}

// A process killed between creating its temporary and the rename leaves the temporary behind; the
// next successful write removes those of processes that are gone, and nothing else: not another
// live writer's, not names of another form.
BOOST_AUTO_TEST_CASE(a_successful_write_removes_the_temporaries_of_dead_writers_only) {
    TempDir dir("flowtape_atomic_write_test");
    const std::string path = dir.file("model.json");
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    BOOST_REQUIRE(child > 0);
    int status = 0;
    BOOST_REQUIRE(::waitpid(child, &status, 0) == child);  // reaped: its pid is free
    const std::string dead = "model.json.tmp." + std::to_string(child) + ".AbC123";
    const std::string live = "model.json.tmp." + std::to_string(::getpid()) + ".XyZ789";
    const std::string odd = "model.json.tmp." + std::to_string(child) + ".short";
    for (const std::string& name : {dead, live, odd}) write_text(dir.file(name), "{\"half\": ");
    write_text_atomically(path, "new", "test");
    BOOST_TEST(read_text(path) == "new");
    BOOST_TEST((dir.names() == std::set<std::string>{"model.json", live, odd}));
}

BOOST_AUTO_TEST_CASE(a_writer_that_throws_midway_leaves_the_old_file_and_no_temporary) {
    TempDir dir("flowtape_atomic_write_test");
    const std::string path = dir.file("model.json");
    write_text(path, kAwkwardBytes);
    std::string temporary_seen;
    try {
        write_atomically(
            path,
            [&](const std::string& temporary) {
                temporary_seen = temporary;
                std::ofstream out(temporary, std::ios::binary);
                out << "half a fi";
                out.flush();
                throw std::runtime_error("the writer gave up");
            },
            "test");
        BOOST_FAIL("no exception");
    } catch (const IoError&) {
        BOOST_FAIL("the writer's exception was replaced by an IoError");
    } catch (const std::runtime_error& e) {
        BOOST_TEST(std::string(e.what()) == "the writer gave up");  // passed through unchanged
    }
    BOOST_TEST(read_text(path) == kAwkwardBytes);
    BOOST_TEST(!temporary_seen.empty());
    BOOST_TEST(!fs::exists(temporary_seen));
    BOOST_TEST((dir.names() == std::set<std::string>{"model.json"}));
}

BOOST_AUTO_TEST_CASE(a_writer_that_throws_before_any_old_file_leaves_nothing) {
    TempDir dir("flowtape_atomic_write_test");
    BOOST_CHECK_THROW(write_atomically(
                          dir.file("new.csv"), [](const std::string&) { throw ValueError("rejected"); }, "test"),
                      ValueError);
    BOOST_TEST(dir.names().empty());
}

BOOST_AUTO_TEST_CASE(an_unwritable_folder_gives_an_io_error_naming_the_path) {
    TempDir dir("flowtape_atomic_write_test");
    write_text(dir.file("a-file"), "x");
    // Folders no one can create a file in, root included: a missing one, and a "folder" that is a
    // regular file.
    const std::vector<std::pair<std::string, std::string>> cases{
        {dir.file("no/such/folder/out.csv"), "No such file or directory"},
        {dir.file("a-file/out.csv"), "Not a directory"}};
    for (const auto& [path, reason] : cases) {
        try {
            write_text_atomically(path, "x", "the_caller");
            BOOST_FAIL("no error for " + path);
        } catch (const IoError& e) {
            const std::string m = e.what();
            BOOST_TEST(m.rfind(path + ": the_caller: ", 0) == 0u, m);
            BOOST_TEST(contains(m, reason), m);
        }
    }
    // A folder without write permission; root writes there all the same, so only checked for others.
    if (::geteuid() != 0) {
        const fs::path locked = dir.path / "locked";
        fs::create_directory(locked);
        fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
        const std::string path = (locked / "out.csv").string();
        try {
            write_atomically(path, [](const std::string& t) { write_text(t, "x"); }, "the_caller");
            BOOST_FAIL("no error for " + path);
        } catch (const IoError& e) {
            BOOST_TEST(std::string(e.what()).rfind(path + ": the_caller: ", 0) == 0u, e.what());
            BOOST_TEST(contains(e.what(), "Permission denied"), e.what());
        }
        fs::permissions(locked, fs::perms::owner_all);
        BOOST_TEST(fs::is_empty(locked));
    }
    std::set<std::string> expected{"a-file"};
    if (::geteuid() != 0) expected.insert("locked");
    BOOST_TEST((dir.names() == expected));
}

BOOST_AUTO_TEST_CASE(a_failed_rename_removes_the_temporary) {
    TempDir dir("flowtape_atomic_write_test");
    const std::string target = dir.file("sub");
    fs::create_directories(target + "/keep");  // a non-empty folder cannot be renamed over
    try {
        write_text_atomically(target, "x", "the_caller");
        BOOST_FAIL("no error");
    } catch (const IoError& e) {
        BOOST_TEST(std::string(e.what()).rfind(target + ": the_caller: cannot rename ", 0) == 0u, e.what());
    }
    BOOST_TEST((dir.names() == std::set<std::string>{"sub"}));
    BOOST_TEST(fs::is_directory(target + "/keep"));
}

BOOST_AUTO_TEST_CASE(text_overwrites_an_existing_file) {
    TempDir dir("flowtape_atomic_write_test");
    const std::string path = dir.file("results.md");
    write_text(path, std::string(10000, 'o'));  // longer than the new text: no old tail may remain
    write_text_atomically(path, "new\n", "test");
    BOOST_TEST(read_text(path) == "new\n");
    BOOST_TEST((dir.names() == std::set<std::string>{"results.md"}));
}

BOOST_AUTO_TEST_CASE(the_file_gets_a_plain_files_permissions) {
    // 0666 less the umask, as std::ofstream makes a file, not mkstemp's 0600.
    TempDir dir("flowtape_atomic_write_test");
    write_text(dir.file("plain"), "x");
    write_text_atomically(dir.file("atomic"), "x", "test");
    BOOST_TEST(static_cast<int>(fs::status(dir.file("atomic")).permissions()) ==
               static_cast<int>(fs::status(dir.file("plain")).permissions()));
}

BOOST_AUTO_TEST_CASE(concurrent_writers_of_one_target_each_leave_a_whole_file) {
    TempDir dir("flowtape_atomic_write_test");
    const std::string path = dir.file("shared.txt");
    const std::string a(100000, 'a'), b(100000, 'b');
    std::vector<std::thread> writers;
    for (int t = 0; t < 4; ++t)
        writers.emplace_back([&, t] {
            for (int k = 0; k < 10; ++k) write_text_atomically(path, t % 2 ? a : b, "test");
        });
    for (std::thread& w : writers) w.join();
    const std::string last = read_text(path);
    BOOST_TEST((last == a || last == b));
    BOOST_TEST((dir.names() == std::set<std::string>{"shared.txt"}));
}

BOOST_AUTO_TEST_SUITE_END()
