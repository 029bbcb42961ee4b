#!/usr/bin/python3
"""scikit-learn's side of bench/speed/compare_cluster.sh: the same tasks as bench_cluster_speed on the same
points (a CSV of x0,x1 written by `bench_cluster_speed --write-data FILE`).

Usage: /usr/bin/python3 bench/speed/sklearn_cluster.py POINTS.csv [--reps 3]
Prints "sklearn <task> <median seconds> <value>" lines, after comment lines with the versions.
"""
import sys
import time

import numpy as np
import sklearn
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score


def median_seconds(reps, f):
    times, value = [], None
    for r in range(reps):
        start = time.perf_counter()
        value = f(r)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2], value


def main():
    path = sys.argv[1]
    reps = int(sys.argv[sys.argv.index("--reps") + 1]) if "--reps" in sys.argv else 3
    X = np.loadtxt(path, delimiter=",")
    print(f"# sklearn {sklearn.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}")
    t, v = median_seconds(reps, lambda r: KMeans(8, n_init=1, random_state=r, algorithm="lloyd").fit(X).inertia_)
    print(f"sklearn kmeans_ninit1 {t:.6f} {v:.6g}")
    fits = []
    t, v = median_seconds(reps, lambda r: fits.append(KMeans(8, n_init=10, random_state=r, algorithm="lloyd").fit(X))
                          or fits[-1].inertia_)
    print(f"sklearn kmeans_ninit10 {t:.6f} {v:.6g}")
    labels = fits[-1].labels_
    t, v = median_seconds(reps, lambda r: silhouette_score(X, labels, sample_size=10000, random_state=r))
    print(f"sklearn silhouette_sample1e4 {t:.6f} {v:.6g}")
    m = min(len(X), 20000)
    t, v = median_seconds(reps, lambda r: silhouette_score(X[:m], labels[:m]))
    print(f"sklearn silhouette_exact2e4 {t:.6f} {v:.6g}")


if __name__ == "__main__":
    main()
