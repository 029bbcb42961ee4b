// fit: input checks, the seeded split, the parameters to train, the epoch loop (mini-batch Adam steps
// on reused tapes), the validation pass, early stopping with a snapshot of the best parameters, and
// divergence handling. The loss itself comes from the Objective (flows/training/objectives.hpp).
// A SolverError or NonFiniteError thrown by the model during a step or the validation pass (an ODE
// solve of a continuous flow that hits its step limit, underflows its step or meets non-finite
// dynamics) is a divergence like a non-finite loss: fit stops and keeps the best parameters.
#include "flows/training/train.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <unordered_set>

#include "autodiff/ops.hpp"
#include "core/error.hpp"
#include "flows/training/data_parallel.hpp"
#include "nn/adam.hpp"
#include "nn/clip.hpp"
#include "nn/schedule.hpp"

namespace flowtape {
namespace {

using Clock = std::chrono::steady_clock;

// ---- input checks ----

void require(bool ok, const std::string& message) {
    if (!ok) throw ValueError("fit: " + message);
}

void check_options(const FitOptions& o) {
    require(o.epochs >= 1, "epochs must be at least 1, got 0");
    require(o.batch >= 1, "batch must be at least 1, got 0");
    require(std::isfinite(o.lr) && o.lr >= 0, "lr must be finite and ≥ 0, got " + std::to_string(o.lr));
    require(o.val_fraction >= 0 && o.val_fraction < 1,
            "val_fraction must be in [0, 1), got " + std::to_string(o.val_fraction));
    require(!o.patience || *o.patience >= 1, "patience must be at least 1, got 0");
    require(o.schedule == "constant" || o.schedule == "exponential" || o.schedule == "cosine" ||
                o.schedule == "cosine-steps",
            "unknown schedule '" + o.schedule + "' (constant, exponential, cosine or cosine-steps)");
    require(std::isfinite(o.clip_norm) && o.clip_norm >= 0,
            "clip_norm must be finite and ≥ 0 (0: off), got " + std::to_string(o.clip_norm));
    require(std::isfinite(o.weight_decay) && o.weight_decay >= 0,
            "weight_decay must be finite and ≥ 0, got " + std::to_string(o.weight_decay));
    require(o.lr_drop_factor > 0 && o.lr_drop_factor < 1,
            "lr_drop_factor must be in (0, 1), got " + std::to_string(o.lr_drop_factor));
    require(o.progress_every >= 1, "progress_every must be at least 1, got 0");
    require(std::isfinite(o.min_improvement) && o.min_improvement >= 0 && o.min_improvement < 1,
            "min_improvement must be in [0, 1), got " + std::to_string(o.min_improvement));
}

void check_finite_rows(const char* what, const Array& a) {
    const std::size_t cols = a.shape()[1];
    for (std::size_t k = 0; k < a.size(); ++k)
        if (!std::isfinite(a.data()[k]))
            throw ValueError(std::string("fit: ") + what + " " + shape_string(shape_of(a)) + " has a non-finite value (" +
                             std::to_string(a.data()[k]) + ") at row " + std::to_string(k / cols) + ", column " +
                             std::to_string(k % cols));
}

void check_labels(const IndexArray& labels, Shape xs) {
    if (labels.shape()[0] != xs[0] || labels.shape()[1] != 1)
        throw ShapeError("fit: labels " + shape_string({labels.shape()[0], labels.shape()[1]}) + " do not fit data " +
                         shape_string(xs) + " (expected " + shape_string({xs[0], 1}) + ")");
    for (std::size_t i = 0; i < xs[0]; ++i)
        if (labels(i, 0) < kNoLabel)
            throw ValueError("fit: label " + std::to_string(labels(i, 0)) + " at row " + std::to_string(i) +
                             " (labels are class numbers ≥ 0, or " + std::to_string(kNoLabel) + " for none)");
}

// `shard`: the data are one rank's rows, which may be none, and whose weights may sum to zero (the
// global checks come later).
void check_data(Distribution& model, const FitData& data, bool shard) {
    const Array& x = data.x;
    const Array* weights = data.weights;
    const Array* context = data.context;
    const Shape xs = shape_of(x);
    require((shard || xs[0] > 0) && xs[1] > 0, "needs non-empty data, got " + shape_string(xs));
    if (xs[1] != model.dim())
        throw ShapeError("fit: data " + shape_string(xs) + " has " + std::to_string(xs[1]) + " columns but the model (" +
                         model.kind() + ") has dimension " + std::to_string(model.dim()));
    check_finite_rows("data", x);
    if (weights) {
        if (shape_of(*weights) != Shape{xs[0], 1})
            throw ShapeError("fit: weights " + shape_string(shape_of(*weights)) + " do not fit data " + shape_string(xs) +
                             " (expected " + shape_string({xs[0], 1}) + ")");
        check_finite_rows("weights", *weights);
        real total = 0;
        for (std::size_t i = 0; i < xs[0]; ++i) {
            if ((*weights)(i, 0) < 0)
                throw ValueError("fit: weights must be ≥ 0, got " + std::to_string((*weights)(i, 0)) + " at row " +
                                 std::to_string(i) + " of " + shape_string(shape_of(*weights)));
            total += (*weights)(i, 0);
        }
        require(shard || total > 0, "weights " + shape_string(shape_of(*weights)) + " sum to zero");
    }
    if (data.labels) check_labels(*data.labels, xs);
    const std::size_t c = model.context_dim();
    if (c == 0) {
        if (context)
            throw ValueError("fit: the model (" + model.kind() + ") takes no context, got a context " +
                             shape_string(shape_of(*context)) + " with data " + shape_string(xs));
        return;
    }
    if (!context)
        throw ValueError("fit: the model (" + model.kind() + ") needs a context " + shape_string({xs[0], c}) +
                         " for data " + shape_string(xs) + ", got none");
    if (shape_of(*context) != Shape{xs[0], c})
        throw ShapeError("fit: context " + shape_string(shape_of(*context)) + " does not fit data " + shape_string(xs) +
                         " (expected " + shape_string({xs[0], c}) + ")");
    check_finite_rows("context", *context);
}

// ---- data ----

// The rows of one set (training or validation), gathered from the full arrays.
struct Rows {
    Array x, w, c;  // c has 0 columns without a context
    IndexArray y;   // labels; 0 columns without labels
};

// dst's shape becomes rows×(src's columns); memory is reallocated only when the size changes.
template <class A>
void resize_rows(A& dst, std::size_t rows, std::size_t cols) {
    if (dst.shape()[0] != rows || dst.shape()[1] != cols) dst.resize({rows, cols});
}

// dst = rows src[index[begin..end)], resized only when the shape changes.
template <class A>
void gather_rows(const A& src, const std::vector<std::size_t>& index, std::size_t begin, std::size_t end, A& dst) {
    const std::size_t cols = src.shape()[1];
    resize_rows(dst, end - begin, cols);
    for (std::size_t r = begin; r < end; ++r)
        std::copy_n(src.data() + index[r] * cols, cols, dst.data() + (r - begin) * cols);
}

void gather_set(const Rows& all, const std::vector<std::size_t>& index, std::size_t begin, std::size_t end, Rows& dst) {
    gather_rows(all.x, index, begin, end, dst.x);
    gather_rows(all.w, index, begin, end, dst.w);
    gather_rows(all.c, index, begin, end, dst.c);
    gather_rows(all.y, index, begin, end, dst.y);
}

// dst = rows [begin, end) of src, resized only when the shape changes.
template <class A>
void slice_rows(const A& src, std::size_t begin, std::size_t end, A& dst) {
    const std::size_t cols = src.shape()[1];
    resize_rows(dst, end - begin, cols);
    std::copy_n(src.data() + begin * cols, (end - begin) * cols, dst.data());
}

void slice_set(const Rows& all, std::size_t begin, std::size_t end, Rows& dst) {
    slice_rows(all.x, begin, end, dst.x);
    slice_rows(all.w, begin, end, dst.w);
    slice_rows(all.c, begin, end, dst.c);
    slice_rows(all.y, begin, end, dst.y);
}

real total_weight(const Array& w) {
    real s = 0;
    for (real v : w) s += v;
    return s;
}

// Shuffles the row indices from `rng` and puts the first round(f·N) (at least 1 when f > 0, at most
// N − 1) into the validation set.
void split_rows(std::size_t n, real val_fraction, Rng& rng, std::vector<std::size_t>& train,
                std::vector<std::size_t>& val, Shape data_shape) {
    const std::vector<std::size_t> order = rng.permutation(n);
    std::size_t n_val = 0;
    if (val_fraction > 0) {
        require(n >= 2, "needs at least 2 rows to split into training and validation sets, got data " +
                            shape_string(data_shape));
        n_val = static_cast<std::size_t>(std::llround(val_fraction * static_cast<real>(n)));
        n_val = std::min(std::max<std::size_t>(n_val, 1), n - 1);
    }
    val.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n_val));
    train.assign(order.begin() + static_cast<std::ptrdiff_t>(n_val), order.end());
}

// ---- the model's state ----

// The parameters fit trains: the list given (each must be one of the model's and not frozen), or
// every parameter of the model that is not frozen.
ParameterList parameters_to_train(Distribution& model, const ParameterList* trainable) {
    const ParameterList all = model.parameters();
    ParameterList trained;
    if (!trainable) {
        for (const NamedParameter& p : all.items())
            if (!p.parameter->frozen()) trained.add(p.name, *p.parameter);
    } else {
        std::unordered_set<const Parameter*> owned;
        for (const NamedParameter& p : all.items()) owned.insert(p.parameter);
        for (const NamedParameter& p : trainable->items()) {
            require(owned.count(p.parameter) > 0, "the trainable parameter '" + p.name + "' is not a parameter of the model (" +
                                                      model.kind() + ")");
            require(!p.parameter->frozen(), "the trainable parameter '" + p.name + "' is frozen");
            trained.add(p.name, *p.parameter);
        }
    }
    require(trained.size() > 0, "nothing to train: the model (" + model.kind() + ") has " +
                                    std::to_string(all.size()) + " parameters, none of them trainable");
    return trained;
}

// Freezes the model's parameters that are not trained for the life of the guard, so that no tape
// computes their gradients, and restores each one's earlier state after.
class FreezeOthers {
public:
    FreezeOthers(Distribution& model, const ParameterList& trained) {
        std::unordered_set<const Parameter*> keep;
        for (const NamedParameter& p : trained.items()) keep.insert(p.parameter);
        const ParameterList all = model.parameters();
        for (const NamedParameter& p : all.items())
            if (!keep.count(p.parameter) && !p.parameter->frozen()) {
                p.parameter->set_frozen(true);
                frozen_.push_back(p.parameter);
            }
    }
    ~FreezeOthers() {
        for (Parameter* p : frozen_) p->set_frozen(false);
    }
    FreezeOthers(const FreezeOthers&) = delete;
    FreezeOthers& operator=(const FreezeOthers&) = delete;

private:
    std::vector<Parameter*> frozen_;
};

// A copy of the trained parameters and every buffer, for early stopping. The arrays are allocated
// once. (Frozen parameters do not change, so they need no copy.)
class Snapshot {
public:
    Snapshot(Distribution& model, const ParameterList& trained) {
        ParameterList list = trained;
        model.collect_buffers(list, "");
        for (const NamedParameter& p : list.items()) {
            targets_.push_back(p.parameter);
            copies_.push_back(p.parameter->value());
        }
    }
    void save() {
        for (std::size_t k = 0; k < targets_.size(); ++k) xt::noalias(copies_[k]) = targets_[k]->value();
    }
    void restore() const {
        for (std::size_t k = 0; k < targets_.size(); ++k) xt::noalias(targets_[k]->value()) = copies_[k];
    }

private:
    std::vector<Parameter*> targets_;
    std::vector<Array> copies_;
};

// Two tapes and two row buffers: one for batches of the usual size, one for the smaller last
// batch, so that none changes shape from step to step and a warm step allocates nothing.
struct Batches {
    Tape full_tape, tail_tape;
    Rows full_rows, tail_rows;
    Tape& tape(bool full) { return full ? full_tape : tail_tape; }
    Rows& rows(bool full) { return full ? full_rows : tail_rows; }
    std::size_t allocations() const { return full_tape.allocations() + tail_tape.allocations(); }
};

// The rows of `b` on tape `t` as the objective sees them; `weight` is Σ w (> 0).
Batch on_tape(Tape& t, const Rows& b, real weight, std::size_t epoch, std::size_t step = 0) {
    return Batch{t,
                 t.constant(b.x),
                 t.constant(b.w),
                 weight,
                 b.c.shape()[1] ? t.constant(b.c) : Var(),
                 b.y.shape()[1] ? &b.y : nullptr,
                 epoch,
                 step};
}

// The loss's value; ShapeError unless it is 1×1.
real loss_value(const Var& loss, const char* which) {
    if (loss.rows() != 1 || loss.cols() != 1)
        throw ShapeError(std::string("fit: the objective's ") + which + " is " + shape_string(loss.shape()) +
                         ", expected 1×1");
    return loss.item();
}

// A weighted sum of losses and its weight: the mean is total / weight.
struct LossSum {
    real total = 0, weight = 0;
};

// The objective's validation loss over a whole set (Σ over its chunks of the chunk's weighted mean
// times its weight), in no-grad and evaluation mode, in chunks of `chunk` rows. NaN if a chunk's
// value is not finite (the caller reports it).
LossSum evaluate_loss(Distribution& model, Objective& objective, const Rows& set, std::size_t chunk, std::size_t epoch,
                      Batches& batches) {
    model.set_training(false);
    const std::size_t n = set.x.shape()[0];
    real total = 0, weight = 0;
    for (std::size_t begin = 0; begin < n; begin += chunk) {
        const std::size_t end = std::min(n, begin + chunk);
        const bool full = end - begin == std::min(n, chunk);
        Rows& part = batches.rows(full);
        slice_set(set, begin, end, part);
        const real w = total_weight(part.w);
        if (w == 0) continue;
        Tape& t = batches.tape(full);
        {
            NoGrad no_grad(t);
            total += loss_value(objective.validation_loss(model, on_tape(t, part, w, epoch)), "validation loss") * w;
        }
        t.reset();
        weight += w;
    }
    model.set_training(true);
    return {total, weight};
}

// One epoch's steps: the rows of step k are order[begin[k] .. begin[k + 1]). Plain: the shuffled
// training rows cut into batches. By label: each label's rows (in shuffled order) cut into batches
// of their own, the labels taking turns.
struct BatchPlan {
    std::vector<std::size_t> order;
    std::vector<std::size_t> begin;  // steps + 1 entries
    std::size_t steps() const { return begin.size() - 1; }
};

void plan_batches(const std::vector<std::size_t>& shuffled, const IndexArray& labels, bool by_label,
                  std::size_t batch, BatchPlan& plan) {
    plan.order.clear();
    plan.begin.assign(1, 0);
    if (!by_label) {
        plan.order = shuffled;
        for (std::size_t b = batch; b < shuffled.size(); b += batch) plan.begin.push_back(b);
        plan.begin.push_back(shuffled.size());
        return;
    }
    std::vector<std::vector<std::size_t>> groups;
    for (std::size_t i : shuffled) {
        const auto g = static_cast<std::size_t>(labels(i, 0));
        if (g >= groups.size()) groups.resize(g + 1);
        groups[g].push_back(i);
    }
    for (std::size_t start = 0;; start += batch) {
        bool any = false;
        for (const auto& group : groups) {
            if (start >= group.size()) continue;
            any = true;
            const std::size_t end = std::min(group.size(), start + batch);
            plan.order.insert(plan.order.end(), group.begin() + static_cast<std::ptrdiff_t>(start),
                              group.begin() + static_cast<std::ptrdiff_t>(end));
            plan.begin.push_back(plan.order.size());
        }
        if (!any) break;
    }
}

// Whether `loss` beats `best` by more than the relative margin (FitOptions::min_improvement). The
// first finite loss always does (best starts at +∞).
bool improves(real loss, real best, real min_improvement) {
    if (std::isinf(best)) return loss < best;
    return loss < best - min_improvement * std::abs(best);
}

LrSchedule make_schedule(const FitOptions& o) {
    if (o.schedule == "exponential") return LrSchedule::exponential(o.lr, o.gamma);
    if (o.schedule == "cosine") return LrSchedule::cosine(o.lr, o.epochs);
    return LrSchedule::constant(o.lr);
}

std::string number(real v, const char* format = "%.4f") {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, format, v);
    return buffer;
}

std::string epochs(std::size_t n) { return std::to_string(n) + (n == 1 ? " epoch" : " epochs"); }

std::string kept(std::size_t best_epoch) {
    return best_epoch == 0 ? "kept the initial parameters"
                           : "kept the parameters of epoch " + std::to_string(best_epoch);
}


// ---- data-parallel steps (Note [data-parallel fit] in data_parallel.hpp) ----


}  // namespace

FitReport fit(Distribution& model, const Array& x, const FitOptions& options, const Array* weights,
              const Array* context) {
    WeightedNll nll;
    return fit(model, FitData{x, weights, context}, options, nll);
}

FitReport fit(Distribution& model, const FitData& data, const FitOptions& options, Objective& objective,
              const ParameterList* trainable) {
    const Clock::time_point start = Clock::now();
    check_options(options);
    // Data-parallel (Note [data-parallel fit]): a shard of the rows on each rank, or one process
    // summing by block.
    SerialCommunicator one_process;
    Communicator& comm = options.communicator ? *options.communicator : one_process;
    const bool sharded = comm.size() > 1 || options.deterministic_sum;
    const Array& x = data.x;
    const std::size_t n = x.shape()[0];                               // the rows held here
    const std::size_t n_total = data.total_rows ? data.total_rows : n;  // the rows of all ranks
    if (!sharded) {
        require(data.first_row == 0 && n_total == n,
                "data hold rows [" + std::to_string(data.first_row) + ", " + std::to_string(data.first_row + n) +
                    ") of " + std::to_string(n_total) + ", but there is no communicator to reach the others");
        check_data(model, data, false);
    } else {
        comm.all_or_none([&] {
            check_data(model, data, true);
            require_rows_independent(model, "fit");
            require(n_total > 0, "needs non-empty data, got 0 rows on every rank");
        });
        check_shards(comm, options.deterministic_sum, options.sum_blocks, {data.first_row, n, n_total});
    }
    if (options.batches_by_label)
        comm.all_or_none([&] {
            if (!data.labels) throw ValueError("fit: batches by label need labels, got none");
            for (std::size_t i = 0; i < data.x.shape()[0]; ++i)
                if ((*data.labels)(i, 0) < 0)
                    throw ValueError("fit: batches by label need a label on every row; row " +
                                     std::to_string(data.first_row + i) + " has none");
        });

    Rows all;
    all.x = x;
    all.w = data.weights ? *data.weights : Array(xt::ones<real>({n, std::size_t(1)}));
    all.c = data.context ? *data.context : Array(xt::zeros<real>({n, std::size_t(0)}));
    all.y = data.labels ? *data.labels : IndexArray(xt::zeros<std::int64_t>({n, std::size_t(0)}));

    // Batches by label are planned from the labels of every row: across ranks, every rank's labels
    // gathered (exact as doubles: class numbers are small).
    IndexArray all_labels;
    if (options.batches_by_label && sharded) {
        std::vector<double> mine(n), gathered;
        std::vector<std::size_t> counts;
        for (std::size_t i = 0; i < n; ++i) mine[i] = static_cast<double>((*data.labels)(i, 0));
        comm.all_gather(mine, gathered, counts);
        all_labels = IndexArray::from_shape({gathered.size(), 1});
        for (std::size_t i = 0; i < gathered.size(); ++i) all_labels(i, 0) = static_cast<std::int64_t>(gathered[i]);
    }
    const IndexArray& plan_labels = all_labels.size() ? all_labels : all.y;

    // The split and the shuffles come from two streams of the seed, over the row numbers of all
    // ranks (every rank draws the same).
    Rng split_rng = Rng::stream(options.seed, 0);
    Rng shuffle_rng = Rng::stream(options.seed, 1);
    std::vector<std::size_t> train_index, val_index;
    split_rows(n_total, options.val_fraction, split_rng, train_index, val_index, {n_total, x.shape()[1]});
    const bool validate = !val_index.empty();
    Rows val_set;
    real val_weight = 0, train_weight = 0;
    const auto held = [&](std::size_t i) { return i >= data.first_row && i < data.first_row + n; };
    if (!sharded) {
        gather_set(all, val_index, 0, val_index.size(), val_set);
        val_weight = total_weight(val_set.w);
        for (std::size_t i : train_index) train_weight += all.w(i, 0);
    } else {
        for (std::size_t i : val_index)
            if (held(i)) val_weight += all.w(i - data.first_row, 0);
        for (std::size_t i : train_index)
            if (held(i)) train_weight += all.w(i - data.first_row, 0);
        val_weight = comm.sum_in_rank_order(val_weight);
        train_weight = comm.sum_in_rank_order(train_weight);
    }
    const Shape data_shape{n_total, x.shape()[1]};
    if (validate)
        require(val_weight > 0, "the " + std::to_string(val_index.size()) + " validation rows have zero total weight (data " +
                                    shape_string(data_shape) + ")");
    require(train_weight > 0,
            "the " + std::to_string(train_index.size()) + " training rows have zero total weight (data " +
                shape_string(data_shape) + ")");

    const std::size_t n_train = train_index.size();
    const std::size_t batch = std::min(options.batch, n_train);
    const std::size_t eval_chunk = std::max<std::size_t>(options.batch, 4096);
    const std::size_t patience =
        options.patience ? *options.patience
                         : std::max<std::size_t>(1, static_cast<std::size_t>(std::llround(0.02 * options.epochs)));

    const ParameterList params = parameters_to_train(model, trainable);
    const FreezeOthers freeze(model, params);
    params.zero_grad();
    std::optional<ShardedSteps> shards;
    std::vector<Rows> val_groups;  // the validation rows this rank holds, per group
    if (sharded) {
        shards.emplace(comm, options.deterministic_sum, options.sum_blocks, RowShard{data.first_row, n, n_total}, params);
        shards->set_validation(val_index);
        for (std::size_t g = 0; g < shards->groups(); ++g) {
            const std::vector<std::size_t>& rows = shards->validation_rows(g);
            val_groups.emplace_back();
            gather_set(all, rows, 0, rows.size(), val_groups.back());
        }
        // Every rank starts from rank 0's parameters (built from the same seed, they should agree
        // anyway; this makes sure).
        const FlatGradients flat(params);
        std::vector<double> values;
        flat.append_values_to(values);
        comm.broadcast(values, 0);
        flat.assign_values_from(values);
    }
    const LrSchedule schedule = make_schedule(options);
    AdamOptions adam_options;
    adam_options.lr = schedule.at(0);
    adam_options.weight_decay = options.weight_decay;
    adam_options.beta1 = options.adam_beta1;
    adam_options.beta2 = options.adam_beta2;
    adam_options.eps = options.adam_epsilon;
    Adam adam(params, adam_options);
    Snapshot best(model, params);
    best.save();  // epoch 0: the parameters fit started with
    real lr_scale = 1;              // lr_drop_factor^(report.lr_drops)
    std::size_t plateau_start = 0;  // the epoch from which patience counts: the best one or the last drop

    FitReport report;
    report.best_val_loss = std::numeric_limits<real>::infinity();
    std::ostream* out = options.quiet || comm.rank() != 0 ? nullptr : options.progress;
    Batches train_batches, eval_batches;
    std::size_t warm_start = 0;  // tape allocations after the first epoch
    model.set_training(true);

    // How a run that did not diverge ends, for its message: back to the best epoch, or (restore_best =
    // false) the last epoch kept. A diverged run always goes back: its last parameters produced the
    // non-finite value.
    const auto parameters_kept = [&](const std::string& loss_name) {
        if (!options.restore_best)
            return "kept the parameters of the last epoch, " + std::to_string(report.epochs_run) + " (best " +
                   std::to_string(report.best_epoch) + ")";
        return "restored the parameters of epoch " + std::to_string(report.best_epoch) + " (" + loss_name +
               number(report.best_val_loss) + ")";
    };
    const auto diverge = [&](std::size_t epoch, const std::string& what) {
        report.diverged = true;
        report.message = "epoch " + std::to_string(epoch) + ": " + what + "; " + kept(report.best_epoch);
    };

    BatchPlan plan;
    // One step on the batch order[begin, end) of this process alone: its loss in `value`, its weight in
    // `w` (0: rows of weight zero, no step), the gradient in the parameters. False when it diverged.
    const auto local_step = [&](std::size_t epoch, std::size_t step_number, std::size_t begin, std::size_t end, real& value, real& w) {
        const bool full = end - begin == batch;
        Rows& part = train_batches.rows(full);
        gather_set(all, plan.order, begin, end, part);
        w = total_weight(part.w);
        if (w == 0) return true;  // nothing to learn from rows of weight zero
        Tape& t = train_batches.tape(full);
        try {
            const Var loss = objective.loss(model, on_tape(t, part, w, epoch, step_number));
            value = loss_value(loss, "loss");
            if (!std::isfinite(value)) {
                t.reset();
                diverge(epoch, "the training loss became " + number(value));
                return false;
            }
            t.backward(loss);
        } catch (const SolverError& e) {  // an ODE solve gave up (continuous flows)
            t.reset();
            params.zero_grad();
            diverge(epoch, std::string("the solver failed (") + e.what() + ")");
            return false;
        } catch (const NonFiniteError& e) {  // non-finite dynamics inside a solve
            t.reset();
            params.zero_grad();
            diverge(epoch, std::string("a value became non-finite (") + e.what() + ")");
            return false;
        }
        t.reset();
        return true;
    };
    // The same for step `step` of the epoch across the ranks (or the blocks): every rank's partial
    // loss and gradient on the rows it holds, added up (ShardedSteps::step).
    // Across ranks a part's rows go through the model in passes of at most this many: ranks on one
    // machine share its caches, and 2 ranks on 300,000 rows in batches of 4096 were 1.59× faster
    // than one process with whole passes of 2048 rows, 1.73–1.84× with passes of 256 (128: the
    // same). One process keeps whole batches (no gain there).
    constexpr std::size_t pass_rows = 256;
    const auto sharded_step = [&](std::size_t epoch, std::size_t step_number, std::size_t step, real& value, real& w) {
        w = shards->step_weight(step);
        if (w == 0) return true;
        const auto pass = [&](const std::vector<std::size_t>& rows, std::size_t part_number) {
            // Random draws inside the loss (Hutchinson probes) depend on the step and the part only.
            const std::uint64_t stream = 1 + static_cast<std::uint64_t>(step_number) * shards->parts() + part_number;
            model.restart_noise(stream);
            objective.restart_noise(stream);
            // The part's rows in passes of at most pass_rows, their gradients adding up in the
            // parameters.
            Rows& part = train_batches.full_rows;
            Tape& t = train_batches.full_tape;
            real v = 0;
            for (std::size_t begin = 0; begin < rows.size(); begin += pass_rows) {
                gather_set(all, rows, begin, std::min(rows.size(), begin + pass_rows), part);
                try {
                    const Var loss = objective.loss(model, on_tape(t, part, w, epoch, step_number));
                    const real value = loss_value(loss, "loss");
                    v += value;
                    if (std::isfinite(value)) t.backward(loss);  // a non-finite loss ends the step on every rank
                    t.reset();
                } catch (...) {
                    t.reset();
                    throw;
                }
                if (!std::isfinite(v)) break;
            }
            return v;
        };
        try {
            value = shards->step(step, pass);
        } catch (const SolverError& e) {
            params.zero_grad();
            diverge(epoch, std::string("the solver failed (") + e.what() + ")");
            return false;
        } catch (const NonFiniteError& e) {
            params.zero_grad();
            diverge(epoch, std::string("a value became non-finite (") + e.what() + ")");
            return false;
        }
        if (!std::isfinite(value)) {
            params.zero_grad();
            diverge(epoch, "the training loss became " + number(value));
            return false;
        }
        return true;
    };

    plan_batches(train_index, plan_labels, options.batches_by_label, batch, plan);
    // Per-step cosine: the number of steps per epoch is fixed by the split.
    const bool per_step = options.schedule == "cosine-steps";
    const LrSchedule step_schedule = LrSchedule::cosine(options.lr, std::max<std::size_t>(1, options.epochs * plan.steps()));
    std::size_t global_step = 0;

    for (std::size_t epoch = 1; epoch <= options.epochs; ++epoch) {
        if (!per_step) adam.set_lr(schedule.at(epoch - 1) * lr_scale);
        objective.begin_epoch(epoch, options.epochs);
        shuffle_rng.shuffle(train_index);
        plan_batches(train_index, plan_labels, options.batches_by_label, batch, plan);
        real epoch_total = 0, epoch_weight = 0;
        if (shards) shards->plan_epoch(plan.order, plan.begin, all.w);
        for (std::size_t step = 0; step < plan.steps(); ++step) {
            const std::size_t step_number = global_step++;
            if (per_step) adam.set_lr(step_schedule.at(step_number) * lr_scale);
            real value = 0, w = 0;  // the batch's loss and weight; w = 0: nothing to learn from
            const bool ok = shards ? sharded_step(epoch, step_number, step, value, w)
                                   : local_step(epoch, step_number, plan.begin[step], plan.begin[step + 1], value, w);
            if (!ok) break;  // diverged
            if (w == 0) continue;
            try {
                if (options.clip_norm > 0) clip_grad_norm(params, options.clip_norm);
                adam.step();
            } catch (const NonFiniteError& e) {
                adam.zero_grad();
                diverge(epoch, std::string("a gradient became non-finite (") + e.what() + ")");
                break;
            }
            adam.zero_grad();
            epoch_total += value * w;
            epoch_weight += w;
        }
        if (report.diverged) break;

        report.epochs_run = epoch;
        const real train_loss = epoch_total / epoch_weight;
        report.train_loss.push_back(train_loss);
        real monitored = train_loss;
        if (validate) {
            const auto failed = [&](const Error& e) {
                eval_batches.full_tape.reset();
                eval_batches.tail_tape.reset();
                diverge(epoch, std::string("the validation pass failed (") + e.what() + ")");
            };
            try {
                const auto evaluate = [&](const Rows& set) {
                    return evaluate_loss(model, objective, set, eval_chunk, epoch, eval_batches);
                };
                LossSum v;
                if (!shards) {
                    v = evaluate(val_set);
                } else {
                    const auto sums = shards->validate([&](std::size_t g) {
                        const LossSum part = evaluate(val_groups[g]);
                        return std::pair<real, real>{part.total, part.weight};
                    });
                    v = {sums.first, sums.second};
                }
                monitored = v.total / v.weight;
            } catch (const SolverError& e) {
                failed(e);
                break;
            } catch (const NonFiniteError& e) {
                failed(e);
                break;
            }
            report.val_loss.push_back(monitored);
            if (!std::isfinite(monitored)) {
                diverge(epoch, "the validation loss became " + number(monitored));
                break;
            }
        }
        if (epoch == 1) warm_start = train_batches.allocations() + eval_batches.allocations();
        report.warm_allocations = train_batches.allocations() + eval_batches.allocations() - warm_start;
        if (improves(monitored, report.best_val_loss, options.min_improvement)) {
            report.best_val_loss = monitored;
            report.best_epoch = epoch;
            best.save();
        }

        const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
        if (out && epoch % options.progress_every == 0) {
            const double left = elapsed / static_cast<double>(epoch) * static_cast<double>(options.epochs - epoch);
            *out << "epoch " << epoch << "/" << options.epochs << "  train " << number(train_loss);
            if (validate) *out << "  val " << number(monitored);
            const std::string state = objective.progress();
            if (!state.empty()) *out << "  " << state;
            *out << "  best " << number(report.best_val_loss) << " (" << report.best_epoch << ")  "
                 << number(elapsed, "%.1f") << " s, ~" << number(left, "%.0f") << " s left\n";
        }
        plateau_start = std::max(plateau_start, report.best_epoch);
        if (epoch - plateau_start < patience || epoch == options.epochs) continue;
        // A plateau: drop the learning rate while drops remain, else stop.
        if (report.lr_drops < options.lr_drops) {
            ++report.lr_drops;
            lr_scale *= options.lr_drop_factor;
            plateau_start = epoch;
            best.restore();
            if (out)
                *out << "epoch " << epoch << ": no improvement for " << epochs(patience) << "; restored epoch "
                     << report.best_epoch << ", learning rate × " << number(options.lr_drop_factor, "%g") << " (drop "
                     << report.lr_drops << " of " << options.lr_drops << ")\n";
        } else {
            report.stopped_early = true;
            report.message = "stopped early at epoch " + std::to_string(epoch) + ": the " +
                             (validate ? "validation" : "training") + " loss has not improved for " +
                             epochs(patience) + "; " + parameters_kept("loss ");
            break;
        }
    }

    if (report.diverged || options.restore_best) best.restore();
    model.set_training(false);
    if (!report.diverged && !report.stopped_early)
        report.message = "trained " + epochs(report.epochs_run) + "; " +
                         parameters_kept(validate ? "validation loss " : "training loss ");
    report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (out) *out << report.message << "\n";
    return report;
}

}  // namespace flowtape
