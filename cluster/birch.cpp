// Birch's CF tree and global step (see birch.hpp). The insertion, merge test and node split follow
// sklearn's description step by step (same arithmetic order), so the same tree comes out.
#include "cluster/birch.hpp"

#include <cmath>
#include <string>
#include <vector>

#include "cluster/agglomerative.hpp"
#include "cluster/kmeans.hpp"
#include "cluster/sqdist.hpp"
#include "core/error.hpp"

namespace flowtape::cluster {

namespace {

constexpr long no_node = -1;

double dot(const std::vector<double>& a, const std::vector<double>& b) {
    double s = 0;
    for (std::size_t j = 0; j < a.size(); ++j) s += a[j] * b[j];
    return s;
}

// A clustering feature: n points, their sum and sum of squared norms; `child` is the node below it
// (no_node in a leaf).
struct Subcluster {
    double n = 0;
    std::vector<double> linear_sum;
    double squared_sum = 0;
    std::vector<double> centroid;
    double sq_norm = 0;
    long child = no_node;

    static Subcluster of_point(const double* x, std::size_t d) {
        Subcluster s;
        s.n = 1;
        s.linear_sum.assign(x, x + d);
        s.centroid = s.linear_sum;
        s.squared_sum = s.sq_norm = dot(s.linear_sum, s.linear_sum);
        return s;
    }
    static Subcluster empty(std::size_t d) {
        Subcluster s;
        s.linear_sum.assign(d, 0.0);
        s.centroid.assign(d, 0.0);
        return s;
    }
    // Absorb `other` unconditionally (inner nodes).
    void update(const Subcluster& other) {
        n += other.n;
        for (std::size_t j = 0; j < linear_sum.size(); ++j) linear_sum[j] += other.linear_sum[j];
        squared_sum += other.squared_sum;
        for (std::size_t j = 0; j < linear_sum.size(); ++j) centroid[j] = linear_sum[j] / n;
        sq_norm = dot(centroid, centroid);
    }
    // Absorb `other` if the union's radius stays within the threshold (leaves). The squared radius is
    // Σ‖x − c‖²/n = Σ‖x‖²/n − ‖c‖².
    bool merge(const Subcluster& other, double threshold) {
        const double new_ss = squared_sum + other.squared_sum;
        const double new_n = n + other.n;
        std::vector<double> new_ls(linear_sum.size()), new_c(linear_sum.size());
        for (std::size_t j = 0; j < new_ls.size(); ++j) {
            new_ls[j] = linear_sum[j] + other.linear_sum[j];
            new_c[j] = (1.0 / new_n) * new_ls[j];
        }
        const double new_sq_norm = dot(new_c, new_c);
        if (new_ss / new_n - new_sq_norm > threshold * threshold) return false;
        n = new_n;
        linear_sum.swap(new_ls);
        squared_sum = new_ss;
        centroid.swap(new_c);
        sq_norm = new_sq_norm;
        return true;
    }
};

struct Node {
    bool is_leaf = true;
    std::vector<Subcluster> entries;
    long prev_leaf = no_node, next_leaf = no_node;
};

class CFTree {
public:
    CFTree(std::size_t d, double threshold, std::size_t branching)
        : d_(d), threshold_(threshold), branching_(branching) {
        nodes_.push_back(Node{});
        root_ = first_leaf_ = 0;
    }

    void insert_point(const double* x) {
        if (!insert(root_, Subcluster::of_point(x, d_))) return;
        // The root overflowed: a new root above its two halves.
        auto [s1, s2] = split(root_);
        Node root;
        root.is_leaf = false;
        root.entries.push_back(std::move(s1));
        root.entries.push_back(std::move(s2));
        nodes_.push_back(std::move(root));
        root_ = static_cast<long>(nodes_.size()) - 1;
    }

    // Leaf subcluster centres, leaves in list order.
    Array centres() const {
        std::size_t count = 0;
        for (long l = first_leaf_; l != no_node; l = nodes_[l].next_leaf) count += nodes_[l].entries.size();
        Array out({count, d_});
        std::size_t r = 0;
        for (long l = first_leaf_; l != no_node; l = nodes_[l].next_leaf)
            for (const Subcluster& s : nodes_[l].entries) {
                for (std::size_t j = 0; j < d_; ++j) out(r, j) = s.centroid[j];
                ++r;
            }
        return out;
    }

private:
    // Inserts `sub` below node `at`; returns true when `at` now has too many entries and must split.
    bool insert(long at, const Subcluster& sub) {
        if (nodes_[at].entries.empty()) {
            nodes_[at].entries.push_back(sub);
            return false;
        }
        // Nearest entry by ‖c‖² − 2 c·x (the ‖x‖² term is common); first one on ties.
        std::size_t closest = 0;
        double best = 0;
        for (std::size_t e = 0; e < nodes_[at].entries.size(); ++e) {
            const Subcluster& s = nodes_[at].entries[e];
            const double v = dot(s.centroid, sub.centroid) * -2.0 + s.sq_norm;
            if (e == 0 || v < best) {
                best = v;
                closest = e;
            }
        }
        const long child = nodes_[at].entries[closest].child;
        if (child != no_node) {
            if (!insert(child, sub)) {
                nodes_[at].entries[closest].update(sub);
                return false;
            }
            auto [s1, s2] = split(child);
            nodes_[at].entries[closest] = std::move(s1);
            nodes_[at].entries.push_back(std::move(s2));
            return nodes_[at].entries.size() > branching_;
        }
        if (nodes_[at].entries[closest].merge(sub, threshold_)) return false;
        nodes_[at].entries.push_back(sub);
        return nodes_[at].entries.size() > branching_;
    }

    // Splits node `at` into two new nodes around its two farthest entries (each entry goes to the
    // nearer; ties to the first) and returns the two subclusters that summarise them. Leaves are
    // relinked in place of the old one. The old node is left unused.
    std::pair<Subcluster, Subcluster> split(long at) {
        const bool leaf = nodes_[at].is_leaf;
        std::vector<Subcluster> entries = std::move(nodes_[at].entries);
        const long prev = nodes_[at].prev_leaf, next = nodes_[at].next_leaf;
        const long n1 = static_cast<long>(nodes_.size()), n2 = n1 + 1;
        nodes_.emplace_back();
        nodes_.emplace_back();
        nodes_[n1].is_leaf = nodes_[n2].is_leaf = leaf;
        if (leaf) {
            if (prev != no_node) nodes_[prev].next_leaf = n1;
            else first_leaf_ = n1;
            nodes_[n1].prev_leaf = prev;
            nodes_[n1].next_leaf = n2;
            nodes_[n2].prev_leaf = n1;
            nodes_[n2].next_leaf = next;
            if (next != no_node) nodes_[next].prev_leaf = n2;
        }
        // Pairwise squared distances ‖a‖² + ‖b‖² − 2 a·b (clamped at 0, zero diagonal); farthest pair.
        const std::size_t m = entries.size();
        std::vector<double> dist(m * m);
        std::size_t far = 0;
        for (std::size_t a = 0; a < m; ++a)
            for (std::size_t b = 0; b < m; ++b) {
                double v = 0;
                if (a != b) {
                    v = dot(entries[a].centroid, entries[b].centroid) * -2.0 + entries[a].sq_norm + entries[b].sq_norm;
                    if (v < 0) v = 0;
                }
                dist[a * m + b] = v;
                if (v > dist[far]) far = a * m + b;
            }
        const std::size_t r1 = far / m, r2 = far % m;
        Subcluster s1 = Subcluster::empty(d_), s2 = Subcluster::empty(d_);
        s1.child = n1;
        s2.child = n2;
        for (std::size_t e = 0; e < m; ++e) {
            const bool to_first = e == r1 || dist[r1 * m + e] < dist[r2 * m + e];
            (to_first ? s1 : s2).update(entries[e]);
            nodes_[to_first ? n1 : n2].entries.push_back(std::move(entries[e]));
        }
        return {std::move(s1), std::move(s2)};
    }

    std::size_t d_;
    double threshold_;
    std::size_t branching_;
    std::vector<Node> nodes_;
    long root_, first_leaf_;
};

void check_tree_options(double threshold, std::size_t branching_factor, const std::string& who) {
    if (!(threshold > 0) || !std::isfinite(threshold))
        throw ValueError(who + ": threshold = " + std::to_string(threshold) + " must be > 0");
    if (branching_factor < 2)
        throw ValueError(who + ": branching_factor = " + std::to_string(branching_factor) + " must be ≥ 2");
}

}  // namespace

Array birch_subclusters(const Array& X, double threshold, std::size_t branching_factor) {
    check_points(X, "birch_subclusters");
    check_tree_options(threshold, branching_factor, "birch_subclusters");
    CFTree tree(X.shape()[1], threshold, branching_factor);
    for (std::size_t i = 0; i < X.shape()[0]; ++i) tree.insert_point(&X(i, 0));
    return tree.centres();
}

BirchFit birch(const Array& X, const BirchOptions& opt, Rng& rng) {
    check_points(X, "birch");
    check_k(opt.k, X.shape()[0], "birch");
    check_tree_options(opt.threshold, opt.branching_factor, "birch");
    check_distinct_points(X, opt.k, "birch");
    BirchFit fit;
    fit.threshold_used = opt.threshold;
    fit.subcluster_centres = birch_subclusters(X, opt.threshold, opt.branching_factor);
    // Too few subclusters for k: a finer tree. With ≥ k distinct points this ends once the threshold
    // is below half their smallest distance; the bound on halvings only guards against rounding.
    for (int halvings = 0; fit.subcluster_centres.shape()[0] < opt.k; ++halvings) {
        if (halvings == 200)
            throw ValueError("birch: could not build " + std::to_string(opt.k) + " subclusters (points too close)");
        fit.threshold_used /= 2;
        fit.subcluster_centres = birch_subclusters(X, fit.threshold_used, opt.branching_factor);
    }

    const Array& S = fit.subcluster_centres;
    if (opt.global == BirchGlobal::ward) {
        WardOptions w;
        w.k = opt.k;
        fit.subcluster_labels = agglomerative_ward(S, w).labels;
    } else {
        KMeansOptions km;
        km.k = opt.k;
        fit.subcluster_labels = kmeans(S, km, rng).labels;
    }
    // Each point takes the global label of its nearest subcluster centre.
    const Labels nearest = predict(S, X);
    Labels labels(X.shape()[0]);
    for (std::size_t i = 0; i < labels.size(); ++i)
        labels[i] = fit.subcluster_labels[static_cast<std::size_t>(nearest[i])];
    fit.clustering = finish_clustering(X, labels);
    return fit;
}

}  // namespace flowtape::cluster
