// CSV input and output of data sets: the format the flowtape command reads and writes.
//
// A file is a header row of column names followed by rows of numbers, comma separated. Lines whose
// first non-blank character is '#' are comments and blank lines are skipped, anywhere in the file.
// Spaces and tabs around a field are ignored, as are a UTF-8 byte-order mark at the start and a
// '\r' at the end of a line (files written on Windows). A header name may be wrapped in double
// quotes ("x0", as R writes it); there is no other quoting, so names cannot contain commas.
//
// Numbers are parsed strictly with std::from_chars: the whole field must be one decimal number
// ("1e-3", "-2", "+0.5", ".5"); "nan", "inf", "1e400" and anything with trailing characters are
// errors. Each error is an IoError whose message starts with "path:line:column: ", the column
// being the 1-based field number (line and column point just past the end for "no rows" errors).
//
// Writing goes to a temporary file next to the target (path + ".tmp." and six characters, see
// core/atomic_write.hpp) that is renamed into place once complete, so a reader never sees half a
// file and a failed write leaves the old file alone. Numbers are written in the shortest form
// that reads back to the same double (std::to_chars), so write → read is bit-identical.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "core/types.hpp"
#include "data/dataset.hpp"

namespace flowtape {

// Which columns of a file are not data. An empty name means the file has no such column.
// Weights must be finite, ≥ 0 and not all zero; labels must be integers ("3", or "3.0"), or empty
// for a row without a label (read as kNoLabel, and written back empty).
//
// A part of a file (data-parallel training, where each process reads only its rows): rows
// [first_row, first_row + row_count) of the file's data rows (numbered from 0 in file order, comments
// and blank lines not counted) are parsed and checked; the others are passed over unread (the
// process that holds them checks them). A part may be empty, and its weights may sum to zero; the
// whole file must still have a data row.
struct CsvOptions {
    std::string weights_column{};
    std::string labels_column{};
    std::size_t first_row = 0;
    std::optional<std::size_t> row_count{};  // none: every row from first_row on
};

// The number of data rows of a file (content lines after the header), without parsing them:
// how data-parallel training learns how to share the rows out. IoError for a file that cannot be
// read or has no header.
std::size_t count_csv_rows(const std::string& path);

// Reads a file. IoError for a file that cannot be opened or is malformed; ValueError when the
// weights and labels columns are the same name.
Dataset read_csv(const std::string& path, const CsvOptions& options = {});
// Reads from a stream (stdin); `name` stands for the path in error messages ("<stdin>").
Dataset read_csv(std::istream& in, const std::string& name, const CsvOptions& options = {});

// Writes x (N×D) under a header of D column names, with an optional label column (N×1) last.
// ShapeError when the sizes disagree; ValueError for names that would not read back (empty,
// duplicated, containing ',', '"' or a line break, with blanks at either end, or a first name
// starting with '#'); NonFiniteError for a NaN or infinite value (it could not be read back);
// IoError when the file cannot be written (the temporary file is removed, the target untouched).
void write_csv(const std::string& path, const Array& x, const std::vector<std::string>& columns,
               const std::optional<IndexArray>& labels = std::nullopt,
               const std::string& labels_column = "label");
void write_csv(std::ostream& out, const Array& x, const std::vector<std::string>& columns,
               const std::optional<IndexArray>& labels = std::nullopt,
               const std::string& labels_column = "label");

// Writes a whole Dataset: its columns, then a weights column and a labels column when present,
// under the given names. Same errors as above.
void write_csv(const std::string& path, const Dataset& data, const std::string& weights_column = "weight",
               const std::string& labels_column = "label");
void write_csv(std::ostream& out, const Dataset& data, const std::string& weights_column = "weight",
               const std::string& labels_column = "label");

}  // namespace flowtape
