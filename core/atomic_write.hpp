// Atomic file writes: every file flowtape writes (model files, CSV, figures, bench results) goes
// to a temporary file in the target's own folder, is flushed to disk and only then renamed over the
// target. rename() within one folder is atomic on POSIX, so a reader sees the old file or the new
// one, never half of one; a write that fails at any point, an exception from the writer included,
// removes the temporary and leaves the old file as it was.
//
// The temporary is named <target>.tmp.<pid>.<6 characters> and created with O_EXCL, so two writers
// of the same target (two threads, two processes) never share one, and a stale one left by a killed
// process is never reused. A process killed mid-write (SIGKILL) leaves the old target whole and its
// temporary behind; the next successful write of the target removes the temporaries whose process
// is gone (test/core/crash_safe_test.sh kills writers at random moments). It is created with mode 0666 less the umask, as a plain open() would make the
// target, not mkstemp's 0600: the renamed file gets the permissions users expect.
//
// Errors the helper meets itself are IoError "<path>: <who>: <what failed>: <the system's reason>",
// <who> naming the caller ("write_csv", "save_model"); the path comes first, as in the errors of
// reading a file. An exception thrown by the writer passes through unchanged.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace flowtape {

// Writes `text` to `path` atomically (see above).
void write_text_atomically(const std::string& path, std::string_view text, const std::string& who);

// Calls `write(temporary)` to write the file under the temporary's name (for writers that take a
// path, such as cairo's PNG and SVG output), then flushes it to disk and renames it over `path`.
// The writer must write into the file at that path (opening and truncating it is fine); replacing
// it by another file (a rename onto the name) would leave the flush to the wrong file.
void write_atomically(const std::string& path, const std::function<void(const std::string& temporary)>& write,
                      const std::string& who);

}  // namespace flowtape
