#include "core/metrics.h"

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
  if (file_) std::fclose(file_);
}

void MetricsWriter::open_append() {
  const std::filesystem::path parent = std::filesystem::path(path_).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    POPO_CHECK(!ec, path_, ": cannot create folder ", parent.string(), " (", ec.message(), ")");
  }
  file_ = std::fopen(path_.c_str(), "ab");
  POPO_CHECK(file_ != nullptr, path_, ": cannot open metrics file for appending (",
             std::strerror(errno), ")");
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
  POPO_CHECK(
      std::fwrite(line.data(), 1, line.size(), file_) == line.size() && std::fflush(file_) == 0,
      path_, ": write failed (", std::strerror(errno), ")");
}

void MetricsWriter::truncate_after(int64_t step) {
  std::fclose(file_);
  file_ = nullptr;
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
