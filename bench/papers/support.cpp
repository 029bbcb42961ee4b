// The shared pieces of the paper experiments (support.hpp). The header reads the CPU model and the
// load from /proc and asks OpenBLAS for its configuration, so a result names the kernels it ran on.
#include "bench/papers/support.hpp"

#include <cmath>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/atomic_write.hpp"
#include "core/xtensor_blas.hpp"

// OpenBLAS's own extensions (declared here: <cblas.h> conflicts with xtensor-blas's prototypes).
extern "C" {
char* openblas_get_config(void);
int openblas_get_num_threads(void);
}

namespace flowtape::app {
namespace {

std::string first_line_after_colon(const std::string& file, const std::string& key) {
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);)
        if (line.rfind(key, 0) == 0) {
            const auto colon = line.find(':');
            const auto start = line.find_first_not_of(" \t", colon + 1);
            return start == std::string::npos ? "" : line.substr(start);
        }
    return "unknown";
}

std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return a + " " + b + " " + c;
}

}  // namespace

std::string bench_header(const std::string& command_line) {
    char date[64];
    const std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
    const char* blas = openblas_get_config();
    std::ostringstream o;
    o << "- command: `" << command_line << "`\n"
      << "- date: " << date << "\n"
      << "- machine: " << first_line_after_colon("/proc/cpuinfo", "model name") << ", "
      << std::thread::hardware_concurrency() << " logical cores, load average " << load_average() << " at the end\n"
      << "- versions: flowtape " << FLOWTAPE_VERSION << ", g++ " << __GNUC__ << "." << __GNUC_MINOR__ << ", xtensor "
      << XTENSOR_VERSION_MAJOR << "." << XTENSOR_VERSION_MINOR << "." << XTENSOR_VERSION_PATCH << ", xtensor-blas "
      << XTENSOR_BLAS_VERSION_MAJOR << "." << XTENSOR_BLAS_VERSION_MINOR << "." << XTENSOR_BLAS_VERSION_PATCH
      << ", " << (blas ? blas : "OpenBLAS (unknown)") << " (" << openblas_get_num_threads() << " threads)\n";
    return o.str();
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Spread spread_of(const std::vector<double>& values) {
    Spread s;
    s.n = values.size();
    if (values.empty()) return s;
    for (double x : values) s.mean += x;
    s.mean /= static_cast<double>(s.n);
    if (s.n > 1) {
        double ss = 0;
        for (double x : values) ss += (x - s.mean) * (x - s.mean);
        s.sd = std::sqrt(ss / static_cast<double>(s.n - 1));
        s.se = s.sd / std::sqrt(static_cast<double>(s.n));
    }
    return s;
}

std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> out;
    std::stringstream in(text);
    for (std::string item; std::getline(in, item, ',');)
        if (!item.empty()) out.push_back(item);
    return out;
}

std::string fixed(double value, int digits) {
    std::ostringstream o;
    o.setf(std::ios::fixed);
    o.precision(digits);
    o << value;
    return o.str();
}

std::string verdict_of(std::size_t met, std::size_t count) {
    if (count > 0 && met == count) return "reproduced";
    return met == 0 ? "not" : "partly";
}

void write_claims(const std::string& dir, const std::string& bench, const std::vector<Claim>& claims) {
    nlohmann::json list = nlohmann::json::array();
    for (const Claim& c : claims)
        list.push_back({{"claim", c.claim}, {"paper", c.paper}, {"ours", c.ours}, {"verdict", c.verdict}, {"where", c.where}});
    write_text_atomically(dir + "/claims.json", nlohmann::json{{"bench", bench}, {"claims", list}}.dump(2) + "\n",
                          "bench " + bench);
}

}  // namespace flowtape::app
