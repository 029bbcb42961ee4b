// Reading the sklearn reference fixtures (fixtures/*_b.json, made by fixtures/make_reference_b.py)
// and comparing partitions, for the tests of meanshift, birch, agglomerative, spectral and gmm.
#pragma once

#include <fstream>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/clustering.hpp"
#include "core/error.hpp"
#include "core/types.hpp"

namespace flowtape::cluster::test_b {

inline nlohmann::json load_fixture(const std::string& name) {
    const std::string path = std::string(FLOWTAPE_SOURCE_ROOT) + "/test/cluster/fixtures/" + name;
    std::ifstream in(path);
    if (!in) throw IoError("cannot open fixture " + path);
    return nlohmann::json::parse(in);
}

inline Array to_array(const nlohmann::json& rows) {
    const std::size_t n = rows.size(), d = rows.at(0).size();
    Array out({n, d});
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j) out(i, j) = rows[i][j].get<double>();
    return out;
}

inline Labels to_labels(const nlohmann::json& v) {
    Labels out;
    for (const auto& x : v) out.push_back(x.get<std::int64_t>());
    return out;
}

// Labels renumbered 0, 1, 2, … in order of first appearance: two labelings are the same partition
// exactly when their canonical forms are equal.
inline Labels canonical(const Labels& labels) {
    std::unordered_map<std::int64_t, std::int64_t> seen;
    Labels out;
    for (const auto l : labels) out.push_back(seen.try_emplace(l, static_cast<std::int64_t>(seen.size())).first->second);
    return out;
}

inline double max_abs_diff(const Array& a, const Array& b) {
    if (a.shape() != b.shape()) return 1e300;
    double m = 0;
    for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a.data()[i] - b.data()[i]));
    return m;
}

}  // namespace flowtape::cluster::test_b
