#include "core/metrics.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/io.h"

namespace popo {

namespace {
std::vector<nlohmann::json> read_rows(const std::string& path, std::vector<std::string>* raw);
}  // namespace

MetricsWriter::MetricsWriter(std::string path) : path_(std::move(path)) { open_append(); }

MetricsWriter::~MetricsWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void MetricsWriter::open_append() {
  const std::filesystem::path parent = std::filesystem::path(path_).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    POPO_CHECK(!ec, path_, ": cannot create folder ", parent.string(), " (", ec.message(), ")");
  }
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
  POPO_CHECK(fd_ >= 0, path_, ": cannot open metrics file for appending (", std::strerror(errno), ")");
  struct stat st {};
  POPO_CHECK(::fstat(fd_, &st) == 0, path_, ": cannot stat (", std::strerror(errno), ")");
  size_ = static_cast<long long>(st.st_size);
}

void MetricsWriter::write(int64_t step, const nlohmann::json& fields) {
  POPO_CHECK(fields.is_object(), path_, ": metrics row for step ", step,
             " must be a JSON object, got ", fields.type_name());
  POPO_CHECK(!fields.contains("step"), path_, ": metrics row for step ", step,
             " must not carry its own \"step\" key");
  // "step" leads the line for readability; the rest keeps nlohmann's (sorted) key order.
  std::string line = "{\"step\":" + std::to_string(step);
  const std::string rest = fields.dump(/*indent=*/-1, /*indent_char=*/' ', /*ensure_ascii=*/false,
                                       nlohmann::json::error_handler_t::replace);
  if (rest.size() > 2)
    line += "," + rest.substr(1);
  else
    line += "}";
  line += "\n";
  try {
    write_all(fd_, line.data(), line.size(), path_);
  } catch (const Error& e) {
    // Cut a partial row off again, so the rows already written stay a valid JSONL file.
    if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
      POPO_FAIL(e.what(), "; cutting the partial row off failed too (", std::strerror(errno), ")");
    }
    POPO_FAIL(e.what(), " (metrics row of step ", step, " not written; the earlier rows are intact)");
  }
  size_ += static_cast<long long>(line.size());
}

void MetricsWriter::truncate_after(int64_t step) {
  ::close(fd_);
  fd_ = -1;
  std::vector<std::string> lines;
  const std::vector<nlohmann::json> rows = read_rows(path_, &lines);
  std::string kept;
  for (size_t i = 0; i < rows.size(); ++i) {
    const nlohmann::json& s =
        rows[i].is_object() && rows[i].contains("step") ? rows[i]["step"] : nullptr;
    if (s.is_number_integer() && s.get<int64_t>() > step) continue;
    kept += lines[i] + "\n";  // the original text, byte for byte
  }
  write_file_atomic(path_, kept);
  open_append();
}

namespace {

// Returns the parsed rows and, when raw is given, each row's original line text.
std::vector<nlohmann::json> read_rows(const std::string& path, std::vector<std::string>* raw) {
  const std::string data = read_file(path);
  std::vector<nlohmann::json> rows;
  size_t pos = 0;
  int lineno = 0;
  while (pos < data.size()) {
    size_t end = data.find('\n', pos);
    const bool torn = end == std::string::npos;
    if (torn) end = data.size();
    const std::string line = data.substr(pos, end - pos);
    pos = end + 1;
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (row.is_discarded()) {
      if (torn) break;  // the last write of a crashed run
      POPO_FAIL(path, ":", lineno, ": not valid JSON");
    }
    rows.push_back(std::move(row));
    if (raw) raw->push_back(line);
  }
  return rows;
}

}  // namespace

std::vector<nlohmann::json> read_metrics(const std::string& path) {
  return read_rows(path, nullptr);
}

Series metric_series(const std::vector<nlohmann::json>& rows, const std::string& key,
                     const std::string& name) {
  Series s{name.empty() ? key : name, {}, {}, {}, {}};
  for (const nlohmann::json& row : rows) {
    if (!row.is_object() || !row.contains("step") || !row["step"].is_number()) continue;
    const auto it = row.find(key);
    s.x.push_back(row["step"].get<double>());
    s.y.push_back(it != row.end() && it->is_number() ? it->get<double>() : std::nan(""));
  }
  return s;
}

}  // namespace popo
