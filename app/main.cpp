// The flowtape command: `flowtape <subcommand> [options]`. This file parses the command line, runs
// the chosen subcommand and turns every failure into one line "flowtape: <message>" on stderr with
// exit status 2 for bad input or usage, 1 for anything else.
#include <exception>
#include <iostream>
#include <vector>

#include "app/commands.hpp"
#include "core/error.hpp"

#ifndef FLOWTAPE_VERSION
#define FLOWTAPE_VERSION "unknown"
#endif

namespace {

constexpr int kBadInput = 2;
constexpr int kFailure = 1;

int report(const char* message, int status) {
    std::cerr << "flowtape: " << message << '\n';
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App cli("flowtape: normalizing flows on a reverse-mode autodiff tape", "flowtape");
    cli.set_version_flag("--version", "flowtape " FLOWTAPE_VERSION);
    cli.require_subcommand(1);

    std::vector<flowtape::app::Command> commands;
    try {
        commands.push_back(flowtape::app::add_demo(cli));
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help and --version arrive here too, as "errors" with exit code 0: CLI11 prints them.
        if (e.get_exit_code() == 0) return cli.exit(e);
        return report(e.what(), kBadInput);
    }

    try {
        for (const auto& command : commands)
            if (command.parser->parsed()) command.run();
        return 0;
    } catch (const flowtape::ValueError& e) {
        return report(e.what(), kBadInput);
    } catch (const flowtape::IoError& e) {
        return report(e.what(), kBadInput);
    } catch (const std::exception& e) {
        return report(e.what(), kFailure);
    }
}
