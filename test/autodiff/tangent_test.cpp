// Tests of the tangent rules (forward mode recorded on the tape, see Note [second derivatives by
// tangents] in tape.hpp). For every op marked [T] in ops.hpp, the tangent recorded along a random
// direction v equals the central difference (f(x + h v) − f(x − h v)) / 2h; the tangent, being
// ordinary tape ops, passes a gradient check itself (so second derivatives are right); and an op
// without a rule refuses a tangent instead of dropping it.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "flowtape.hpp"

using namespace flowtape;

namespace {

using Fn = std::function<Var(const std::vector<Var>&)>;

Shape random_shape(Rng& rng, std::size_t lo = 1, std::size_t hi = 4) {
    return {lo + rng.below(hi - lo + 1), lo + rng.below(hi - lo + 1)};
}

// Normal values scaled by `scale`, at least 0.1 from 0 when `off_zero` (for ops with a kink there).
Array draw(Rng& rng, Shape s, real scale = 1.0, bool off_zero = false) {
    Array a = Array::from_shape(s);
    for (real& v : a) {
        do v = scale * rng.normal();
        while (off_zero && std::abs(v) < 0.1);
    }
    return a;
}

struct TangentCheck {
    bool ok = true;
    real max_error = 0;
    std::string worst;
};

// Records f on a tape with a random direction seeded on each input flagged in `seeded`, and
// compares the recorded tangent of f with the central difference of f along those directions.
// The error of an entry is |tangent − numeric| / max(1, |tangent|, |numeric|), as in gradcheck.
TangentCheck check_tangent(const Fn& f, const std::vector<Array>& inputs, const std::vector<bool>& seeded, Rng& rng) {
    constexpr real h = 1e-6;
    std::vector<Array> directions;
    for (const Array& x : inputs) directions.push_back(rng.normal_array(x.shape()[0], x.shape()[1]));

    Tape t;
    std::vector<Var> vars;
    for (std::size_t k = 0; k < inputs.size(); ++k) {
        vars.push_back(t.variable(inputs[k]));
        if (seeded[k]) t.set_tangent(vars[k], t.constant(directions[k]));
    }
    const Var y = f(vars);
    const Array tangent = t.tangent(y).value();

    // f at x ± h v, on tapes without tangents.
    auto shifted = [&](real sign) {
        Tape u;
        std::vector<Var> vs;
        for (std::size_t k = 0; k < inputs.size(); ++k)
            vs.push_back(u.constant(seeded[k] ? Array(inputs[k] + sign * h * directions[k]) : inputs[k]));
        return Array(f(vs).value());
    };
    const Array up = shifted(+1), down = shifted(-1);

    TangentCheck result;
    if (tangent.shape() != y.value().shape()) {
        result.ok = false;
        result.worst = "tangent shape " + shape_string(shape_of(tangent)) + " differs from the value's " +
                       shape_string(y.shape());
        return result;
    }
    for (std::size_t e = 0; e < tangent.size(); ++e) {
        const real a = tangent.data()[e];
        const real numeric = (up.data()[e] - down.data()[e]) / (2 * h);
        const real err = std::abs(a - numeric) / std::max<real>({1, std::abs(a), std::abs(numeric)});
        if (!(err <= result.max_error)) {
            result.max_error = std::isfinite(err) ? err : INFINITY;
            result.worst = "entry " + std::to_string(e) + ": tangent " + std::to_string(a) + ", numeric " +
                           std::to_string(numeric);
        }
    }
    result.ok = result.max_error <= 1e-6;
    return result;
}

void expect_tangent(const std::string& name, const Fn& f, const std::vector<Array>& inputs,
                    const std::vector<bool>& seeded, Rng& rng) {
    const TangentCheck r = check_tangent(f, inputs, seeded, rng);
    BOOST_TEST(r.ok, name << ": " << r.worst << " (error " << r.max_error << ")");
}

// Every non-empty subset of the inputs to seed: one input at a time, then all of them.
std::vector<std::vector<bool>> seedings(std::size_t n) {
    std::vector<std::vector<bool>> out;
    for (std::size_t k = 0; k < n; ++k) {
        std::vector<bool> one(n, false);
        one[k] = true;
        out.push_back(one);
    }
    if (n > 1) out.push_back(std::vector<bool>(n, true));
    return out;
}

// The tangent of f along a variable direction, as a function of (x, v): its gradient checks the
// derivatives of the tangent rule, i.e. the second derivatives of f.
GradcheckResult gradcheck_tangent(const std::function<Var(Var)>& f, const Array& x, const Array& v) {
    return gradcheck(
        [&](Tape& t, const std::vector<Var>& in) {
            t.set_tangent(in[0], in[1]);
            return t.tangent(f(in[0]));
        },
        {x, v});
}

struct UnaryCase {
    std::string name;
    std::function<Var(Var)> op;
    std::function<Array(Rng&, Shape)> input;
};

std::vector<UnaryCase> unary_cases() {
    auto normal = [](real scale) { return [scale](Rng& rng, Shape s) { return draw(rng, s, scale); }; };
    auto off_zero = [](real scale) { return [scale](Rng& rng, Shape s) { return draw(rng, s, scale, true); }; };
    auto uniform = [](real lo, real hi) {
        return [lo, hi](Rng& rng, Shape s) { return rng.uniform_array(s[0], s[1], lo, hi); };
    };
    return {
        {"neg", [](Var x) { return neg(x); }, normal(1)},
        {"add_scalar", [](Var x) { return add_scalar(x, 0.7); }, normal(1)},
        {"mul_scalar", [](Var x) { return mul_scalar(x, -1.3); }, normal(1)},
        {"transpose", [](Var x) { return transpose(x); }, normal(1)},
        {"exp", [](Var x) { return exp(x); }, normal(1)},
        {"log", [](Var x) { return log(x); }, uniform(0.2, 3)},
        {"log1p", [](Var x) { return log1p(x); }, uniform(-0.8, 3)},
        {"sqrt", [](Var x) { return sqrt(x); }, uniform(0.2, 3)},
        {"square", [](Var x) { return square(x); }, normal(1)},
        {"one_minus_square", [](Var x) { return one_minus_square(x); }, normal(1)},
        {"pow 2.5", [](Var x) { return pow(x, 2.5); }, uniform(0.2, 3)},
        {"pow -1.5", [](Var x) { return pow(x, -1.5); }, uniform(0.3, 3)},
        {"tanh", [](Var x) { return tanh(x); }, normal(1.5)},
        {"sigmoid", [](Var x) { return sigmoid(x); }, normal(3)},
        {"relu", [](Var x) { return relu(x); }, off_zero(1)},
        {"elu", [](Var x) { return elu(x); }, off_zero(1.5)},
        {"elu alpha 0.7", [](Var x) { return elu(x, 0.7); }, off_zero(1.5)},
        {"softplus", [](Var x) { return softplus(x); }, normal(4)},
        {"log_sigmoid", [](Var x) { return log_sigmoid(x); }, normal(4)},
        {"normal_cdf", [](Var x) { return normal_cdf(x); }, normal(2)},
        {"normal_quantile", [](Var x) { return normal_quantile(x); }, uniform(0.03, 0.97)},
        {"sum", [](Var x) { return sum(x); }, normal(1)},
        {"sum axis 0", [](Var x) { return sum(x, 0); }, normal(1)},
        {"sum axis 1", [](Var x) { return sum(x, 1); }, normal(1)},
        {"mean", [](Var x) { return mean(x); }, normal(1)},
        {"mean axis 0", [](Var x) { return mean(x, 0); }, normal(1)},
        {"mean axis 1", [](Var x) { return mean(x, 1); }, normal(1)},
        {"cols", [](Var x) { return cols(x, x.cols() / 2, x.cols()); }, normal(1)},
        {"rows", [](Var x) { return rows(x, x.rows() / 2, x.rows()); }, normal(1)},
        {"reshape", [](Var x) { return reshape(x, 1, x.rows() * x.cols()); }, normal(1)},
        {"concat with tanh of itself", [](Var x) { return concat({x, tanh(x)}, 0); }, normal(1)},
    };
}

using BinaryOp = std::function<Var(Var, Var)>;

std::vector<std::pair<std::string, BinaryOp>> binary_ops() {
    return {
        {"add", [](Var a, Var b) { return add(a, b); }},
        {"sub", [](Var a, Var b) { return sub(a, b); }},
        {"mul", [](Var a, Var b) { return mul(a, b); }},
        {"div", [](Var a, Var b) { return div(a, b); }},
    };
}

// Divisors: magnitude in [0.5, 2], either sign.
Array divisors(Rng& rng, Shape s) {
    Array a = rng.uniform_array(s[0], s[1], 0.5, 2.0);
    for (real& v : a)
        if (rng.uniform() < 0.5) v = -v;
    return a;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tangents)

BOOST_AUTO_TEST_CASE(unary_tangents_match_finite_differences) {
    Rng rng(201);
    for (const UnaryCase& c : unary_cases()) {
        for (int trial = 0; trial < 3; ++trial) {
            const Shape s = random_shape(rng);
            expect_tangent(c.name + " on " + shape_string(s), [&](const std::vector<Var>& v) { return c.op(v[0]); },
                           {c.input(rng, s)}, {true}, rng);
        }
    }
}

BOOST_AUTO_TEST_CASE(binary_tangents_match_finite_differences_with_broadcasting) {
    Rng rng(202);
    for (const auto& [name, op] : binary_ops()) {
        const Shape s = random_shape(rng, 2, 4);
        const std::size_t n = s[0], d = s[1];
        const std::vector<std::pair<Shape, Shape>> shapes = {
            {{n, d}, {n, d}}, {{n, d}, {1, d}}, {{1, d}, {n, d}}, {{n, d}, {n, 1}},
            {{n, d}, {1, 1}}, {{1, 1}, {n, d}}, {{n, 1}, {1, d}},
        };
        for (const auto& [sa, sb] : shapes) {
            for (const std::vector<bool>& seeded : seedings(2)) {
                expect_tangent(name + " " + shape_string(sa) + " with " + shape_string(sb) + " seeding " +
                                   (seeded[0] ? "a" : "") + (seeded[1] ? "b" : ""),
                               [&](const std::vector<Var>& v) { return op(v[0], v[1]); },
                               {rng.normal_array(sa[0], sa[1]), divisors(rng, sb)}, seeded, rng);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(matmul_and_linear_tangents) {
    Rng rng(203);
    const std::size_t n = 3, k = 4, m = 2;
    for (const std::vector<bool>& seeded : seedings(2))
        expect_tangent("dot_rows", [](const std::vector<Var>& v) { return dot_rows(v[0], v[1]); },
                       {rng.normal_array(n, k), rng.normal_array(n, k)}, seeded, rng);
    for (const std::vector<bool>& seeded : seedings(2))
        expect_tangent("tanh_jvp", [](const std::vector<Var>& v) { return tanh_jvp(v[0], v[1]); },
                       {rng.uniform_array(n, k, -1, 1), rng.normal_array(n, k)}, seeded, rng);
    for (const std::vector<bool>& seeded : seedings(2))
        expect_tangent("matmul", [](const std::vector<Var>& v) { return matmul(v[0], v[1]); },
                       {rng.normal_array(n, k), rng.normal_array(k, m)}, seeded, rng);
    for (const std::vector<bool>& seeded : seedings(3))
        expect_tangent("linear", [](const std::vector<Var>& v) { return linear(v[0], v[1], v[2]); },
                       {rng.normal_array(n, k), rng.normal_array(k, m), rng.normal_array(1, m)}, seeded, rng);
}

BOOST_AUTO_TEST_CASE(concat_and_select_tangents) {
    Rng rng(204);
    for (int axis = 0; axis < 2; ++axis) {
        const std::vector<Array> parts = axis == 0
            ? std::vector<Array>{rng.normal_array(1, 3), rng.normal_array(2, 3), rng.normal_array(3, 3)}
            : std::vector<Array>{rng.normal_array(2, 1), rng.normal_array(2, 2), rng.normal_array(2, 3)};
        for (const std::vector<bool>& seeded : seedings(3))
            expect_tangent("concat axis " + std::to_string(axis),
                           [axis](const std::vector<Var>& v) { return concat(v, axis); }, parts, seeded, rng);
    }
    Mask mask = Mask::from_shape({3, 4});
    for (auto& m : mask) m = rng.uniform() < 0.5;
    for (const std::vector<bool>& seeded : seedings(2))
        expect_tangent("select", [&](const std::vector<Var>& v) { return select(mask, v[0], v[1]); },
                       {rng.normal_array(3, 4), rng.normal_array(3, 4)}, seeded, rng);
}

BOOST_AUTO_TEST_CASE(composite_tangent_of_a_small_mlp) {
    // The dynamics of a continuous flow: z ↦ W₂ softplus(W₁ [z, t] + b₁) + b₂, tangents on z only.
    Rng rng(205);
    const Array w1 = rng.normal_array(4, 5), b1 = rng.normal_array(1, 5);
    const Array w2 = rng.normal_array(5, 3), b2 = rng.normal_array(1, 3), time = rng.normal_array(4, 1);
    expect_tangent("mlp",
                   [&](const std::vector<Var>& v) {
                       Tape& t = v[0].tape();
                       const Var h = softplus(linear(concat({v[0], t.constant(time)}, 1), t.constant(w1), t.constant(b1)));
                       return linear(elu(tanh(h)), t.constant(w2), t.constant(b2));
                   },
                   {rng.normal_array(4, 3)}, {true}, rng);
}

BOOST_AUTO_TEST_CASE(tangent_rules_are_differentiable) {
    // ∂/∂x and ∂/∂v of the recorded tangent J(x) v: checks every rule's second derivative.
    Rng rng(206);
    for (const UnaryCase& c : unary_cases()) {
        const Shape s = random_shape(rng, 2, 3);
        const GradcheckResult r = gradcheck_tangent(c.op, c.input(rng, s), rng.normal_array(s[0], s[1]));
        BOOST_TEST(r.ok, c.name << ": " << r.worst << " (error " << r.max_error << ")");
    }
    for (const auto& [name, op] : binary_ops()) {
        // Both inputs carry the tangent: x ↦ op(x, g(x)) with a second, different factor.
        const Array x = divisors(rng, {2, 3});
        const GradcheckResult r = gradcheck_tangent([&op = op](Var a) { return op(a, exp(a)); }, x, rng.normal_array(2, 3));
        BOOST_TEST(r.ok, name << ": " << r.worst << " (error " << r.max_error << ")");
    }
    const Array w = rng.normal_array(3, 3), b = rng.normal_array(1, 3);
    const GradcheckResult r = gradcheck_tangent(
        [&](Var x) {
            Tape& t = x.tape();
            return matmul(linear(x, t.constant(w), t.constant(b)), transpose(x));
        },
        rng.normal_array(2, 3), rng.normal_array(2, 3));
    BOOST_TEST(r.ok, "matmul/linear/transpose: " << r.worst << " (error " << r.max_error << ")");
    const GradcheckResult d = gradcheck_tangent([](Var a) { return dot_rows(a, tanh(a)); }, rng.normal_array(2, 3),
                                                rng.normal_array(2, 3));
    BOOST_TEST(d.ok, "dot_rows: " << d.worst << " (error " << d.max_error << ")");
    // tanh_jvp with both inputs carrying the tangent: x ↦ tanh_jvp(tanh x, x²), a third derivative
    // of tanh in the check.
    const GradcheckResult j = gradcheck_tangent([](Var a) { return tanh_jvp(tanh(a), square(a)); },
                                                rng.normal_array(2, 3), rng.normal_array(2, 3));
    BOOST_TEST(j.ok, "tanh_jvp: " << j.worst << " (error " << j.max_error << ")");
}

BOOST_AUTO_TEST_CASE(retangent_equals_a_fresh_pass_without_recording_the_ops_again) {
    // f(x) = tanh(softplus([x, c] W1 + b1) W2 + b2) ⊙ x: tangents along v1 by jvp, then along v2
    // by retangent over the recorded ops; the second equals a fresh jvp along v2, bit for bit.
    Rng rng(208);
    const Array w1 = rng.normal_array(4, 5), b1 = rng.normal_array(1, 5), w2 = rng.normal_array(5, 3);
    const Array b2 = rng.normal_array(1, 3), c = rng.normal_array(4, 1);
    auto f = [&](Var x) {
        Tape& t = x.tape();
        const Var h = softplus(linear(concat({x, t.constant(c)}, 1), t.constant(w1), t.constant(b1)));
        return mul(tanh(linear(h, t.constant(w2), t.constant(b2))), x);
    };
    const Array x = rng.normal_array(4, 3), v1 = rng.normal_array(4, 3), v2 = rng.normal_array(4, 3);
    Array fresh;
    {
        Tape t;
        fresh = jvp(t, t.variable(x), t.constant(v2), f).tangent.value();
    }
    Tape t;
    const Var xv = t.variable(x);
    const Mark start = t.mark();
    const ValueAndTangent first = jvp(t, xv, t.constant(v1), f);
    const Array along_v1 = first.tangent.value();
    const Var d2 = t.constant(v2);
    const std::size_t before = t.size();
    t.retangent(start, xv, d2);
    const Var second = t.tangent(first.value);
    BOOST_TEST(xt::amax(xt::abs(second.value() - fresh))() == 0.0);
    BOOST_TEST(xt::amax(xt::abs(first.tangent.value() - along_v1))() == 0.0);  // the first is kept
    for (std::size_t i = before; i < t.size(); ++i) {
        const std::string op = t.node(static_cast<std::uint32_t>(i)).op;
        // (concat's own tangent rule records a concat of the tangents, so it is not in the list.)
        BOOST_TEST((op != "linear" && op != "softplus" && op != "tanh"), "re-recorded " << op);
    }

    // Both tangents are differentiable: the gradient of [J v1, J v2] in x and in both directions.
    const GradcheckResult r = gradcheck(
        [&](Tape& tape, const std::vector<Var>& in) {
            const Mark m = tape.mark();
            const ValueAndTangent a = jvp(tape, in[0], in[1], f);
            tape.retangent(m, in[0], in[2]);
            return concat({a.tangent, tape.tangent(a.value)}, 1);
        },
        {x, v1, v2});
    BOOST_TEST(r.ok, "retangent: " << r.worst << " (error " << r.max_error << ")");
}

BOOST_AUTO_TEST_CASE(stop_gradient_has_a_zero_tangent) {
    Rng rng(207);
    const Array x = rng.normal_array(2, 3), v = rng.normal_array(2, 3);
    Tape t;
    const Var xv = t.variable(x);
    t.set_tangent(xv, t.constant(v));
    const Var frozen = stop_gradient(xv);
    BOOST_TEST(xt::all(xt::equal(t.tangent(frozen).value(), 0.0)));
    // The tangent of x ⊙ stop(x) treats the second factor as a constant: v ⊙ x.
    const Array expected = v * x;
    const Array got = t.tangent(mul(xv, frozen)).value();
    for (std::size_t k = 0; k < got.size(); ++k) BOOST_TEST(got.data()[k] == expected.data()[k]);
    // No tangent leaves stop_gradient, so an op without a tangent rule may follow it.
    BOOST_TEST(!t.has_tangent(frozen));
    BOOST_CHECK_NO_THROW(abs(frozen));
}

BOOST_AUTO_TEST_CASE(ops_without_a_rule_refuse_a_tangent) {
    const std::vector<std::pair<std::string, std::function<Var(Var)>>> no_rule = {
        {"abs", [](Var x) { return abs(x); }},
        {"clamp", [](Var x) { return clamp(x, -1, 1); }},
        {"logsumexp", [](Var x) { return logsumexp(x, 1); }},
        {"softmax", [](Var x) { return softmax(x, 0); }},
        {"log_softmax", [](Var x) { return log_softmax(x, 1); }},
        {"gather", [](Var x) { return gather(x, IndexArray{{1, 0}, {0, 0}}, 1); }},
    };
    for (const auto& [name, op] : no_rule) {
        Tape t;
        const Var x = t.variable(Array{{0.5, -2}, {3, 1}});
        t.set_tangent(x, t.constant(Array{{1, 0}, {0, 1}}));
        BOOST_CHECK_EXCEPTION(op(x), TapeError, [&name = name](const TapeError& e) {
            return std::string(e.what()).find(name) != std::string::npos;
        });
        // Once tangents are cleared the op runs, and records no tangent.
        t.clear_tangents();
        Var y;
        BOOST_CHECK_NO_THROW(y = op(x));
        BOOST_TEST(!t.has_tangent(y), name);
    }
}

BOOST_AUTO_TEST_SUITE_END()
