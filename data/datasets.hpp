// The built-in 2-D data sets: the three Stimper et al. (2022) targets (data/targets.hpp, which
// also gives their log-densities) and the usual toy sets of the flows literature. Every set is a
// distribution: make_dataset draws n independent rows from it, deterministic from the Rng, with
// columns "x0", "x1" and a label column where the set has classes. docs/datasets.md lists the
// definitions; datasets.cpp gives each one's formula, noise and scale next to its code.
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
//   concentric-rings      flows4flows ConcentricRings, 4 rings             ring, 4
//   star                  flows4flows Star, 4 bars                         bar, 4
//   eight-star            flows4flows Star with 8 bars                     bar, 8
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

// n rows (n×2) of the named data set; labels (n×1, in 0..classes−1) when it has classes.
// ValueError listing the valid names for an unknown one, and for n = 0.
Dataset make_dataset(const std::string& name, std::size_t n, Rng& rng);

}  // namespace flowtape
