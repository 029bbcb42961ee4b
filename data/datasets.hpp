// The built-in 2-D data sets: the three Stimper et al. (2022) targets (data/targets.hpp, which
// also gives their log-densities), the usual toy sets of the flows literature, and the four toy sets
// of the mixtures-of-flows paper (Ciobanu), made as its code makes them. Most sets are a
// distribution: make_dataset draws n independent rows from it. The paper's four (and
// cascading-moons) are made as a whole instead — evenly spaced angles, classes in turn, two copies
// of one banana — as their references do. Every set is deterministic from the Rng, with columns
// "x0", "x1" and a label column where the set has classes. docs/datasets.md lists the definitions;
// datasets.cpp gives each one's formula, noise and scale next to its code. The image sets (MNIST,
// Fashion-MNIST) are files, not generators: data/mnist.hpp, data/fashion_mnist.hpp.
//
//   name                  source                                           labels
//   two-moons             normflows TwoMoons (Stimper et al. 2022)         none
//   circle-of-gaussians   normflows CircularGaussianMixture, 8 modes       mode, 8
//   two-rings             normflows RingMixture, 2 rings                   ring, 2
//   pinwheel              FFJORD (Johnson et al. 2016), 5 arms             arm, 5
//   two-circles           sklearn make_circles ×3 (FFJORD "circles")       circle, 2 (0 outer)
//   moons                 sklearn make_moons ×2 − (1, 0.2) (FFJORD)        moon, 2
//   checkerboard          FFJORD / nsf                                     none
//   four-circles          nsf FourCircles                                  circle, 4
//   spirals               FFJORD "2spirals" / nsf TwoSpirals               spiral, 2
//   ring                  flows4flows "ring" (Anulus, radius 1.5)          none
//   ring-wide             the flows-for-flows issue's ring, r = 2.25       none
//   concentric-rings      flows4flows ConcentricRings, 4 rings             ring, 4
//   star                  flows4flows Star, 4 bars                         bar, 4
//   eight-star            flows4flows Star with 8 bars                     bar, 8
//   cascading-moons       multimodal-base CNF paper, six moons             moon, 6
//   circles               sklearn make_circles(noise 0.01, factor 0.8)     circle, 2 (0 outer)
//   half-moons            sklearn make_moons(noise 0.1), unscaled          moon, 2 (0 outer)
//   pinwheel-johnson      Johnson et al. 2016 as nf-mixture, 5 arms × 10   arm, 5
//   two-bananas           nf-mixture, after Papamakarios et al. 2017       banana, 2
//
// The last four are the mixtures-of-flows paper's, at the sizes dataset_paper_rows gives.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/random.hpp"
#include "data/dataset.hpp"
#include "data/targets.hpp"

namespace flowtape {

// Every name make_dataset knows, in the order of the table above.
std::vector<std::string> dataset_names();

// The number of classes of a data set's labels, 0 for a set without labels. ValueError for an
// unknown name.
std::size_t dataset_classes(const std::string& name);

// The number of rows the mixtures-of-flows paper used: 1000 for circles and half-moons, 5 × 512 =
// 2560 for pinwheel-johnson, 2 × 2000 = 4000 for two-bananas; 0 for the sets it did not use.
// ValueError for an unknown name.
std::size_t dataset_paper_rows(const std::string& name);

// n rows (n×2) of the named data set; labels (n×1, in 0..classes−1) when it has classes.
// ValueError listing the valid names for an unknown one, for n = 0, and for an odd n of
// two-bananas (two copies of n/2 points).
Dataset make_dataset(const std::string& name, std::size_t n, Rng& rng);

}  // namespace flowtape
