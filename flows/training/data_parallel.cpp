// Data-parallel training's pieces (Note [data-parallel fit] in data_parallel.hpp): shards of whole
// summation blocks, the check that a model's rows are independent, and flat gradient buffers.
// fit (train.cpp) runs the steps.
#include "flows/training/data_parallel.hpp"

#include <algorithm>
#include <optional>
#include <set>

#include <xtensor/xview.hpp>

#include <nlohmann/json.hpp>

#include "autodiff/ops.hpp"
#include "core/error.hpp"

namespace flowtape {

std::size_t block_begin(std::size_t total, std::size_t blocks, std::size_t j) {
    // ⌊j·total/blocks⌋ without overflow for any realistic total (j ≤ blocks, both small).
    const unsigned __int128 product = static_cast<unsigned __int128>(j) * total;
    return static_cast<std::size_t>(product / blocks);
}

RowShard shard_rows(std::size_t total, std::size_t blocks, std::size_t rank, std::size_t ranks) {
    if (ranks == 0) throw ValueError("shard_rows: ranks must be at least 1, got 0");
    if (rank >= ranks)
        throw ValueError("shard_rows: rank " + std::to_string(rank) + " is not below the " + std::to_string(ranks) + " ranks");
    if (blocks == 0) throw ValueError("shard_rows: sum_blocks must be at least 1, got 0");
    if (ranks > blocks)
        throw ValueError("shard_rows: " + std::to_string(ranks) + " ranks need at least as many summation blocks, got " +
                         std::to_string(blocks) + " (raise sum_blocks, --sum-blocks)");
    const std::size_t first_block = rank * blocks / ranks, end_block = (rank + 1) * blocks / ranks;
    RowShard s;
    s.first = block_begin(total, blocks, first_block);
    s.rows = block_begin(total, blocks, end_block) - s.first;
    s.total = total;
    return s;
}

namespace {

// The kinds in a model's configuration (every nested "kind").
void collect_kinds(const nlohmann::json& j, std::set<std::string>& kinds) {
    if (j.is_object()) {
        for (auto it = j.begin(); it != j.end(); ++it) {
            if (it.key() == "kind" && it.value().is_string()) kinds.insert(it.value().get<std::string>());
            collect_kinds(it.value(), kinds);
        }
    } else if (j.is_array()) {
        for (const auto& e : j) collect_kinds(e, kinds);
    }
}

}  // namespace

void require_rows_independent(const Distribution& model, const std::string& who) {
    std::set<std::string> kinds;
    collect_kinds(model.config(), kinds);
    static const std::pair<const char*, const char*> coupled[] = {
        {"batchnorm", "a batchnorm layer (its training statistics are those of the whole batch)"},
        {"actnorm", "an actnorm layer (it starts from the statistics of the first batch)"},
        {"resampled_gaussian", "a resampled base (its normaliser is a running estimate over batches)"},
    };
    for (const auto& [kind, why] : coupled)
        if (kinds.count(kind))
            throw ValueError(who + ": training across ranks or with deterministic sums needs rows that train "
                                   "independently; the model (" + model.kind() + ") has " + why);
}

FlatGradients::FlatGradients(const ParameterList& params) : params_(params.pointers()) {
    for (Parameter* p : params_) size_ += p->size();
}

void FlatGradients::append_to(std::vector<double>& out) const {
    for (Parameter* p : params_) {
        const Array& g = p->grad();
        if (g.size() == p->size()) out.insert(out.end(), g.data(), g.data() + g.size());
        else out.insert(out.end(), p->size(), 0.0);  // never written: no gradient reached it
    }
}

void FlatGradients::assign_from(const std::vector<double>& values, std::size_t offset) const {
    for (Parameter* p : params_) {
        if (p->grad().size() != p->size()) p->zero_grad();
        std::copy_n(values.data() + offset, p->size(), p->grad().data());
        offset += p->size();
    }
}

void FlatGradients::append_values_to(std::vector<double>& out) const {
    for (Parameter* p : params_) out.insert(out.end(), p->value().data(), p->value().data() + p->size());
}

void FlatGradients::assign_values_from(const std::vector<double>& values) const {
    std::size_t offset = 0;
    for (Parameter* p : params_) {
        std::copy_n(values.data() + offset, p->size(), p->value().data());
        offset += p->size();
    }
}


void check_shards(Communicator& comm, bool by_block, std::size_t blocks, const RowShard& mine) {
    std::vector<double> all;
    std::vector<std::size_t> counts;
    comm.all_gather({static_cast<double>(mine.first), static_cast<double>(mine.rows), static_cast<double>(mine.total)},
                    all, counts);
    const std::size_t ranks = comm.size();
    if (blocks < ranks)
        throw ValueError("fit: " + std::to_string(ranks) + " ranks need at least as many summation blocks, got sum_blocks " +
                         std::to_string(blocks));
    const auto total = static_cast<std::size_t>(all[2]);
    std::size_t expected_first = 0;
    for (std::size_t r = 0; r < ranks; ++r) {
        const auto f = static_cast<std::size_t>(all[3 * r]), n = static_cast<std::size_t>(all[3 * r + 1]),
                   t = static_cast<std::size_t>(all[3 * r + 2]);
        std::string problem;
        if (t != total) {
            problem = "counts " + std::to_string(t) + " rows in all, rank 0 " + std::to_string(total);
        } else if (f != expected_first) {
            problem = "starts at row " + std::to_string(f) + ", expected " + std::to_string(expected_first);
        } else if (by_block) {
            const RowShard s = shard_rows(total, blocks, r, ranks);
            if (s.first != f || s.rows != n)
                problem = "holds rows [" + std::to_string(f) + ", " + std::to_string(f + n) + "), not its whole blocks [" +
                          std::to_string(s.first) + ", " + std::to_string(s.first + s.rows) + ") (shard_rows)";
        }
        if (!problem.empty()) throw ValueError("fit: the shard of rank " + std::to_string(r) + " " + problem);
        expected_first = f + n;
    }
    if (expected_first != total)
        throw ValueError("fit: the ranks' shards end at row " + std::to_string(expected_first) + " of " +
                         std::to_string(total));
}

ShardedSteps::ShardedSteps(Communicator& comm, bool by_block, std::size_t blocks, const RowShard& shard,
                           const ParameterList& params)
    : comm_(comm), by_block_(by_block), shard_(shard), params_(params), flat_(params) {
    const std::size_t r = comm.rank(), ranks = comm.size();
    if (by_block_) {
        parts_ = blocks;
        first_part_ = r * blocks / ranks;
        for (std::size_t j = first_part_; j <= (r + 1) * blocks / ranks; ++j)
            group_begin_.push_back(block_begin(shard.total, blocks, j) - shard.first);
    } else {
        parts_ = ranks;
        first_part_ = r;
        group_begin_ = {0, shard.rows};
    }
}

std::size_t ShardedSteps::group_of(std::size_t i) const {
    if (i < shard_.first || i >= shard_.first + shard_.rows) return none;
    // Empty blocks repeat a boundary; upper_bound finds the block that holds the row.
    const auto it = std::upper_bound(group_begin_.begin(), group_begin_.end(), i - shard_.first);
    return static_cast<std::size_t>(it - group_begin_.begin()) - 1;
}

void ShardedSteps::set_validation(const std::vector<std::size_t>& val_index) {
    val_rows_.assign(groups(), {});
    for (std::size_t i : val_index)
        if (const std::size_t g = group_of(i); g != none) val_rows_[g].push_back(i - shard_.first);
}

void ShardedSteps::sum_partials(std::vector<double>& partials, std::size_t width, std::vector<double>& total) {
    // By rank: one part per rank. By block: every rank's blocks, in rank order, are all blocks in
    // block order; block 0 first, then each next one added, the same sequence on every rank and
    // for any number of ranks.
    comm_.sum_parts_in_order(partials, width, total);
}

void ShardedSteps::plan_epoch(const std::vector<std::size_t>& order, const std::vector<std::size_t>& begin,
                              const Array& weights) {
    const std::size_t steps = begin.size() - 1, g_count = groups();
    rows_.resize(steps * g_count);
    for (auto& r : rows_) r.clear();
    std::vector<double> w(g_count * steps, 0.0);  // [group · steps + step]
    for (std::size_t s = 0; s < steps; ++s)
        for (std::size_t pos = begin[s]; pos < begin[s + 1]; ++pos) {
            const std::size_t i = order[pos], g = group_of(i);
            if (g == none) continue;
            rows_[s * g_count + g].push_back(i - shard_.first);
            w[g * steps + s] += weights(i - shard_.first, 0);
        }
    comm_.sum_parts_in_order(w, steps, step_weight_);
}

real ShardedSteps::step(std::size_t s, const Pass& pass) {
    const std::size_t g_count = groups(), p = flat_.size();
    partials_.clear();
    RankFailure failure;
    for (std::size_t g = 0; g < g_count; ++g) {
        const std::vector<std::size_t>& rows = rows_[s * g_count + g];
        real value = 0;
        bool ok = false;
        if (!rows.empty() && failure.kind == RankFailure::Kind::none) {
            try {
                value = pass(rows, first_part_ + g);
                ok = true;
            } catch (const std::exception& e) {
                failure = RankFailure::of(e);
            }
        }
        if (ok) flat_.append_to(partials_);
        else partials_.insert(partials_.end(), p, 0.0);
        partials_.push_back(value);
        partials_.push_back(failure.kind == RankFailure::Kind::none ? 0.0 : 1.0);
        params_.zero_grad();
    }
    sum_partials(partials_, p + 2, total_);
    if (total_[p + 1] > 0) comm_.agree_or_throw(failure);
    flat_.assign_from(total_, 0);
    return total_[p];
}

std::pair<real, real> ShardedSteps::validate(const Evaluate& evaluate) {
    partials_.clear();
    RankFailure failure;
    for (std::size_t g = 0; g < groups(); ++g) {
        std::pair<real, real> v{0, 0};
        if (!val_rows_[g].empty() && failure.kind == RankFailure::Kind::none) {
            try {
                v = evaluate(g);
            } catch (const std::exception& e) {
                failure = RankFailure::of(e);
            }
        }
        partials_.insert(partials_.end(), {v.first, v.second, failure.kind == RankFailure::Kind::none ? 0.0 : 1.0});
    }
    sum_partials(partials_, 3, total_);
    if (total_[2] > 0) comm_.agree_or_throw(failure);
    return {total_[0], total_[1]};
}

void broadcast_state(Communicator& comm, std::size_t owner, Distribution& model) {
    ParameterList state = model.parameters();
    model.collect_buffers(state, "");
    const FlatGradients flat(state);
    std::vector<double> values;
    flat.append_values_to(values);
    comm.broadcast(values, owner);
    if (values.size() != flat.size())
        throw ValueError("broadcast_state: rank " + std::to_string(owner) + " sent " + std::to_string(values.size()) +
                         " values for a model of " + std::to_string(flat.size()));
    flat.assign_values_from(values);
}

void broadcast_report(Communicator& comm, std::size_t owner, FitReport& r) {
    std::vector<double> v{static_cast<double>(r.epochs_run), static_cast<double>(r.best_epoch), r.best_val_loss,
                          static_cast<double>(r.lr_drops), r.stopped_early ? 1.0 : 0.0, r.diverged ? 1.0 : 0.0,
                          r.seconds, static_cast<double>(r.warm_allocations), static_cast<double>(r.train_loss.size()),
                          static_cast<double>(r.val_loss.size())};
    v.insert(v.end(), r.train_loss.begin(), r.train_loss.end());
    v.insert(v.end(), r.val_loss.begin(), r.val_loss.end());
    comm.broadcast(v, owner);
    comm.broadcast(r.message, owner);
    std::size_t at = 0;
    const auto next = [&] { return v[at++]; };
    r.epochs_run = static_cast<std::size_t>(next());
    r.best_epoch = static_cast<std::size_t>(next());
    r.best_val_loss = next();
    r.lr_drops = static_cast<std::size_t>(next());
    r.stopped_early = next() != 0;
    r.diverged = next() != 0;
    r.seconds = next();
    r.warm_allocations = static_cast<std::size_t>(next());
    const auto n_train = static_cast<std::size_t>(next()), n_val = static_cast<std::size_t>(next());
    const auto from = [&](std::size_t n) {
        std::vector<real> out(v.begin() + static_cast<std::ptrdiff_t>(at), v.begin() + static_cast<std::ptrdiff_t>(at + n));
        at += n;
        return out;
    };
    r.train_loss = from(n_train);
    r.val_loss = from(n_val);
}

namespace {

std::string number_of(double count) { return std::to_string(static_cast<std::size_t>(count)); }

// Rows [first, first + count) of a (local) array.
template <class A>
A row_range(const A& a, std::size_t first, std::size_t count) {
    return xt::view(a, xt::range(first, first + count), xt::all());
}

}  // namespace

FitReport fit_replicated(Distribution& model, const FitData& all, const FitOptions& options, Objective& objective,
                         const ParameterList* trainable) {
    SerialCommunicator one_process;
    Communicator& comm = options.communicator ? *options.communicator : one_process;
    if (comm.size() == 1 && !options.deterministic_sum) return fit(model, all, options, objective, trainable);
    if (all.first_row != 0 || (all.total_rows != 0 && all.total_rows != all.x.shape()[0]))
        throw ValueError("fit_replicated: the data must hold every row on every rank, got rows [" +
                         std::to_string(all.first_row) + ", " + std::to_string(all.first_row + all.x.shape()[0]) +
                         ") of " + std::to_string(all.total_rows));
    const std::size_t total = all.x.shape()[0];
    std::vector<double> totals;
    std::vector<std::size_t> counts;
    comm.all_gather({static_cast<double>(total)}, totals, counts);
    for (std::size_t r = 1; r < totals.size(); ++r)  // the same verdict on every rank
        if (totals[r] != totals[0])
            throw ValueError("fit_replicated: rank " + std::to_string(r) + " holds " + number_of(totals[r]) +
                             " rows, rank 0 " + number_of(totals[0]) + "; every rank must hold all the rows");
    const RowShard shard = shard_rows(total, options.sum_blocks, comm.rank(), comm.size());
    broadcast_state(comm, 0, model);
    const Array x = row_range(all.x, shard.first, shard.rows);
    const std::optional<Array> w = all.weights ? std::optional<Array>(row_range(*all.weights, shard.first, shard.rows)) : std::nullopt;
    const std::optional<Array> c = all.context ? std::optional<Array>(row_range(*all.context, shard.first, shard.rows)) : std::nullopt;
    const std::optional<IndexArray> y =
        all.labels ? std::optional<IndexArray>(row_range(*all.labels, shard.first, shard.rows)) : std::nullopt;
    const FitData mine{x, w ? &*w : nullptr, c ? &*c : nullptr, y ? &*y : nullptr, shard.first, total};
    return fit(model, mine, options, objective, trainable);
}

std::unique_ptr<BoundedToNormal> bounded_to_normal_across_ranks(Communicator& comm, const FitData& shard,
                                                                std::size_t sum_blocks) {
    const std::size_t n = shard.x.shape()[0], d = shard.x.shape()[1];
    const RowShard mine{shard.first_row, n, shard.total_rows ? shard.total_rows : n};
    check_shards(comm, true, sum_blocks, mine);
    // Each block this rank holds: Σw, Σw², then the D minima and the D maxima.
    const std::size_t width = 2 + 2 * d;
    std::vector<double> partials;
    comm.all_or_none([&] {
        const std::size_t r = comm.rank(), ranks = comm.size();
        for (std::size_t j = r * sum_blocks / ranks; j < (r + 1) * sum_blocks / ranks; ++j) {
            const std::size_t begin = block_begin(mine.total, sum_blocks, j) - mine.first,
                              end = block_begin(mine.total, sum_blocks, j + 1) - mine.first;
            const Array x = row_range(shard.x, begin, end - begin);
            const std::optional<Array> w =
                shard.weights ? std::optional<Array>(row_range(*shard.weights, begin, end - begin)) : std::nullopt;
            const RangeSums sums = RangeSums::of(x, w ? &*w : nullptr);
            partials.insert(partials.end(), {sums.sum_w, sums.sum_w2});
            partials.insert(partials.end(), sums.min.begin(), sums.min.end());
            partials.insert(partials.end(), sums.max.begin(), sums.max.end());
        }
    });
    std::vector<double> gathered;
    std::vector<std::size_t> counts;
    comm.all_gather(partials, gathered, counts);
    RangeSums total;
    for (std::size_t b = 0; (b + 1) * width <= gathered.size(); ++b) {  // block order
        const double* p = gathered.data() + b * width;
        RangeSums block;
        block.sum_w = p[0];
        block.sum_w2 = p[1];
        block.min = Array::from_shape({std::size_t(1), d});
        block.max = Array::from_shape({std::size_t(1), d});
        std::copy_n(p + 2, d, block.min.data());
        std::copy_n(p + 2 + d, d, block.max.data());
        total.add(block);
    }
    return BoundedToNormal::from_sums(total);
}

namespace {

// Rows `index` of a (local) array.
Array take_rows(const Array& a, const std::vector<std::size_t>& index) {
    const std::size_t cols = a.shape()[1];
    Array out = Array::from_shape({index.size(), cols});
    for (std::size_t r = 0; r < index.size(); ++r) std::copy_n(a.data() + index[r] * cols, cols, out.data() + r * cols);
    return out;
}

}  // namespace

real sharded_loss_and_gradient(Distribution& model, const FitData& shard, Objective& objective, Communicator& comm,
                               bool deterministic_sum, std::size_t sum_blocks) {
    const std::size_t n = shard.x.shape()[0];
    const RowShard mine{shard.first_row, n, shard.total_rows ? shard.total_rows : n};
    check_shards(comm, deterministic_sum, sum_blocks, mine);
    ParameterList params;
    const ParameterList all = model.parameters();
    for (const NamedParameter& p : all.items())
        if (!p.parameter->frozen()) params.add(p.name, *p.parameter);
    params.zero_grad();
    ShardedSteps steps(comm, deterministic_sum, sum_blocks, mine, params);
    std::vector<std::size_t> order(mine.total);
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    const Array weights = shard.weights ? *shard.weights : Array(xt::ones<real>({n, std::size_t(1)}));
    steps.plan_epoch(order, {0, mine.total}, weights);
    const real total_weight = steps.step_weight(0);
    Tape tape;
    return steps.step(0, [&](const std::vector<std::size_t>& rows, std::size_t) {
        const Array x = take_rows(shard.x, rows), w = take_rows(weights, rows);
        const Array c = shard.context ? take_rows(*shard.context, rows) : Array();
        const Batch batch{tape, tape.constant(x), tape.constant(w), total_weight,
                          shard.context ? tape.constant(c) : Var(), nullptr, 1};
        const Var loss = objective.loss(model, batch);
        const real value = loss.item();
        tape.backward(loss);
        tape.reset();
        return value;
    });
}

}  // namespace flowtape
