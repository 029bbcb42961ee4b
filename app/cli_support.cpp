// Model files with their column names, CSV columns matched by name, the OpenBLAS kernel warning
// (see cli_support.hpp).
#include "app/cli_support.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iostream>

#include "autodiff/ops.hpp"
#include "core/error.hpp"
#include "core/random.hpp"
#include "data/csv.hpp"
#include "data/pca.hpp"
#include "flows/mixtures/flow_mixture.hpp"
#include "flows/model_file.hpp"
#include "app/plot.hpp"

// OpenBLAS's own extension (declared here: <cblas.h> conflicts with xtensor-blas's prototypes).
extern "C" char* openblas_get_corename(void);

namespace flowtape::app {
namespace {

// The names stored by `flowtape train`, if they are there and fit the dimension; x0, x1, ... else.
std::vector<std::string> columns_from_extra(const nlohmann::json& extra, std::size_t dim) {
    if (extra.is_object() && extra.contains("columns") && extra["columns"].is_array() &&
        extra["columns"].size() == dim) {
        std::vector<std::string> names;
        for (const auto& v : extra["columns"]) {
            if (!v.is_string()) break;
            names.push_back(v.get<std::string>());
        }
        if (names.size() == dim) return names;
    }
    std::vector<std::string> names;
    for (std::size_t i = 0; i < dim; ++i) {
        std::string name = "x";  // (not "x" + to_string: g++ 12 warns falsely of -Wrestrict there)
        name += std::to_string(i);
        names.push_back(name);
    }
    return names;
}

}  // namespace

std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
    return out;
}

Array take_column(const std::string& who, Dataset& data, const std::string& name, const std::string& path) {
    const auto at = std::find(data.columns.begin(), data.columns.end(), name);
    if (at == data.columns.end())
        throw ValueError(who + ": " + path + " has no column '" + name + "' (columns: " + join(data.columns) + ")");
    if (data.columns.size() == 1)
        throw ValueError(who + ": " + path + ": '" + name + "' is its only column; no data columns are left");
    const auto k = static_cast<std::size_t>(at - data.columns.begin());
    const std::size_t n = data.rows(), d = data.dims();
    Array column = xt::zeros<real>({n, std::size_t(1)});
    Array rest = xt::zeros<real>({n, d - 1});
    for (std::size_t i = 0; i < n; ++i) {
        column(i, 0) = data.x(i, k);
        for (std::size_t j = 0, out = 0; j < d; ++j)
            if (j != k) rest(i, out++) = data.x(i, j);
    }
    data.x = std::move(rest);
    data.columns.erase(at);
    return column;
}

LoadedModel load_model_with_columns(const std::string& who, const std::string& path, bool conditional_ok) {
    LoadedModel loaded;
    loaded.model = load_model(path, &loaded.extra);
    if (loaded.model->context_dim() > 0 && !conditional_ok)
        throw ValueError(who + ": the model in " + path + " is conditional (context dimension " +
                         std::to_string(loaded.model->context_dim()) + "); the command has no context to give it");
    std::size_t data_dims = loaded.model->dim();
    if (loaded.extra.is_object() && loaded.extra.contains("pca")) {
        try {
            loaded.pca = std::make_shared<const data::Pca>(data::Pca::from_json(loaded.extra["pca"]));
        } catch (const Error& e) {
            throw ValueError(who + ": " + path + ": its PCA (extra.pca) is not valid: " + e.what());
        }
        if (loaded.pca->size() != loaded.model->dim())
            throw ValueError(who + ": " + path + ": its PCA has " + std::to_string(loaded.pca->size()) +
                             " components but the model's dimension is " + std::to_string(loaded.model->dim()));
        data_dims = loaded.pca->dims();
    }
    loaded.columns = columns_from_extra(loaded.extra, data_dims);
    return loaded;
}

Array model_input(const LoadedModel& loaded, const Array& rows) {
    return loaded.pca ? loaded.pca->transform(rows) : rows;
}

Array to_data_columns(const LoadedModel& loaded, const Array& draws) {
    return loaded.pca ? loaded.pca->inverse_transform(draws) : draws;
}

void refuse_pca(const std::string& who, const std::string& path, const LoadedModel& loaded) {
    if (loaded.pca)
        throw ValueError(who + ": the model in " + path + " was trained on " + std::to_string(loaded.pca->size()) +
                         " principal components (train --pca); " + who + " needs a model of the data's own columns");
}

Array read_model_data(const std::string& who, const std::string& path, const LoadedModel& loaded) {
    const Dataset data = read_csv(path);
    const std::size_t d = loaded.columns.size();
    std::vector<std::size_t> picked;
    for (const std::string& name : loaded.columns) {
        const auto it = std::find(data.columns.begin(), data.columns.end(), name);
        if (it == data.columns.end()) break;
        picked.push_back(static_cast<std::size_t>(it - data.columns.begin()));
    }
    if (picked.size() != d) {
        if (data.dims() != d)
            throw ShapeError(who + ": " + path + " has columns (" + join(data.columns) + ") but the model takes " +
                             std::to_string(d) + " columns (" + join(loaded.columns) + ")");
        return data.x;  // the names differ but the number fits: the columns in their order
    }
    Array x = Array::from_shape({data.rows(), d});
    for (std::size_t r = 0; r < data.rows(); ++r)
        for (std::size_t j = 0; j < d; ++j) x(r, j) = data.x(r, picked[j]);
    return x;
}

void warn_if_generic_blas(bool quiet) {
    if (quiet) return;
    const char* core = openblas_get_corename();
    if (!core || std::strcmp(core, "Prescott") != 0) return;
    __builtin_cpu_init();
    const char* better = __builtin_cpu_supports("avx512f") ? "SkylakeX" : __builtin_cpu_supports("avx2") ? "Haswell" : nullptr;
    if (!better) return;
    std::cerr << "flowtape: warning: OpenBLAS does not recognise this CPU and uses its generic Prescott kernels, "
              << "several times slower; set OPENBLAS_CORETYPE=" << better << " for its " << better << " kernels\n";
}

IndexArray component_regions(Distribution& model, real lo, real hi, std::size_t g) {
    IndexArray regions = IndexArray::from_shape({g, g});
    const std::vector<std::size_t> cells = predict_components(model, grid_cell_centres(lo, hi, g));
    for (std::size_t k = 0; k < cells.size(); ++k) regions.data()[k] = static_cast<std::int64_t>(cells[k]);
    return regions;
}

}  // namespace flowtape::app
