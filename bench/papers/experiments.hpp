// The paper experiments of `flowtape bench`, one source file per paper in bench/papers/: each adds
// its subcommand under `bench` and returns how to run it; app/bench_cmd.cpp only dispatches. argc
// and argv are kept for the command line printed with the results.
#pragma once

#include "app/commands.hpp"

namespace flowtape::app {

// `flowtape bench pnf`: the piecewise normalizing flows paper (Bevins et al.), its Tables 1-3 and
// Figure 4 (piecewise_flows.cpp).
Command add_bench_pnf(CLI::App& bench, int argc, char** argv);

// `flowtape bench cnf`: the multimodal-base continuous flows paper (Josias & Brink), its
// cascading-moons experiment, Figure 2 (multimodal_cnf.cpp).
Command add_bench_cnf(CLI::App& bench, int argc, char** argv);

// `flowtape bench mixture`: the mixtures-of-flows paper (Ciobanu), its Figure 1 and Tables 1, 3
// and 4 with the 2-D metrics, held-out log-likelihoods and the k-means start beside them
// (mixtures_of_flows.cpp).
Command add_bench_mixture(CLI::App& bench, int argc, char** argv);
// `flowtape bench vmonf`: the variational mixture of flows paper (Pires & Figueiredo), its Figures
// 1 and 2, Table 1 and the annealing study (variational_mixture.cpp).
Command add_bench_vmonf(CLI::App& bench, int argc, char** argv);
// `flowtape bench f4f`: the flows-for-flows paper (Klein, Raine & Golling), its Table 1 and
// Figures 3-7 with out-of-support fractions and held-out log-likelihoods (flows_for_flows.cpp).
Command add_bench_f4f(CLI::App& bench, int argc, char** argv);
// `flowtape bench all`: the five above into one folder, with report.md and its claims table (all.cpp).
Command add_bench_all(CLI::App& bench, int argc, char** argv);

}  // namespace flowtape::app
