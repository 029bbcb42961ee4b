// Clustering metrics against true classes (see metrics.hpp). Counts are exact integers held in
// doubles (exact up to 2⁵³); pair counts are formed in long double.
#include "cluster/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cluster/hungarian.hpp"
#include "core/error.hpp"

namespace flowtape::cluster {

namespace {

void check_pair(const Labels& truth, const Labels& pred, const std::string& who) {
    if (truth.empty()) throw ValueError(who + ": no labels");
    if (truth.size() != pred.size())
        throw ValueError(who + ": " + std::to_string(truth.size()) + " true labels but " +
                         std::to_string(pred.size()) + " predicted labels");
}

// The index of each label among the sorted distinct values; returns their number.
std::size_t encode(const Labels& labels, std::vector<std::size_t>& codes) {
    Labels values = labels;
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    codes.resize(labels.size());
    for (std::size_t i = 0; i < labels.size(); ++i)
        codes[i] = static_cast<std::size_t>(std::lower_bound(values.begin(), values.end(), labels[i]) - values.begin());
    return values.size();
}

Array table(const Labels& truth, const Labels& pred) {
    std::vector<std::size_t> t, p;
    const std::size_t nc = encode(truth, t), nk = encode(pred, p);
    Array counts = xt::zeros<real>({nc, nk});
    for (std::size_t i = 0; i < t.size(); ++i) counts(t[i], p[i]) += 1;
    return counts;
}

// −Σ pᵢ log pᵢ of the marginal counts.
double entropy(const std::vector<double>& counts, double total) {
    double h = 0;
    for (double c : counts)
        if (c > 0) h -= (c / total) * (std::log(c) - std::log(total));
    return h;
}

std::vector<double> row_sums(const Array& a) {
    std::vector<double> s(a.shape()[0], 0.0);
    for (std::size_t i = 0; i < a.shape()[0]; ++i)
        for (std::size_t j = 0; j < a.shape()[1]; ++j) s[i] += a(i, j);
    return s;
}

std::vector<double> column_sums(const Array& a) {
    std::vector<double> s(a.shape()[1], 0.0);
    for (std::size_t i = 0; i < a.shape()[0]; ++i)
        for (std::size_t j = 0; j < a.shape()[1]; ++j) s[j] += a(i, j);
    return s;
}

}  // namespace

Array contingency_table(const Labels& truth, const Labels& pred) {
    check_pair(truth, pred, "contingency_table");
    return table(truth, pred);
}

Array normalised_contingency_table(const Labels& truth, const Labels& pred) {
    check_pair(truth, pred, "normalised_contingency_table");
    Array c = table(truth, pred);
    const std::vector<double> rows = row_sums(c);
    for (std::size_t i = 0; i < c.shape()[0]; ++i)
        for (std::size_t j = 0; j < c.shape()[1]; ++j) c(i, j) /= rows[i];  // every class has ≥ 1 point
    return c;
}

double purity(const Labels& truth, const Labels& pred) {
    check_pair(truth, pred, "purity");
    const Array c = table(truth, pred);
    double hits = 0;
    for (std::size_t j = 0; j < c.shape()[1]; ++j) {
        double best = 0;
        for (std::size_t i = 0; i < c.shape()[0]; ++i) best = std::max(best, c(i, j));
        hits += best;
    }
    return hits / static_cast<double>(truth.size());
}

// Through the pair confusion matrix (Hubert & Arabie 1985, as sklearn computes it): over ordered
// pairs of distinct points, tp = together in both, fp/fn = together in one only, tn = apart in both.
double adjusted_rand_index(const Labels& truth, const Labels& pred) {
    check_pair(truth, pred, "adjusted_rand_index");
    const Array c = table(truth, pred);
    const std::vector<double> nc = row_sums(c), nk = column_sums(c);
    const long double n = static_cast<long double>(truth.size());
    long double squares = 0, row_dot = 0, col_dot = 0;
    for (std::size_t i = 0; i < c.shape()[0]; ++i)
        for (std::size_t j = 0; j < c.shape()[1]; ++j) {
            const long double v = c(i, j);
            squares += v * v;
            row_dot += v * nk[j];
            col_dot += v * nc[i];
        }
    const long double tp = squares - n, fp = row_dot - squares, fn = col_dot - squares;
    const long double tn = n * n - fp - fn - squares;
    if (fn == 0 && fp == 0) return 1.0;
    return static_cast<double>(2.0L * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn)));
}

double normalized_mutual_info(const Labels& truth, const Labels& pred) {
    check_pair(truth, pred, "normalized_mutual_info");
    const Array c = table(truth, pred);
    const std::size_t nc = c.shape()[0], nk = c.shape()[1];
    // Both labellings put everything in one group: identical (trivial) partitions.
    if (nc == 1 && nk == 1) return 1.0;
    if (nc == 1 || nk == 1) return 0.0;  // one side has no information: I = 0
    const std::vector<double> pi = row_sums(c), pj = column_sums(c);
    const double n = static_cast<double>(truth.size());
    double mi = 0;
    for (std::size_t i = 0; i < nc; ++i)
        for (std::size_t j = 0; j < nk; ++j) {
            const double v = c(i, j);
            if (v == 0) continue;
            // (n_ij/n) log(n·n_ij / (n_i n_j))
            mi += (v / n) * (std::log(v) - std::log(n) - std::log(pi[i] * pj[j]) + 2 * std::log(n));
        }
    mi = std::max(mi, 0.0);
    if (mi == 0) return 0.0;
    const double h = 0.5 * (entropy(pi, n) + entropy(pj, n));
    return mi / h;
}

double unsupervised_accuracy(const Labels& truth, const Labels& pred) {
    check_pair(truth, pred, "unsupervised_accuracy");
    const Array c = table(truth, pred);
    const Assignment a = hungarian(-c);  // maximise the matched counts
    return -a.cost / static_cast<double>(truth.size());
}

}  // namespace flowtape::cluster
