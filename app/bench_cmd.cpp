// `flowtape bench <experiment>`: the papers' experiments, each in bench/papers/<paper>.cpp.
#include "app/commands.hpp"
#include "bench/papers/experiments.hpp"

namespace flowtape::app {

Command add_bench(CLI::App& app, int argc, char** argv) {
    CLI::App* bench = app.add_subcommand("bench", "Rebuild a paper's tables and figures (pnf, cnf, mixture, vmonf, f4f), or all five (all)");
    bench->require_subcommand(1);
    auto experiments = std::make_shared<std::vector<Command>>();
    experiments->push_back(add_bench_pnf(*bench, argc, argv));
    experiments->push_back(add_bench_cnf(*bench, argc, argv));
    experiments->push_back(add_bench_mixture(*bench, argc, argv));
    experiments->push_back(add_bench_vmonf(*bench, argc, argv));
    experiments->push_back(add_bench_f4f(*bench, argc, argv));
    experiments->push_back(add_bench_all(*bench, argc, argv));
    return {bench, [experiments] {
                for (const Command& e : *experiments)
                    if (e.parser->parsed()) e.run();
            }};
}

}  // namespace flowtape::app
