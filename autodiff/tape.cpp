#include "autodiff/tape.hpp"

#include <algorithm>
#include <atomic>
#include <string>

namespace flowtape {
namespace {

std::uint64_t next_epoch_base() {
    // Epochs of different tapes never coincide, so a Var from another tape is recognised even if
    // its index happens to be in range.
    // Atomic: tapes are made on several threads at once (the pieces of a piecewise flow train in parallel).
    static std::atomic<std::uint64_t> counter{0};
    return (counter.fetch_add(1) + 1) << 32;
}

std::string node_label(const Node& n, std::uint32_t i) {
    return std::string("'") + n.op + "' (node " + std::to_string(i) + ", shape " + shape_string(shape_of(n.value)) + ")";
}

}  // namespace

// ---- Var ----

Tape& Var::tape() const {
    if (!tape_) throw TapeError("Var: used before it was assigned a value");
    return *tape_;
}

const Array& Var::value() const {
    tape().check_var(*this, "Var::value");
    return tape_->node(index_).value;
}

real Var::item() const {
    const Array& v = value();
    if (v.size() != 1) throw ShapeError("Var::item: expected a 1\u00d71 value, got " + shape_string(shape_of(v)));
    return v(0, 0);
}

// ---- construction, leaves ----

Tape::Tape() : epoch_(next_epoch_base()) {}

Tape::~Tape() { unbind_parameters(0); }

void Tape::check_var(Var v, const char* op) const {
    if (v.tape_ != this) throw TapeError(std::string(op) + ": a Var from another tape");
    if (v.epoch_ != epoch_ || v.index_ >= size_)
        throw TapeError(std::string(op) + ": a stale Var (the tape was reset or rewound after it was made)");
}

std::uint32_t Tape::new_node(const char* op, BackwardFn backward, Shape shape) {
    if (size_ == kNoNode - 1) throw TapeError(std::string(op) + ": the tape is full");
    if (size_ == nodes_.size()) {
        nodes_.emplace_back();
        ++allocations_;
    }
    const std::uint32_t i = size_++;
    Node& n = nodes_[i];
    n.op = op;
    n.backward = backward;
    n.input_count = 0;
    n.more_inputs.clear();
    n.needs_grad = false;
    n.grad_live = false;
    n.tangent = kNoNode;
    n.tangent_rule = nullptr;
    n.in_tangent = in_tangent_rule_;
    n.param = nullptr;
    n.context[0] = n.context[1] = nullptr;
    n.s0 = n.s1 = 0;
    n.axis = 0;
    if (ensure_shape(n.value, shape)) ++allocations_;
    return i;
}

void Tape::link(std::uint32_t i, Var input, const char* op) {
    check_var(input, op);
    Node& n = nodes_[i];
    const std::size_t k = n.arity();
    if (k < 3) {
        n.inputs[k] = input.index_;
        n.input_count = static_cast<std::uint8_t>(k + 1);
    } else {
        if (n.more_inputs.size() == n.more_inputs.capacity()) ++allocations_;
        n.more_inputs.push_back(input.index_);
    }
    n.needs_grad = n.needs_grad || nodes_[input.index_].needs_grad;
}

std::uint32_t Tape::finish_links(std::uint32_t i) {
    Node& n = nodes_[i];
    n.needs_grad = n.needs_grad && grad_enabled_;
    if (!n.needs_grad) n.backward = nullptr;
    return i;
}

std::uint32_t Tape::push(const char* op, BackwardFn backward, std::initializer_list<Var> inputs, Shape shape) {
    // Check the inputs before appending, so a stale Var leaves the tape unchanged.
    for (const Var& in : inputs) check_var(in, op);
    const std::uint32_t i = new_node(op, backward, shape);
    for (const Var& in : inputs) link(i, in, op);
    return finish_links(i);
}

std::uint32_t Tape::push(const char* op, BackwardFn backward, const std::vector<Var>& inputs, Shape shape) {
    for (const Var& in : inputs) check_var(in, op);
    const std::uint32_t i = new_node(op, backward, shape);
    for (const Var& in : inputs) link(i, in, op);
    return finish_links(i);
}

Array& Tape::saved(std::uint32_t i, Shape s) {
    Array& a = nodes_[i].saved;
    if (ensure_shape(a, s)) ++allocations_;
    return a;
}

IndexArray& Tape::index(std::uint32_t i, std::size_t rows, std::size_t cols) {
    IndexArray& a = nodes_[i].index;
    if (a.shape()[0] != rows || a.shape()[1] != cols) {
        if (a.size() != rows * cols) ++allocations_;
        a.resize({rows, cols});
    }
    return a;
}

void Tape::bind_leaf(std::uint32_t i, const Array& value) {
    Array& v = nodes_[i].value;
    xt::noalias(v) = value;
}

Var Tape::constant(const Array& value) {
    const std::uint32_t i = push("constant", nullptr, {}, shape_of(value));
    bind_leaf(i, value);
    return finish(i, nullptr);
}

Var Tape::constant(real value) {
    const std::uint32_t i = push("constant", nullptr, {}, {1, 1});
    nodes_[i].value(0, 0) = value;
    return finish(i, nullptr);
}

Var Tape::variable(const Array& value) {
    const std::uint32_t i = push("variable", nullptr, {}, shape_of(value));
    bind_leaf(i, value);
    nodes_[i].needs_grad = grad_enabled_;
    return finish(i, nullptr);
}

namespace {
// A parameter leaf passes its gradient on to the Parameter it stands for.
void parameter_backward(Tape& t, std::uint32_t self) {
    Node& n = t.node(self);
    Array& g = n.param->grad;
    if (g.shape() != n.value.shape()) g = xt::zeros<real>(n.value.shape());
    xt::noalias(g) += n.grad;
}
}  // namespace

Var Tape::param(Parameter& p) {
    Parameter::Slot& s = p.slot();
    const bool trained = grad_enabled_ && !s.frozen;
    if (s.tape == this) {
        Node& leaf = nodes_[s.node];
        if (trained && !leaf.needs_grad) {  // first used in no-grad mode, now trained
            leaf.needs_grad = true;
            leaf.backward = parameter_backward;
        }
        return var(s.node);
    }
    if (s.tape != nullptr)
        throw TapeError("Tape::param: parameter '" + s.name +
                        "' is in use on another tape; reset that tape (or destroy it) first");
    const std::uint32_t i = push("parameter", parameter_backward, {}, shape_of(s.value));
    Node& n = nodes_[i];
    xt::noalias(n.value) = s.value;
    n.param = &s;
    n.needs_grad = trained;
    n.backward = trained ? parameter_backward : nullptr;
    s.tape = this;
    s.node = i;
    if (bound_.size() == bound_.capacity()) ++allocations_;
    bound_.push_back(&s);
    return finish(i, nullptr);
}

void Tape::forget_parameter(Parameter::Slot* slot) {
    auto it = std::find(bound_.begin(), bound_.end(), slot);
    if (it != bound_.end()) bound_.erase(it);
    if (slot->node < size_ && nodes_[slot->node].param == slot) {
        nodes_[slot->node].param = nullptr;
        nodes_[slot->node].backward = nullptr;
    }
    slot->tape = nullptr;
}

void Tape::unbind_parameters(std::uint32_t from) {
    auto keep = std::remove_if(bound_.begin(), bound_.end(), [&](Parameter::Slot* s) {
        if (s->node < from) return false;
        s->tape = nullptr;
        return true;
    });
    bound_.erase(keep, bound_.end());
}

void Tape::reset() {
    unbind_parameters(0);
    size_ = 0;
    ++epoch_;
    swept_ = false;
    tangents_seeded_ = false;
}

void Tape::rewind(Mark m) {
    if (m.epoch != epoch_ || m.index > size_) throw TapeError("Tape::rewind: a mark from before the last reset");
    unbind_parameters(m.index);
    size_ = m.index;
}

// ---- finishing an op: anomaly checks and tangents ----

void Tape::check_finite(const Array& a, std::uint32_t node, const char* what) const {
    for (real v : a) {
        if (!std::isfinite(v))
            throw NonFiniteError(std::string("anomaly: non-finite ") + what + " in op " + node_label(nodes_[node], node));
    }
}

Var Tape::finish(std::uint32_t i, TangentFn tangent_rule) {
    if (anomaly_) check_finite(nodes_[i].value, i, "value");
    nodes_[i].tangent_rule = tangent_rule;
    if (!tangents_seeded_ || in_tangent_rule_) return var(i);
    const Node& n = nodes_[i];
    bool any = false;
    for (std::size_t k = 0; k < n.arity(); ++k) any = any || nodes_[n.input(k)].tangent != kNoNode;
    if (!any) return var(i);
    if (!tangent_rule) throw TapeError(std::string("op '") + n.op + "' has no tangent rule, but its input carries a tangent");
    in_tangent_rule_ = true;
    Var t;
    try {
        t = tangent_rule(*this, i);
    } catch (...) {
        in_tangent_rule_ = false;
        throw;
    }
    in_tangent_rule_ = false;
    nodes_[i].tangent = t.valid() ? t.index_ : kNoNode;  // an invalid Var: the tangent is zero
    return var(i);
}

void Tape::set_tangent(Var x, Var direction) {
    check_var(x, "set_tangent");
    check_var(direction, "set_tangent");
    if (x.shape() != direction.shape())
        throw ShapeError("set_tangent: value " + shape_string(x.shape()) + " and direction " +
                         shape_string(direction.shape()) + " differ");
    nodes_[x.index_].tangent = direction.index_;
    tangents_seeded_ = true;
}

void Tape::retangent(Mark from, Var x, Var direction) {
    if (from.epoch != epoch_ || from.index > size_) throw TapeError("retangent: a mark from before the last reset");
    check_var(x, "retangent");
    check_var(direction, "retangent");
    if (x.shape() != direction.shape())
        throw ShapeError("retangent: value " + shape_string(x.shape()) + " and direction " +
                         shape_string(direction.shape()) + " differ");
    // Nodes the rules append below lie past `end` and are parts of tangents: not visited.
    const std::uint32_t end = size_;
    for (std::uint32_t i = from.index; i < end; ++i)
        if (!nodes_[i].in_tangent) nodes_[i].tangent = kNoNode;
    nodes_[x.index_].tangent = direction.index_;
    struct InRule {  // in_tangent_rule_ for the rules' own ops, restored on the way out
        bool& flag;
        bool before;
        ~InRule() { flag = before; }
    } in_rule{in_tangent_rule_, in_tangent_rule_};
    in_tangent_rule_ = true;
    for (std::uint32_t i = from.index; i < end; ++i) {
        // By index: a rule appends nodes, and the deque keeps references valid, but read afresh.
        if (nodes_[i].in_tangent || i == x.index_) continue;
        bool any = false;
        for (std::size_t k = 0; k < nodes_[i].arity(); ++k) any = any || nodes_[nodes_[i].input(k)].tangent != kNoNode;
        if (!any) continue;
        const TangentFn rule = nodes_[i].tangent_rule;
        if (!rule)
            throw TapeError(std::string("op '") + nodes_[i].op + "' has no tangent rule, but its input carries a tangent");
        const Var t = rule(*this, i);
        nodes_[i].tangent = t.valid() ? t.index_ : kNoNode;
    }
}

Var Tape::tangent(Var y) {
    check_var(y, "tangent");
    const std::uint32_t t = nodes_[y.index_].tangent;
    if (t != kNoNode) return var(t);
    return constant(xt::zeros<real>(nodes_[y.index_].value.shape()));
}

Var Tape::tangent_or_none(std::uint32_t i) {
    const std::uint32_t t = nodes_[i].tangent;
    return t == kNoNode ? Var() : var(t);
}

// ---- the reverse sweep ----

void Tape::seed_output(Var output, const Array& seed, const char* who) {
    check_var(output, who);
    Node& out = nodes_[output.index_];
    if (shape_of(seed) != shape_of(out.value))
        throw ShapeError(std::string(who) + ": seed " + shape_string(shape_of(seed)) + " does not match output " +
                         shape_string(shape_of(out.value)));
    if (out.value.size() == 0) throw ValueError(std::string(who) + ": the output is empty");
    for (std::uint32_t i = 0; i < size_; ++i) nodes_[i].grad_live = false;
    if (ensure_shape(out.grad, shape_of(seed))) ++allocations_;
    xt::noalias(out.grad) = seed;
    out.grad_live = true;
}

void Tape::sweep(std::uint32_t from, std::uint32_t stop, bool into_parameters) {
    for (std::uint32_t i = from + 1; i-- > stop;) {
        Node& n = nodes_[i];
        if (!n.grad_live || !n.backward) continue;
        if (n.param && !into_parameters) continue;
        n.backward(*this, i);
        if (anomaly_) {
            for (std::size_t k = 0; k < n.arity(); ++k) {
                const Node& in = nodes_[n.input(k)];
                if (in.grad_live) check_finite(in.grad, i, "gradient flowing back from");
            }
        }
    }
}

void Tape::backward(Var loss) {
    check_var(loss, "backward");
    if (loss.value().size() != 1)
        throw ShapeError("backward: the loss must be 1\u00d71, got " + shape_string(loss.shape()) +
                         " (use backward(output, seed) for a vector-Jacobian product)");
    backward(loss, Array({{1.0}}));
}

void Tape::backward(Var output, const Array& seed) {
    if (swept_) throw TapeError("backward: already called on this tape since the last reset(); call reset() and record the step again");
    seed_output(output, seed, "backward");
    swept_ = true;
    sweep(output.index_, 0, true);
}

void Tape::backward_to(Var output, const Array& seed, Mark stop) {
    if (stop.epoch != epoch_ || stop.index > output.index_ + 1)
        throw TapeError("backward_to: the mark is stale or after the output");
    seed_output(output, seed, "backward_to");
    sweep(output.index_, stop.index, false);
}

const Array& Tape::grad(Var v) {
    check_var(v, "grad");
    Node& n = nodes_[v.index_];
    if (!n.grad_live) {
        if (ensure_shape(n.grad, shape_of(n.value))) ++allocations_;
        n.grad.fill(0);
        n.grad_live = true;
    }
    return n.grad;
}

Array* Tape::grad_for_write(std::uint32_t i, real& beta) {
    Node& n = nodes_[i];
    if (!n.needs_grad) return nullptr;
    if (ensure_shape(n.grad, shape_of(n.value))) ++allocations_;
    beta = n.grad_live ? 1.0 : 0.0;
    n.grad_live = true;
    return &n.grad;
}

void Tape::reduce_into(std::uint32_t i, const real* g, std::size_t R, std::size_t C) {
    // sum_to: sum a broadcast gradient (R×C) down to the input's shape (r×c, each 1 or equal).
    Node& n = nodes_[i];
    const Shape target = shape_of(n.value);
    if ((target[0] != R && target[0] != 1) || (target[1] != C && target[1] != 1))
        throw ShapeError(std::string("sum_to: gradient ") + shape_string({R, C}) + " cannot be summed to " +
                         shape_string(target) + " for op '" + n.op + "'");
    if (!n.grad_live) {
        if (ensure_shape(n.grad, target)) ++allocations_;
        n.grad.fill(0);
        n.grad_live = true;
    }
    real* out = n.grad.data();
    const real* in = g;
    const bool rows_kept = target[0] == R, cols_kept = target[1] == C;
    for (std::size_t r = 0; r < R; ++r) {
        real* orow = out + (rows_kept ? r * target[1] : 0);
        const real* irow = in + r * C;
        if (cols_kept) {
            for (std::size_t c = 0; c < C; ++c) orow[c] += irow[c];
        } else {
            real s = 0;
            for (std::size_t c = 0; c < C; ++c) s += irow[c];
            orow[0] += s;
        }
    }
}

}  // namespace flowtape
