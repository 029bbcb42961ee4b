// Fashion-MNIST (Xiao, Rasul & Vollgraf 2017) as Debian's package dataset-fashion-mnist installs
// it: four gzip-compressed IDX files (data/idx.hpp) under /usr/share/datasets/fashion-mnist/,
// train-{images-idx3,labels-idx1}-ubyte.gz with 60,000 images and t10k-… with 10,000, 28×28 grey
// pixels, 10 classes (0 T-shirt/top … 9 ankle boot). The mixtures-of-flows paper uses all 70,000.
//
// Beyond the IDX reader's checks this loader asks for 28×28 images and labels 0..9, and a missing
// file's IoError names the package to install.
#pragma once

#include <string>

#include "data/dataset.hpp"

namespace flowtape {

// Where dataset-fashion-mnist puts its files.
inline constexpr const char* kFashionMnistDefaultDir = "/usr/share/datasets/fashion-mnist";

// The folder commands read: $FLOWTAPE_FASHION_MNIST_DIR when set and not empty (a copy elsewhere,
// or small test files), else kFashionMnistDefaultDir.
std::string fashion_mnist_dir();

enum class FashionMnistSplit { all, train, test };

// The training images (60,000 in the package), the test images (10,000), or both, training rows
// first (70,000, as the paper): x is N×784 (columns p0 … p783, bytes / 255), labels N×1 the class.
Dataset read_fashion_mnist(const std::string& dir, FashionMnistSplit split = FashionMnistSplit::all);

}  // namespace flowtape
