// What the image data sets (data/mnist.hpp, data/fashion_mnist.hpp) share: 28×28 grey images, one
// row per image with its pixels in row-major order as columns p0 … p783, values in [0, 1]. The names
// are plain so that `flowtape datasets mnist` writes a CSV that read_csv takes back unchanged.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace flowtape {

inline constexpr std::size_t kImageSide = 28;
inline constexpr std::size_t kImagePixels = kImageSide * kImageSide;  // 784

// "p0", "p1", …, "p<count − 1>": pixel (r, c) of a 28×28 image is column p<28r + c>.
inline std::vector<std::string> pixel_columns(std::size_t count = kImagePixels) {
    std::vector<std::string> names;
    names.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        // Appended rather than "p" + to_string(i), which trips GCC 12's false -Wrestrict (bug 105329).
        std::string name = "p";
        name += std::to_string(i);
        names.push_back(std::move(name));
    }
    return names;
}

}  // namespace flowtape
