// File IO shared by every layer: whole-file reads, atomic writes (temporary name, fsync, rename,
// so a crash mid-write leaves the previous file intact), and JSONL reading with line numbers.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace popo {

// Returns the whole file as bytes; throws popo::Error naming the path if it cannot be read.
std::string read_file(const std::string& path);

// Writes data to path atomically: path.tmp.<pid> is written, flushed, fsynced, then renamed over
// path. Parent folders are created. Throws popo::Error naming the path on failure.
void write_file_atomic(const std::string& path, const std::string& data);

// Calls fn(row, line_number) for each non-blank line of a JSONL file (line numbers from 1).
// A line that is not valid JSON throws popo::Error naming the file and line.
void for_each_jsonl(const std::string& path,
                    const std::function<void(const nlohmann::json&, int)>& fn);

// Returns true if a file or folder exists at path.
bool path_exists(const std::string& path);

// Returns a + "/" + b, without doubling a trailing slash.
std::string path_join(const std::string& a, const std::string& b);

}  // namespace popo
