// The IDX format of MNIST and Fashion-MNIST (LeCun et al.). A file may be gzip-compressed (as
// Debian's dataset-fashion-mnist ships them; told by its first two bytes, 1f 8b, and inflated with
// zlib) or plain.
//
// A file is a 4-byte magic number — two zero bytes, a type code (0x08: unsigned bytes), the number
// of dimensions — then one big-endian 32-bit size per dimension, then the values in row-major
// order. Images are 0x00000803 (count × rows × cols), labels 0x00000801 (count). The reader checks
// the magic, that the sizes are positive where they must be and do not overflow, that the file
// holds exactly the bytes the header announces (no fewer: truncated; no more: trailing data), and
// that the compressed stream is whole (to its end and its CRC-32, which gzread alone cannot tell:
// see idx.cpp) and nothing follows it. Every error is an IoError naming the file; memory grows
// with the bytes actually read, so a corrupt header cannot ask for terabytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.hpp"

namespace flowtape {

inline constexpr std::uint32_t kIdxImagesMagic = 0x00000803;
inline constexpr std::uint32_t kIdxLabelsMagic = 0x00000801;

// count images of rows × cols unsigned bytes, image after image, each row-major.
struct IdxImages {
    std::size_t count = 0, rows = 0, cols = 0;
    std::vector<std::uint8_t> pixels;  // count·rows·cols values
};

IdxImages read_idx_images(const std::string& path);
std::vector<std::uint8_t> read_idx_labels(const std::string& path);

// An images file read together with its labels file: IoError when the two counts differ.
struct IdxLabelledImages {
    IdxImages images;
    std::vector<std::uint8_t> labels;
};
IdxLabelledImages read_idx_labelled(const std::string& images_path, const std::string& labels_path);

// Parts (a training and a test split) as one Dataset, their rows in order: x is N × (rows·cols),
// each pixel divided by 255 (so in [0, 1]), columns p0, p1, …; labels N×1. Built in one pass, so
// the 70,000 Fashion-MNIST images take their 440 MB once. ValueError when the parts' image sizes
// differ or there are no parts.
Dataset idx_to_dataset(const std::vector<IdxLabelledImages>& parts);

// One images file and its labels file as a Dataset (read_idx_labelled, then idx_to_dataset).
Dataset read_idx_dataset(const std::string& images_path, const std::string& labels_path);

}  // namespace flowtape
