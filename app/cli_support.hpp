// What several subcommands share: loading a model file together with the names of the data columns
// it was trained on, and reading a CSV whose columns are matched to a model's by name.
//
// `flowtape train` stores the data columns' names in the model file's "extra" JSON ({"columns":
// [...]}), so sample can write the same header and logprob/plot can pick the model's columns out of
// a file that has more (a label column, say). A model file without that field (written by other
// code) gets the names x0, x1, ...
//
// A model trained with `train --pca P` holds its projection (data/pca.hpp) in extra["pca"]: the
// columns are then the data's D columns, the model's own dimension is P, and model_input /
// to_data_columns map between them (the model's density is that of the projected rows).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/types.hpp"
#include "data/dataset.hpp"
#include "flows/distribution.hpp"

namespace flowtape::data {
struct Pca;
}

namespace flowtape::app {

struct LoadedModel {
    DistributionPtr model;
    std::vector<std::string> columns;      // one name per data column (the model's dimension without PCA)
    nlohmann::json extra;                  // the file's "extra" value (null if none)
    std::shared_ptr<const data::Pca> pca;  // the projection in front of the model, or null
};

// load_model plus the column names; ValueError naming `who` when the model is conditional (the
// command has no way to give it a context) unless `conditional_ok`.
LoadedModel load_model_with_columns(const std::string& who, const std::string& path, bool conditional_ok = false);

// The rows of the CSV file at `path` in the model's data columns: picked by name when the file has
// all of them, else every column of the file when their number is the columns'. ShapeError naming
// `who`, both column lists and the dimension otherwise.
Array read_model_data(const std::string& who, const std::string& path, const LoadedModel& loaded);

// Rows in the data columns as the model's input: projected when the model has a PCA in front.
Array model_input(const LoadedModel& loaded, const Array& rows);

// The model's draws in the data columns: mapped back through the PCA when there is one (the
// reconstruction from P components), unchanged otherwise.
Array to_data_columns(const LoadedModel& loaded, const Array& draws);

// ValueError naming `who` when the model has a PCA in front (commands that need the model on the
// data's own columns: plot, kl).
void refuse_pca(const std::string& who, const std::string& path, const LoadedModel& loaded);

// A CLI11 check for unsigned options: digits only, so "-3" is refused instead of wrapping around to
// a huge unsigned value (CLI11's conversion to std::size_t accepts a minus sign).
inline CLI::Validator unsigned_integer() {
    return CLI::Validator(
        [](const std::string& text) {
            if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos)
                return std::string("must be a non-negative integer below 10^18, got '" + text + "'");
            return std::string();
        },
        "UINT");
}

// The component each cell of the G×G grid over [lo, hi]² picks (argmax posterior; the layout of
// Panel::regions, app/plot.hpp) for a model holding a mixture: its decision regions.
IndexArray component_regions(Distribution& model, real lo, real hi, std::size_t g);

// Removes the column `name` from data (its x and columns) and returns it (N×1): a condition
// column. ValueError naming `who`, the file and the columns when there is no such column or it is
// the only one.
Array take_column(const std::string& who, Dataset& data, const std::string& name, const std::string& path);

// "a, b, c".
std::string join(const std::vector<std::string>& names);

// One line on stderr before a long run when OpenBLAS did not recognise the CPU and fell back to its
// generic Prescott kernels although the CPU has AVX2 or AVX-512 (OpenBLAS 0.3.21 predates recent
// Xeons, e.g. CPU model 207): their matrix products run several times slower (measured 5–9 against
// 46 GFLOP/s here). OpenBLAS picks its kernels when it is loaded, before main, so the command cannot
// switch them itself; the line names the OPENBLAS_CORETYPE value to set. Nothing when `quiet`.
void warn_if_generic_blas(bool quiet);

}  // namespace flowtape::app
