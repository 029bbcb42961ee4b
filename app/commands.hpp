// The subcommands of the flowtape command. Each file app/<name>.cpp adds its subcommand to the
// parser and returns how to run it; main.cpp runs the one that was named on the command line.
//
// A command reports failure by throwing: flowtape::ValueError and flowtape::IoError for bad input
// (exit status 2), any other exception for other failures (status 1). Results go to stdout,
// progress and messages to stderr.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace flowtape::app {

struct Command {
    CLI::App* parser;           // the subcommand's options, filled in by the parse
    std::function<void()> run;  // runs it with those options
};

// `flowtape demo`: fit a MADE density to a correlated 2-D Gaussian and compare with its entropy.
Command add_demo(CLI::App& app);

}  // namespace flowtape::app
