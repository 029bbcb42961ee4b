// `flowtape datasets NAME [-n N]`: writes a built-in data set to stdout as CSV. The 2-D sets
// (data/datasets.hpp) are drawn from the seed under the header x0,x1 (and a label column with
// --labels, for the sets that have classes); -n defaults to the mixtures-of-flows paper's size for
// its four sets and to 1000 for the others. The image sets — mnist, mnist5 (digits 0–4) and
// fashion-mnist (data/mnist.hpp, data/fashion_mnist.hpp) — are files, written whole as 784 columns
// p0 … p783 and a label column, or with -n as the first N rows after a shuffle from the seed. The
// rows are a deterministic function of the command line, so a data file can be made again exactly.
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/cli_support.hpp"
#include "app/commands.hpp"
#include "core/error.hpp"
#include "core/random.hpp"
#include "data/conditional.hpp"
#include "data/csv.hpp"
#include "data/datasets.hpp"
#include "data/fashion_mnist.hpp"
#include "data/mnist.hpp"

namespace flowtape::app {
namespace {

constexpr std::size_t kDefaultRows = 1000;

struct DatasetsOptions {
    std::string name;
    std::size_t n = kDefaultRows;
    bool n_given = false;  // set from the parse: the default depends on the set
    std::uint64_t seed = 0;
    bool labels = false;
    std::string condition;  // empty: none; rotation | radial-scale (data/conditional.hpp)
};

const std::vector<std::string> image_sets = {"mnist", "mnist5", "fashion-mnist"};

bool is_image_set(const std::string& name) {
    for (const std::string& s : image_sets)
        if (name == s) return true;
    return false;
}

std::string names_list() {
    std::string out;
    for (const std::string& name : dataset_names()) out += (out.empty() ? "" : ", ") + name;
    for (const std::string& name : image_sets) out += ", " + name;
    return out;
}

// The whole image set, from the folders the data modules name (FLOWTAPE_MNIST_DIR, ...).
Dataset load_image_set(const std::string& name) {
    if (name == "mnist") return read_mnist(mnist_dir());
    if (name == "mnist5") return read_mnist(mnist_dir(), {0, 1, 2, 3, 4});
    return read_fashion_mnist(fashion_mnist_dir());
}

// The first n rows of a seeded permutation of `data`'s rows.
Dataset shuffled_head(const Dataset& data, std::size_t n, std::uint64_t seed) {
    const std::size_t rows = data.rows(), d = data.dims();
    Rng rng(seed);
    const std::vector<std::size_t> order = rng.permutation(rows);
    Dataset out;
    out.x = Array::from_shape({n, d});
    IndexArray labels = IndexArray::from_shape({n, 1});
    for (std::size_t i = 0; i < n; ++i) {
        std::copy_n(data.x.begin() + static_cast<std::ptrdiff_t>(order[i] * d), d,
                    out.x.begin() + static_cast<std::ptrdiff_t>(i * d));
        labels(i, 0) = (*data.labels)(order[i], 0);
    }
    out.columns = data.columns;
    out.labels = std::move(labels);
    return out;
}

void run_datasets(const DatasetsOptions& o) {
    if (o.n_given && o.n == 0) throw ValueError("datasets: -n must be at least 1, got 0");
    if (is_image_set(o.name)) {
        Dataset data = load_image_set(o.name);
        if (o.n_given) {
            if (o.n > data.rows())
                throw ValueError("datasets: -n " + std::to_string(o.n) + " is more than the " +
                                 std::to_string(data.rows()) + " images of " + o.name);
            data = shuffled_head(data, o.n, o.seed);
        }
        write_csv(std::cout, data.x, data.columns, data.labels);
    } else {
        // Checked before drawing so that an unknown name lists the image sets too, and the message
        // for --labels names the set, not a missing column.
        bool known = false;
        for (const std::string& s : dataset_names()) known = known || s == o.name;
        if (!known) throw ValueError("datasets: unknown data set '" + o.name + "' (known: " + names_list() + ")");
        const std::size_t classes = dataset_classes(o.name);
        if (o.labels && classes == 0)
            throw ValueError("datasets: '" + o.name + "' has no labels (sets with labels: see docs/datasets.md)");
        const std::size_t paper = dataset_paper_rows(o.name);
        const std::size_t n = o.n_given ? o.n : (paper > 0 ? paper : kDefaultRows);
        Rng rng(o.seed);
        if (!o.condition.empty()) {
            if (o.labels) throw ValueError("datasets: --condition writes x0,x1,condition; drop --labels");
            const ConditionalSample c = make_conditional_dataset(o.condition, o.name, n, rng);
            Array out = xt::zeros<real>({n, std::size_t(3)});
            for (std::size_t i = 0; i < n; ++i) {
                out(i, 0) = c.x(i, 0);
                out(i, 1) = c.x(i, 1);
                out(i, 2) = c.condition(i, 0);
            }
            write_csv(std::cout, out, {"x0", "x1", "condition"});
            std::cout.flush();
            if (!std::cout) throw IoError("datasets: could not write to stdout");
            return;
        }
        const Dataset data = make_dataset(o.name, n, rng);
        std::optional<IndexArray> labels;
        if (o.labels) labels = data.labels;
        write_csv(std::cout, data.x, data.columns, labels);
    }
    std::cout.flush();
    if (!std::cout) throw IoError("datasets: could not write to stdout");
}

}  // namespace

Command add_datasets(CLI::App& app) {
    auto options = std::make_shared<DatasetsOptions>();
    CLI::App* sub = app.add_subcommand("datasets", "Write a built-in data set as CSV to stdout");
    sub->add_option("name", options->name, "The data set, one of: " + names_list())->required();
    CLI::Option* n = sub->add_option("-n", options->n,
                                     "Number of rows. 2-D sets: the paper's size for circles, half-moons (1000), "
                                     "pinwheel-johnson (2560) and two-bananas (4000), else 1000. Image sets: all "
                                     "images, or the first N after a shuffle from --seed")
                         ->check(unsigned_integer());
    sub->add_option("--seed", options->seed, "Seed of the random draws (and of the image sets' shuffle)")
        ->capture_default_str()->check(unsigned_integer());
    sub->add_flag("--labels", options->labels,
                  "Add the class label as a last column 'label' (the image sets always have it)");
    sub->add_option("--condition", options->condition,
                    "2-D sets: each row rotated (rotation: 0..45 degrees, scaled by 1/sqrt 2) or scaled "
                    "(radial-scale: 0.5..1) by its own condition, written as a column 'condition'");
    return {sub, [options, n] {
                options->n_given = n->count() > 0;
                run_datasets(*options);
            }};
}

}  // namespace flowtape::app
