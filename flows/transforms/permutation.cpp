// Column selections and the Permutation transform (see permutation.hpp).
#include "flows/transforms/permutation.hpp"

#include <string>

#include <nlohmann/json.hpp>

#include "autodiff/ops.hpp"
#include "core/error.hpp"

namespace flowtape {

void check_permutation(const char* who, const std::vector<std::size_t>& order, std::size_t dim) {
    if (dim == 0) throw ValueError(std::string(who) + ": dimension must be positive");
    if (order.size() != dim)
        throw ValueError(std::string(who) + ": order has " + std::to_string(order.size()) + " entries, expected " +
                         std::to_string(dim));
    std::vector<bool> seen(dim, false);
    for (std::size_t k = 0; k < dim; ++k) {
        if (order[k] >= dim || seen[order[k]])
            throw ValueError(std::string(who) + ": order is not a permutation of 0.." + std::to_string(dim - 1) +
                             " (entry " + std::to_string(k) + " is " + std::to_string(order[k]) +
                             (order[k] >= dim ? ", out of range)" : ", repeated)"));
        seen[order[k]] = true;
    }
}

std::vector<std::size_t> inverse_permutation(const std::vector<std::size_t>& order) {
    std::vector<std::size_t> inverse(order.size());
    for (std::size_t k = 0; k < order.size(); ++k) inverse[order[k]] = k;
    return inverse;
}

// ---- ColumnSelection ----

ColumnSelection::ColumnSelection(std::vector<std::size_t> columns, std::size_t width)
    : columns_(std::move(columns)), width_(width) {
    for (std::size_t k = 0; k < columns_.size(); ++k)
        if (columns_[k] >= width_)
            throw ValueError("ColumnSelection: column " + std::to_string(columns_[k]) + " (entry " + std::to_string(k) +
                             ") is out of range for " + std::to_string(width_) + " columns");
    identity_ = columns_.size() == width_;
    for (std::size_t k = 0; identity_ && k < columns_.size(); ++k) identity_ = columns_[k] == k;
}

Var ColumnSelection::apply(Var x) {
    check_input_width("ColumnSelection", x, width_);
    if (identity_) return x;
    const std::size_t n = x.rows(), k = columns_.size();
    if (index_.shape()[0] != n || index_.shape()[1] != k) {
        index_.resize({n, k});
        for (std::size_t r = 0; r < n; ++r)
            for (std::size_t c = 0; c < k; ++c) index_(r, c) = static_cast<std::int64_t>(columns_[c]);
    }
    return gather(x, index_, 1);
}

// ---- Permutation ----

Permutation::Permutation(std::vector<std::size_t> order) : order_(std::move(order)) {
    check_permutation("Permutation", order_, order_.size());
    forward_ = ColumnSelection(order_, order_.size());
    inverse_ = ColumnSelection(inverse_permutation(order_), order_.size());
}

std::unique_ptr<Permutation> Permutation::reverse(std::size_t dim) {
    std::vector<std::size_t> order(dim);
    for (std::size_t k = 0; k < dim; ++k) order[k] = dim - 1 - k;
    return std::make_unique<Permutation>(std::move(order));
}

std::unique_ptr<Permutation> Permutation::random(std::size_t dim, Rng& rng) {
    return std::make_unique<Permutation>(rng.permutation(dim));
}

std::unique_ptr<Permutation> Permutation::from_config(const nlohmann::json& config, Rng&) {
    const auto order = config.at("order").get<std::vector<std::size_t>>();
    const std::size_t dim = config.at("dim").get<std::size_t>();
    check_permutation("Permutation::from_config", order, dim);
    return std::make_unique<Permutation>(order);
}

Var Permutation::zero_logdet(Var like) {
    if (zeros_.shape()[0] != like.rows() || zeros_.shape()[1] != 1) zeros_ = xt::zeros<real>({like.rows(), std::size_t(1)});
    return like.tape().constant(zeros_);
}

TransformResult Permutation::forward(Var x, Var) {
    check_input_width("Permutation::forward", x, dim());
    return {forward_.apply(x), zero_logdet(x)};
}

TransformResult Permutation::inverse(Var z, Var) {
    check_input_width("Permutation::inverse", z, dim());
    return {inverse_.apply(z), zero_logdet(z)};
}

nlohmann::json Permutation::config() const { return {{"kind", kind()}, {"dim", dim()}, {"order", order_}}; }

}  // namespace flowtape
