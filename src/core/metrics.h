// Metrics log: one JSON object per line in run_dir/metrics.jsonl, flushed as written so a crash
// loses at most the line being written (the verl / TRL convention of a per-step JSONL). Resuming
// from a checkpoint cuts the rows written after that checkpoint's step. Does not aggregate or plot
// (core/plot.h draws the curves).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/plot.h"

namespace popo {

class MetricsWriter {
 public:
  // Opens path for appending, creating the file and its parent folders. Throws popo::Error naming
  // the path if it cannot be opened.
  explicit MetricsWriter(std::string path);
  ~MetricsWriter();
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;

  // Appends {"step": step, <fields>} as one line and flushes it. fields must be a JSON object
  // without a "step" key. Non-finite numbers are written as null (JSON has no NaN). A failed
  // write (a full disk) throws popo::Error naming the file, with the file cut back to its rows
  // before this one: no torn line is left behind.
  void write(int64_t step, const nlohmann::json& fields);

  // Rewrites the file (atomically) keeping only rows whose "step" is <= step, so a run resumed
  // from step's checkpoint does not leave rows of the lost steps behind; later writes append.
  // A torn last line (crash mid-write) is dropped as well.
  void truncate_after(int64_t step);

  // Returns the file path.
  const std::string& path() const { return path_; }

 private:
  void open_append();
  std::string path_;
  int fd_ = -1;
  long long size_ = 0;  // bytes of whole rows in the file
};

// Returns the rows of a metrics.jsonl in file order. A final line without a newline that is not
// valid JSON (a crash mid-write) is ignored; any other bad line throws popo::Error with file:line.
// A missing file throws naming the path.
std::vector<nlohmann::json> read_metrics(const std::string& path);

// Returns the curve of one metric for core/plot.h: x = each row's "step", y = row[key] (NaN where
// the row lacks the key or holds a non-number, so the plot skips it). name defaults to key.
Series metric_series(const std::vector<nlohmann::json>& rows, const std::string& key,
                     const std::string& name = "");

}  // namespace popo
