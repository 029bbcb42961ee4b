// Hungarian algorithm, the shortest-augmenting-path form with potentials (Kuhn 1955, Munkres 1957;
// the O(n³) formulation of Edmonds–Karp / Tomizawa). Rows are added one at a time; for each, a
// Dijkstra-like sweep over columns with reduced costs cost(i, j) − u(i) − v(j) ≥ 0 finds the cheapest
// augmenting path, then the potentials are updated so reduced costs stay non-negative.
#include "cluster/hungarian.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "core/error.hpp"

namespace flowtape::cluster {

namespace {

// Requires n ≤ m. Returns the column of each row. Index 0 of the column arrays is a virtual column
// holding the row being inserted; real columns are 1..m.
std::vector<std::int64_t> solve(const Array& a) {
    const std::size_t n = a.shape()[0], m = a.shape()[1];
    const double inf = std::numeric_limits<double>::infinity();
    std::vector<double> u(n + 1, 0.0), v(m + 1, 0.0), minv(m + 1);
    std::vector<std::size_t> row_of(m + 1, 0), way(m + 1, 0);  // row_of[j]: 1-based row on column j, 0 = free
    std::vector<char> used(m + 1);
    for (std::size_t i = 1; i <= n; ++i) {
        row_of[0] = i;
        std::size_t j0 = 0;
        std::fill(minv.begin(), minv.end(), inf);
        std::fill(used.begin(), used.end(), 0);
        // Grow the alternating tree until it reaches a free column.
        do {
            used[j0] = 1;
            const std::size_t i0 = row_of[j0];
            double delta = inf;
            std::size_t j1 = 0;
            for (std::size_t j = 1; j <= m; ++j) {
                if (used[j]) continue;
                const double reduced = a(i0 - 1, j - 1) - u[i0] - v[j];
                if (reduced < minv[j]) minv[j] = reduced, way[j] = j0;
                if (minv[j] < delta) delta = minv[j], j1 = j;
            }
            for (std::size_t j = 0; j <= m; ++j) {
                if (used[j]) {
                    u[row_of[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
        } while (row_of[j0] != 0);
        // Flip the path: each column on it takes the row of its predecessor.
        do {
            const std::size_t j1 = way[j0];
            row_of[j0] = row_of[j1];
            j0 = j1;
        } while (j0 != 0);
    }
    std::vector<std::int64_t> col(n, -1);
    for (std::size_t j = 1; j <= m; ++j)
        if (row_of[j] != 0) col[row_of[j] - 1] = static_cast<std::int64_t>(j - 1);
    return col;
}

}  // namespace

Assignment hungarian(const Array& cost) {
    const std::size_t n = cost.shape()[0], m = cost.shape()[1];
    if (n == 0 || m == 0) throw ValueError("hungarian: empty cost matrix (" + shape_string(shape_of(cost)) + ")");
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < m; ++j)
            if (!std::isfinite(cost(i, j)))
                throw ValueError("hungarian: non-finite cost at (" + std::to_string(i) + ", " + std::to_string(j) + ")");
    Assignment out;
    if (n <= m) {
        out.column_of_row = solve(cost);
    } else {
        const Array t = xt::transpose(cost);
        const std::vector<std::int64_t> row_of_col = solve(t);
        out.column_of_row.assign(n, -1);
        for (std::size_t j = 0; j < m; ++j) out.column_of_row[static_cast<std::size_t>(row_of_col[j])] = static_cast<std::int64_t>(j);
    }
    for (std::size_t i = 0; i < n; ++i)
        if (out.column_of_row[i] >= 0) out.cost += cost(i, static_cast<std::size_t>(out.column_of_row[i]));
    return out;
}

}  // namespace flowtape::cluster
