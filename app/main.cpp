// The flowtape command: `flowtape <subcommand> [options]`. This file parses the command line, runs
// the chosen subcommand and turns every failure into one line "flowtape: <message>" on stderr, with
// exit status 2 for bad input or usage and 1 for anything else. Under mpirun (more than one rank)
// only `train` runs, data-parallel (app/train_cmd.cpp).
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "app/commands.hpp"
#include "core/communicator.hpp"
#include "core/error.hpp"

#ifndef FLOWTAPE_VERSION
#define FLOWTAPE_VERSION "unknown"
#endif

namespace {

constexpr int kBadInput = 2;
constexpr int kFailure = 1;

// Under mpirun every rank meets the same failure (fit and the readers share them, core/
// communicator.hpp): rank 0 alone says so.
int report(const std::string& message, int status) {
    if (flowtape::world().rank() == 0) std::cerr << "flowtape: " << message << '\n';
    return status;
}

// A clearer message than CLI11's "A subcommand is required" when the first argument is missing or
// names no subcommand; empty when it is an option (--help, --version) or a known subcommand.
std::string subcommand_problem(const CLI::App& cli, int argc, char** argv) {
    std::string names;
    bool known = false;
    const std::string first = argc > 1 ? argv[1] : "";
    for (const CLI::App* sub : cli.get_subcommands({})) {
        names += (names.empty() ? "" : ", ") + sub->get_name();
        known = known || sub->get_name() == first;
    }
    const std::string choices = " (one of: " + names + "; see flowtape --help)";
    if (argc < 2) return "no subcommand given" + choices;
    if (known || first.starts_with("-")) return "";
    return "unknown subcommand '" + first + "'" + choices;
}

// Under mpirun every rank must run the same command line — a launch of several programs
// (`mpirun -n 1 flowtape ... : -n 1 flowtape ...`) could give them different ones, and a rank
// that parsed other options would wait in other collectives. Checked before anything else, on
// every rank together: the first rank whose line differs from rank 0's, named.
std::string command_line_problem(int argc, char** argv) {
    flowtape::Communicator& comm = flowtape::world();
    if (comm.size() == 1) return "";
    std::string line;
    for (int i = 1; i < argc; ++i) line += std::string(argv[i]) + '\0';
    std::string first = line;
    comm.broadcast(first, 0);
    flowtape::RankFailure mine;
    if (line != first) {
        mine.kind = flowtape::RankFailure::Kind::value;
        mine.message = "its command line differs from rank 0's; every rank must run the same flowtape command";
    }
    try {
        comm.agree_or_throw(mine);
    } catch (const flowtape::ValueError& e) {
        return e.what();
    }
    return "";
}

}  // namespace

int main(int argc, char** argv) {
    if (const std::string problem = command_line_problem(argc, argv); !problem.empty()) return report(problem, kBadInput);
    CLI::App cli("flowtape: normalizing flows on a reverse-mode autodiff tape", "flowtape");
    cli.set_version_flag("--version", "flowtape " FLOWTAPE_VERSION);
    cli.require_subcommand(1);

    std::vector<flowtape::app::Command> commands;
    commands.push_back(flowtape::app::add_demo(cli));
    commands.push_back(flowtape::app::add_datasets(cli));
    commands.push_back(flowtape::app::add_train(cli));
    commands.push_back(flowtape::app::add_sample(cli));
    commands.push_back(flowtape::app::add_logprob(cli));
    commands.push_back(flowtape::app::add_kl(cli));
    commands.push_back(flowtape::app::add_plot(cli));
    commands.push_back(flowtape::app::add_cluster(cli));
    commands.push_back(flowtape::app::add_cluster_score(cli));
    commands.push_back(flowtape::app::add_transport(cli));
    commands.push_back(flowtape::app::add_bench(cli, argc, argv));

    if (const std::string problem = subcommand_problem(cli, argc, argv); !problem.empty())
        return report(problem, kBadInput);
    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help and --version arrive here too, as "errors" with exit code 0: CLI11 prints them.
        if (e.get_exit_code() == 0) return cli.exit(e);
        // CLI11 says "A subcommand is required" without naming them; `bench` alone needs an experiment.
        const CLI::App* bench = cli.get_subcommand("bench");
        if (bench->parsed() && bench->get_subcommands().empty())
            return report("bench: name an experiment: pnf (the piecewise-flows paper), cnf (the multimodal-base "
                          "CNF paper), mixture (the mixtures-of-flows paper), vmonf (the variational-mixture "
                          "paper), f4f (the flows-for-flows paper), or all (the five into one report); see flowtape bench --help",
                          kBadInput);
        return report(e.what(), kBadInput);
    }

    if (flowtape::world().size() > 1 && !cli.get_subcommand("train")->parsed())
        return report("only train runs across MPI ranks; run " + std::string(argv[1]) + " without mpirun", kBadInput);
    try {
        for (const auto& command : commands)
            if (command.parser->parsed()) command.run();
        return 0;
    } catch (const flowtape::ValueError& e) {
        return report(e.what(), kBadInput);
    } catch (const flowtape::IoError& e) {
        return report(e.what(), kBadInput);
    } catch (const flowtape::ShapeError& e) {
        return report(e.what(), kBadInput);
    } catch (const std::exception& e) {
        return report(e.what(), kFailure);
    }
}
