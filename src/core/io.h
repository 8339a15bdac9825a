// File IO shared by every layer: whole-file reads, atomic writes (temporary name, fsync, rename,
// so a crash mid-write leaves the previous file intact), and JSONL reading with line numbers.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace popo {

// Returns the whole file as bytes; throws popo::Error naming the path if it cannot be read.
std::string read_file(const std::string& path);

// Writes data to path atomically: path.tmp.<pid> is written, flushed, fsynced, then renamed over
// path, and the folder is fsynced. Parent folders are created. Throws popo::Error naming the path
// on failure (a full disk included), with the temporary file removed and path untouched.
void write_file_atomic(const std::string& path, const std::string& data);

// Writes all n bytes of data to the open descriptor fd (EINTR and short writes retried); path
// names the file in the error thrown when a write fails. Every file popo writes goes through
// here, so the fault-injection point below covers them all.
void write_all(int fd, const char* data, size_t n, const std::string& path);

// Fault injection for the crash-safety tests, read from the environment once per process:
//   POPO_FAULT=kill|enospc     what happens when the byte budget is spent: the process SIGKILLs
//                              itself, or that write and every later one fails with ENOSPC (a
//                              full disk)
//   POPO_FAULT_AFTER_BYTES=K   the budget: bytes written through write_all before the fault
//   POPO_FAULT_PATH=S          count only writes to paths containing S (default: all)
// The write that crosses the budget writes its first bytes up to K, then faults. Unset, nothing
// changes.

// Calls fsync on the folder dir, so a rename inside it survives a power cut. Throws popo::Error
// naming the folder when the folder cannot be opened or synced.
void fsync_dir(const std::string& dir);

// Calls fn(row, line_number) for each non-blank line of a JSONL file (line numbers from 1).
// A line that is not valid JSON throws popo::Error naming the file and line.
void for_each_jsonl(const std::string& path,
                    const std::function<void(const nlohmann::json&, int)>& fn);
// The same over JSONL text already in memory; origin names it in errors.
void for_each_jsonl_text(const std::string& text, const std::string& origin,
                         const std::function<void(const nlohmann::json&, int)>& fn);

// A file's size and a 64-bit digest of its bytes (16 hex digits; not cryptographic): what a
// checkpoint records of each of its files, to tell a truncated or corrupt one on resume.
struct FileDigest {
  uint64_t bytes = 0;
  std::string hash;
};
// Returns the digest of the file at path, read in 1 MiB pieces; throws popo::Error naming it.
FileDigest file_digest(const std::string& path);

// Returns true if a file or folder exists at path; false also when it cannot be checked (a name
// too long, a folder without permission): never throws, as std::filesystem::exists does.
bool path_exists(const std::string& path);
// Returns true if path is a folder (false when it cannot be checked; never throws).
bool is_folder(const std::string& path);

// Returns a + "/" + b, without doubling a trailing slash.
std::string path_join(const std::string& a, const std::string& b);

}  // namespace popo
