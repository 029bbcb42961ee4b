// Tests of model files: load(save(m)) gives bit-identical parameters, buffers and log_prob for every
// kind of distribution and transform we can build (Gaussians, mixtures, MAF with permutations,
// ActNorm and BatchNorm, RealNVP, both spline flows, a conditional flow, a flow on a flow);
// doubles survive the text round trip bit for bit; every kind of corrupt file gives an IoError that
// names the file and the field; writes are atomic.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "flows/builders.hpp"
#include "flows/transforms/nsf.hpp"
#include "flowtape.hpp"

using namespace flowtape;
namespace fs = std::filesystem;

namespace {

// A fresh directory for one test's files, removed at the end.
struct TempDir {
    fs::path path;
    TempDir() {
        static int counter = 0;
        path = fs::temp_directory_path() /
               ("flowtape-model-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        fs::create_directories(path);
    }
    ~TempDir() { fs::remove_all(path); }
    std::string file(const std::string& name) const { return (path / name).string(); }
};

struct ModelCase {
    std::string name;
    std::function<DistributionPtr(Rng&)> make;
    std::size_t context = 0;
};

void perturb_parameters(Distribution& m, Rng& rng) {
    const ParameterList params = m.parameters();
    for (const NamedParameter& p : params.items())
        for (real& v : p.parameter->value()) v += 0.3 * rng.normal();
}

DistributionPtr flow_on(DistributionPtr base, TransformPtr t) {
    std::vector<TransformPtr> ts;
    ts.push_back(std::move(t));
    return std::make_unique<Flow>(std::move(base), std::move(ts));
}

DistributionPtr random_gaussian(Rng& r, bool learnable) {
    return std::make_unique<DiagonalGaussian>(r.normal_array(1, 3), r.normal_array(1, 3), learnable);
}

std::vector<ModelCase> all_models() {
    FlowSpec maf;
    maf.dim = 3;
    maf.layers = 2;
    maf.hidden = {8, 8};
    maf.permutation = "random";
    maf.actnorm = true;
    maf.batch_norm = true;
    maf.base = "diagonal_gaussian";
    FlowSpec conditional = maf;
    conditional.context = 2;
    conditional.batch_norm = false;
    FlowSpec realnvp = maf;
    realnvp.batch_norm = false;
    return {
        {"standard_normal", [](Rng&) { return DistributionPtr(std::make_unique<StandardNormal>(3)); }},
        {"diagonal_gaussian learnable",
         [](Rng& r) { return random_gaussian(r, true); }},
        {"diagonal_gaussian fixed",
         [](Rng& r) { return random_gaussian(r, false); }},
        {"gmm",
         [](Rng& r) {
             return DistributionPtr(std::make_unique<GaussianMixture>(r.normal_array(4, 3), r.normal_array(4, 3) * 0.3,
                                                                      r.normal_array(1, 4)));
         }},
        {"gmm partly fixed",
         [](Rng& r) {
             GmmLearnable l;
             l.scales = false;
             l.weights = false;
             return DistributionPtr(std::make_unique<GaussianMixture>(r.normal_array(2, 3), r.normal_array(2, 3) * 0.3,
                                                                      r.normal_array(1, 2), l));
         }},
        {"flow without transforms",
         [](Rng& r) {
             return DistributionPtr(std::make_unique<Flow>(
                 std::make_unique<GaussianMixture>(r.normal_array(2, 3), r.normal_array(2, 3) * 0.3, r.normal_array(1, 2)),
                 std::vector<TransformPtr>{}));
         }},
        {"maf + permutation + actnorm + batchnorm", [maf](Rng& r) { return make_maf_flow(maf, r); }},
        {"conditional maf", [conditional](Rng& r) { return make_maf_flow(conditional, r); }, 2},
        {"realnvp + actnorm", [realnvp](Rng& r) { return make_realnvp_flow(realnvp, r); }},
        {"nsf on a gmm",
         [](Rng& r) {
             SplineAutoregressiveConfig c;
             c.dim = 3;
             c.bins = 5;
             c.hidden = {8, 8};
             c.ordering = Ordering::random;
             return flow_on(std::make_unique<GaussianMixture>(r.normal_array(2, 3), r.normal_array(2, 3) * 0.3,
                                                              r.normal_array(1, 2)),
                            std::make_unique<SplineAutoregressive>(c, r));
         }},
        {"nsf_coupling",
         [](Rng& r) {
             SplineCouplingConfig c;
             c.dim = 3;
             c.bins = 4;
             c.hidden = {8};
             c.flip = true;
             return flow_on(std::make_unique<StandardNormal>(3), std::make_unique<SplineCoupling>(c, r));
         }},
        {"flow on a flow",
         [maf](Rng& r) {
             FlowSpec inner = maf;
             inner.batch_norm = false;
             inner.actnorm = false;
             return flow_on(make_maf_flow(inner, r), Permutation::reverse(3));
         }},
        {"mixture (fixed weights) of a standardized maf and a gmm",
         [maf](Rng& r) {
             FlowSpec piece = maf;
             piece.batch_norm = false;
             piece.standardize_mean = Array{{1.0, -2.0, 0.5}};
             piece.standardize_scale = Array{{0.5, 2.0, 1.5}};
             std::vector<DistributionPtr> pieces;
             pieces.push_back(make_maf_flow(piece, r));
             pieces.push_back(std::make_unique<GaussianMixture>(r.normal_array(2, 3), r.normal_array(2, 3) * 0.3,
                                                                r.normal_array(1, 2)));
             return DistributionPtr(std::make_unique<Mixture>(std::move(pieces), std::vector<real>{0.3, 0.9}));
         }},
        {"mixture (learned weights) of a maf and a gaussian",
         [maf](Rng& r) {
             FlowSpec component = maf;
             component.batch_norm = false;
             std::vector<DistributionPtr> components;
             components.push_back(make_maf_flow(component, r));
             components.push_back(std::make_unique<DiagonalGaussian>(r.normal_array(1, 3), r.normal_array(1, 3) * 0.3, true));
             return DistributionPtr(std::make_unique<Mixture>(std::move(components), std::vector<real>{0.4, 0.6}, true));
         }},
    };
}

// The kinds named anywhere in a config (the model and, recursively, its base and transforms).
void collect_kinds(const nlohmann::json& c, std::set<std::string>& out) {
    if (c.is_object()) {
        if (c.contains("kind") && c["kind"].is_string()) out.insert(c["kind"].get<std::string>());
        for (const auto& item : c.items()) collect_kinds(item.value(), out);
    } else if (c.is_array()) {
        for (const auto& item : c) collect_kinds(item, out);
    }
}

Array log_prob_of(Distribution& m, const Array& x, const Array& context) {
    Tape t;
    NoGrad no_grad(t);
    const Var c = context.shape()[1] ? t.constant(context) : Var();
    return m.log_prob(t.constant(x), c).value();
}

bool bit_identical(const Array& a, const Array& b) {
    return shape_of(a) == shape_of(b) && std::memcmp(a.data(), b.data(), a.size() * sizeof(real)) == 0;
}

std::vector<std::pair<std::string, Array>> state_of(Distribution& m) {
    ParameterList list = m.parameters();
    m.collect_buffers(list, "");
    std::vector<std::pair<std::string, Array>> out;
    for (const NamedParameter& p : list.items()) out.emplace_back(p.name, p.parameter->value());
    return out;
}

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_text(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::trunc);
    out << text;
}

// The IoError message of loading `path`, which must throw one.
std::string load_error(const std::string& path) {
    try {
        load_model(path);
    } catch (const IoError& e) {
        return e.what();
    } catch (const std::exception& e) {
        return std::string("(not an IoError) ") + e.what();
    }
    return "(no error)";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(model_file)

BOOST_AUTO_TEST_CASE(round_trip_is_bit_identical_for_every_model) {
    TempDir dir;
    std::set<std::string> kinds;
    for (const ModelCase& c : all_models()) {
        BOOST_TEST_CONTEXT(c.name) {
            Rng rng(31);
            DistributionPtr m = c.make(rng);
            perturb_parameters(*m, rng);
            // A few training-mode passes set ActNorm's data-dependent start and BatchNorm's
            // running statistics, so the buffers hold something other than their defaults.
            const Array data = rng.normal_array(16, 3) * 1.5;
            const Array context = rng.normal_array(16, c.context);
            m->set_training(true);
            for (int k = 0; k < 2; ++k) log_prob_of(*m, data, context);
            m->set_training(false);
            collect_kinds(m->config(), kinds);

            const std::string path = dir.file("model.json");
            const nlohmann::json extra = {{"data", "moons.csv"}, {"epochs", 12}};
            save_model(*m, path, extra);
            nlohmann::json extra_back;
            DistributionPtr back = load_model(path, &extra_back);
            BOOST_TEST(extra_back == extra);
            BOOST_TEST(back->kind() == m->kind());
            BOOST_TEST(back->config() == m->config());
            const auto a = state_of(*m), b = state_of(*back);
            BOOST_TEST_REQUIRE(a.size() == b.size());
            for (std::size_t k = 0; k < a.size(); ++k) {
                BOOST_TEST(a[k].first == b[k].first);
                BOOST_TEST(bit_identical(a[k].second, b[k].second), a[k].first);
            }
            BOOST_TEST(bit_identical(log_prob_of(*m, data, context), log_prob_of(*back, data, context)));
        }
    }
    for (const char* kind : {"standard_normal", "diagonal_gaussian", "gmm", "flow", "maf", "permutation", "actnorm",
                             "batchnorm", "realnvp_coupling", "nsf", "nsf_coupling", "mixture", "standardize"})
        BOOST_TEST(kinds.count(kind) == 1u, "kind " << kind << " is not covered");
}

BOOST_AUTO_TEST_CASE(doubles_survive_the_text_bit_for_bit) {
    TempDir dir;
    Rng rng(32);
    Array mean = rng.normal_array(1, 12) * 1e3;
    const real specials[] = {0.1,   1.0 / 3.0, -0.0, 1e-300, std::numeric_limits<real>::denorm_min(),
                             std::numeric_limits<real>::max(), std::numeric_limits<real>::min(),
                             -std::numeric_limits<real>::epsilon(), 123456789.123456789, 2.0 / 3.0, 1e22, 5e-324};
    for (std::size_t k = 0; k < 12; ++k) mean(0, k) = specials[k];
    DiagonalGaussian g(mean, rng.normal_array(1, 12) * 1e-7, true);
    save_model(g, dir.file("g.json"));
    DistributionPtr back = load_model(dir.file("g.json"));
    const auto a = state_of(g), b = state_of(*back);
    for (std::size_t k = 0; k < a.size(); ++k) BOOST_TEST(bit_identical(a[k].second, b[k].second), a[k].first);
    BOOST_TEST(std::signbit(b[0].second(0, 2)));  // −0 stays −0
}

BOOST_AUTO_TEST_CASE(corrupt_files_give_io_errors_naming_the_file_and_field) {
    TempDir dir;
    Rng rng(33);
    GaussianMixture g(rng.normal_array(2, 2), rng.normal_array(2, 2), rng.normal_array(1, 2));
    const std::string good = dir.file("good.json");
    save_model(g, good);
    const nlohmann::json doc = nlohmann::json::parse(read_text(good));

    struct Corruption {
        std::string name;
        std::function<std::string()> text;  // the corrupt file's content
        std::string expect;                 // a fragment of the message after the path
    };
    auto edited = [&](const std::function<void(nlohmann::json&)>& edit) {
        return [&doc, edit] {
            nlohmann::json d = doc;
            edit(d);
            return d.dump();
        };
    };
    const std::vector<Corruption> cases = {
        {"truncated", [&] { const std::string t = read_text(good); return t.substr(0, t.size() / 2); }, "not valid JSON"},
        {"empty", [] { return std::string(); }, "not valid JSON"},
        {"literal NaN", [&] { return std::string("{\"format\": NaN}"); }, "not valid JSON"},
        {"not an object", [] { return std::string("[1, 2]"); }, "document"},
        {"wrong format", edited([](nlohmann::json& d) { d["format"] = "pytorch"; }), "format"},
        {"no format", edited([](nlohmann::json& d) { d.erase("format"); }), "format"},
        {"wrong version", edited([](nlohmann::json& d) { d["version"] = 2; }), "version"},
        {"version as text", edited([](nlohmann::json& d) { d["version"] = "1"; }), "version"},
        {"unknown kind", edited([](nlohmann::json& d) { d["model"]["kind"] = "nope"; }), "unknown kind \"nope\""},
        {"bad config", edited([](nlohmann::json& d) { d["model"].erase("components"); }), "model"},
        {"missing parameter", edited([](nlohmann::json& d) { d["parameters"].erase("means"); }), "parameters.means: missing"},
        {"unknown parameter", edited([](nlohmann::json& d) { d["parameters"]["extra_weight"] = d["parameters"]["means"]; }),
         "parameters.extra_weight: unknown"},
        {"wrong shape", edited([](nlohmann::json& d) { d["parameters"]["log_scales"]["shape"] = {2, 3}; }),
         "parameters.log_scales.shape"},
        {"too few values", edited([](nlohmann::json& d) { d["parameters"]["logits"]["values"].erase(0); }),
         "parameters.logits.values"},
        {"NaN value (null)", edited([](nlohmann::json& d) { d["parameters"]["means"]["values"][1] = nullptr; }),
         "parameters.means.values[1]"},
        {"text value", edited([](nlohmann::json& d) { d["parameters"]["means"]["values"][0] = "0.5"; }),
         "parameters.means.values[0]"},
        {"overflowing value",
         [&] {
             nlohmann::json d = doc;
             d["parameters"]["means"]["values"][0] = 12345.0;
             std::string t = d.dump();
             t.replace(t.find("12345.0"), 7, "1e999");
             return t;
         },
         ""},
        {"no buffers section", edited([](nlohmann::json& d) { d.erase("buffers"); }), "buffers"},
    };
    for (const Corruption& c : cases) {
        BOOST_TEST_CONTEXT(c.name) {
            const std::string path = dir.file("bad.json");
            write_text(path, c.text());
            const std::string m = load_error(path);
            BOOST_TEST(m.rfind(path + ": ", 0) == 0u, m);
            BOOST_TEST(m.find(c.expect) != std::string::npos, m << " (looking for " << c.expect << ")");
        }
    }
    const std::string missing = dir.file("does-not-exist.json");
    BOOST_TEST(load_error(missing).rfind(missing + ": cannot open", 0) == 0u, load_error(missing));
    // And the untouched file still loads.
    BOOST_CHECK_NO_THROW(load_model(good));
}

BOOST_AUTO_TEST_CASE(writes_are_atomic_and_replace_the_old_file) {
    TempDir dir;
    const std::string path = dir.file("m.json");
    StandardNormal small(1);
    save_model(small, path);
    GaussianMixture g(Array{{0.0, 1.0}}, Array{{0.0, 0.0}}, Array{{0.0}});
    save_model(g, path);
    BOOST_TEST(load_model(path)->kind() == "gmm");
    std::size_t files = 0;
    for (const auto& entry : fs::directory_iterator(dir.path)) {
        (void)entry;
        ++files;
    }
    BOOST_TEST(files == 1u);  // no temporary file left behind
    const std::string nowhere = dir.file("no/such/dir/m.json");
    try {
        save_model(g, nowhere);
        BOOST_FAIL("expected IoError");
    } catch (const IoError& e) {
        BOOST_TEST(std::string(e.what()).rfind(nowhere + ": ", 0) == 0u, e.what());
    }
    // A non-finite parameter cannot be written (JSON has no NaN) and leaves the old file alone.
    DiagonalGaussian bad(Array{{NAN}}, Array{{0.0}}, true);
    BOOST_CHECK_THROW(save_model(bad, path), NonFiniteError);
    BOOST_TEST(load_model(path)->kind() == "gmm");
}

BOOST_AUTO_TEST_SUITE_END()
