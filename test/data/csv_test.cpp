// Tests of CSV reading and writing: every error case with its exact file:line:column, comments and
// blank lines, weight and label columns, bit-identical write → read round trips, atomic writes.
#include <boost/test/unit_test.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <sstream>
#include <string>

#include "core/error.hpp"
#include "core/random.hpp"
#include "data/csv.hpp"
#include "test/temp_dir.hpp"

using namespace flowtape;
using flowtape::test::read_text;
using flowtape::test::TempDir;
using flowtape::test::write_text;
namespace fs = std::filesystem;

namespace {

// The message of the IoError that reading `text` (as a file named data.csv) throws, or "" if none.
std::string read_error(const TempDir& dir, const std::string& text, const CsvOptions& options = {}) {
    const std::string path = dir.file("data.csv");
    write_text(path, text);
    try {
        read_csv(path, options);
    } catch (const IoError& e) {
        return e.what();
    }
    return "";
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Checks that `message` starts with "<dir>/data.csv:line:column: " and contains each of `parts`.
void check_error(const TempDir& dir, const std::string& message, const std::string& position,
                 std::initializer_list<std::string> parts) {
    const std::string prefix = dir.file("data.csv") + ":" + position + ": ";
    BOOST_TEST(starts_with(message, prefix), "message '" << message << "' does not start with '" << prefix << "'");
    for (const std::string& p : parts) BOOST_TEST(contains(message, p), "message '" << message << "' lacks '" << p << "'");
}

bool bitwise_equal(const Array& a, const Array& b) {
    if (a.shape() != b.shape()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::bit_cast<std::uint64_t>(a.data()[i]) != std::bit_cast<std::uint64_t>(b.data()[i])) return false;
    return true;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(csv)

BOOST_AUTO_TEST_CASE(missing_file_names_the_path) {
    TempDir dir;
    const std::string path = dir.file("absent.csv");
    try {
        read_csv(path);
        BOOST_FAIL("no error for a missing file");
    } catch (const IoError& e) {
        const std::string m = e.what();
        BOOST_TEST(starts_with(m, path + ": cannot open for reading"), m);
        BOOST_TEST(contains(m, "No such file"), m);
    }
    BOOST_CHECK_THROW(read_csv(dir.path.string()), IoError);  // a directory
}

BOOST_AUTO_TEST_CASE(empty_input_and_missing_header_or_rows) {
    TempDir dir;
    check_error(dir, read_error(dir, ""), "1:1", {"empty file"});
    // Only comments and blank lines: the position is just past the last line.
    check_error(dir, read_error(dir, "# a comment\n\n   # another\n"), "4:1", {"no header row"});
    check_error(dir, read_error(dir, "x,y\n"), "2:1", {"no data rows", "line 1"});
    check_error(dir, read_error(dir, "# c\nx,y\n\n# trailing\n"), "5:1", {"no data rows", "line 2"});
}

BOOST_AUTO_TEST_CASE(ragged_rows_say_expected_and_found) {
    TempDir dir;
    check_error(dir, read_error(dir, "x,y\n1,2\n1,2,3\n"), "3:3", {"ragged row", "expected 2", "found 3"});
    check_error(dir, read_error(dir, "x,y,z\n# c\n1,2\n"), "3:3", {"ragged row", "expected 3", "found 2"});
    check_error(dir, read_error(dir, "x,y\n5\n"), "2:2", {"expected 2", "found 1"});
    check_error(dir, read_error(dir, "x,y\n1,2,\n"), "2:3", {"expected 2", "found 3"});
}

BOOST_AUTO_TEST_CASE(non_numbers_are_quoted_with_their_column) {
    TempDir dir;
    check_error(dir, read_error(dir, "x,y\n1,2\n3,abc\n"), "3:2", {"'abc'", "column 'y'", "not a number"});
    for (const std::string bad : {"1.5x", "1e", "0x10", "--1", "+-1", "1 2", "\"1\"", "1,5e"}) {
        const std::string text = "a,b,c\n0,0,0\n0,0," + bad + "\n";
        const std::string m = read_error(dir, text);
        const bool extra_comma = bad.find(',') != std::string::npos;
        if (extra_comma)
            check_error(dir, m, "3:4", {"ragged row"});
        else
            check_error(dir, m, "3:3", {"'" + bad + "'", "not a number"});
    }
    check_error(dir, read_error(dir, "x,y\n1,\n"), "2:2", {"empty field", "column 'y'"});
    check_error(dir, read_error(dir, "x,y\n ,1\n"), "2:1", {"empty field", "column 'x'"});
}

BOOST_AUTO_TEST_CASE(nan_and_infinity_are_rejected) {
    TempDir dir;
    for (const std::string bad : {"nan", "NaN", "-nan", "inf", "-inf", "Infinity"})
        check_error(dir, read_error(dir, "x,y\n1,2\n3," + bad + "\n"), "3:2", {"'" + bad + "'", "not a finite number"});
    check_error(dir, read_error(dir, "x,y\n1e400,2\n"), "2:1", {"'1e400'", "out of the range"});
    check_error(dir, read_error(dir, "x,y\n1,-1e999\n"), "2:2", {"'-1e999'", "out of the range"});
}

BOOST_AUTO_TEST_CASE(header_names_must_be_unique_and_non_empty) {
    TempDir dir;
    check_error(dir, read_error(dir, "x,y,x\n1,2,3\n"), "1:3", {"duplicate column name 'x'", "also column 1"});
    check_error(dir, read_error(dir, "# c\n\nx,x\n1,2\n"), "3:2", {"duplicate column name 'x'"});
    check_error(dir, read_error(dir, "x,,y\n1,2,3\n"), "1:2", {"empty column name"});
    check_error(dir, read_error(dir, "x,y,\n1,2,3\n"), "1:3", {"empty column name"});
    check_error(dir, read_error(dir, "\"\",y\n1,2\n"), "1:1", {"empty column name"});
}

BOOST_AUTO_TEST_CASE(named_columns_must_exist) {
    TempDir dir;
    check_error(dir, read_error(dir, "x,y\n1,2\n", {.weights_column = "w"}), "1:1",
                {"no column named 'w' for the weights", "columns: x, y"});
    check_error(dir, read_error(dir, "# c\nx,y\n1,2\n", {.labels_column = "label"}), "2:1",
                {"no column named 'label' for the labels"});
    check_error(dir, read_error(dir, "w\n1\n", {.weights_column = "w"}), "1:1", {"no data columns"});
    BOOST_CHECK_THROW(read_csv(dir.file("data.csv"), {.weights_column = "w", .labels_column = "w"}), ValueError);
}

BOOST_AUTO_TEST_CASE(weights_must_be_non_negative_and_not_all_zero) {
    TempDir dir;
    const CsvOptions w{.weights_column = "w"};
    check_error(dir, read_error(dir, "x,w\n1,0.5\n2,-1\n", w), "3:2", {"negative weight '-1'", "column 'w'"});
    check_error(dir, read_error(dir, "w,x\n0,1\n0,2\n", w), "1:1", {"weights in column 'w' sum to zero"});
    check_error(dir, read_error(dir, "x,w\n1,1e308\n2,1e308\n", w), "1:2", {"non-finite"});
    check_error(dir, read_error(dir, "x,w\n1,nan\n", w), "2:2", {"'nan'", "not a finite number"});
    check_error(dir, read_error(dir, "x,w\n1,\n", w), "2:2", {"empty field", "column 'w'"});
}

BOOST_AUTO_TEST_CASE(labels_must_be_integers) {
    TempDir dir;
    const CsvOptions l{.labels_column = "c"};
    check_error(dir, read_error(dir, "x,c\n1,0\n2,1.5\n", l), "3:2", {"label '1.5'", "column 'c'", "not an integer"});
    check_error(dir, read_error(dir, "c,x\ncat,1\n", l), "2:1", {"label 'cat'", "not an integer"});
    check_error(dir, read_error(dir, "x,c\n1,inf\n", l), "2:2", {"label 'inf'"});
    check_error(dir, read_error(dir, "x,c\n1,1e30\n", l), "2:2", {"label '1e30'"});
}

BOOST_AUTO_TEST_CASE(an_empty_label_is_no_label_and_writes_back_empty) {
    // Semi-supervised training (the VMoNF) reads rows without a label from empty label fields.
    TempDir dir;
    const std::string path = dir.file("some.csv");
    write_text(path, "x,c\n1,0\n2,\n3,1\n");
    const Dataset d = read_csv(path, {.labels_column = "c"});
    BOOST_REQUIRE(d.labels.has_value());
    BOOST_TEST((*d.labels == IndexArray{{0}, {kNoLabel}, {1}}));
    const std::string again = dir.file("again.csv");
    write_csv(again, d);
    const Dataset e = read_csv(again, {.labels_column = "label"});
    BOOST_TEST((*e.labels == *d.labels));
    BOOST_TEST((e.x == d.x));
}

BOOST_AUTO_TEST_CASE(comments_blank_lines_blanks_crlf_bom_and_quoted_names) {
    TempDir dir;
    const std::string path = dir.file("ok.csv");
    write_text(path,
               "\xEF\xBB\xBF# a comment before the header\n"
               "\n"
               "   # an indented comment\n"
               "\"x\", y \r\n"
               " 1.5 , -2\r\n"
               "\t\n"
               "# between rows\n"
               "+3,1e-3\r\n"
               "-0,.25\n");
    const Dataset d = read_csv(path);
    BOOST_TEST((d.columns == std::vector<std::string>{"x", "y"}));
    BOOST_TEST(d.rows() == 3u);
    BOOST_TEST(d.dims() == 2u);
    BOOST_TEST((d.x == Array{{1.5, -2.0}, {3.0, 1e-3}, {0.0, 0.25}}));
    BOOST_TEST(std::signbit(d.x(2, 0)));  // "-0" is the double −0
    BOOST_TEST(!d.weights.has_value());
    BOOST_TEST(!d.labels.has_value());
    // Error positions count every line, comments included.
    write_text(path, "# one\n# two\nx\n# four\n7\nq\n");
    try {
        read_csv(path);
        BOOST_FAIL("no error");
    } catch (const IoError& e) {
        BOOST_TEST(starts_with(e.what(), path + ":6:1: "), e.what());
    }
}

BOOST_AUTO_TEST_CASE(weights_and_labels_columns_are_split_off) {
    TempDir dir;
    const std::string path = dir.file("wl.csv");
    write_text(path, "a,w,b,c\n1,0.5,2,0\n3,1.5,4,2.0\n5,0,6,-1\n");
    const Dataset d = read_csv(path, {.weights_column = "w", .labels_column = "c"});
    BOOST_TEST((d.columns == std::vector<std::string>{"a", "b"}));
    BOOST_TEST((d.x == Array{{1, 2}, {3, 4}, {5, 6}}));
    BOOST_REQUIRE(d.weights.has_value());
    BOOST_TEST((*d.weights == Array{{0.5}, {1.5}, {0.0}}));
    BOOST_REQUIRE(d.labels.has_value());
    BOOST_TEST((*d.labels == IndexArray{{0}, {2}, {-1}}));
    // Without options every column is data.
    const Dataset all = read_csv(path);
    BOOST_TEST(all.dims() == 4u);
}

BOOST_AUTO_TEST_CASE(stream_reading_uses_the_given_name) {
    std::istringstream in("x\n1\n2\n");
    const Dataset d = read_csv(in, "<stdin>");
    BOOST_TEST((d.x == Array{{1}, {2}}));
    std::istringstream bad("x\n1\nz\n");
    try {
        read_csv(bad, "<stdin>");
        BOOST_FAIL("no error");
    } catch (const IoError& e) {
        BOOST_TEST(std::string(e.what()) == "<stdin>:3:1: 'z' in column 'x' is not a number");
    }
}

BOOST_AUTO_TEST_CASE(write_then_read_is_bit_identical) {
    TempDir dir;
    Rng rng(11);
    // Values across the whole range of doubles, with the awkward ones spelled out.
    Array x = Array::from_shape({200, 3});
    for (std::size_t i = 0; i < 200; ++i)
        for (std::size_t j = 0; j < 3; ++j)
            x(i, j) = rng.normal() * std::pow(10.0, std::floor(rng.uniform(-300, 300)));
    const real special[] = {0.1, 1.0 / 3, -0.0, 0.0, std::numeric_limits<real>::max(), std::numeric_limits<real>::lowest(),
                            std::numeric_limits<real>::min(), std::numeric_limits<real>::denorm_min(), 5e-320,
                            123456789012345678.0, 1 + 0x1.0p-52, -2.5e-310};
    for (std::size_t k = 0; k < std::size(special); ++k) x(k / 3, k % 3) = special[k];
    IndexArray labels = IndexArray::from_shape({200, 1});
    for (std::size_t i = 0; i < 200; ++i) labels(i, 0) = static_cast<std::int64_t>(rng.below(7)) - 3;
    labels(0, 0) = std::numeric_limits<std::int64_t>::min();
    labels(1, 0) = std::numeric_limits<std::int64_t>::max();

    const std::string path = dir.file("round.csv");
    write_csv(path, x, {"a", "b", "c"}, labels, "class");
    const Dataset d = read_csv(path, {.labels_column = "class"});
    BOOST_TEST(bitwise_equal(d.x, x));
    BOOST_TEST((d.columns == std::vector<std::string>{"a", "b", "c"}));
    BOOST_REQUIRE(d.labels.has_value());
    BOOST_TEST((*d.labels == labels));

    // The same through streams, and a whole Dataset with weights.
    const Dataset full{x, {"a", "b", "c"}, rng.uniform_array(200, 1), labels};
    std::stringstream s;
    write_csv(s, full, "w", "c9");
    const Dataset back = read_csv(s, "<memory>", {.weights_column = "w", .labels_column = "c9"});
    BOOST_TEST(bitwise_equal(back.x, x));
    BOOST_TEST(bitwise_equal(*back.weights, *full.weights));
    BOOST_TEST((*back.labels == labels));
    BOOST_TEST((back.columns == full.columns));
}

BOOST_AUTO_TEST_CASE(written_text_is_shortest_round_trip) {
    std::ostringstream s;
    write_csv(s, Array{{0.1, -2.0}, {1e-3, 1.0 / 3}}, {"x0", "x1"}, IndexArray{{0}, {1}});
    BOOST_TEST(s.str() == "x0,x1,label\n0.1,-2,0\n0.001,0.3333333333333333,1\n");
}

BOOST_AUTO_TEST_CASE(write_rejects_what_would_not_read_back) {
    std::ostringstream s;
    const Array x{{1, 2}};
    BOOST_CHECK_THROW(write_csv(s, x, {"a"}), ShapeError);
    BOOST_CHECK_THROW(write_csv(s, x, {"a", "b"}, IndexArray{{1}, {2}}), ShapeError);
    for (const std::vector<std::string>& names : std::vector<std::vector<std::string>>{
             {"a", "a"}, {"", "b"}, {"a,b", "c"}, {"a", "b\n"}, {" a", "b"}, {"#a", "b"}, {"a", "q\""}})
        BOOST_CHECK_THROW(write_csv(s, x, names), ValueError);
    BOOST_CHECK_THROW(write_csv(s, x, {"a", "b"}, IndexArray{{1}}, "a"), ValueError);  // label name taken
    BOOST_CHECK_THROW(write_csv(s, Array{{1, NAN}}, {"a", "b"}), NonFiniteError);
    BOOST_CHECK_THROW(write_csv(s, Array{{1, -INFINITY}}, {"a", "b"}), NonFiniteError);
    Dataset d{x, {"a", "b"}, Array{{-1}}, std::nullopt};
    BOOST_CHECK_THROW(write_csv(s, d), ValueError);
    d.weights = Array{{0}};
    BOOST_CHECK_THROW(write_csv(s, d), ValueError);
    d.weights = Array{{1}, {2}};
    BOOST_CHECK_THROW(write_csv(s, d), ShapeError);
    BOOST_TEST(s.str().empty());  // nothing was written by a rejected call
}

BOOST_AUTO_TEST_CASE(atomic_write_leaves_no_temporary_and_never_clobbers) {
    TempDir dir;
    const std::string path = dir.file("out.csv");
    write_csv(path, Array{{1, 2}}, {"a", "b"});
    BOOST_TEST(dir.entries() == 1u);  // only out.csv: the temporary file was renamed
    BOOST_TEST(read_text(path) == "a,b\n1,2\n");
    write_csv(path, Array{{3, 4}}, {"a", "b"});  // replaces the old file
    BOOST_TEST(read_text(path) == "a,b\n3,4\n");

    // Into a missing directory: IoError naming the file, and nothing created.
    const std::string missing = dir.file("no/such/dir/out.csv");
    try {
        write_csv(missing, Array{{1, 2}}, {"a", "b"});
        BOOST_FAIL("no error");
    } catch (const IoError& e) {
        BOOST_TEST(contains(e.what(), missing), e.what());
        BOOST_TEST(contains(e.what(), "No such file or directory"), e.what());
    }
    BOOST_TEST(dir.entries() == 1u);

    // A rejected value leaves the old file as it was.
    BOOST_CHECK_THROW(write_csv(path, Array{{NAN, 1}}, {"a", "b"}), NonFiniteError);
    BOOST_TEST(read_text(path) == "a,b\n3,4\n");

    // The rename fails (the target is a directory): the written temporary file is removed.
    const std::string sub = dir.file("sub");
    fs::create_directory(sub);
    fs::create_directory(sub + "/keep");
    try {
        write_csv(sub, Array{{1, 2}}, {"a", "b"});
        BOOST_FAIL("no error");
    } catch (const IoError& e) {
        BOOST_TEST(contains(e.what(), "cannot rename"), e.what());
    }
    BOOST_TEST(dir.entries() == 2u);  // out.csv and sub, no sub.tmp.*
    BOOST_TEST(fs::is_directory(sub + "/keep"));
    BOOST_TEST(read_text(path) == "a,b\n3,4\n");
}

BOOST_AUTO_TEST_SUITE_END()

// ---- parts of a file (data-parallel training: each rank reads its rows) ----

BOOST_AUTO_TEST_SUITE(csv_parts)

BOOST_AUTO_TEST_CASE(a_part_holds_exactly_its_rows_and_the_parts_make_the_file) {
    TempDir dir;
    const std::string path = dir.file("rows.csv");
    write_text(path, "# comment\nx,w\n0,1\n1,1\n\n# more\n2,2\n3,0\n4,1\n");
    BOOST_CHECK_EQUAL(count_csv_rows(path), 5u);
    CsvOptions o;
    o.weights_column = "w";
    const Dataset whole = read_csv(path, o);
    std::vector<real> joined;
    for (const auto& [first, count] : std::vector<std::pair<std::size_t, std::size_t>>{{0, 2}, {2, 0}, {2, 3}}) {
        o.first_row = first;
        o.row_count = count;
        const Dataset part = read_csv(path, o);
        BOOST_REQUIRE_EQUAL(part.rows(), count);
        for (std::size_t i = 0; i < count; ++i) {
            BOOST_CHECK_EQUAL(part.x(i, 0), whole.x(first + i, 0));
            BOOST_CHECK_EQUAL((*part.weights)(i, 0), (*whole.weights)(first + i, 0));
            joined.push_back(part.x(i, 0));
        }
    }
    BOOST_CHECK_EQUAL(joined.size(), whole.rows());
    // A part whose weights sum to zero is not an error (the whole file's are checked by fit).
    o.first_row = 3;
    o.row_count = 1;
    BOOST_CHECK_EQUAL((*read_csv(path, o).weights)(0, 0), 0.0);
}

BOOST_AUTO_TEST_CASE(a_bad_row_is_reported_by_the_part_that_holds_it_with_its_line) {
    TempDir dir;
    CsvOptions o;
    o.first_row = 0;
    o.row_count = 2;
    BOOST_CHECK_EQUAL(read_error(dir, "x\n1\n2\nz\n", o), "");  // row 2 is another part's
    o.first_row = 2;
    o.row_count = 1;
    BOOST_CHECK(starts_with(read_error(dir, "x\n1\n2\nz\n", o), dir.file("data.csv") + ":4:1: "));
    // A file with no data rows is an error for every part, an empty part of a full file is not.
    BOOST_CHECK(contains(read_error(dir, "x\n", o), "no data rows"));
    o.first_row = 10;
    BOOST_CHECK_EQUAL(read_error(dir, "x\n1\n", o), "");
}

BOOST_AUTO_TEST_CASE(counting_rows_needs_a_header) {
    TempDir dir;
    const std::string path = dir.file("empty.csv");
    write_text(path, "");
    BOOST_CHECK_THROW(count_csv_rows(path), IoError);
    write_text(path, "# only a comment\n");
    BOOST_CHECK_THROW(count_csv_rows(path), IoError);
    BOOST_CHECK_THROW(count_csv_rows(dir.file("missing.csv")), IoError);
    write_text(path, "x,y\n");
    BOOST_CHECK_EQUAL(count_csv_rows(path), 0u);
}

BOOST_AUTO_TEST_SUITE_END()
