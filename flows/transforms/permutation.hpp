// Permutation: reorders the columns, z(:, k) = x(:, order[k]), with log|det| = 0.
//
// Autoregressive and coupling layers transform some coordinates conditioned on others; a
// permutation between them lets every coordinate take each role. The order is reverse, random
// (drawn from an Rng) or given; the config always stores it explicitly, so a random one reloads
// identically. The inverse applies the inverse permutation, x(:, order[k]) = z(:, k).
//
// ColumnSelection is the tape-level tool behind it (and behind MAF's ordering and the coupling's
// split): out(:, k) = x(:, columns[k]) through the `gather` op, with the N×K index array kept and
// reused while the batch size stays the same, so a warm step allocates nothing.
#pragma once

#include <cstddef>
#include <vector>

#include "core/random.hpp"
#include "flows/transform.hpp"

namespace flowtape {

// ValueError naming `who` unless `order` is a permutation of 0..dim−1.
void check_permutation(const char* who, const std::vector<std::size_t>& order, std::size_t dim);
// inverse[order[k]] = k.
std::vector<std::size_t> inverse_permutation(const std::vector<std::size_t>& order);

class ColumnSelection {
public:
    ColumnSelection() = default;
    // Selects `columns` (each < width, repeats allowed) from inputs of `width` columns.
    // ValueError for a column out of range.
    ColumnSelection(std::vector<std::size_t> columns, std::size_t width);
    // x is N×width (ShapeError otherwise); the result N×columns.size(). Returns x itself when the
    // selection is the identity (no node is added).
    Var apply(Var x);
    const std::vector<std::size_t>& columns() const { return columns_; }
    bool is_identity() const { return identity_; }

private:
    std::vector<std::size_t> columns_;
    std::size_t width_ = 0;
    bool identity_ = true;
    IndexArray index_;  // rows × columns.size(), rebuilt when the batch size changes
};

class Permutation : public Transform {
public:
    // z(:, k) = x(:, order[k]); ValueError unless order is a permutation of 0..D−1 (D ≥ 1).
    explicit Permutation(std::vector<std::size_t> order);
    static std::unique_ptr<Permutation> reverse(std::size_t dim);
    static std::unique_ptr<Permutation> random(std::size_t dim, Rng& rng);
    // {"kind": "permutation", "dim": D, "order": [...]}; rng unused (the order is stored).
    static std::unique_ptr<Permutation> from_config(const nlohmann::json& config, Rng& rng);

    // The context, if any, is ignored (a permutation has no conditioner).
    TransformResult forward(Var x, Var context = Var()) override;
    TransformResult inverse(Var z, Var context = Var()) override;
    std::size_t dim() const override { return order_.size(); }
    std::string kind() const override { return "permutation"; }
    nlohmann::json config() const override;
    void collect_parameters(ParameterList&, const std::string&) override {}

    const std::vector<std::size_t>& order() const { return order_; }

private:
    Var zero_logdet(Var like);

    std::vector<std::size_t> order_;
    ColumnSelection forward_, inverse_;
    Array zeros_;  // N×1, the log-determinant
};

}  // namespace flowtape
