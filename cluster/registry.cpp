// The name → algorithm table behind cluster_points (see registry.hpp).
#include "cluster/registry.hpp"

#include <functional>
#include <utility>

#include "cluster/agglomerative.hpp"
#include "cluster/birch.hpp"
#include "cluster/gmm.hpp"
#include "cluster/kmeans.hpp"
#include "cluster/meanshift.hpp"
#include "cluster/minibatch_kmeans.hpp"
#include "cluster/spectral.hpp"
#include "core/error.hpp"

namespace flowtape::cluster {

namespace {

using Runner = std::function<Clustering(const Array&, std::size_t, Rng&)>;

const std::vector<std::pair<std::string, Runner>>& table() {
    static const std::vector<std::pair<std::string, Runner>> algorithms = {
        {"kmeans",
         [](const Array& X, std::size_t k, Rng& rng) {
             KMeansOptions o;
             o.k = k;
             return kmeans(X, o, rng);
         }},
        {"minibatch-kmeans",
         [](const Array& X, std::size_t k, Rng& rng) {
             MiniBatchKMeansOptions o;
             o.k = k;
             return minibatch_kmeans(X, o, rng);
         }},
        {"meanshift",
         [](const Array& X, std::size_t, Rng& rng) {
             MeanShiftOptions o;
             o.bandwidth_samples = 1000;
             o.bin_seeding = true;
             return mean_shift(X, o, &rng).clustering;
         }},
        {"birch",
         [](const Array& X, std::size_t k, Rng& rng) {
             BirchOptions o;
             o.k = k;
             return birch(X, o, rng).clustering;
         }},
        {"agglomerative",
         [](const Array& X, std::size_t k, Rng&) {
             WardOptions o;
             o.k = k;
             return agglomerative_ward(X, o);
         }},
        {"spectral",
         [](const Array& X, std::size_t k, Rng& rng) {
             SpectralOptions o;
             o.k = k;
             return spectral_clustering(X, o, rng).clustering;
         }},
        {"gmm",
         [](const Array& X, std::size_t k, Rng& rng) {
             GaussianMixtureOptions o;
             o.k = k;
             return gaussian_mixture(X, o, rng).clustering;
         }},
    };
    return algorithms;
}

}  // namespace

Clustering cluster_points(const std::string& algo, const Array& X, std::size_t k, Rng& rng) {
    for (const auto& [name, run] : table())
        if (name == algo) return run(X, k, rng);
    std::string valid;
    for (const std::string& name : clustering_algorithms()) valid += (valid.empty() ? "" : ", ") + name;
    throw ValueError("cluster_points: unknown algorithm '" + algo + "' (valid: " + valid + ")");
}

std::vector<std::string> clustering_algorithms() {
    std::vector<std::string> names;
    for (const auto& entry : table()) names.push_back(entry.first);
    return names;
}

}  // namespace flowtape::cluster
