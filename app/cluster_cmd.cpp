// `flowtape cluster` and `flowtape cluster-score`: the clustering step of the piecewise flow as a
// command, and the metrics that compare a clustering with true classes.
//
// cluster reads a CSV (every column but the optional weights and labels columns is data), clusters
// the rows with cluster::cluster_points and writes the data columns back with a `label` column. With
// --k auto it clusters for every k in [k-min, k-max] and keeps the k with the highest mean silhouette
// (meanshift finds its k itself and is run once). The clustering for a given k draws from its own
// random stream (Rng::stream(seed, 2k); its silhouette subset from stream 2k + 1), so `--k 8` writes
// the same labels as an auto run that picks 8, and the output is a function of the seed alone.
//
// --algo flow-mixture clusters by a mixture of K flows (the mixtures-of-flows paper,
// flows/mixtures/flow_mixture.hpp) with the paper's 2-D settings: min-max scaled rows, one MAF of
// 10 tanh units per component, 2000 full-batch epochs (--epochs), the best of --runs runs; it
// needs --k. --algo vmonf clusters by the classifier q(c|x) of a variational mixture of K flows
// (flows/mixtures/vmonf.hpp) with its defaults (RealNVP components, T annealed from 5 to 1, 500
// epochs unless --epochs is given); it needs --k too. --model M.json labels the rows by a trained mixture instead (any model file holding a
// Mixture, e.g. from `flowtape train --flow mixture`): each row's argmax posterior component.
//
// cluster-score reads one integer column from each of two files and prints purity, adjusted Rand
// index, normalised mutual information, unsupervised accuracy and both contingency tables as JSON.
// The label column is read as a data column and checked to hold integers, so a file holding only
// that column is accepted.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/cli_support.hpp"
#include "app/commands.hpp"
#include "cluster/metrics.hpp"
#include "cluster/registry.hpp"
#include "cluster/silhouette.hpp"
#include "core/error.hpp"
#include "core/random.hpp"
#include "data/csv.hpp"
#include "flows/mixtures/flow_mixture.hpp"
#include "flows/mixtures/vmonf.hpp"

namespace flowtape::app {
namespace {

// ---- cluster ----

struct ClusterOptions {
    std::string algo = "kmeans";
    std::string data;
    std::string k = "auto";
    std::size_t k_min = 2;
    std::size_t k_max = 10;
    std::uint64_t seed = 0;
    std::string weights_column;
    std::string label_column;
    std::size_t silhouette_sample = 10000;
    bool quiet = false;
    // flow-mixture and --model
    std::string model;
    std::size_t runs = 10;
    std::size_t epochs = 2000;
    std::size_t threads = 1;
    bool epochs_given = false;  // vmonf: else its own default
};

const char* kFlowMixture = "flow-mixture";
const char* kVmonf = "vmonf";

// One clustering and its silhouette (absent when it is undefined: fewer than 2 or N clusters).
struct Scored {
    cluster::Clustering clustering;
    std::optional<double> silhouette;
};

// The silhouette blocks run in parallel; the score does not depend on the number of threads.
std::size_t silhouette_threads() {
    return std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 8);
}

// "auto" → nullopt; otherwise a positive integer.
std::optional<std::size_t> parse_k(const std::string& text) {
    if (text == "auto") return std::nullopt;
    if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos)
        throw ValueError("cluster: --k must be a positive integer or 'auto', got '" + text + "'");
    const std::size_t k = std::stoul(text);
    if (k == 0) throw ValueError("cluster: --k must be at least 1, got 0");
    return k;
}

// The paper's mixture of flows for k clusters, the best of o.runs runs from o.seed on.
cluster::Clustering flow_mixture_clustering(const ClusterOptions& o, const Array& x, std::size_t k) {
    FlowMixtureOptions m;
    m.spec.components = k;
    m.fit = FlowMixtureOptions::paper_fit_options(o.epochs, 4000);
    m.runs = o.runs;
    m.run_threads = o.threads;
    m.seed = o.seed;
    const FlowMixtureFit fitted = fit_flow_mixture(x, m);
    if (!o.quiet) std::cerr << "cluster: flow-mixture: " << fitted.message << '\n';
    if (fitted.diverged) throw std::runtime_error("cluster: flow-mixture: " + fitted.message);
    return cluster::finish_clustering(x, cluster::Labels(fitted.labels.begin(), fitted.labels.end()));
}

// A variational mixture of k flows (its defaults), labelled by argmax q(c|x); a collapse is said.
cluster::Clustering vmonf_clustering(const ClusterOptions& o, const Array& x, std::size_t k) {
    VmonfOptions v;
    v.spec.components = k;
    if (o.epochs_given) {  // the k-means start's pretraining counts in the epochs asked for
        v.fit.epochs = o.epochs;
        v.fit.patience = o.epochs;
        v.pretrain_epochs = std::min(v.pretrain_epochs, o.epochs);
    }
    v.fit.quiet = o.quiet;
    v.seed = o.seed;
    const VmonfFit fitted = fit_vmonf(x, nullptr, v);
    if (fitted.fit.diverged) throw std::runtime_error("cluster: vmonf: " + fitted.message);
    if (!o.quiet || fitted.collapsed) std::cerr << "cluster: vmonf: " << fitted.message << '\n';
    return cluster::finish_clustering(x, cluster::Labels(fitted.labels.begin(), fitted.labels.end()));
}

Scored cluster_and_score(const ClusterOptions& o, const Array& x, std::size_t k) {
    Rng rng = Rng::stream(o.seed, 2 * k);
    Scored s{o.algo == kFlowMixture ? flow_mixture_clustering(o, x, k)
             : o.algo == kVmonf     ? vmonf_clustering(o, x, k)
                                    : cluster::cluster_points(o.algo, x, k, rng),
             std::nullopt};
    const std::size_t n = x.shape()[0];
    if (s.clustering.k >= 2 && s.clustering.k < n) {
        Rng sample_rng = Rng::stream(o.seed, 2 * k + 1);
        const std::size_t m = o.silhouette_sample == 0 ? n : o.silhouette_sample;
        s.silhouette =
            cluster::silhouette_score_sampled(x, s.clustering.labels, m, sample_rng, silhouette_threads());
    }
    return s;
}

std::string format_score(const std::optional<double>& s) {
    if (!s) return "n/a";
    std::ostringstream out;
    out << std::fixed << std::setprecision(4) << *s;
    return out.str();
}

// Checks what can be checked before reading the data, so that a typo fails fast.
std::vector<std::string> algorithm_names() {
    std::vector<std::string> algos = cluster::clustering_algorithms();
    algos.push_back(kFlowMixture);
    algos.push_back(kVmonf);
    return algos;
}

void check_cluster_options(const ClusterOptions& o, const std::optional<std::size_t>& k) {
    const auto algos = algorithm_names();
    if (std::find(algos.begin(), algos.end(), o.algo) == algos.end())
        throw ValueError("cluster: unknown --algo '" + o.algo + "' (one of: " + join(algos) + ")");
    if ((o.algo == kFlowMixture || o.algo == kVmonf) && !k)
        throw ValueError("cluster: --algo " + o.algo + " needs --k (the number of flows), not auto");
    if (o.runs == 0) throw ValueError("cluster: --runs must be at least 1, got 0");
    if (o.epochs == 0) throw ValueError("cluster: --epochs must be at least 1, got 0");
    if (o.threads == 0) throw ValueError("cluster: --threads must be at least 1, got 0");
    if (!k) {
        if (o.k_min < 2) throw ValueError("cluster: --k-min must be at least 2, got " + std::to_string(o.k_min));
        if (o.k_max < o.k_min)
            throw ValueError("cluster: --k-max (" + std::to_string(o.k_max) + ") is below --k-min (" +
                             std::to_string(o.k_min) + ")");
    }
}

// The best-scoring clustering over [k_min, k_max]; the scores go to stderr unless quiet.
Scored choose_best(const ClusterOptions& o, const Array& x) {
    const std::size_t n = x.shape()[0];
    if (o.k_max >= n)
        throw ValueError("cluster: --k-max " + std::to_string(o.k_max) + " must be below the number of rows (" +
                         std::to_string(n) + "): the silhouette needs at most N - 1 clusters");
    std::optional<Scored> best;
    std::string scores;
    for (std::size_t k = o.k_min; k <= o.k_max; ++k) {
        Scored s = cluster_and_score(o, x, k);
        scores += (scores.empty() ? "" : ", ") + std::to_string(k) + ": " + format_score(s.silhouette);
        // Ties go to the smaller k, as the loop visits it first.
        if (s.silhouette && (!best || *s.silhouette > *best->silhouette)) best = std::move(s);
    }
    if (!o.quiet) std::cerr << "cluster: silhouette by k: " << scores << '\n';
    if (!best)
        throw ValueError("cluster: " + o.algo + " gave no clustering with between 2 and N - 1 clusters for k in " +
                         std::to_string(o.k_min) + ".." + std::to_string(o.k_max) + "; the silhouette is undefined");
    return std::move(*best);
}

// Writes the rows with their labels on stdout.
void write_labelled(const Dataset& data, const cluster::Labels& labels_of_rows) {
    IndexArray labels = IndexArray::from_shape({data.rows(), 1});
    for (std::size_t i = 0; i < data.rows(); ++i) labels(i, 0) = labels_of_rows[i];
    write_csv(std::cout, data.x, data.columns, labels);
    std::cout.flush();
    if (!std::cout) throw IoError("cluster: could not write to stdout");
}

// --model: the argmax posterior component of each row under a trained mixture.
void run_cluster_by_model(const ClusterOptions& o) {
    const LoadedModel loaded = load_model_with_columns("cluster", o.model);
    Mixture* mixture = mixture_inside(*loaded.model);
    if (!mixture)
        throw ValueError("cluster: the model in " + o.model + " (" + loaded.model->kind() +
                         ") is not a mixture; --model needs one (e.g. from train --flow mixture)");
    Dataset data;
    data.x = read_model_data("cluster", o.data, loaded);
    data.columns = loaded.columns;
    const std::vector<std::size_t> predicted = predict_components(*loaded.model, model_input(loaded, data.x));
    std::vector<std::size_t> sizes(mixture->size(), 0);
    for (std::size_t l : predicted) ++sizes[l];
    write_labelled(data, cluster::Labels(predicted.begin(), predicted.end()));
    if (!o.quiet) {
        std::string size_list, empty;
        for (std::size_t c = 0; c < sizes.size(); ++c) {
            size_list += (size_list.empty() ? "" : " ") + std::to_string(sizes[c]);
            if (sizes[c] == 0) empty += (empty.empty() ? "" : ", ") + std::to_string(c);
        }
        std::cerr << "cluster: " << o.model << ", " << data.rows() << " rows, " << sizes.size() << " components, sizes "
                  << size_list << (empty.empty() ? "" : "; components " + empty + " received no rows") << '\n';
    }
}

void run_cluster(const ClusterOptions& o) {
    if (!o.model.empty()) return run_cluster_by_model(o);
    const std::optional<std::size_t> k = parse_k(o.k);
    check_cluster_options(o, k);
    CsvOptions csv;
    csv.weights_column = o.weights_column;
    csv.labels_column = o.label_column;
    const Dataset data = read_csv(o.data, csv);
    const std::size_t n = data.rows();
    if (std::find(data.columns.begin(), data.columns.end(), "label") != data.columns.end())
        throw ValueError("cluster: " + o.data + " has a data column named 'label', which the output adds; "
                         "pass --label-column label to leave it out of the data");
    if (k && *k > n)
        throw ValueError("cluster: --k " + std::to_string(*k) + " is larger than the number of rows (" +
                         std::to_string(n) + ") of " + o.data);

    // meanshift finds the number of clusters itself: one run, whatever --k says.
    const bool one_run = k || o.algo == "meanshift";
    const std::size_t run_k = o.algo == "meanshift" ? 0 : k.value_or(0);
    const Scored result = one_run ? cluster_and_score(o, data.x, run_k) : choose_best(o, data.x);
    const cluster::Clustering& c = result.clustering;

    std::vector<std::size_t> sizes(c.k, 0);
    for (std::size_t i = 0; i < n; ++i) ++sizes[static_cast<std::size_t>(c.labels[i])];
    write_labelled(data, c.labels);

    if (!o.quiet) {
        std::string size_list;
        for (const std::size_t s : sizes) size_list += (size_list.empty() ? "" : " ") + std::to_string(s);
        std::cerr << "cluster: " << o.algo << ", " << n << " rows, k = " << c.k
                  << (one_run ? "" : " (best silhouette over " + std::to_string(o.k_min) + ".." +
                                         std::to_string(o.k_max) + ")")
                  << ", silhouette " << format_score(result.silhouette) << ", sizes " << size_list << '\n';
    }
}

// ---- cluster-score ----

struct ScoreOptions {
    std::string labels;
    std::string truth;
    std::string labels_column = "label";
    std::string truth_column = "label";
};

// The named column of a CSV file as integer labels. Read as data (read_csv's strict numbers), then
// each value checked to be an integer that a double holds exactly.
cluster::Labels read_label_column(const std::string& path, const std::string& column, const std::string& option) {
    const Dataset data = read_csv(path);
    const auto it = std::find(data.columns.begin(), data.columns.end(), column);
    if (it == data.columns.end())
        throw ValueError("cluster-score: " + path + " has no column '" + column + "' (" + option +
                         "; its columns: " + join(data.columns) + ")");
    const auto j = static_cast<std::size_t>(it - data.columns.begin());
    constexpr double kExact = 9007199254740992.0;  // 2^53
    cluster::Labels labels(data.rows());
    for (std::size_t i = 0; i < data.rows(); ++i) {
        const double v = data.x(i, j);
        if (v != std::floor(v) || std::abs(v) > kExact) {
            std::ostringstream value;
            value << std::setprecision(17) << v;
            throw ValueError("cluster-score: " + path + ": column '" + column + "' in data row " + std::to_string(i + 1) +
                             " is " + value.str() + ", not an integer label");
        }
        labels[i] = static_cast<std::int64_t>(v);
    }
    return labels;
}

std::vector<std::int64_t> distinct(const cluster::Labels& labels) {
    const std::set<std::int64_t> values(labels.begin(), labels.end());
    return {values.begin(), values.end()};
}

nlohmann::json table_json(const Array& t, bool counts) {
    nlohmann::json rows = nlohmann::json::array();
    for (std::size_t r = 0; r < t.shape()[0]; ++r) {
        nlohmann::json row = nlohmann::json::array();
        for (std::size_t c = 0; c < t.shape()[1]; ++c) {
            if (counts)
                row.push_back(static_cast<std::int64_t>(std::llround(t(r, c))));
            else
                row.push_back(t(r, c));
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

// A JSON object with one "key": value per line, in the given order; arrays of arrays (the tables)
// with one compact row per line, so a table reads as a table.
void print_json_lines(std::ostream& out, const std::vector<std::pair<std::string, nlohmann::json>>& fields) {
    out << "{\n";
    for (std::size_t f = 0; f < fields.size(); ++f) {
        const auto& [key, value] = fields[f];
        out << "  " << nlohmann::json(key).dump() << ": ";
        if (value.is_array() && !value.empty() && value[0].is_array()) {
            out << "[\n";
            for (std::size_t r = 0; r < value.size(); ++r)
                out << "    " << value[r].dump() << (r + 1 < value.size() ? ",\n" : "\n");
            out << "  ]";
        } else {
            out << value.dump();
        }
        out << (f + 1 < fields.size() ? ",\n" : "\n");
    }
    out << "}\n";
}

void run_cluster_score(const ScoreOptions& o) {
    const cluster::Labels pred = read_label_column(o.labels, o.labels_column, "--labels-column");
    const cluster::Labels truth = read_label_column(o.truth, o.truth_column, "--truth-column");
    if (pred.size() != truth.size())
        throw ValueError("cluster-score: " + o.labels + " has " + std::to_string(pred.size()) + " rows but " + o.truth +
                         " has " + std::to_string(truth.size()) + "; they must label the same points");
    const std::vector<std::int64_t> classes = distinct(truth);
    const std::vector<std::int64_t> clusters = distinct(pred);
    // Table rows are the classes, columns the clusters, each in increasing order of their values.
    print_json_lines(std::cout, {
        {"labels", o.labels},
        {"truth", o.truth},
        {"n", pred.size()},
        {"classes", classes.size()},
        {"clusters", clusters.size()},
        {"purity", cluster::purity(truth, pred)},
        {"adjusted_rand_index", cluster::adjusted_rand_index(truth, pred)},
        {"normalized_mutual_information", cluster::normalized_mutual_info(truth, pred)},
        {"unsupervised_accuracy", cluster::unsupervised_accuracy(truth, pred)},
        {"class_values", classes},
        {"cluster_values", clusters},
        {"contingency_table", table_json(cluster::contingency_table(truth, pred), true)},
        {"normalised_contingency_table", table_json(cluster::normalised_contingency_table(truth, pred), false)},
    });
    std::cout.flush();
    if (!std::cout) throw IoError("cluster-score: could not write to stdout");
}

}  // namespace

Command add_cluster(CLI::App& app) {
    auto o = std::make_shared<ClusterOptions>();
    CLI::App* sub = app.add_subcommand("cluster", "Cluster the rows of a CSV file; writes them with a label column");
    sub->add_option("--algo", o->algo, "Algorithm, one of: " + join(algorithm_names()))
        ->capture_default_str();
    sub->add_option("--data", o->data, "CSV file of rows (every column but the weights/labels columns is data)")
        ->required();
    sub->add_option("--model", o->model, "Label the rows by a trained mixture's posterior (a model file) instead");
    sub->add_option("--runs", o->runs, "flow-mixture: training runs, the lowest loss kept")->capture_default_str()
        ->check(unsigned_integer());
    sub->add_option("--epochs", o->epochs, "flow-mixture: full-batch epochs per run; vmonf: epochs (default 500)")->capture_default_str()
        ->check(unsigned_integer());
    sub->add_option("--threads", o->threads, "flow-mixture: runs trained at once")->capture_default_str()
        ->check(unsigned_integer());
    sub->add_option("--k", o->k, "Number of clusters, or 'auto': the best silhouette over --k-min..--k-max")
        ->capture_default_str();
    sub->add_option("--k-min", o->k_min, "Smallest k tried by --k auto")->capture_default_str()
        ->check(unsigned_integer());
    sub->add_option("--k-max", o->k_max, "Largest k tried by --k auto")->capture_default_str()
        ->check(unsigned_integer());
    sub->add_option("--seed", o->seed, "Seed of the clustering and the silhouette subsets")->capture_default_str()
        ->check(unsigned_integer());
    sub->add_option("--weights-column", o->weights_column, "Column of per-row weights (not data; not used)");
    sub->add_option("--label-column", o->label_column, "Column of labels in the input (not data; dropped)");
    sub->add_option("--silhouette-sample", o->silhouette_sample,
                    "Score the silhouette on a random subset of this many rows (0 = all rows)")
        ->capture_default_str()->check(unsigned_integer());
    sub->add_flag("--quiet", o->quiet, "No summary on stderr");
    return {sub, [o, sub] {
                o->epochs_given = sub->count("--epochs") > 0;
                run_cluster(*o);
            }};
}

Command add_cluster_score(CLI::App& app) {
    auto o = std::make_shared<ScoreOptions>();
    CLI::App* sub = app.add_subcommand("cluster-score", "Compare cluster labels with true classes; JSON metrics");
    sub->add_option("--labels", o->labels, "CSV file with the cluster labels")->required();
    sub->add_option("--truth", o->truth, "CSV file with the true classes, one row per row of --labels")->required();
    sub->add_option("--labels-column", o->labels_column, "Column of --labels holding the labels")
        ->capture_default_str();
    sub->add_option("--truth-column", o->truth_column, "Column of --truth holding the classes")->capture_default_str();
    return {sub, [o] { run_cluster_score(*o); }};
}

}  // namespace flowtape::app
