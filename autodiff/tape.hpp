// The tape: a flat, growing list of nodes (a Wengert list) and the reverse sweep over it.
//
// Each op appends one node holding its value, the indices of its inputs, a pointer to its backward
// rule and what that rule needs (a few scalars, an index array, a saved array). `backward(loss)`
// walks the list once in reverse, from the loss down, calling each node's rule, which adds into
// its inputs' gradients (`accumulate`). There is no recursion, no shared_ptr graph and no global
// current tape: a Var is a (tape, index) handle and every op takes its tape from its inputs.
//
// Note [the tape never shrinks]: `reset()` forgets the nodes but keeps them, with their arrays.
// The next step reuses node i for its i-th op, and since an identical step makes the same ops with
// the same shapes, no array is resized and nothing is allocated. `allocations()` counts every node
// created and every array buffer resized, so a test can check a warm step allocates nothing.
// Nodes live in a std::deque, so a Node& stays valid while more nodes are appended.
//
// Note [second derivatives by tangents]: continuous flows need ∂/∂θ of εᵀ(∂f/∂z)ε. We record
// forward-mode tangents on the tape (reverse-over-forward, as Stan's fvar<var> and JAX's jvp inside
// grad). `set_tangent(x, v)` seeds x; from then on every op whose input carries a tangent also
// records its output's tangent, computed by the op's tangent rule *in tape ops*. So Jv is an
// ordinary Var, and one plain first-order backward differentiates anything built from it. Rules
// exist for the ops used in ODE dynamics and MLPs (see ops.hpp); any other op throws when it meets
// a tangent, rather than silently dropping it. We chose this over recording the backward pass
// (PyTorch's create_graph) because it needs one short rule per op instead of a differentiable
// backward for every op, and the backward sweep stays plain array code.
#pragma once

#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <vector>

#include "autodiff/parameter.hpp"
#include "core/error.hpp"
#include "core/types.hpp"

namespace flowtape {

class Tape;

// A handle to one node of a tape. Cheap to copy; valid until the tape is reset.
class Var {
public:
    Var() = default;
    Tape& tape() const;
    std::uint32_t index() const { return index_; }
    const Array& value() const;
    Shape shape() const { return shape_of(value()); }
    std::size_t rows() const { return value().shape()[0]; }
    std::size_t cols() const { return value().shape()[1]; }
    // The value of a 1×1 Var.
    real item() const;
    bool valid() const { return tape_ != nullptr; }

private:
    friend class Tape;
    Var(Tape* tape, std::uint32_t index, std::uint64_t epoch) : tape_(tape), index_(index), epoch_(epoch) {}
    Tape* tape_ = nullptr;
    std::uint32_t index_ = 0;
    std::uint64_t epoch_ = 0;
};

// A position on the tape, for inner gradients: mark(), then backward_to(), then rewind().
struct Mark {
    std::uint32_t index = 0;
    std::uint64_t epoch = 0;
};

using BackwardFn = void (*)(Tape& tape, std::uint32_t self);
using TangentFn = Var (*)(Tape& tape, std::uint32_t self);

inline constexpr std::uint32_t kNoNode = std::numeric_limits<std::uint32_t>::max();

struct Node {
    const char* op = "";           // the op's name, for error messages and anomaly mode
    BackwardFn backward = nullptr;  // null for leaves and for nodes nobody differentiates
    std::uint32_t inputs[3] = {kNoNode, kNoNode, kNoNode};
    std::uint8_t input_count = 0;
    std::vector<std::uint32_t> more_inputs;  // inputs past the third (concat); keeps its capacity
    bool needs_grad = false;  // some input (transitively) is a variable or parameter
    bool grad_live = false;   // grad holds this sweep's gradient (else it is stale memory)
    std::uint32_t tangent = kNoNode;  // the node holding this node's tangent, if any
    TangentFn tangent_rule = nullptr;  // the op's tangent rule (for retangent)
    bool in_tangent = false;           // made by a tangent rule: part of some node's tangent
    Parameter::Slot* param = nullptr;  // for parameter leaves
    // Objects outside the tape that a rule reads (the odeint node: its dynamics and counters). Whoever
    // records the op keeps them alive until the backward sweep.
    void* context[2] = {nullptr, nullptr};
    real s0 = 0, s1 = 0;  // op attributes (exponent, bounds, temperature, ...)
    int axis = 0;
    Array value;
    Array grad;
    Array saved;       // an extra array a backward rule reads (a mask, a softmax output, ...)
    IndexArray index;  // indices a backward rule reads (gather)

    std::uint32_t input(std::size_t k) const { return k < 3 ? inputs[k] : more_inputs[k - 3]; }
    std::size_t arity() const { return input_count < 3 ? input_count : 3 + more_inputs.size(); }
};

class Tape {
public:
    Tape();
    ~Tape();
    Tape(const Tape&) = delete;
    Tape& operator=(const Tape&) = delete;

    // Leaves.
    Var constant(const Array& value);  // no gradient flows into it
    Var constant(real value);          // a 1×1 constant
    Var variable(const Array& value);  // a leaf whose gradient `grad()` reads after backward
    Var param(Parameter& p);           // the parameter's leaf; created once per epoch

    // Reverse sweep from a 1×1 loss (seed 1), or from any node with a seed of its shape (a
    // vector-Jacobian product). Parameter gradients are *added* into Parameter::grad. Runs once
    // per reset: a second call throws.
    void backward(Var loss);
    void backward(Var output, const Array& seed);
    // The gradient of a node after a sweep (zeros if nothing reached it).
    const Array& grad(Var v);

    // Inner gradients that do not grow the tape: `Mark m = mark(); ...ops...; backward_to(y, seed,
    // m); read grad(x) for nodes of interest; rewind(m)`. The sweep visits only nodes made after the
    // mark; nodes before it receive gradients but pass nothing on. It writes node gradients only,
    // never Parameter::grad (read a parameter leaf's gradient with grad(tape.param(p))).
    Mark mark() const { return {size_, epoch_}; }
    void backward_to(Var output, const Array& seed, Mark stop);
    void rewind(Mark m);

    // Forget all nodes (keeping their memory) and unbind parameters. Vars made before are stale.
    void reset();

    // No-grad mode: ops compute values and record no inputs or rules (validation, sampling).
    bool grad_enabled() const { return grad_enabled_; }
    void set_grad_enabled(bool on) { grad_enabled_ = on; }

    // Anomaly mode (opt-in, slower): every op checks its value, and the sweep checks every
    // gradient it produces; the first non-finite one throws NonFiniteError naming the op.
    void set_anomaly_mode(bool on) { anomaly_ = on; }
    bool anomaly_mode() const { return anomaly_; }

    // Tangents, see Note [second derivatives by tangents]. `tangent(y)` is y's tangent, or a zero
    // constant if y does not depend on a seeded node. Tangents propagate through new ops from the
    // first set_tangent until clear_tangents() (which keeps the tangents already recorded).
    void set_tangent(Var x, Var direction);
    void clear_tangents() { tangents_seeded_ = false; }
    // Forward mode again over ops already recorded, along a new direction: the nodes made since
    // `from` (except the parts of tangents) drop their tangents, x is seeded with `direction`, and
    // each of those nodes whose inputs now carry a tangent gets one from its op's tangent rule, the
    // ops themselves not being recorded again. So D tangent passes of one function record it once
    // (jacobian_trace). Tangents of nodes before `from`, other than x's, are kept. Propagation to new
    // ops stays as it was (clear_tangents first, as after jvp).
    void retangent(Mark from, Var x, Var direction);
    Var tangent(Var y);
    bool has_tangent(Var y) const { return node(y.index()).tangent != kNoNode; }

    std::size_t size() const { return size_; }
    std::uint64_t epoch() const { return epoch_; }
    // Nodes created plus array buffers (re)allocated since the tape was made.
    std::size_t allocations() const { return allocations_; }

    // ---- For op implementations (ops.hpp and the files that define ops) ----

    const Node& node(std::uint32_t i) const { return nodes_[i]; }
    Node& node(std::uint32_t i) { return nodes_[i]; }
    Var var(std::uint32_t i) { return Var(this, i, epoch_); }
    void check_var(Var v, const char* op) const;

    // Appends a node for `op` with the given inputs and an output of shape `shape`; returns its
    // index. The value buffer is sized but not filled: the op writes it next.
    std::uint32_t push(const char* op, BackwardFn backward, std::initializer_list<Var> inputs, Shape shape);
    std::uint32_t push(const char* op, BackwardFn backward, const std::vector<Var>& inputs, Shape shape);
    // Sizes a node's auxiliary arrays, counting allocations.
    Array& saved(std::uint32_t i, Shape s);
    IndexArray& index(std::uint32_t i, std::size_t rows, std::size_t cols);
    // Finishes an op: anomaly check, then its tangent if an input carries one (rule may be null
    // for ops without a tangent rule: they throw if a tangent reaches them).
    Var finish(std::uint32_t i, TangentFn tangent_rule);

    // Adds `g` (an xtensor expression) into input node i's gradient. A gradient of a broadcast
    // shape is first summed down to the input's shape (`sum_to`). Inputs that need no gradient
    // are skipped, so rules need not check.
    template <class E>
    void accumulate(std::uint32_t i, const E& g);
    bool needs_grad(std::uint32_t i) const { return nodes_[i].needs_grad; }
    // For rules that write a gradient in place (gemm with beta): input i's gradient buffer, sized,
    // with `beta` set to 1 if it already holds this sweep's gradient (add to it) or 0 (overwrite).
    // Null if the input needs no gradient.
    Array* grad_for_write(std::uint32_t i, real& beta);
    // The tangent of input node i, or an invalid Var if it has none (for rules that skip
    // absent terms instead of multiplying by zeros).
    Var tangent_or_none(std::uint32_t i);

private:
    std::uint32_t new_node(const char* op, BackwardFn backward, Shape shape);
    void link(std::uint32_t i, Var input, const char* op);
    std::uint32_t finish_links(std::uint32_t i);
    void bind_leaf(std::uint32_t i, const Array& value);
    void sweep(std::uint32_t from, std::uint32_t stop, bool into_parameters);
    void seed_output(Var output, const Array& seed, const char* who);
    void reduce_into(std::uint32_t i, const real* g, std::size_t rows, std::size_t cols);
    void check_finite(const Array& a, std::uint32_t node, const char* what) const;
    void unbind_parameters(std::uint32_t from);
    friend class Parameter;
    void forget_parameter(Parameter::Slot* slot);

    std::deque<Node> nodes_;
    std::uint32_t size_ = 0;
    std::uint64_t epoch_;
    std::size_t allocations_ = 0;
    bool grad_enabled_ = true;
    bool anomaly_ = false;
    bool swept_ = false;
    bool tangents_seeded_ = false;
    bool in_tangent_rule_ = false;
    std::vector<Parameter::Slot*> bound_;  // parameters with a leaf on this tape this epoch
    std::vector<real> scratch_;            // broadcast gradients before they are summed down
};

// RAII switch for no-grad mode.
class NoGrad {
public:
    explicit NoGrad(Tape& tape) : tape_(tape), before_(tape.grad_enabled()) { tape.set_grad_enabled(false); }
    ~NoGrad() { tape_.set_grad_enabled(before_); }
    NoGrad(const NoGrad&) = delete;
    NoGrad& operator=(const NoGrad&) = delete;

private:
    Tape& tape_;
    bool before_;
};

// ---- inline and template definitions ----

template <class E>
void Tape::accumulate(std::uint32_t i, const E& g) {
    Node& n = nodes_[i];
    if (!n.needs_grad) return;
    const auto& gs = g.shape();
    const Shape target = shape_of(n.value);
    if (gs[0] != target[0] || gs[1] != target[1]) {
        // Evaluate into scratch memory that only ever grows, then sum down.
        const std::size_t count = gs[0] * gs[1];
        if (scratch_.size() < count) {
            scratch_.resize(count);
            ++allocations_;
        }
        const std::array<std::size_t, 2> shape{gs[0], gs[1]};
        auto view = xt::adapt(scratch_.data(), count, xt::no_ownership(), shape);
        xt::noalias(view) = g;
        reduce_into(i, scratch_.data(), gs[0], gs[1]);
        return;
    }
    if (!n.grad_live) {
        if (ensure_shape(n.grad, target)) ++allocations_;
        xt::noalias(n.grad) = g;
        n.grad_live = true;
    } else {
        xt::noalias(n.grad) += g;
    }
}

}  // namespace flowtape
