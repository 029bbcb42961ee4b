// Square grey images, one per row (pixels row-major, as data/image_columns.hpp), resized by area
// averaging: output pixel (r, c) is the mean of the input over the square it covers, each input
// pixel weighted by the area it shares with it. The multimodal-base CNF paper resizes MNIST and
// Fashion-MNIST from 28×28 to 16×16 "for computational convenience" without naming the filter;
// area averaging is the downsampling that keeps every pixel's mass (the mean intensity is kept
// exactly) and equals block means for integer factors.
#pragma once

#include <cstddef>

#include "core/types.hpp"

namespace flowtape::data {

// x: N × from² → N × to². ValueError unless from ≥ 1, to ≥ 1 and x has from² columns.
Array resize_images(const Array& x, std::size_t from, std::size_t to);

}  // namespace flowtape::data
