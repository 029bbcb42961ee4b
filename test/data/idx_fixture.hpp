// Small IDX files for the tests of data/idx.hpp and data/fashion_mnist.hpp, written by the tests
// themselves: the bytes of a file (big-endian header, then the values), gzip-compressed through
// zlib as Debian ships Fashion-MNIST, or plain.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace flowtape::test {

using Bytes = std::vector<std::uint8_t>;

inline void put_be32(Bytes& out, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

// An IDX file: the magic number, one size per dimension, the values.
inline Bytes idx_bytes(std::uint32_t magic, const std::vector<std::uint32_t>& sizes, const Bytes& values) {
    Bytes out;
    put_be32(out, magic);
    for (std::uint32_t s : sizes) put_be32(out, s);
    out.insert(out.end(), values.begin(), values.end());
    return out;
}

// count images of rows × cols with pixel (i, k) = (7i + 3k) mod 256, and labels i mod 10.
inline std::uint8_t fixture_pixel(std::size_t i, std::size_t k) {
    return static_cast<std::uint8_t>((7 * i + 3 * k) % 256);
}
inline Bytes fixture_images(std::uint32_t count, std::uint32_t rows, std::uint32_t cols) {
    Bytes values;
    for (std::size_t i = 0; i < count; ++i)
        for (std::size_t k = 0; k < std::size_t{rows} * cols; ++k) values.push_back(fixture_pixel(i, k));
    return idx_bytes(0x00000803, {count, rows, cols}, values);
}
inline Bytes fixture_labels(std::uint32_t count, std::uint8_t offset = 0) {
    Bytes values;
    for (std::size_t i = 0; i < count; ++i) values.push_back(static_cast<std::uint8_t>((i + offset) % 10));
    return idx_bytes(0x00000801, {count}, values);
}

// The bytes gzip-compressed into `path` through zlib's gzwrite (a whole gzip member: header,
// deflate data, CRC-32 and length).
inline void write_gz(const std::string& path, const Bytes& bytes) {
    gzFile f = gzopen(path.c_str(), "wb");
    if (!f) throw std::runtime_error("test: cannot create " + path);
    const bool ok = bytes.empty() || gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) ==
                                         static_cast<int>(bytes.size());
    if (gzclose(f) != Z_OK || !ok) throw std::runtime_error("test: cannot write " + path);
}

}  // namespace flowtape::test
