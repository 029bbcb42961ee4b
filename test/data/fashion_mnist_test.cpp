// Tests of the Fashion-MNIST loader (data/fashion_mnist.hpp) on a small copy of the package's
// layout written here (four gzip IDX files of a few 28×28 images): the splits and their order, the
// folder lookup, and the loader's own errors — a missing file naming the Debian package, images
// that are not 28×28, a label outside 0..9. When Debian's dataset-fashion-mnist is installed its
// real counts are checked too; otherwise that case says it skipped.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/error.hpp"
#include "data/fashion_mnist.hpp"
#include "data/idx.hpp"
#include "test/data/idx_fixture.hpp"
#include "test/temp_dir.hpp"

using namespace flowtape;
using flowtape::test::TempDir;

namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The package's four files: 3 training images (labels 0, 1, 2) and 2 test images (labels 7, 8).
void write_package(const TempDir& dir) {
    test::write_gz(dir.file("train-images-idx3-ubyte.gz"), test::fixture_images(3, 28, 28));
    test::write_gz(dir.file("train-labels-idx1-ubyte.gz"), test::fixture_labels(3));
    test::write_gz(dir.file("t10k-images-idx3-ubyte.gz"), test::fixture_images(2, 28, 28));
    test::write_gz(dir.file("t10k-labels-idx1-ubyte.gz"), test::fixture_labels(2, 7));
}

std::string io_error(const std::string& dir, FashionMnistSplit split) {
    try {
        read_fashion_mnist(dir, split);
    } catch (const IoError& e) {
        return e.what();
    }
    BOOST_ERROR("no IoError");
    return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fashion_mnist)

BOOST_AUTO_TEST_CASE(splits_and_their_order) {
    TempDir dir("fashion");
    write_package(dir);
    const Dataset all = read_fashion_mnist(dir.path.string());
    BOOST_TEST(all.rows() == 5u);
    BOOST_TEST(all.dims() == 784u);
    BOOST_TEST(all.columns.back() == "p783");
    const std::vector<std::int64_t> labels(all.labels->begin(), all.labels->end());
    BOOST_TEST((labels == std::vector<std::int64_t>{0, 1, 2, 7, 8}));  // training rows first
    BOOST_TEST(all.x(3, 100) == test::fixture_pixel(0, 100) / 255.0);  // test image 0
    BOOST_TEST(all.x(2, 100) == test::fixture_pixel(2, 100) / 255.0);  // training image 2

    const Dataset train = read_fashion_mnist(dir.path.string(), FashionMnistSplit::train);
    const Dataset test = read_fashion_mnist(dir.path.string(), FashionMnistSplit::test);
    BOOST_TEST(train.rows() == 3u);
    BOOST_TEST(test.rows() == 2u);
    BOOST_TEST((xt::view(all.x, xt::range(0, 3), xt::all()) == train.x));
    BOOST_TEST((xt::view(all.x, xt::range(3, 5), xt::all()) == test.x));
}

BOOST_AUTO_TEST_CASE(missing_file_names_the_package) {
    TempDir dir("fashion");
    write_package(dir);
    std::filesystem::remove(dir.file("t10k-labels-idx1-ubyte.gz"));
    const std::string m = io_error(dir.path.string(), FashionMnistSplit::all);
    BOOST_TEST(has(m, "t10k-labels-idx1-ubyte.gz"), m);
    BOOST_TEST(has(m, "dataset-fashion-mnist"), m);
    BOOST_TEST(has(m, "FLOWTAPE_FASHION_MNIST_DIR"), m);
    // The training split alone does not need the test files.
    BOOST_TEST(read_fashion_mnist(dir.path.string(), FashionMnistSplit::train).rows() == 3u);
    BOOST_TEST(has(io_error(dir.file("nowhere"), FashionMnistSplit::train), "dataset-fashion-mnist"));
}

BOOST_AUTO_TEST_CASE(wrong_image_size_and_label) {
    TempDir dir("fashion");
    write_package(dir);
    test::write_gz(dir.file("t10k-images-idx3-ubyte.gz"), test::fixture_images(2, 32, 32));
    std::string m = io_error(dir.path.string(), FashionMnistSplit::test);
    BOOST_TEST(has(m, "32×32"), m);
    BOOST_TEST(has(m, "28×28"), m);
    write_package(dir);
    test::write_gz(dir.file("train-labels-idx1-ubyte.gz"), test::idx_bytes(0x00000801, {3}, {0, 10, 2}));
    m = io_error(dir.path.string(), FashionMnistSplit::train);
    BOOST_TEST(has(m, "label 10 of image 1"), m);
    // The IDX reader's checks come through: counts that disagree.
    write_package(dir);
    test::write_gz(dir.file("train-labels-idx1-ubyte.gz"), test::fixture_labels(4));
    BOOST_TEST(has(io_error(dir.path.string(), FashionMnistSplit::all), "holds 4 labels"));
}

BOOST_AUTO_TEST_CASE(folder_lookup) {
    const char* before = std::getenv("FLOWTAPE_FASHION_MNIST_DIR");
    const std::string saved = before ? before : "";
    ::setenv("FLOWTAPE_FASHION_MNIST_DIR", "/copy/of/it", 1);
    BOOST_TEST(fashion_mnist_dir() == "/copy/of/it");
    ::unsetenv("FLOWTAPE_FASHION_MNIST_DIR");
    BOOST_TEST(fashion_mnist_dir() == "/usr/share/datasets/fashion-mnist");
    if (before) ::setenv("FLOWTAPE_FASHION_MNIST_DIR", saved.c_str(), 1);
}

// Debian's package, when installed: 60,000 training and 10,000 test images of 28×28, 6,000 and
// 1,000 of each class. The training images are checked as bytes (47 MB), the test split as a
// Dataset; the whole 70,000 (440 MB as doubles) is left to the fixtures above.
BOOST_AUTO_TEST_CASE(the_debian_package_when_installed) {
    const std::string dir = kFashionMnistDefaultDir;
    if (!std::filesystem::exists(dir + "/t10k-labels-idx1-ubyte.gz")) {
        BOOST_TEST_MESSAGE("skipped: dataset-fashion-mnist is not installed (no " << dir << ")");
        return;
    }
    BOOST_TEST_MESSAGE("checking dataset-fashion-mnist at " << dir);
    const IdxImages train = read_idx_images(dir + "/train-images-idx3-ubyte.gz");
    BOOST_TEST(train.count == 60000u);
    BOOST_TEST(train.rows == 28u);
    BOOST_TEST(train.cols == 28u);
    std::size_t per_class[10] = {};
    for (std::uint8_t l : read_idx_labels(dir + "/train-labels-idx1-ubyte.gz")) ++per_class[l];
    for (int c = 0; c < 10; ++c) BOOST_TEST(per_class[c] == 6000u, "class " << c);

    const Dataset test = read_fashion_mnist(dir, FashionMnistSplit::test);
    BOOST_TEST(test.rows() == 10000u);
    std::size_t test_class[10] = {};
    for (std::int64_t l : *test.labels) ++test_class[l];
    for (int c = 0; c < 10; ++c) BOOST_TEST(test_class[c] == 1000u, "class " << c);
    BOOST_TEST(xt::amin(test.x)() == 0.0);
    BOOST_TEST(xt::amax(test.x)() == 1.0);
}

BOOST_AUTO_TEST_SUITE_END()
