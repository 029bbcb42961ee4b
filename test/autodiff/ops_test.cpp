// Tests of every op in autodiff/ops.hpp: a gradient check (central finite differences through
// flowtape::gradcheck, tolerance 1e-6) on random shapes and inputs away from kinks, value checks
// against hand-computed references at the numerically hard points, and the errors bad shapes,
// axes and indices raise.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "flowtape.hpp"

using namespace flowtape;

namespace {

constexpr real kInf = std::numeric_limits<real>::infinity();

// A shape with lo..hi rows and lo..hi columns.
Shape random_shape(Rng& rng, std::size_t lo = 1, std::size_t hi = 4) {
    return {lo + rng.below(hi - lo + 1), lo + rng.below(hi - lo + 1)};
}

// Normal values scaled by `scale`, each at least `margin` away from every point in `kinks`, so that
// central differences of a piecewise op never straddle a kink.
Array away_from(Rng& rng, Shape s, const std::vector<real>& kinks, real scale = 1.0, real margin = 0.1) {
    Array a = Array::from_shape(s);
    for (real& v : a) {
        bool near = true;
        while (near) {
            v = scale * rng.normal();
            near = false;
            for (real k : kinks) near = near || std::abs(v - k) < margin;
        }
    }
    return a;
}

// Nonzero values of either sign, magnitude in [0.5, 2]: safe divisors.
Array divisors(Rng& rng, Shape s) {
    Array a = rng.uniform_array(s[0], s[1], 0.5, 2.0);
    for (real& v : a)
        if (rng.uniform() < 0.5) v = -v;
    return a;
}

void expect_gradient(const std::string& name, const GradcheckFn& f, std::vector<Array> inputs) {
    const GradcheckResult r = gradcheck(f, std::move(inputs));
    BOOST_TEST(r.ok, name << ": " << r.worst << " (error " << r.max_error << ")");
}

// A predicate for BOOST_CHECK_EXCEPTION: the message contains every one of `parts`.
auto message_has(std::vector<std::string> parts) {
    return [parts](const Error& e) {
        const std::string what = e.what();
        for (const std::string& p : parts)
            if (what.find(p) == std::string::npos) return false;
        return true;
    };
}

// The gradient of Σ f(x) with respect to x, from one backward sweep.
Array grad_of_sum(const std::function<Var(Var)>& f, const Array& x) {
    Tape t;
    const Var v = t.variable(x);
    t.backward(sum(f(v)));
    return t.grad(v);
}

Array row(std::initializer_list<real> values) {
    Array a = Array::from_shape({1, values.size()});
    std::copy(values.begin(), values.end(), a.begin());
    return a;
}

// Arrays in messages: "[[1, 2], [3, 4]]".
template <class T>
std::string str(const xt::xtensor<T, 2>& a) {
    std::ostringstream out;
    out << "[";
    for (std::size_t r = 0; r < a.shape()[0]; ++r) {
        out << (r ? ", [" : "[");
        for (std::size_t c = 0; c < a.shape()[1]; ++c) out << (c ? ", " : "") << a(r, c);
        out << "]";
    }
    out << "]";
    return out.str();
}

// Same shape and |a − b| ≤ tol · max(1, |b|) everywhere (tol 0: exactly equal); prints both if not.
template <class T>
boost::test_tools::predicate_result same(const xt::xtensor<T, 2>& a, const xt::xtensor<T, 2>& b, double tol = 0) {
    bool ok = a.shape() == b.shape();
    for (std::size_t k = 0; ok && k < a.size(); ++k) {
        const double x = static_cast<double>(a.data()[k]), y = static_cast<double>(b.data()[k]);
        ok = x == y || std::abs(x - y) <= tol * std::max(1.0, std::abs(y));
    }
    boost::test_tools::predicate_result result(ok);
    if (!ok) result.message() << str(a) << " != " << str(b);
    return result;
}

struct UnaryCase {
    std::string name;
    std::function<Var(Var)> op;
    std::function<Array(Rng&, Shape)> input;  // draws a valid input away from kinks
};

std::vector<UnaryCase> unary_cases() {
    auto normal = [](real scale) {
        return [scale](Rng& rng, Shape s) { return away_from(rng, s, {}, scale); };
    };
    auto uniform = [](real lo, real hi) {
        return [lo, hi](Rng& rng, Shape s) { return rng.uniform_array(s[0], s[1], lo, hi); };
    };
    auto off = [](std::vector<real> kinks, real scale) {
        return [kinks, scale](Rng& rng, Shape s) { return away_from(rng, s, kinks, scale); };
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
        {"pow 3 (negative bases)", [](Var x) { return pow(x, 3.0); }, normal(1)},
        {"abs", [](Var x) { return abs(x); }, off({0}, 1)},
        {"tanh", [](Var x) { return tanh(x); }, normal(1.5)},
        {"sigmoid", [](Var x) { return sigmoid(x); }, normal(3)},
        {"relu", [](Var x) { return relu(x); }, off({0}, 1)},
        {"elu", [](Var x) { return elu(x); }, off({0}, 1.5)},
        {"elu alpha 0.7", [](Var x) { return elu(x, 0.7); }, off({0}, 1.5)},
        {"softplus", [](Var x) { return softplus(x); }, normal(5)},
        {"log_sigmoid", [](Var x) { return log_sigmoid(x); }, normal(5)},
        {"normal_cdf", [](Var x) { return normal_cdf(x); }, normal(2)},
        {"normal_quantile", [](Var x) { return normal_quantile(x); }, uniform(0.03, 0.97)},
        {"clamp", [](Var x) { return clamp(x, -0.5, 0.8); }, off({-0.5, 0.8}, 1.5)},
        {"sum", [](Var x) { return sum(x); }, normal(1)},
        {"sum axis 0", [](Var x) { return sum(x, 0); }, normal(1)},
        {"sum axis 1", [](Var x) { return sum(x, 1); }, normal(1)},
        {"mean", [](Var x) { return mean(x); }, normal(1)},
        {"mean axis 0", [](Var x) { return mean(x, 0); }, normal(1)},
        {"mean axis 1", [](Var x) { return mean(x, 1); }, normal(1)},
        {"logsumexp axis 0", [](Var x) { return logsumexp(x, 0); }, normal(2)},
        {"logsumexp axis 1", [](Var x) { return logsumexp(x, 1); }, normal(2)},
        {"softmax axis 0", [](Var x) { return softmax(x, 0); }, normal(2)},
        {"softmax axis 1", [](Var x) { return softmax(x, 1); }, normal(2)},
        {"softmax axis 0 T=0.5", [](Var x) { return softmax(x, 0, 0.5); }, normal(1)},
        {"softmax axis 1 T=2.5", [](Var x) { return softmax(x, 1, 2.5); }, normal(2)},
        {"log_softmax axis 0", [](Var x) { return log_softmax(x, 0); }, normal(2)},
        {"log_softmax axis 1", [](Var x) { return log_softmax(x, 1); }, normal(2)},
        {"log_softmax axis 0 T=2.5", [](Var x) { return log_softmax(x, 0, 2.5); }, normal(2)},
        {"log_softmax axis 1 T=0.5", [](Var x) { return log_softmax(x, 1, 0.5); }, normal(1)},
        {"reshape", [](Var x) { return reshape(x, 1, x.rows() * x.cols()); }, normal(1)},
        {"reshape to a column", [](Var x) { return reshape(x, x.rows() * x.cols(), 1); }, normal(1)},
        {"cols", [](Var x) { return cols(x, x.cols() / 2, x.cols()); }, normal(1)},
        {"rows", [](Var x) { return rows(x, 0, (x.rows() + 1) / 2); }, normal(1)},
        {"concat of x with itself", [](Var x) { return concat({x, x}, 1); }, normal(1)},
    };
}

using BinaryOp = std::function<Var(Var, Var)>;

}  // namespace

BOOST_AUTO_TEST_SUITE(ops)

// ---------------------------------------------------------------- gradient checks

BOOST_AUTO_TEST_CASE(unary_ops_gradcheck) {
    Rng rng(101);
    for (const UnaryCase& c : unary_cases()) {
        for (int trial = 0; trial < 3; ++trial) {
            const Shape s = random_shape(rng);
            expect_gradient(c.name + " on " + shape_string(s), [&](Tape&, const std::vector<Var>& v) { return c.op(v[0]); },
                            {c.input(rng, s)});
        }
    }
}

BOOST_AUTO_TEST_CASE(binary_ops_gradcheck_with_broadcasting) {
    Rng rng(102);
    const std::vector<std::pair<std::string, BinaryOp>> binary = {
        {"add", [](Var a, Var b) { return add(a, b); }},
        {"sub", [](Var a, Var b) { return sub(a, b); }},
        {"mul", [](Var a, Var b) { return mul(a, b); }},
        {"div", [](Var a, Var b) { return div(a, b); }},
    };
    for (const auto& [name, op] : binary) {
        for (int trial = 0; trial < 2; ++trial) {
            const Shape s = random_shape(rng, 2, 4);
            const std::size_t n = s[0], d = s[1];
            // Same shape, then a row, a column and a scalar on either side, then row ⊕ column.
            const std::vector<std::pair<Shape, Shape>> shapes = {
                {{n, d}, {n, d}}, {{n, d}, {1, d}}, {{1, d}, {n, d}}, {{n, d}, {n, 1}},
                {{n, 1}, {n, d}}, {{n, d}, {1, 1}}, {{1, 1}, {n, d}}, {{n, 1}, {1, d}},
            };
            for (const auto& [sa, sb] : shapes) {
                expect_gradient(name + " " + shape_string(sa) + " with " + shape_string(sb),
                                [&](Tape&, const std::vector<Var>& v) { return op(v[0], v[1]); },
                                {rng.normal_array(sa[0], sa[1]), divisors(rng, sb)});
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(dot_rows_gradcheck_and_value) {
    Rng rng(107);
    for (int trial = 0; trial < 3; ++trial) {
        const Shape s = random_shape(rng);
        expect_gradient("dot_rows on " + shape_string(s), [](Tape&, const std::vector<Var>& v) { return dot_rows(v[0], v[1]); },
                        {rng.normal_array(s[0], s[1]), rng.normal_array(s[0], s[1])});
        // The value of sum(mul(a, b), 1), up to the order of the additions.
        Tape t;
        const Var a = t.constant(rng.normal_array(s[0], s[1] + 13)), b = t.constant(rng.normal_array(s[0], s[1] + 13));
        BOOST_TEST(same(dot_rows(a, b).value(), sum(mul(a, b), 1).value(), 1e-14));
    }
    // The same input on both sides: ∂a = 2 g ⊙ a.
    expect_gradient("dot_rows of x with itself", [](Tape&, const std::vector<Var>& v) { return dot_rows(v[0], v[0]); },
                    {rng.normal_array(3, 4)});
}

BOOST_AUTO_TEST_CASE(tanh_jvp_gradcheck_and_value) {
    Rng rng(108);
    for (int trial = 0; trial < 3; ++trial) {
        const Shape s = random_shape(rng);
        // y in (−1, 1) as tanh's outputs are, though the rule holds for any y.
        expect_gradient("tanh_jvp on " + shape_string(s), [](Tape&, const std::vector<Var>& v) { return tanh_jvp(v[0], v[1]); },
                        {rng.uniform_array(s[0], s[1], -0.99, 0.99), rng.normal_array(s[0], s[1])});
        Tape t;
        const Var y = t.constant(rng.uniform_array(s[0], s[1], -1, 1)), v = t.constant(rng.normal_array(s[0], s[1]));
        BOOST_TEST(same(tanh_jvp(y, v).value(), mul(one_minus_square(y), v).value()));
    }
}

BOOST_AUTO_TEST_CASE(operators_gradcheck) {
    Rng rng(103);
    const Shape s = random_shape(rng, 2, 4);
    expect_gradient("operators",
                    [](Tape&, const std::vector<Var>& v) {
                        return (v[0] + v[1]) * v[0] - v[1] / v[0] + 2.0 * v[0] - 1.5 + (3.0 - v[1]) / 4.0 - (-v[0]);
                    },
                    {divisors(rng, s), rng.normal_array(s[0], s[1])});
}

BOOST_AUTO_TEST_CASE(matmul_transpose_linear_gradcheck) {
    Rng rng(104);
    for (int trial = 0; trial < 3; ++trial) {
        const std::size_t n = 1 + rng.below(4), k = 1 + rng.below(4), m = 1 + rng.below(4);
        expect_gradient("matmul", [](Tape&, const std::vector<Var>& v) { return matmul(v[0], v[1]); },
                        {rng.normal_array(n, k), rng.normal_array(k, m)});
        expect_gradient("matmul with a transpose", [](Tape&, const std::vector<Var>& v) { return matmul(transpose(v[0]), v[1]); },
                        {rng.normal_array(k, n), rng.normal_array(k, m)});
        expect_gradient("linear", [](Tape&, const std::vector<Var>& v) { return linear(v[0], v[1], v[2]); },
                        {rng.normal_array(n, k), rng.normal_array(k, m), rng.normal_array(1, m)});
    }
}

BOOST_AUTO_TEST_CASE(concat_gradcheck_both_axes) {
    Rng rng(105);
    for (int axis = 0; axis < 2; ++axis) {
        for (std::size_t parts : {1, 2, 4}) {
            const std::size_t kept = 1 + rng.below(3);
            std::vector<Array> inputs;
            for (std::size_t k = 0; k < parts; ++k) {
                const std::size_t along = 1 + rng.below(3);  // parts differ along the concatenated axis
                inputs.push_back(axis == 0 ? rng.normal_array(along, kept) : rng.normal_array(kept, along));
            }
            expect_gradient("concat axis " + std::to_string(axis) + " of " + std::to_string(parts) + " parts",
                            [axis](Tape&, const std::vector<Var>& v) { return concat(v, axis); }, inputs);
        }
    }
}

BOOST_AUTO_TEST_CASE(gather_gradcheck_with_repeated_indices) {
    Rng rng(106);
    // axis 1: 3×4 x, each row picks 5 columns (so some repeat).
    IndexArray by_col = {{0, 0, 3, 1, 3}, {2, 2, 2, 0, 1}, {3, 1, 0, 0, 0}};
    expect_gradient("gather axis 1", [&](Tape&, const std::vector<Var>& v) { return gather(v[0], by_col, 1); },
                    {rng.normal_array(3, 4)});
    // axis 0: 3×2 x, 4 output rows picking rows per column.
    IndexArray by_row = {{0, 2}, {0, 2}, {1, 0}, {2, 2}};
    expect_gradient("gather axis 0", [&](Tape&, const std::vector<Var>& v) { return gather(v[0], by_row, 0); },
                    {rng.normal_array(3, 2)});
}

BOOST_AUTO_TEST_CASE(where_gradcheck) {
    Rng rng(107);
    for (int trial = 0; trial < 3; ++trial) {
        const Shape s = random_shape(rng);
        Mask mask = Mask::from_shape(s);
        for (auto& m : mask) m = rng.uniform() < 0.5;
        expect_gradient("select", [&](Tape&, const std::vector<Var>& v) { return select(mask, v[0], v[1]); },
                        {rng.normal_array(s[0], s[1]), rng.normal_array(s[0], s[1])});
    }
}

BOOST_AUTO_TEST_CASE(cols_rows_gradcheck_every_range) {
    Rng rng(108);
    const Array x = rng.normal_array(3, 4);
    for (std::size_t b = 0; b <= 4; ++b)
        for (std::size_t e = b + 1; e <= 4; ++e)
            expect_gradient("cols " + std::to_string(b) + ".." + std::to_string(e),
                            [=](Tape&, const std::vector<Var>& v) { return cols(v[0], b, e); }, {x});
    for (std::size_t b = 0; b <= 3; ++b)
        for (std::size_t e = b + 1; e <= 3; ++e)
            expect_gradient("rows " + std::to_string(b) + ".." + std::to_string(e),
                            [=](Tape&, const std::vector<Var>& v) { return rows(v[0], b, e); }, {x});
}

BOOST_AUTO_TEST_CASE(composite_gradcheck) {
    // Ops feeding each other, with a node used twice, so gradients accumulate from several users.
    Rng rng(109);
    expect_gradient("composite",
                    [](Tape&, const std::vector<Var>& v) {
                        const Var h = tanh(linear(v[0], v[1], v[2]));
                        const Var both = concat({h, softplus(h)}, 1);
                        return add(logsumexp(both, 1), mul(mean(cols(both, 0, 2), 1), sum(log_softmax(h, 1), 1)));
                    },
                    {rng.normal_array(4, 3), rng.normal_array(3, 3), rng.normal_array(1, 3)});
}

// ---------------------------------------------------------------- values at the hard points

BOOST_AUTO_TEST_CASE(logsumexp_of_huge_and_infinite_values) {
    Tape t;
    const Var x = t.variable(Array{{1000, 1000}, {-1000, 0}, {-kInf, -kInf}, {-kInf, 2}});
    const Var y = logsumexp(x, 1);
    BOOST_TEST(y.value()(0, 0) == 1000 + std::log(2.0), boost::test_tools::tolerance(1e-15));
    BOOST_TEST(y.value()(1, 0) == std::log1p(std::exp(-1000.0)), boost::test_tools::tolerance(1e-15));
    BOOST_TEST(y.value()(2, 0) == -kInf);
    BOOST_TEST(y.value()(3, 0) == 2.0);
    t.backward(y, xt::ones<real>({4, 1}));
    const Array& g = t.grad(x);
    // softmax of each row; the row of −∞ gets zeros rather than NaN.
    // (1e-12: y = 1000 + log 2 is stored to the ulp of 1000, about 1e-13, and exp(x − y) inherits it.)
    BOOST_TEST(same(g, Array{{0.5, 0.5}, {0, 1}, {0, 0}, {0, 1}}, 1e-12));
}

BOOST_AUTO_TEST_CASE(logsumexp_gradient_drops_negligible_weights) {
    // Weights below e^-690 are exact zeros in the gradient (no subnormal numbers reach the sweep);
    // just above that they are kept, and the rest of the line is unchanged.
    Tape t;
    const Var x = t.variable(Array{{0.0, -1000.0, -687.0, std::log(3.0)}});  // y = log 4: −687 − y ≈ −688.4
    t.backward(logsumexp(x, 1));
    const Array& g = t.grad(x);
    const real total = 1 + 3 + std::exp(-687.0);
    BOOST_TEST(g(0, 1) == 0.0);
    BOOST_TEST(g(0, 2) > 0.0);
    BOOST_TEST(std::fpclassify(g(0, 2)) == FP_NORMAL);
    BOOST_TEST(g(0, 0) == 1 / total, boost::test_tools::tolerance(1e-15));
    BOOST_TEST(g(0, 3) == 3 / total, boost::test_tools::tolerance(1e-15));
}

BOOST_AUTO_TEST_CASE(logsumexp_along_columns_and_without_nan_for_finite_input) {
    Tape t;
    const Var x = t.constant(Array{{1000, -1e300}, {1000, 1e300}});
    const Array& y = logsumexp(x, 0).value();
    BOOST_TEST(y(0, 0) == 1000 + std::log(2.0), boost::test_tools::tolerance(1e-15));
    BOOST_TEST(y(0, 1) == 1e300, boost::test_tools::tolerance(1e-15));
    // A NaN in the input shows in the output (it is not hidden by the max shift).
    const Array& z = logsumexp(t.constant(Array{{-kInf, std::nan("")}}), 1).value();
    BOOST_TEST(std::isnan(z(0, 0)));
}

BOOST_AUTO_TEST_CASE(softplus_and_log_sigmoid_at_extremes) {
    const Array x = row({-1000, -40, 0, 40, 1000});
    Tape t;
    const Var v = t.variable(x);
    const Array& sp = softplus(v).value();
    BOOST_TEST(sp(0, 0) == 0.0);
    BOOST_TEST(sp(0, 1) == std::exp(-40.0), boost::test_tools::tolerance(1e-14));
    BOOST_TEST(sp(0, 2) == std::log(2.0), boost::test_tools::tolerance(1e-15));
    BOOST_TEST(sp(0, 3) == 40.0, boost::test_tools::tolerance(1e-15));
    BOOST_TEST(sp(0, 4) == 1000.0);
    const Array& ls = log_sigmoid(v).value();
    BOOST_TEST(ls(0, 0) == -1000.0);
    BOOST_TEST(ls(0, 2) == -std::log(2.0), boost::test_tools::tolerance(1e-15));
    BOOST_TEST(ls(0, 4) == 0.0);

    // Gradients σ(x) and σ(−x): finite, and exactly 0 or 1 at ±1000.
    const Array gs = grad_of_sum([](Var a) { return softplus(a); }, x);
    const Array gl = grad_of_sum([](Var a) { return log_sigmoid(a); }, x);
    const Array gsig = grad_of_sum([](Var a) { return sigmoid(a); }, x);
    for (std::size_t k = 0; k < x.size(); ++k) {
        BOOST_TEST(std::isfinite(gs.data()[k]));
        BOOST_TEST(std::isfinite(gl.data()[k]));
        BOOST_TEST(std::isfinite(gsig.data()[k]));
    }
    BOOST_TEST(gs(0, 0) == 0.0);
    BOOST_TEST(gs(0, 2) == 0.5);
    BOOST_TEST(gs(0, 4) == 1.0);
    BOOST_TEST(gl(0, 0) == 1.0);
    BOOST_TEST(gl(0, 4) == 0.0);
    BOOST_TEST(gsig(0, 0) == 0.0);
    BOOST_TEST(gsig(0, 2) == 0.25);
}

BOOST_AUTO_TEST_CASE(softmax_normalises_and_respects_temperature) {
    Rng rng(110);
    const Array x = rng.normal_array(3, 5) * 3.0;
    Tape t;
    const Var v = t.constant(x);
    for (int axis = 0; axis < 2; ++axis) {
        const Array& p = softmax(v, axis).value();
        const std::size_t lines = axis == 1 ? p.shape()[0] : p.shape()[1];
        for (std::size_t l = 0; l < lines; ++l) {
            const real total = axis == 1 ? xt::sum(xt::row(p, l))() : xt::sum(xt::col(p, l))();
            BOOST_TEST(total == 1.0, boost::test_tools::tolerance(1e-14));
        }
        // softmax(x, T) = softmax(x / T); log_softmax = log softmax.
        const Array& hot = softmax(v, axis, 0.25).value();
        const Array& scaled = softmax(mul_scalar(v, 4.0), axis).value();
        const Array& logp = log_softmax(v, axis, 0.25).value();
        for (std::size_t k = 0; k < x.size(); ++k) {
            BOOST_TEST(hot.data()[k] == scaled.data()[k], boost::test_tools::tolerance(1e-13));
            // Absolute for log-probabilities near 0, where log(p) of a rounded p ≈ 1 is itself only
            // accurate to about 1e-16 absolute.
            const real a = logp.data()[k], b = std::log(hot.data()[k]);
            BOOST_TEST(std::abs(a - b) <= 1e-12 * std::max(1.0, std::abs(b)), a << " vs log softmax " << b);
        }
    }
    // A huge gap gives exactly one-hot, with no overflow.
    const Array& p = softmax(t.constant(row({1000, 0, -1000})), 1).value();
    BOOST_TEST(p(0, 0) == 1.0);
    BOOST_TEST(p(0, 1) == 0.0);
    const Array& lp = log_softmax(t.constant(row({1000, 0})), 1).value();
    BOOST_TEST(lp(0, 0) == 0.0);
    BOOST_TEST(lp(0, 1) == -1000.0);
}

BOOST_AUTO_TEST_CASE(elementwise_values) {
    Tape t;
    const Var x = t.constant(row({-1, 0, 2}));
    const Array& e = elu(x, 0.5).value();
    BOOST_TEST(e(0, 0) == 0.5 * (std::exp(-1.0) - 1), boost::test_tools::tolerance(1e-15));
    BOOST_TEST(e(0, 1) == 0.0);
    BOOST_TEST(e(0, 2) == 2.0);
    const Array& c = clamp(x, -0.5, 1).value();
    BOOST_TEST(c(0, 0) == -0.5);
    BOOST_TEST(c(0, 1) == 0.0);
    BOOST_TEST(c(0, 2) == 1.0);
    const Array& r = relu(x).value();
    BOOST_TEST(r(0, 0) == 0.0);
    BOOST_TEST(r(0, 2) == 2.0);
    BOOST_TEST(pow(x, 3.0).value()(0, 0) == -1.0);
    BOOST_TEST(mean(t.constant(Array{{1, 2}, {3, 6}})).item() == 3.0);
    BOOST_TEST(same(sum(t.constant(Array{{1, 2}, {3, 6}}), 0).value(), Array{{4, 8}}));
    BOOST_TEST(same(mean(t.constant(Array{{1, 2}, {3, 6}}), 1).value(), Array{{1.5}, {4.5}}));
}

BOOST_AUTO_TEST_CASE(gradients_at_kinks) {
    // relu and abs pass 0 at 0; clamp passes at its bounds (as PyTorch) and blocks outside.
    const Array x = row({-1, 0, 1});
    BOOST_TEST(same(grad_of_sum([](Var a) { return relu(a); }, x), row({0, 0, 1})));
    BOOST_TEST(same(grad_of_sum([](Var a) { return abs(a); }, x), row({-1, 0, 1})));
    const Array bounds = row({-2, -1, 0, 1, 2});
    BOOST_TEST(same(grad_of_sum([](Var a) { return clamp(a, -1, 1); }, bounds), row({0, 1, 1, 1, 0})));
    BOOST_TEST(same(grad_of_sum([](Var a) { return elu(a, 2.0); }, row({-1, 1})), row({2 * std::exp(-1.0), 1}), 1e-15));
}

BOOST_AUTO_TEST_CASE(out_of_domain_gives_nan_and_anomaly_mode_reports_it) {
    Tape t;
    const Var x = t.variable(row({-1, 4}));
    const Array& s = sqrt(x).value();
    BOOST_TEST(std::isnan(s(0, 0)));
    BOOST_TEST(s(0, 1) == 2.0);
    BOOST_TEST(std::isnan(log(x).value()(0, 0)));
    t.set_anomaly_mode(true);
    BOOST_CHECK_EXCEPTION(sqrt(x), NonFiniteError, message_has({"sqrt"}));
    BOOST_CHECK_EXCEPTION(log(x), NonFiniteError, message_has({"log"}));
}

BOOST_AUTO_TEST_CASE(gather_values_and_scattered_gradient) {
    Tape t;
    const Var x = t.variable(Array{{10, 11, 12}, {20, 21, 22}});
    const Var by_col = gather(x, IndexArray{{2, 0, 0}, {1, 1, 2}}, 1);
    BOOST_TEST(same(by_col.value(), Array{{12, 10, 10}, {21, 21, 22}}));
    const Var by_row = gather(x, IndexArray{{1, 0, 1}, {1, 1, 0}, {0, 0, 0}}, 0);
    BOOST_TEST(same(by_row.value(), Array{{20, 11, 22}, {20, 21, 12}, {10, 11, 12}}));
    t.backward(add(sum(by_col), sum(by_row)));
    // Each entry's gradient counts how often it was picked, over both gathers.
    BOOST_TEST(same(t.grad(x), Array{{2 + 1, 0 + 2, 1 + 2}, {0 + 2, 2 + 1, 1 + 1}}));
}

BOOST_AUTO_TEST_CASE(concat_cols_rows_reshape_values) {
    Tape t;
    const Var a = t.constant(Array{{1, 2}, {3, 4}});
    const Var b = t.constant(Array{{5}, {6}});
    BOOST_TEST(same(concat({a, b}, 1).value(), Array{{1, 2, 5}, {3, 4, 6}}));
    BOOST_TEST(same(concat({a, transpose(b)}, 0).value(), Array{{1, 2}, {3, 4}, {5, 6}}));
    BOOST_TEST(same(concat({a}, 0).value(), a.value()));
    BOOST_TEST(same(cols(a, 1, 2).value(), Array{{2}, {4}}));
    BOOST_TEST(same(rows(a, 1, 2).value(), Array{{3, 4}}));
    BOOST_TEST(cols(a, 1, 1).value().size() == 0u);
    BOOST_TEST(same(reshape(a, 1, 4).value(), Array{{1, 2, 3, 4}}));
    BOOST_TEST(same(reshape(a, 4, 1).value(), Array{{1}, {2}, {3}, {4}}));
    Mask m = {{true, false}, {false, true}};
    BOOST_TEST(same(select(m, a, neg(a)).value(), Array{{1, -2}, {-3, 4}}));
}

BOOST_AUTO_TEST_CASE(stop_gradient_blocks_the_gradient) {
    Tape t;
    const Var x = t.variable(row({1.5, -2}));
    const Var y = stop_gradient(x);
    BOOST_TEST(same(y.value(), x.value()));
    // d/dx of x ⊙ stop(x) treats the second factor as a constant: the gradient is x, not 2x.
    t.backward(sum(mul(x, y)));
    BOOST_TEST(same(t.grad(x), x.value()));
    BOOST_TEST(same(t.grad(y), row({0, 0})));
}

BOOST_AUTO_TEST_CASE(searchsorted_bins) {
    const Array edges = row({0, 1, 2, 3});
    const Array values = row({-5, 0, 0.5, 1, 2.999, 3, 7, std::nan("")});
    BOOST_TEST(same(searchsorted(edges, values), IndexArray{{0, 0, 0, 1, 2, 2, 2, 0}}));
    // One edges row per values row; a repeated edge makes an empty bin that nothing lands in.
    const Array per_row = {{0, 1, 2, 3}, {-10, 0, 0, 5}};
    const Array v = {{1.5, 0.2, -3}, {-5, 0, 5}};
    BOOST_TEST(same(searchsorted(per_row, v), IndexArray{{1, 0, 0}, {0, 2, 2}}));
    // The single row of edges is used for every row of values.
    BOOST_TEST(same(searchsorted(edges, Array{{0.5}, {2.5}}), IndexArray{{0}, {2}}));
}

// ---------------------------------------------------------------- errors

BOOST_AUTO_TEST_CASE(shape_mismatch_names_op_and_shapes) {
    Tape t;
    const Var a = t.variable(xt::zeros<real>({3, 4}));
    const Var b = t.variable(xt::zeros<real>({2, 4}));
    const std::vector<std::pair<std::string, BinaryOp>> binary = {
        {"add", [](Var p, Var q) { return add(p, q); }},
        {"sub", [](Var p, Var q) { return sub(p, q); }},
        {"mul", [](Var p, Var q) { return mul(p, q); }},
        {"div", [](Var p, Var q) { return div(p, q); }},
    };
    for (const auto& [name, op] : binary)
        BOOST_CHECK_EXCEPTION(op(a, b), ShapeError, message_has({name, "3\u00d74", "2\u00d74"}));
    BOOST_CHECK_EXCEPTION(matmul(a, b), ShapeError, message_has({"matmul", "3\u00d74", "2\u00d74"}));
    BOOST_CHECK_EXCEPTION(dot_rows(a, b), ShapeError, message_has({"dot_rows", "3\u00d74", "2\u00d74"}));
    BOOST_CHECK_EXCEPTION(tanh_jvp(a, b), ShapeError, message_has({"tanh_jvp", "3\u00d74", "2\u00d74"}));
    BOOST_CHECK_EXCEPTION(select(Mask::from_shape({3, 4}), a, b), ShapeError, message_has({"select", "3\u00d74", "2\u00d74"}));
    BOOST_CHECK_EXCEPTION(concat({a, b}, 1), ShapeError, message_has({"concat", "3\u00d74", "2\u00d74"}));
    BOOST_CHECK_EXCEPTION(linear(a, t.variable(xt::zeros<real>({4, 2})), b), ShapeError,
                          message_has({"linear", "2\u00d74"}));
    BOOST_CHECK_EXCEPTION(gather(a, IndexArray::from_shape({2, 1}), 1), ShapeError,
                          message_has({"gather", "3\u00d74", "2\u00d71"}));
    BOOST_CHECK_EXCEPTION(cols(a, 2, 5), ShapeError, message_has({"cols", "3\u00d74"}));
    BOOST_CHECK_EXCEPTION(cols(a, 3, 2), ShapeError, message_has({"cols", "3\u00d74"}));
    BOOST_CHECK_EXCEPTION(rows(a, 0, 4), ShapeError, message_has({"rows", "3\u00d74"}));
    BOOST_CHECK_EXCEPTION(reshape(a, 5, 2), ShapeError, message_has({"reshape", "3\u00d74", "5\u00d72"}));
    BOOST_CHECK_EXCEPTION(searchsorted(Array::from_shape({2, 3}), Array::from_shape({3, 1})), ShapeError,
                          message_has({"searchsorted", "2\u00d73", "3\u00d71"}));
}

BOOST_AUTO_TEST_CASE(empty_reductions_throw) {
    Tape t;
    const Var none = t.variable(xt::zeros<real>({0, 3}));
    BOOST_CHECK_EXCEPTION(mean(none), ValueError, message_has({"mean", "0\u00d73"}));
    BOOST_CHECK_EXCEPTION(mean(none, 0), ValueError, message_has({"mean", "0\u00d73"}));
    const Var no_cols = t.variable(xt::zeros<real>({3, 0}));
    BOOST_CHECK_EXCEPTION(logsumexp(no_cols, 1), ValueError, message_has({"logsumexp", "3\u00d70"}));
    BOOST_CHECK_EXCEPTION(softmax(no_cols, 1), ValueError, message_has({"softmax", "3\u00d70"}));
    BOOST_CHECK_EXCEPTION(log_softmax(no_cols, 1), ValueError, message_has({"log_softmax", "3\u00d70"}));
    // Reducing over the axis that is not empty is fine; sum of nothing is 0.
    BOOST_TEST(mean(none, 1).value().size() == 0u);
    BOOST_TEST(sum(none).item() == 0.0);
}

BOOST_AUTO_TEST_CASE(bad_axes_throw) {
    Tape t;
    const Var x = t.variable(xt::ones<real>({2, 3}));
    BOOST_CHECK_EXCEPTION(sum(x, 2), ValueError, message_has({"sum", "axis"}));
    BOOST_CHECK_EXCEPTION(mean(x, -1), ValueError, message_has({"mean", "axis"}));
    BOOST_CHECK_EXCEPTION(logsumexp(x, 2), ValueError, message_has({"logsumexp", "axis"}));
    BOOST_CHECK_EXCEPTION(softmax(x, 3), ValueError, message_has({"softmax", "axis"}));
    BOOST_CHECK_EXCEPTION(log_softmax(x, -2), ValueError, message_has({"log_softmax", "axis"}));
    BOOST_CHECK_EXCEPTION(concat({x, x}, 2), ValueError, message_has({"concat", "axis"}));
    BOOST_CHECK_EXCEPTION(gather(x, IndexArray::from_shape({2, 1}), 2), ValueError, message_has({"gather", "axis"}));
}

BOOST_AUTO_TEST_CASE(bad_values_throw) {
    Tape t;
    const Var x = t.variable(xt::ones<real>({2, 3}));
    BOOST_CHECK_EXCEPTION(gather(x, IndexArray{{0, 3}, {1, 2}}, 1), ValueError, message_has({"gather", "3", "2\u00d73"}));
    BOOST_CHECK_EXCEPTION(gather(x, IndexArray{{0, 1}, {-1, 2}}, 1), ValueError, message_has({"gather", "-1"}));
    BOOST_CHECK_EXCEPTION(gather(x, IndexArray{{2, 0, 0}}, 0), ValueError, message_has({"gather", "2\u00d73"}));
    BOOST_CHECK_EXCEPTION(softmax(x, 1, 0.0), ValueError, message_has({"softmax", "temperature"}));
    BOOST_CHECK_EXCEPTION(log_softmax(x, 1, -1.0), ValueError, message_has({"log_softmax", "temperature"}));
    BOOST_CHECK_EXCEPTION(clamp(x, 1.0, -1.0), ValueError, message_has({"clamp"}));
    BOOST_CHECK_EXCEPTION(concat({}, 0), ValueError, message_has({"concat"}));
    BOOST_CHECK_EXCEPTION(searchsorted(row({0, 2, 1}), row({0.5})), ValueError, message_has({"searchsorted", "ascending"}));
    BOOST_CHECK_EXCEPTION(searchsorted(row({0}), row({0.5})), ValueError, message_has({"searchsorted", "edges"}));
    // A failed check leaves nothing half-made: the tape can go on.
    BOOST_TEST(same(gather(x, IndexArray{{1}, {2}}, 1).value(), Array{{1}, {1}}));
}

BOOST_AUTO_TEST_SUITE_END()
