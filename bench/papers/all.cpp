// `flowtape bench all`: the five papers' benchmarks in one run, into one folder, with an index
// (report.md) that opens with the claims table: each claim a paper's abstract and results make,
// the paper's number (a constant, with its table or figure and section), ours from this run and a
// verdict. Each benchmark judges its own claims, where its numbers are, and writes them to
// claims.json beside its results.md (support.hpp, Claim); this file only runs the five one after
// another and gathers what they wrote, so every number in the report comes from this run.
//
// A benchmark that fails does not stop the others: the report says which failed and why, and the
// command exits non-zero after writing it.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/cli_support.hpp"
#include "bench/papers/experiments.hpp"
#include "bench/papers/support.hpp"
#include "core/atomic_write.hpp"
#include "core/error.hpp"

namespace flowtape::app {
namespace {

using Clock = std::chrono::steady_clock;
using AddBench = Command (*)(CLI::App&, int, char**);

struct Paper {
    std::string name, title, authors;
    AddBench add;
    std::vector<std::string> tiny;  // --tiny: the options of the smallest run that still writes everything
};

// In the order of the issues that brought them.
const std::vector<Paper> kPapers{
    {"pnf", "Piecewise normalizing flows", "Bevins, Handley & Gessey-Jones (ICML 2024)", add_bench_pnf,
     {"--targets", "two-moons", "--no-table3", "--samples", "600", "--kl-samples", "500", "--epochs", "20",
      "--paper-epochs", "30", "--k-max", "4"}},
    {"cnf", "Multimodal base distributions for continuous-time normalising flows", "Josias & Brink", add_bench_cnf,
     {"--samples", "300", "--test", "60", "--epochs", "6", "--grid", "12", "--images", "none"}},
    {"mixture", "Mixtures of normalizing flows", "Ciobanu (2021)", add_bench_mixture,
     {"--sets", "two-bananas,pinwheel-johnson", "--images", "none", "--epochs", "30", "--grid", "20"}},
    {"vmonf", "Variational mixture of normalizing flows", "Pires & Figueiredo", add_bench_vmonf,
     {"--runs", "2", "--epochs", "12", "--images", "none", "--grid", "20"}},
    {"f4f", "Flows for flows", "Klein, Raine & Golling", add_bench_f4f,
     {"--sets", "four-circles,ring-wide", "--conditions", "rotation", "--rows", "300", "--base-epochs", "2",
      "--top-epochs", "2", "--cond-base-epochs", "2", "--cond-top-epochs", "2", "--grid", "20"}},
};

struct AllOptions {
    bool quick = false;
    bool tiny = false;
    std::string out = "bench-all";
    std::uint64_t seed = 0;
    std::string only = "pnf,cnf,mixture,vmonf,f4f";
    bool quiet = false;
    std::string command_line;
};

// What one benchmark left behind.
struct Outcome {
    const Paper* paper = nullptr;
    std::string command;  // as a user would type it
    double seconds = 0;
    std::string error;    // empty when it ran to the end
    nlohmann::json claims = nlohmann::json::array();
    std::vector<std::string> figures;
};

// Runs one paper's benchmark through its own subcommand, exactly as `flowtape bench NAME ARGS…`.
void run_bench(const Paper& p, const std::vector<std::string>& args) {
    std::vector<std::string> words{"flowtape", "bench", p.name};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& w : words) argv.push_back(w.data());
    CLI::App bench{"bench"};
    const Command c = p.add(bench, static_cast<int>(argv.size()), argv.data());
    // The parser sees the words after "flowtape": "bench" stands where a program name would.
    bench.parse(static_cast<int>(argv.size()) - 1, argv.data() + 1);
    c.run();
}

Outcome run_paper(const Paper& p, const AllOptions& o) {
    Outcome out;
    out.paper = &p;
    std::vector<std::string> args{"--out", o.out + "/" + p.name, "--seed", std::to_string(o.seed)};
    if (o.quick || o.tiny) args.push_back("--quick");
    if (o.tiny) args.insert(args.end(), p.tiny.begin(), p.tiny.end());
    if (o.quiet) args.push_back("--quiet");
    out.command = "flowtape bench " + p.name;
    for (const std::string& a : args) out.command += " " + a;
    if (!o.quiet) std::cerr << "bench all: " << out.command << "\n";
    const auto start = Clock::now();
    // The benchmark's tables go to its results.md; keep this command's stdout for the report.
    std::ostringstream swallowed;
    std::streambuf* const stdout_buffer = std::cout.rdbuf(swallowed.rdbuf());
    try {
        run_bench(p, args);
    } catch (const std::exception& e) {
        out.error = e.what();
    }
    std::cout.rdbuf(stdout_buffer);
    out.seconds = seconds_since(start);
    const std::string dir = o.out + "/" + p.name;
    if (out.error.empty()) {
        std::ifstream in(dir + "/claims.json");
        if (!in) {
            out.error = "it wrote no claims.json";
        } else {
            try {
                out.claims = nlohmann::json::parse(in).at("claims");
            } catch (const std::exception& e) {
                out.error = std::string("its claims.json is unreadable (") + e.what() + ")";
            }
        }
    }
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
        if (entry.path().extension() == ".png") out.figures.push_back(entry.path().filename().string());
    std::sort(out.figures.begin(), out.figures.end());
    return out;
}

std::string cell(std::string text) {
    for (char& c : text)
        if (c == '|' || c == '\n') c = c == '|' ? '/' : ' ';
    return text;
}

std::string report_markdown(const AllOptions& o, const std::vector<Outcome>& outcomes, double total) {
    std::ostringstream md;
    md << "# flowtape: the five papers rebuilt\n\n" << bench_header(o.command_line) << "\n";
    md << "Size: " << (o.tiny ? "tiny (a smoke test: the numbers mean nothing)" : o.quick ? "quick (--quick of each benchmark)"
                                                                                       : "default")
       << "; seed " << o.seed << "; total " << fixed(total, 1) << " s. Every number below comes from this run; the "
       << "papers' numbers are constants in the benchmarks' sources, with the table or figure and section they come "
       << "from (the papers' text copies have no page numbers). Verdicts: *reproduced* (the claim holds in every case "
       << "checked), *partly* (in some), *not* (in none), *not run* (its data are not on this machine).\n\n";

    std::size_t counts[4] = {0, 0, 0, 0};
    md << "## Claims\n\n| paper | claim | paper's number | ours | verdict | see |\n|---|---|---|---|---|---|\n";
    for (const Outcome& r : outcomes) {
        if (!r.error.empty()) {
            md << "| " << r.paper->name << " | (the benchmark failed) | | " << cell(r.error) << " | failed | |\n";
            continue;
        }
        for (const nlohmann::json& c : r.claims) {
            const std::string verdict = c.at("verdict");
            counts[verdict == "reproduced" ? 0 : verdict == "partly" ? 1 : verdict == "not" ? 2 : 3] += 1;
            md << "| " << r.paper->name << " | " << cell(c.at("claim")) << " | " << cell(c.at("paper")) << " | "
               << cell(c.at("ours")) << " | " << verdict << " | [" << cell(c.at("where")) << "](" << r.paper->name
               << "/results.md) |\n";
        }
    }
    md << "\n" << counts[0] << " reproduced, " << counts[1] << " partly, " << counts[2] << " not, " << counts[3]
       << " not run.\n\n## The benchmarks\n\n| paper | command | seconds | results | figures |\n|---|---|---|---|---|\n";
    for (const Outcome& r : outcomes) {
        std::string figures;
        for (const std::string& f : r.figures)
            figures += (figures.empty() ? "" : ", ") + std::string("[") + f + "](" + r.paper->name + "/" + f + ")";
        md << "| " << r.paper->title << " (" << r.paper->authors << ") | `" << r.command << "` | " << fixed(r.seconds, 1)
           << " | " << (r.error.empty() ? "[results.md](" + r.paper->name + "/results.md)" : "failed: " + cell(r.error))
           << " | " << figures << " |\n";
    }
    return md.str();
}

void check_options(AllOptions& o) {
    for (const std::string& name : split_list(o.only)) {
        bool known = false;
        for (const Paper& p : kPapers) known = known || p.name == name;
        if (!known) throw ValueError("bench all: unknown benchmark '" + name + "' in --only (pnf, cnf, mixture, vmonf, f4f)");
    }
    if (split_list(o.only).empty()) throw ValueError("bench all: --only names no benchmark");
    std::error_code ec;
    std::filesystem::create_directories(o.out, ec);
    if (!std::filesystem::is_directory(o.out))
        throw IoError("bench all: cannot create the output directory '" + o.out + "'");
}

void run_all(AllOptions o) {
    check_options(o);
    const auto start = Clock::now();
    const std::vector<std::string> only = split_list(o.only);
    std::vector<Outcome> outcomes;
    for (const Paper& p : kPapers)
        if (std::find(only.begin(), only.end(), p.name) != only.end()) outcomes.push_back(run_paper(p, o));
    const std::string md = report_markdown(o, outcomes, seconds_since(start));
    write_text_atomically(o.out + "/report.md", md, "bench all");
    std::cout << md;
    std::size_t failed = 0;
    std::string which;
    for (const Outcome& r : outcomes)
        if (!r.error.empty()) {
            ++failed;
            which += (which.empty() ? "" : "; ") + r.paper->name + ": " + r.error;
        }
    if (failed)
        throw std::runtime_error("bench all: " + std::to_string(failed) + " of " + std::to_string(outcomes.size()) +
                                 " benchmarks failed (" + which + "); the report says so in " + o.out + "/report.md");
    if (!o.quiet) std::cerr << "bench all: wrote " << o.out << "/report.md\n";
}

}  // namespace

Command add_bench_all(CLI::App& bench, int argc, char** argv) {
    auto o = std::make_shared<AllOptions>();
    for (int k = 0; k < argc; ++k) o->command_line += (k ? " " : "") + std::string(argv[k]);
    CLI::App* sub = bench.add_subcommand("all", "The five papers' benchmarks into one folder, with report.md and its claims table");
    sub->add_flag("--quick", o->quick, "Each benchmark at its --quick size (minutes in all)");
    sub->add_flag("--tiny", o->tiny, "Each benchmark at a smoke-test size (seconds; for tests, the numbers mean nothing)");
    sub->add_option("--out", o->out, "Directory for report.md and one folder per benchmark")->capture_default_str();
    sub->add_option("--seed", o->seed, "Seed passed to every benchmark")->capture_default_str()->check(unsigned_integer());
    sub->add_option("--only", o->only, "Comma-separated benchmarks to run")->capture_default_str();
    sub->add_flag("--quiet", o->quiet, "No progress on stderr");
    return {sub, [o] { run_all(*o); }};
}

}  // namespace flowtape::app
