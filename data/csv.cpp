// CSV reading and writing (see csv.hpp for the format). The reader walks the lines once, keeping
// the line number for messages; fields are string_views into the current line, so parsing a row
// allocates nothing beyond the growing value buffers.
#include "data/csv.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <istream>
#include <ostream>
#include <string_view>
#include <system_error>

#include "core/atomic_write.hpp"
#include "core/error.hpp"

namespace flowtape {
namespace {

// ---- reading: positions and messages ----

[[noreturn]] void fail_at(const std::string& name, std::size_t line, std::size_t column,
                          const std::string& message) {
    throw IoError(name + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message);
}

std::string in_quotes(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out += '\'';
    out += s;
    out += '\'';
    return out;
}

std::string join_names(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
}

// ---- reading: lines and fields ----

std::string_view trim(std::string_view s) {
    const auto first = s.find_first_not_of(" \t");
    if (first == std::string_view::npos) return {};
    const auto last = s.find_last_not_of(" \t");
    return s.substr(first, last - first + 1);
}

// A blank line, or one whose first non-blank character is '#'.
bool is_skipped(std::string_view line) {
    const std::string_view t = trim(line);
    return t.empty() || t.front() == '#';
}

void split_fields(std::string_view line, std::vector<std::string_view>& fields) {
    fields.clear();
    std::size_t start = 0;
    while (true) {
        const std::size_t comma = line.find(',', start);
        if (comma == std::string_view::npos) {
            fields.push_back(trim(line.substr(start)));
            return;
        }
        fields.push_back(trim(line.substr(start, comma - start)));
        start = comma + 1;
    }
}

// Hands out the lines that carry content (not comments, not blank), counting every line read.
class LineSource {
public:
    explicit LineSource(std::istream& in) : in_(in) {}

    // False at the end of the input.
    bool next(std::string_view& content) {
        while (std::getline(in_, line_)) {
            ++line_number_;
            std::string_view v(line_);
            if (line_number_ == 1 && v.substr(0, 3) == "\xEF\xBB\xBF") v.remove_prefix(3);  // BOM
            if (!v.empty() && v.back() == '\r') v.remove_suffix(1);
            if (is_skipped(v)) continue;
            content = v;
            return true;
        }
        return false;
    }
    std::size_t line_number() const { return line_number_; }
    bool failed() const { return in_.bad(); }

private:
    std::istream& in_;
    std::string line_;
    std::size_t line_number_ = 0;
};

// ---- reading: numbers ----

enum class Parse { ok, empty, not_a_number, not_finite, out_of_range };

// The whole field must be one decimal number; a single leading '+' is allowed.
Parse parse_real(std::string_view field, real& value) {
    if (field.empty()) return Parse::empty;
    if (field.size() > 1 && field.front() == '+' && field[1] != '-' && field[1] != '+') field.remove_prefix(1);
    const char* end = field.data() + field.size();
    const auto [ptr, ec] = std::from_chars(field.data(), end, value, std::chars_format::general);
    if (ec == std::errc::result_out_of_range && ptr == end) return Parse::out_of_range;
    if (ec != std::errc() || ptr != end) return Parse::not_a_number;
    if (!std::isfinite(value)) return Parse::not_finite;
    return Parse::ok;
}

// "3", "-1", or a double with an integral value in range ("3.0", "1e2").
bool parse_label(std::string_view field, std::int64_t& value) {
    if (field.size() > 1 && field.front() == '+' && field[1] != '-' && field[1] != '+') field.remove_prefix(1);
    const char* end = field.data() + field.size();
    const auto [ptr, ec] = std::from_chars(field.data(), end, value);
    if (ec == std::errc() && ptr == end) return true;
    real r = 0;
    if (parse_real(field, r) != Parse::ok || r != std::floor(r) || std::fabs(r) >= 0x1.0p63) return false;
    value = static_cast<std::int64_t>(r);
    return true;
}

// ---- reading: the header ----

enum class Role { data, weights, labels };

struct Header {
    std::size_t line = 0;
    std::vector<std::string> names;  // every column of the file
    std::vector<Role> roles;         // one per column
    std::size_t weights_index = 0, labels_index = 0;
    bool has_weights = false, has_labels = false;
};

std::string_view unquote(std::string_view s) {
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return s.substr(1, s.size() - 2);
    return s;
}

Header parse_header(LineSource& lines, const std::string& name, const CsvOptions& options) {
    std::string_view content;
    if (!lines.next(content))
        fail_at(name, lines.line_number() + 1, 1,
                lines.line_number() == 0 ? "empty file: expected a header row of column names"
                                         : "no header row: the file holds only comments and blank lines");
    Header h;
    h.line = lines.line_number();
    std::vector<std::string_view> fields;
    split_fields(content, fields);
    for (std::size_t k = 0; k < fields.size(); ++k) {
        const std::string_view n = unquote(fields[k]);
        if (n.empty()) fail_at(name, h.line, k + 1, "empty column name in the header");
        for (std::size_t j = 0; j < k; ++j)
            if (h.names[j] == n)
                fail_at(name, h.line, k + 1,
                        "duplicate column name " + in_quotes(n) + " (also column " + std::to_string(j + 1) + ")");
        h.names.emplace_back(n);
        h.roles.push_back(Role::data);
    }
    const auto find_role = [&](const std::string& column, Role role, const char* what, std::size_t& index) {
        if (column.empty()) return false;
        for (std::size_t k = 0; k < h.names.size(); ++k)
            if (h.names[k] == column) {
                h.roles[k] = role;
                index = k;
                return true;
            }
        fail_at(name, h.line, 1,
                "no column named " + in_quotes(column) + " for the " + what + " (columns: " + join_names(h.names) + ")");
    };
    h.has_weights = find_role(options.weights_column, Role::weights, "weights", h.weights_index);
    h.has_labels = find_role(options.labels_column, Role::labels, "labels", h.labels_index);
    if (h.names.size() == std::size_t(h.has_weights) + std::size_t(h.has_labels))
        fail_at(name, h.line, 1, "no data columns: the header names only the weights/labels column");
    return h;
}

// ---- reading: the rows ----

void parse_data_field(std::string_view field, const std::string& column, real& value, const std::string& name,
                      std::size_t line, std::size_t k) {
    switch (parse_real(field, value)) {
        case Parse::ok:
            return;
        case Parse::empty:
            fail_at(name, line, k, "empty field in column " + in_quotes(column) + " (expected a number)");
        case Parse::not_a_number:
            fail_at(name, line, k, in_quotes(field) + " in column " + in_quotes(column) + " is not a number");
        case Parse::not_finite:
            fail_at(name, line, k, in_quotes(field) + " in column " + in_quotes(column) + " is not a finite number");
        case Parse::out_of_range:
            fail_at(name, line, k, in_quotes(field) + " in column " + in_quotes(column) + " is out of the range of a double");
    }
}

Array to_array(const std::vector<real>& values, std::size_t rows, std::size_t cols) {
    Array a = Array::from_shape({rows, cols});
    std::copy(values.begin(), values.end(), a.begin());
    return a;
}

}  // namespace

Dataset read_csv(std::istream& in, const std::string& name, const CsvOptions& options) {
    if (!options.weights_column.empty() && options.weights_column == options.labels_column)
        throw ValueError("read_csv: the weights and labels columns must differ (both " +
                         in_quotes(options.weights_column) + ")");
    LineSource lines(in);
    const Header h = parse_header(lines, name, options);
    const std::size_t ncols = h.names.size();

    std::vector<real> values, weights;
    std::vector<std::int64_t> labels;
    std::vector<std::string_view> fields;
    std::size_t rows = 0;
    real weight_sum = 0;
    std::string_view content;
    const bool part = options.first_row > 0 || options.row_count.has_value();
    const std::size_t part_end =
        options.row_count ? options.first_row + *options.row_count : static_cast<std::size_t>(-1);
    std::size_t data_row = 0;  // in the whole file
    while (lines.next(content)) {
        const std::size_t line = lines.line_number();
        if (data_row++ < options.first_row) continue;  // another process's rows
        if (data_row > part_end) break;
        split_fields(content, fields);
        if (fields.size() != ncols)
            fail_at(name, line, std::min(fields.size(), ncols) + 1,
                    "ragged row: expected " + std::to_string(ncols) + " fields (as in the header on line " +
                        std::to_string(h.line) + "), found " + std::to_string(fields.size()));
        for (std::size_t k = 0; k < ncols; ++k) {
            const std::string_view f = fields[k];
            switch (h.roles[k]) {
                case Role::data: {
                    real v = 0;
                    parse_data_field(f, h.names[k], v, name, line, k + 1);
                    values.push_back(v);
                    break;
                }
                case Role::weights: {
                    real w = 0;
                    parse_data_field(f, h.names[k], w, name, line, k + 1);
                    if (w < 0) fail_at(name, line, k + 1, "negative weight " + in_quotes(f) + " in column " + in_quotes(h.names[k]));
                    weights.push_back(w);
                    weight_sum += w;
                    break;
                }
                case Role::labels: {
                    std::int64_t label = kNoLabel;  // an empty field: the row has no label
                    if (!f.empty() && !parse_label(f, label))
                        fail_at(name, line, k + 1, "label " + in_quotes(f) + " in column " + in_quotes(h.names[k]) + " is not an integer");
                    labels.push_back(label);
                    break;
                }
            }
        }
        ++rows;
    }
    if (lines.failed()) fail_at(name, lines.line_number() + 1, 1, "read error");
    if (rows == 0 && (!part || data_row == 0))
        fail_at(name, lines.line_number() + 1, 1,
                "no data rows after the header on line " + std::to_string(h.line));
    if (h.has_weights && !std::isfinite(weight_sum))
        fail_at(name, h.line, h.weights_index + 1,
                "the weights in column " + in_quotes(h.names[h.weights_index]) + " sum to a non-finite value");
    if (h.has_weights && !part && weight_sum == 0)
        fail_at(name, h.line, h.weights_index + 1,
                "the weights in column " + in_quotes(h.names[h.weights_index]) + " sum to zero");

    Dataset d;
    for (std::size_t k = 0; k < ncols; ++k)
        if (h.roles[k] == Role::data) d.columns.push_back(h.names[k]);
    d.x = to_array(values, rows, d.columns.size());
    if (h.has_weights) d.weights = to_array(weights, rows, 1);
    if (h.has_labels) {
        IndexArray l = IndexArray::from_shape({rows, 1});
        std::copy(labels.begin(), labels.end(), l.begin());
        d.labels = std::move(l);
    }
    return d;
}

Dataset read_csv(const std::string& path, const CsvOptions& options) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw IoError(path + ": cannot open for reading: it is a directory");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError(path + ": cannot open for reading: " + std::strerror(errno));
    return read_csv(in, path, options);
}

std::size_t count_csv_rows(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw IoError(path + ": cannot open for reading: it is a directory");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError(path + ": cannot open for reading: " + std::strerror(errno));
    LineSource lines(in);
    std::string_view content;
    if (!lines.next(content))
        fail_at(path, lines.line_number() + 1, 1,
                lines.line_number() == 0 ? "empty file: expected a header row of column names"
                                         : "no header row: the file holds only comments and blank lines");
    std::size_t rows = 0;
    while (lines.next(content)) ++rows;
    if (lines.failed()) fail_at(path, lines.line_number() + 1, 1, "read error");
    return rows;
}

// ---- writing ----

namespace {

void check_names(const std::vector<std::string>& names) {
    for (std::size_t k = 0; k < names.size(); ++k) {
        const std::string& n = names[k];
        const auto bad = [&](const std::string& why) {
            throw ValueError("write_csv: column name " + in_quotes(n) + " (column " + std::to_string(k + 1) + ") " + why);
        };
        if (n.empty()) bad("is empty");
        if (n.find_first_of(",\"\r\n") != std::string::npos) bad("contains a comma, a quote or a line break");
        if (trim(n).size() != n.size()) bad("has blanks at either end");
        if (k == 0 && n.front() == '#') bad("starts with '#' and would read as a comment");
        for (std::size_t j = 0; j < k; ++j)
            if (names[j] == n) bad("duplicates column " + std::to_string(j + 1));
    }
}

void check_finite(const Array& a, const std::vector<std::string>& names, std::size_t first_name) {
    for (std::size_t i = 0; i < a.shape()[0]; ++i)
        for (std::size_t j = 0; j < a.shape()[1]; ++j)
            if (!std::isfinite(a(i, j)))
                throw NonFiniteError("write_csv: value " + std::to_string(a(i, j)) + " in row " + std::to_string(i + 1) +
                                     ", column " + in_quotes(names[first_name + j]) + " is not finite");
}

void check_column(const char* what, Shape s, std::size_t rows) {
    if (s[0] != rows || s[1] != 1)
        throw ShapeError(std::string("write_csv: ") + what + " are " + shape_string(s) + ", expected " +
                         shape_string({rows, 1}) + " for " + std::to_string(rows) + " rows");
}

void put_real(std::ostream& out, real v) {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest form that reads back exactly
    out.write(buf, r.ptr - buf);
}

// Everything written, in order: the x columns, then optional weights and labels columns.
struct Table {
    const Array& x;
    const Array* weights;
    const IndexArray* labels;
    std::vector<std::string> names;
};

Table make_table(const Array& x, const std::vector<std::string>& columns, const Array* weights,
                 const std::string& weights_column, const IndexArray* labels, const std::string& labels_column) {
    const std::size_t n = x.shape()[0];
    if (columns.size() != x.shape()[1])
        throw ShapeError("write_csv: " + std::to_string(columns.size()) + " column names for data of shape " +
                         shape_string(shape_of(x)));
    Table t{x, weights, labels, columns};
    if (weights) {
        check_column("weights", shape_of(*weights), n);
        t.names.push_back(weights_column);
    }
    if (labels) {
        check_column("labels", {labels->shape()[0], labels->shape()[1]}, n);
        t.names.push_back(labels_column);
    }
    check_names(t.names);
    check_finite(x, t.names, 0);
    if (weights) {
        check_finite(*weights, t.names, columns.size());
        for (std::size_t i = 0; i < n; ++i)
            if ((*weights)(i, 0) < 0)
                throw ValueError("write_csv: negative weight " + std::to_string((*weights)(i, 0)) + " in row " +
                                 std::to_string(i + 1) + " (it would not read back)");
        if (xt::sum(*weights)() == 0) throw ValueError("write_csv: the weights sum to zero (they would not read back)");
    }
    return t;
}

void write_table(std::ostream& out, const Table& t) {
    for (std::size_t k = 0; k < t.names.size(); ++k) out << (k ? "," : "") << t.names[k];
    out << '\n';
    for (std::size_t i = 0; i < t.x.shape()[0]; ++i) {
        for (std::size_t j = 0; j < t.x.shape()[1]; ++j) {
            if (j) out << ',';
            put_real(out, t.x(i, j));
        }
        if (t.weights) {
            out << ',';
            put_real(out, (*t.weights)(i, 0));
        }
        if (t.labels) {
            out << ',';
            if ((*t.labels)(i, 0) != kNoLabel) out << (*t.labels)(i, 0);  // no label: an empty field
        }
        out << '\n';
    }
}

void write_to_stream(std::ostream& out, const Table& t) {
    write_table(out, t);
    out.flush();
    if (!out) throw IoError("write_csv: writing to the output stream failed");
}

// Note [atomic writes]: the table goes to a temporary file next to `path` (core/atomic_write.hpp),
// renamed over `path` only when every byte was written, flushed to disk and the file closed
// cleanly; readers see the old file or the new one, never a mixture, and on any failure the
// temporary is removed and the old file stays as it was. The stream's own failures are reported
// here, with errno read before the message is built.
void write_to_file(const std::string& path, const Table& t) {
    const auto write = [&](const std::string& tmp) {
        const auto give_up = [&](const char* what) {
            const int e = errno;
            throw IoError("write_csv: " + std::string(what) + " " + in_quotes(tmp) + " for " + in_quotes(path) +
                          " failed: " + std::strerror(e));
        };
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) give_up("opening");
        write_table(out, t);
        out.flush();
        if (!out) give_up("writing");
        out.close();
        if (out.fail()) give_up("closing");
    };
    write_atomically(path, write, "write_csv");
}

const IndexArray* ptr(const std::optional<IndexArray>& o) { return o ? &*o : nullptr; }
const Array* ptr(const std::optional<Array>& o) { return o ? &*o : nullptr; }

}  // namespace

void write_csv(std::ostream& out, const Array& x, const std::vector<std::string>& columns,
               const std::optional<IndexArray>& labels, const std::string& labels_column) {
    write_to_stream(out, make_table(x, columns, nullptr, "", ptr(labels), labels_column));
}

void write_csv(const std::string& path, const Array& x, const std::vector<std::string>& columns,
               const std::optional<IndexArray>& labels, const std::string& labels_column) {
    write_to_file(path, make_table(x, columns, nullptr, "", ptr(labels), labels_column));
}

void write_csv(std::ostream& out, const Dataset& data, const std::string& weights_column,
               const std::string& labels_column) {
    write_to_stream(out, make_table(data.x, data.columns, ptr(data.weights), weights_column, ptr(data.labels),
                                    labels_column));
}

void write_csv(const std::string& path, const Dataset& data, const std::string& weights_column,
               const std::string& labels_column) {
    write_to_file(path, make_table(data.x, data.columns, ptr(data.weights), weights_column, ptr(data.labels),
                                   labels_column));
}

}  // namespace flowtape
