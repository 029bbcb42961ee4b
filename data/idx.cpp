// The IDX reader: a small file class that inflates gzip (or copies plain bytes) and reads exactly
// what is asked or says why not, the header parsed by hand (big-endian, independent of the
// machine), the values read in chunks.
#include "data/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include "core/error.hpp"
#include "data/image_columns.hpp"

namespace flowtape {
namespace {

std::string hex32(std::uint32_t v) {
    char buf[11];
    std::snprintf(buf, sizeof buf, "0x%08x", static_cast<unsigned>(v));
    return buf;
}

// Note [why inflate, not gzread]: zlib's gzread checks a gzip member's CRC-32 and length when its
// trailer is there, but when the file ends exactly where the compressed data end (the 8-byte
// trailer cut off) and the last output filled the caller's buffer, it reports a clean end of file:
// such a cut file would pass unnoticed (the test truncated_files cuts one so). Driving inflate
// ourselves we know whether each member reached its end (Z_STREAM_END, after its trailer and CRC
// were checked), and can refuse trailing garbage, which gzread skips silently.

// One open file, gzip (a first byte pair 1f 8b; concatenated members allowed, as gzip allows) or
// plain, read as the bytes it stands for; closed on every path out.
class IdxFile {
public:
    explicit IdxFile(const std::string& path) : path_(path) {
        file_ = std::fopen(path.c_str(), "rb");
        if (!file_) throw IoError(path + ": cannot open for reading: " + std::strerror(errno));
        try {
            fill();  // a folder opens, but its first read fails
        } catch (...) {
            std::fclose(file_);
            throw;
        }
        gzip_ = stream_.avail_in >= 2 && in_[0] == 0x1f && in_[1] == 0x8b;
        if (gzip_ && inflateInit2(&stream_, 16 + MAX_WBITS) != Z_OK) {  // 16: gzip wrapper only
            std::fclose(file_);
            throw IoError(path + ": cannot start zlib's inflate (out of memory)");
        }
    }
    ~IdxFile() {
        if (gzip_) inflateEnd(&stream_);
        std::fclose(file_);
    }
    IdxFile(const IdxFile&) = delete;
    IdxFile& operator=(const IdxFile&) = delete;

    const std::string& path() const { return path_; }

    // Up to n bytes into buf; fewer only at the end of the data (then cut_stream() says whether a
    // gzip member was left unfinished). IoError for a read error or corrupt compressed data.
    std::size_t read(void* buf, std::size_t n) {
        auto* out = static_cast<unsigned char*>(buf);
        return gzip_ ? inflate_into(out, n) : copy_into(out, n);
    }

    // Exactly n bytes of `what`; IoError naming what and how much was there when the file ends first.
    void read_exactly(void* buf, std::size_t n, const std::string& what) {
        const std::size_t got = read(buf, n);
        if (got < n)
            throw IoError(path_ + ": truncated: the file ends " + std::to_string(got) + " bytes into the " +
                          std::to_string(n) + " bytes of " + what + cut_stream());
    }

    // After the announced data: nothing may follow, and a gzip member must have ended cleanly.
    void expect_end(const std::string& what) {
        unsigned char extra;
        if (read(&extra, 1) != 0) throw IoError(path_ + ": trailing data after the " + what + " the header announces");
        if (cut_)
            throw IoError(path_ + ": truncated: the compressed stream ends early, its end and checksum missing " +
                          "(after the " + what + ")");
    }

    // After a short read: why, when a gzip member was cut.
    std::string cut_stream() const { return cut_ ? " (the compressed stream is cut short)" : ""; }

private:
    // The next block of the file into in_; false at its end.
    bool fill() {
        const std::size_t got = std::fread(in_, 1, sizeof in_, file_);
        if (got == 0 && std::ferror(file_)) throw IoError(path_ + ": read error: " + std::strerror(errno));
        stream_.next_in = in_;
        stream_.avail_in = static_cast<uInt>(got);
        return got > 0;
    }

    std::size_t copy_into(unsigned char* out, std::size_t n) {
        std::size_t done = 0;
        while (done < n && (stream_.avail_in > 0 || fill())) {
            const std::size_t take = std::min<std::size_t>(n - done, stream_.avail_in);
            std::memcpy(out + done, stream_.next_in, take);
            stream_.next_in += take;
            stream_.avail_in -= static_cast<uInt>(take);
            done += take;
        }
        return done;
    }

    std::size_t inflate_into(unsigned char* out, std::size_t n) {
        std::size_t done = 0;
        while (done < n) {
            if (stream_.avail_in == 0 && !fill()) {
                cut_ = !member_ended_;  // the file ended inside a member
                break;
            }
            if (member_ended_) {
                // More bytes after a finished member: another member, or garbage.
                if (*stream_.next_in != 0x1f)
                    throw IoError(path_ + ": trailing data after the end of the compressed stream");
                inflateReset(&stream_);
                member_ended_ = false;
            }
            const std::size_t ask = std::min<std::size_t>(n - done, std::numeric_limits<uInt>::max());
            stream_.next_out = out + done;
            stream_.avail_out = static_cast<uInt>(ask);
            const int ret = inflate(&stream_, Z_NO_FLUSH);
            done += ask - stream_.avail_out;
            if (ret == Z_STREAM_END) {
                member_ended_ = true;
            } else if (ret == Z_DATA_ERROR) {
                throw IoError(path_ + ": corrupt compressed data: " + (stream_.msg ? stream_.msg : "invalid data"));
            } else if (ret == Z_MEM_ERROR) {
                throw IoError(path_ + ": out of memory while decompressing");
            } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
                throw IoError(path_ + ": decompression failed (zlib error " + std::to_string(ret) + ")");
            }
        }
        return done;
    }

    std::string path_;
    std::FILE* file_ = nullptr;
    bool gzip_ = false;
    bool member_ended_ = false;  // the last gzip member reached its end and its checksum was right
    bool cut_ = false;           // the file ended inside a gzip member
    z_stream stream_{};          // for plain files only next_in/avail_in are used
    unsigned char in_[1 << 16];
};

std::uint32_t big_endian(const unsigned char* b) {
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | std::uint32_t{b[3]};
}

// The magic number and the sizes of the header, checked against the kind expected.
std::vector<std::size_t> read_header(IdxFile& in, std::uint32_t expected, const char* kind) {
    unsigned char magic[4];
    in.read_exactly(magic, 4, "the magic number");
    const std::uint32_t got = big_endian(magic);
    if (got != expected) {
        std::string hint;
        if (got == kIdxImagesMagic) hint = " (it is an IDX images file)";
        else if (got == kIdxLabelsMagic) hint = " (it is an IDX labels file)";
        else if (magic[0] == 0x1f && magic[1] == 0x8b) hint = " (a gzip header inside the data: compressed twice?)";
        throw IoError(in.path() + ": bad magic number " + hex32(got) + ", expected " + hex32(expected) + " for an IDX " +
                      kind + " file" + hint);
    }
    const std::size_t dims = magic[3];
    std::vector<unsigned char> raw(4 * dims);
    in.read_exactly(raw.data(), raw.size(), "the header's " + std::to_string(dims) + " sizes");
    std::vector<std::size_t> sizes(dims);
    for (std::size_t i = 0; i < dims; ++i) sizes[i] = big_endian(&raw[4 * i]);
    return sizes;
}

// `total` bytes of values, read in chunks so that memory follows what the file really holds.
std::vector<std::uint8_t> read_values(IdxFile& in, std::size_t total, const std::string& what) {
    std::vector<std::uint8_t> out;
    constexpr std::size_t chunk = std::size_t{1} << 22;
    while (out.size() < total) {
        const std::size_t before = out.size(), want = std::min(chunk, total - before);
        out.resize(before + want);
        const std::size_t got = in.read(out.data() + before, want);
        if (got < want)
            throw IoError(in.path() + ": truncated: the header announces " + what + " (" + std::to_string(total) +
                          " bytes), the file holds " + std::to_string(before + got) + in.cut_stream());
    }
    in.expect_end(what);
    return out;
}

}  // namespace

IdxImages read_idx_images(const std::string& path) {
    IdxFile in(path);
    const std::vector<std::size_t> sizes = read_header(in, kIdxImagesMagic, "images");
    IdxImages images;
    images.count = sizes[0];
    images.rows = sizes[1];
    images.cols = sizes[2];
    if (images.rows == 0 || images.cols == 0)
        throw IoError(path + ": images of " + std::to_string(images.rows) + "×" + std::to_string(images.cols) +
                      " pixels: each side must be at least 1");
    // rows and cols are below 2³², so their product fits in 64 bits; the total may not.
    const std::size_t per_image = images.rows * images.cols;
    if (images.count > std::numeric_limits<std::size_t>::max() / per_image)
        throw IoError(path + ": the header's sizes (" + std::to_string(images.count) + " images of " +
                      std::to_string(images.rows) + "×" + std::to_string(images.cols) + ") overflow");
    images.pixels = read_values(in, images.count * per_image,
                                std::to_string(images.count) + " images of " + std::to_string(images.rows) + "×" +
                                    std::to_string(images.cols) + " pixels");
    return images;
}

std::vector<std::uint8_t> read_idx_labels(const std::string& path) {
    IdxFile in(path);
    const std::vector<std::size_t> sizes = read_header(in, kIdxLabelsMagic, "labels");
    return read_values(in, sizes[0], std::to_string(sizes[0]) + " labels");
}

IdxLabelledImages read_idx_labelled(const std::string& images_path, const std::string& labels_path) {
    IdxLabelledImages out{read_idx_images(images_path), read_idx_labels(labels_path)};
    if (out.labels.size() != out.images.count)
        throw IoError(images_path + " holds " + std::to_string(out.images.count) + " images but " + labels_path +
                      " holds " + std::to_string(out.labels.size()) + " labels: the two files do not belong together");
    return out;
}

Dataset idx_to_dataset(const std::vector<IdxLabelledImages>& parts) {
    if (parts.empty()) throw ValueError("idx_to_dataset: no parts");
    const std::size_t rows = parts[0].images.rows, cols = parts[0].images.cols, d = rows * cols;
    std::size_t n = 0;
    for (const IdxLabelledImages& p : parts) {
        if (p.images.rows != rows || p.images.cols != cols)
            throw ValueError("idx_to_dataset: images of " + std::to_string(p.images.rows) + "×" +
                             std::to_string(p.images.cols) + " and " + std::to_string(rows) + "×" +
                             std::to_string(cols) + " pixels cannot be rows of one data set");
        n += p.images.count;
    }
    Dataset out;
    out.x = Array::from_shape({n, d});
    IndexArray labels = IndexArray::from_shape({n, 1});
    auto x = out.x.begin();
    auto l = labels.begin();
    for (const IdxLabelledImages& p : parts) {
        x = std::transform(p.images.pixels.begin(), p.images.pixels.end(), x,
                           [](std::uint8_t v) { return static_cast<real>(v) / 255; });
        l = std::copy(p.labels.begin(), p.labels.end(), l);
    }
    out.columns = pixel_columns(d);
    out.labels = std::move(labels);
    return out;
}

Dataset read_idx_dataset(const std::string& images_path, const std::string& labels_path) {
    return idx_to_dataset({read_idx_labelled(images_path, labels_path)});
}

}  // namespace flowtape
