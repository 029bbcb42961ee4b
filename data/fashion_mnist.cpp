// Fashion-MNIST from its four IDX files: existence checked first (for the message naming the
// Debian package), then each split read as bytes and checked for its shape and classes, and the
// splits turned into one Dataset in one pass (idx_to_dataset).
#include "data/fashion_mnist.hpp"

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "core/error.hpp"
#include "data/idx.hpp"
#include "data/image_columns.hpp"

namespace flowtape {
namespace {

// One split ("train" or "t10k"), checked as Fashion-MNIST.
IdxLabelledImages read_split(const std::string& dir, const std::string& prefix) {
    const std::filesystem::path folder(dir);
    const std::string images = (folder / (prefix + "-images-idx3-ubyte.gz")).string();
    const std::string labels = (folder / (prefix + "-labels-idx1-ubyte.gz")).string();
    for (const std::string& path : {images, labels}) {
        std::error_code ec;
        if (!std::filesystem::exists(path, ec))
            throw IoError(path + ": not found: install Debian's package dataset-fashion-mnist "
                          "(`./dev data fashion-mnist`, or apt-get install dataset-fashion-mnist), "
                          "or set FLOWTAPE_FASHION_MNIST_DIR to a folder holding its four files");
    }
    IdxLabelledImages split = read_idx_labelled(images, labels);
    if (split.images.rows != kImageSide || split.images.cols != kImageSide)
        throw IoError(images + ": images of " + std::to_string(split.images.rows) + "×" +
                      std::to_string(split.images.cols) + " pixels, expected 28×28 (Fashion-MNIST)");
    for (std::size_t i = 0; i < split.labels.size(); ++i)
        if (split.labels[i] > 9)
            throw IoError(labels + ": label " + std::to_string(split.labels[i]) + " of image " + std::to_string(i) +
                          " is not a class 0..9");
    return split;
}

}  // namespace

std::string fashion_mnist_dir() {
    const char* env = std::getenv("FLOWTAPE_FASHION_MNIST_DIR");
    return env && *env ? std::string(env) : std::string(kFashionMnistDefaultDir);
}

Dataset read_fashion_mnist(const std::string& dir, FashionMnistSplit split) {
    std::vector<IdxLabelledImages> parts;
    if (split != FashionMnistSplit::test) parts.push_back(read_split(dir, "train"));
    if (split != FashionMnistSplit::train) parts.push_back(read_split(dir, "t10k"));
    return idx_to_dataset(parts);
}

}  // namespace flowtape
