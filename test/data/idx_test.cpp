// Tests of the IDX reader (data/idx.hpp) on small files written here through zlib: the round trip
// of images and labels (gzip-compressed and plain), pixels divided by 255, and every IoError — a
// missing file, a bad magic number, a file or compressed stream cut short, corrupt compressed
// data, trailing bytes, sizes that are zero or absurd, images and labels that disagree in count.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "core/error.hpp"
#include "data/idx.hpp"
#include "test/data/idx_fixture.hpp"
#include "test/temp_dir.hpp"

using namespace flowtape;
using flowtape::test::Bytes;
using flowtape::test::TempDir;

namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string as_text(const Bytes& b) { return {b.begin(), b.end()}; }

// The IoError message of f(); fails the test if there is none.
template <class F>
std::string io_error(F f) {
    try {
        f();
    } catch (const IoError& e) {
        return e.what();
    }
    BOOST_ERROR("no IoError");
    return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(idx)

BOOST_AUTO_TEST_CASE(round_trip_gzip_and_plain) {
    TempDir dir("idx");
    const Bytes images = test::fixture_images(3, 2, 4), labels = test::fixture_labels(3, 5);
    test::write_gz(dir.file("images.gz"), images);
    test::write_gz(dir.file("labels.gz"), labels);
    // zlib reads a file that is not gzip as it is: a plain IDX file gives the same.
    test::write_text(dir.file("images"), as_text(images));
    test::write_text(dir.file("labels"), as_text(labels));
    for (const std::string suffix : {".gz", ""}) {
        const IdxImages im = read_idx_images(dir.file("images" + suffix));
        BOOST_TEST(im.count == 3u);
        BOOST_TEST(im.rows == 2u);
        BOOST_TEST(im.cols == 4u);
        BOOST_REQUIRE(im.pixels.size() == 24u);
        for (std::size_t i = 0; i < 3; ++i)
            for (std::size_t k = 0; k < 8; ++k) BOOST_TEST(im.pixels[i * 8 + k] == test::fixture_pixel(i, k));
        BOOST_TEST((read_idx_labels(dir.file("labels" + suffix)) == Bytes{5, 6, 7}));

        const Dataset d = read_idx_dataset(dir.file("images" + suffix), dir.file("labels" + suffix));
        BOOST_TEST(d.rows() == 3u);
        BOOST_TEST(d.dims() == 8u);
        BOOST_TEST((d.columns == std::vector<std::string>{"p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7"}));
        for (std::size_t i = 0; i < 3; ++i) {
            BOOST_TEST((*d.labels)(i, 0) == static_cast<std::int64_t>(5 + i));
            for (std::size_t k = 0; k < 8; ++k) BOOST_TEST(d.x(i, k) == test::fixture_pixel(i, k) / 255.0);
        }
    }
    // The extremes: 0 → 0 and 255 → 1 exactly.
    test::write_gz(dir.file("ends.gz"), test::idx_bytes(0x00000803, {1, 1, 2}, {0, 255}));
    test::write_gz(dir.file("one.gz"), test::fixture_labels(1));
    const Dataset e = read_idx_dataset(dir.file("ends.gz"), dir.file("one.gz"));
    BOOST_TEST(e.x(0, 0) == 0.0);
    BOOST_TEST(e.x(0, 1) == 1.0);
}

BOOST_AUTO_TEST_CASE(several_parts_in_one_pass) {
    TempDir dir("idx");
    test::write_gz(dir.file("a.gz"), test::fixture_images(2, 3, 3));
    test::write_gz(dir.file("al.gz"), test::fixture_labels(2));
    test::write_gz(dir.file("b.gz"), test::fixture_images(1, 3, 3));
    test::write_gz(dir.file("bl.gz"), test::fixture_labels(1, 4));
    test::write_gz(dir.file("c.gz"), test::fixture_images(1, 2, 2));
    test::write_gz(dir.file("cl.gz"), test::fixture_labels(1));
    const auto a = read_idx_labelled(dir.file("a.gz"), dir.file("al.gz"));
    const auto b = read_idx_labelled(dir.file("b.gz"), dir.file("bl.gz"));
    const Dataset d = idx_to_dataset({a, b});
    BOOST_TEST(d.rows() == 3u);
    BOOST_TEST((*d.labels)(2, 0) == 4);  // b's rows after a's
    BOOST_TEST(d.x(2, 5) == test::fixture_pixel(0, 5) / 255.0);
    BOOST_TEST(d.x(1, 5) == test::fixture_pixel(1, 5) / 255.0);
    BOOST_CHECK_THROW(idx_to_dataset({a, read_idx_labelled(dir.file("c.gz"), dir.file("cl.gz"))}), ValueError);
    BOOST_CHECK_THROW(idx_to_dataset({}), ValueError);
}

BOOST_AUTO_TEST_CASE(missing_file) {
    TempDir dir("idx");
    const std::string path = dir.file("nothing.gz");
    const std::string m = io_error([&] { read_idx_images(path); });
    BOOST_TEST(has(m, path), m);
    BOOST_TEST(has(m, "cannot open"), m);
    BOOST_TEST(has(io_error([&] { read_idx_labels(path); }), "cannot open"));
    // A folder is not a file either.
    BOOST_TEST(has(io_error([&] { read_idx_images(dir.path.string()); }), dir.path.string()));
}

BOOST_AUTO_TEST_CASE(bad_magic) {
    TempDir dir("idx");
    test::write_gz(dir.file("labels.gz"), test::fixture_labels(3));
    test::write_gz(dir.file("images.gz"), test::fixture_images(3, 2, 2));
    test::write_gz(dir.file("other.gz"), test::idx_bytes(0x12345678, {1}, {0}));
    test::write_gz(dir.file("floats.gz"), test::idx_bytes(0x00000d03, {1, 1, 1}, {0, 0, 0, 0}));
    std::string m = io_error([&] { read_idx_images(dir.file("labels.gz")); });
    BOOST_TEST(has(m, "bad magic number 0x00000801, expected 0x00000803"), m);
    BOOST_TEST(has(m, "labels file"), m);
    m = io_error([&] { read_idx_labels(dir.file("images.gz")); });
    BOOST_TEST(has(m, "bad magic number 0x00000803, expected 0x00000801"), m);
    BOOST_TEST(has(io_error([&] { read_idx_images(dir.file("other.gz")); }), "0x12345678"));
    BOOST_TEST(has(io_error([&] { read_idx_images(dir.file("floats.gz")); }), "0x00000d03"));
    // A file compressed twice shows a gzip header where the magic should be.
    const std::string once = test::read_text(dir.file("images.gz"));
    test::write_gz(dir.file("twice.gz"), Bytes(once.begin(), once.end()));
    BOOST_TEST(has(io_error([&] { read_idx_images(dir.file("twice.gz")); }), "compressed twice"));
}

BOOST_AUTO_TEST_CASE(truncated_files) {
    TempDir dir("idx");
    Bytes short_data = test::fixture_images(3, 2, 2);
    short_data.resize(short_data.size() - 5);  // the header promises 12 bytes of pixels, 7 follow
    test::write_gz(dir.file("short.gz"), short_data);
    std::string m = io_error([&] { read_idx_images(dir.file("short.gz")); });
    BOOST_TEST(has(m, "truncated"), m);
    BOOST_TEST(has(m, "3 images of 2×2 pixels (12 bytes), the file holds 7"), m);

    test::write_gz(dir.file("header.gz"), Bytes{0, 0, 8, 3, 0, 0});  // cut inside the sizes
    m = io_error([&] { read_idx_images(dir.file("header.gz")); });
    BOOST_TEST(has(m, "truncated"), m);
    BOOST_TEST(has(m, "sizes"), m);
    test::write_gz(dir.file("empty.gz"), Bytes{});
    BOOST_TEST(has(io_error([&] { read_idx_labels(dir.file("empty.gz")); }), "magic number"));

    Bytes labels = test::fixture_labels(10);
    labels.resize(labels.size() - 1);
    test::write_gz(dir.file("labels.gz"), labels);
    BOOST_TEST(has(io_error([&] { read_idx_labels(dir.file("labels.gz")); }), "10 labels (10 bytes), the file holds 9"));

    // The compressed file itself cut: in the middle of the deflate data, and just before the
    // gzip trailer (all pixels there, the CRC and length missing).
    test::write_gz(dir.file("whole.gz"), test::fixture_images(200, 28, 28));
    const std::string gz = test::read_text(dir.file("whole.gz"));
    test::write_text(dir.file("half.gz"), gz.substr(0, gz.size() / 2));
    m = io_error([&] { read_idx_images(dir.file("half.gz")); });
    BOOST_TEST(has(m, "truncated"), m);
    BOOST_TEST(has(m, "compressed stream is cut short"), m);
    test::write_text(dir.file("no-trailer.gz"), gz.substr(0, gz.size() - 8));
    m = io_error([&] { read_idx_images(dir.file("no-trailer.gz")); });
    BOOST_TEST(has(m, "truncated"), m);
}

BOOST_AUTO_TEST_CASE(corrupt_compressed_data) {
    TempDir dir("idx");
    test::write_gz(dir.file("whole.gz"), test::fixture_images(50, 28, 28));
    const std::string gz = test::read_text(dir.file("whole.gz"));
    // A wrong CRC-32 in the trailer: every byte decompresses, the check at the end fails.
    std::string bad_crc = gz;
    bad_crc[gz.size() - 8] = static_cast<char>(bad_crc[gz.size() - 8] ^ 0x5a);
    test::write_text(dir.file("crc.gz"), bad_crc);
    std::string m = io_error([&] { read_idx_images(dir.file("crc.gz")); });
    BOOST_TEST(has(m, dir.file("crc.gz")), m);
    BOOST_TEST(has(m, "corrupt"), m);
    // Garbage in the middle of the deflate stream: an error, whatever zlib makes of it.
    std::string garbled = gz;
    for (std::size_t i = gz.size() / 3; i < gz.size() / 3 + 64; ++i) garbled[i] = static_cast<char>(0xff);
    test::write_text(dir.file("garbled.gz"), garbled);
    m = io_error([&] { read_idx_images(dir.file("garbled.gz")); });
    BOOST_TEST(has(m, dir.file("garbled.gz")), m);
}

BOOST_AUTO_TEST_CASE(trailing_data_and_bad_sizes) {
    TempDir dir("idx");
    Bytes extra = test::fixture_images(2, 2, 2);
    extra.push_back(9);
    test::write_gz(dir.file("extra.gz"), extra);
    BOOST_TEST(has(io_error([&] { read_idx_images(dir.file("extra.gz")); }), "trailing data"));
    // Garbage after the gzip stream (which gzread would skip without a word).
    test::write_gz(dir.file("ok.gz"), test::fixture_images(2, 2, 2));
    test::write_text(dir.file("garbage.gz"), test::read_text(dir.file("ok.gz")) + "junk");
    BOOST_TEST(has(io_error([&] { read_idx_images(dir.file("garbage.gz")); }), "after the end of the compressed stream"));
    // Two gzip members one after the other are one file, as gzip has it.
    const Bytes whole = test::fixture_images(3, 2, 2);
    test::write_gz(dir.file("head.gz"), Bytes(whole.begin(), whole.begin() + 10));
    test::write_gz(dir.file("rest.gz"), Bytes(whole.begin() + 10, whole.end()));
    test::write_text(dir.file("two.gz"), test::read_text(dir.file("head.gz")) + test::read_text(dir.file("rest.gz")));
    const IdxImages two = read_idx_images(dir.file("two.gz"));
    BOOST_TEST(two.count == 3u);
    BOOST_TEST((two.pixels == Bytes(whole.begin() + 16, whole.end())));  // after the 16-byte header
    test::write_gz(dir.file("zero.gz"), test::idx_bytes(0x00000803, {2, 0, 28}, {}));
    BOOST_TEST(has(io_error([&] { read_idx_images(dir.file("zero.gz")); }), "0×28"));
    // A header claiming 4 billion images of 28×28 over a few bytes: reported as truncated after
    // reading what is there, without first asking for 3 TB of memory.
    test::write_gz(dir.file("huge.gz"), test::idx_bytes(0x00000803, {0xffffffffu, 28, 28}, Bytes(1000, 1)));
    const std::string m = io_error([&] { read_idx_images(dir.file("huge.gz")); });
    BOOST_TEST(has(m, "truncated"), m);
    BOOST_TEST(has(m, "the file holds 1000"), m);
    // No images at all is a valid, empty file.
    test::write_gz(dir.file("none.gz"), test::idx_bytes(0x00000803, {0, 28, 28}, {}));
    BOOST_TEST(read_idx_images(dir.file("none.gz")).count == 0u);
}

BOOST_AUTO_TEST_CASE(images_and_labels_must_agree) {
    TempDir dir("idx");
    test::write_gz(dir.file("images.gz"), test::fixture_images(3, 2, 2));
    test::write_gz(dir.file("labels.gz"), test::fixture_labels(2));
    const std::string m = io_error([&] { read_idx_dataset(dir.file("images.gz"), dir.file("labels.gz")); });
    BOOST_TEST(has(m, dir.file("images.gz") + " holds 3 images"), m);
    BOOST_TEST(has(m, dir.file("labels.gz") + " holds 2 labels"), m);
}

BOOST_AUTO_TEST_SUITE_END()
