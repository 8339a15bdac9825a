// Tree-level config machinery behind the templates in config.h: YAML load through yaml-cpp,
// dotted overrides, the YAML dump (written by hand so quoting and number spelling are ours), the
// --help listing and the startup table. Values are parsed from text by field type, never by
// YAML's own type guessing, so "1e-6", "yes" or "~" mean the same in a file and on the command
// line.
#include "core/config.h"
#include "core/command_line.h"
#include "core/strings.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/io.h"

namespace popo {

std::string read_config_file(const std::string& path) { return read_file(path); }

namespace {
std::mutex& reads_mutex() {
  static std::mutex m;
  return m;
}
std::set<std::string>& reads() {
  static std::set<std::string> s;
  return s;
}
}  // namespace

void config_detail::note_read(const std::string& key) {
  std::lock_guard<std::mutex> lock(reads_mutex());
  reads().insert(key);
}
void note_config_read(const char* key) { config_detail::note_read(key); }
void note_config_read(std::initializer_list<const char*> keys) {
  for (const char* k : keys) config_detail::note_read(k);
}
std::set<std::string> config_reads() {
  std::lock_guard<std::mutex> lock(reads_mutex());
  return reads();
}
void clear_config_reads() {
  std::lock_guard<std::mutex> lock(reads_mutex());
  reads().clear();
}

std::string join_enum_names(const std::vector<const char*>& names) {
  std::string out;
  for (const char* n : names) out += (out.empty() ? "" : " | ") + std::string(n);
  return out;
}

int parse_enum_index(const std::vector<const char*>& names, const std::string& text,
                     const std::string& what) {
  for (size_t i = 0; i < names.size(); ++i)
    if (text == names[i]) return static_cast<int>(i);
  POPO_FAIL(what, ": expected one of ", join_enum_names(names), ", got '", text, "'");
}

namespace config_detail {

void Collector::push(FieldNode node) {
  POPO_CHECK(!node.name.empty(), "config field table: empty field name");
  for (char c : node.name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    POPO_CHECK(ok, "config field table: field name '", node.name,
               "' may only contain letters, digits, '_' and '-'");
  }
  for (const FieldNode& f : *out) {
    POPO_CHECK(f.name != node.name, "config field table: duplicate field name '", node.name, "'");
  }
  out->push_back(std::move(node));
}

namespace {

const char* type_name(FieldType t) {
  switch (t) {
    case FieldType::kBool:
      return "bool";
    case FieldType::kInt:
      return "int";
    case FieldType::kInt64:
      return "int64";
    case FieldType::kUInt64:
      return "uint64";
    case FieldType::kDouble:
      return "double";
    case FieldType::kString:
      return "string";
    case FieldType::kStringList:
      return "list<string>";
    case FieldType::kInt64List:
      return "list<int64>";
    case FieldType::kEnum:
      return "enum";
    case FieldType::kCommand:
      return "command";
    case FieldType::kStruct:
      return "section";
    case FieldType::kStructList:
      return "list<section>";
  }
  return "?";
}

std::string join_key(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}


// ---- scalar text <-> value ---------------------------------------------------------------------

bool parse_bool(const std::string& t, bool* out) {
  if (t == "true" || t == "True" || t == "TRUE") return *out = true, true;
  if (t == "false" || t == "False" || t == "FALSE") return *out = false, true;
  return false;
}

bool all_digits(const std::string& s, size_t from) {
  if (from >= s.size()) return false;
  for (size_t i = from; i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

bool parse_int64(const std::string& t, int64_t* out) {
  const size_t from = (!t.empty() && (t[0] == '-' || t[0] == '+')) ? 1 : 0;
  if (!all_digits(t, from)) return false;
  errno = 0;
  const long long v = std::strtoll(t.c_str(), nullptr, 10);
  if (errno == ERANGE) return false;
  *out = static_cast<int64_t>(v);
  return true;
}

bool parse_uint64(const std::string& t, uint64_t* out) {
  const size_t from = (!t.empty() && t[0] == '+') ? 1 : 0;
  if (!all_digits(t, from)) return false;
  errno = 0;
  const unsigned long long v = std::strtoull(t.c_str() + from, nullptr, 10);
  if (errno == ERANGE) return false;
  *out = static_cast<uint64_t>(v);
  return true;
}

bool parse_double(const std::string& t, double* out) {
  std::string s = t;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s == ".nan" || s == "nan") return *out = std::numeric_limits<double>::quiet_NaN(), true;
  if (s == ".inf" || s == "+.inf" || s == "inf" || s == "+inf")
    return *out = std::numeric_limits<double>::infinity(), true;
  if (s == "-.inf" || s == "-inf") return *out = -std::numeric_limits<double>::infinity(), true;
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return false;
  // Decimal literals only: digits, sign, '.', exponent.
  for (char c : s)
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == '+' || c == '-')) return false;
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  // ERANGE on underflow still yields the nearest subnormal or zero, which is kept.
  if (end != t.c_str() + t.size() || std::isinf(v)) return false;
  *out = v;
  return true;
}

// Returns the shortest decimal spelling of v that parses back to exactly v.
std::string format_double(double v) {
  if (std::isnan(v)) return ".nan";
  if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {  // 60.0, not 6e+01
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
  }
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  std::string s = buf;
  if (s.find_first_of(".en") == std::string::npos) s += ".0";  // keep doubles visibly doubles
  return s;
}

// Returns a YAML double-quoted literal of s (escapes quotes, backslashes and control bytes).
std::string quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char b[8];
          std::snprintf(b, sizeof b, "\\x%02x", c);
          out += b;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// Returns s bare if YAML flow syntax reads it back as the same plain string, else quoted.
std::string quote_if_needed(const std::string& s) {
  if (s.empty() || s != trim(s) || s.find_first_of(",[]{}:#'\"\n\t\\") != std::string::npos ||
      std::string("-?&*!|>%@`").find(s[0]) != std::string::npos || s == "~" || s == "null" ||
      s == "Null" || s == "NULL")
    return quote(s);
  return s;
}

template <class V>
V& ref(const FieldNode& f) {
  return *static_cast<V*>(f.ptr);
}

// Returns the value of leaf f as text: bare strings (plain = true) or quoted strings (for YAML).
std::string value_text(const FieldNode& f, bool yaml) {
  switch (f.type) {
    case FieldType::kBool:
      return ref<bool>(f) ? "true" : "false";
    case FieldType::kInt:
      return std::to_string(ref<int>(f));
    case FieldType::kInt64:
      return std::to_string(ref<int64_t>(f));
    case FieldType::kUInt64:
      return std::to_string(ref<uint64_t>(f));
    case FieldType::kDouble:
      return format_double(ref<double>(f));
    case FieldType::kString:
      return yaml ? quote(ref<std::string>(f)) : ref<std::string>(f);
    case FieldType::kStringList: {
      std::string s = "[";
      const auto& v = ref<std::vector<std::string>>(f);
      for (size_t i = 0; i < v.size(); ++i)
        s += (i ? ", " : "") + (yaml ? quote(v[i]) : quote_if_needed(v[i]));
      return s + "]";
    }
    case FieldType::kInt64List: {
      std::string s = "[";
      const auto& v = ref<std::vector<int64_t>>(f);
      for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
      return s + "]";
    }
    case FieldType::kEnum: {
      const int i = ref<int>(f);
      return i >= 0 && i < static_cast<int>(f.enum_names->size()) ? (*f.enum_names)[size_t(i)] : "?";
    }
    case FieldType::kCommand: {
      // YAML: a flow list of the words (exact); plain: the line a shell would split back.
      const auto& w = ref<CommandLine>(f).words;
      if (!yaml) return join_command_words(w);
      std::string s = "[";
      for (size_t i = 0; i < w.size(); ++i) s += (i ? ", " : "") + quote(w[i]);
      return s + "]";
    }
    case FieldType::kStructList:  // flattened element by element (flatten_into)
      return f.list_ops->size(f.ptr) == 0 ? "[]" : "";
    case FieldType::kStruct:
      break;
  }
  return "";
}

// Parses scalar text into leaf f of a scalar type; returns false if the text does not fit.
bool set_scalar(const FieldNode& f, const std::string& text) {
  switch (f.type) {
    case FieldType::kBool:
      return parse_bool(text, &ref<bool>(f));
    case FieldType::kInt: {
      int64_t v;
      if (!parse_int64(text, &v) || v < std::numeric_limits<int>::min() ||
          v > std::numeric_limits<int>::max())
        return false;
      ref<int>(f) = static_cast<int>(v);
      return true;
    }
    case FieldType::kInt64:
      return parse_int64(text, &ref<int64_t>(f));
    case FieldType::kUInt64:
      return parse_uint64(text, &ref<uint64_t>(f));
    case FieldType::kDouble:
      return parse_double(text, &ref<double>(f));
    case FieldType::kString:
      ref<std::string>(f) = text;
      return true;
    case FieldType::kEnum:
      for (size_t i = 0; i < f.enum_names->size(); ++i) {
        if (text == (*f.enum_names)[i]) return ref<int>(f) = static_cast<int>(i), true;
      }
      return false;
    default:
      return false;
  }
}

std::string expected_text(const FieldNode& f) {
  if (f.type == FieldType::kEnum) return "one of " + join_enum_names(*f.enum_names);
  switch (f.type) {
    case FieldType::kBool:
      return "bool (true or false)";
    case FieldType::kInt:
      return "int (32-bit integer)";
    case FieldType::kInt64:
      return "int64 (integer)";
    case FieldType::kUInt64:
      return "uint64 (non-negative integer)";
    case FieldType::kDouble:
      return "double (number)";
    case FieldType::kString:
      return "string";
    case FieldType::kStringList:
      return "list<string> (e.g. [a, b])";
    case FieldType::kInt64List:
      return "list<int64> (e.g. [1, 2])";
    case FieldType::kCommand:
      return "command (a command line string or a list of words)";
    case FieldType::kStructList:
      return "list of sections (e.g. [{name: a}, {name: b}])";
    case FieldType::kEnum:
    case FieldType::kStruct:
      return "section (a mapping of keys)";
  }
  return "?";
}

// ---- key lookup and "did you mean" -------------------------------------------------------------

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

void all_keys(const FieldNode& node, const std::string& prefix, std::vector<std::string>* out) {
  for (const FieldNode& c : node.children) {
    const std::string key = join_key(prefix, c.name);
    out->push_back(key);
    if (c.type == FieldType::kStruct) all_keys(c, key, out);
  }
}

std::string last_part(const std::string& key) {
  const size_t dot = key.rfind('.');
  return dot == std::string::npos ? key : key.substr(dot + 1);
}

// Returns "; did you mean 'x'?" for the closest known key, or the list of keys in the section.
std::string suggestion(const FieldNode& root, const FieldNode& section,
                       const std::string& section_key, const std::string& unknown) {
  std::vector<std::string> keys;
  all_keys(root, "", &keys);
  std::string best;
  size_t best_score = std::numeric_limits<size_t>::max();
  for (const std::string& k : keys) {
    // A key spelled right but placed in the wrong section counts as one edit.
    const size_t score =
        std::min(edit_distance(unknown, k), edit_distance(last_part(unknown), last_part(k)) + 1);
    if (score < best_score) best_score = score, best = k;
  }
  const size_t limit = std::max<size_t>(2, last_part(unknown).size() / 3);
  if (!best.empty() && best_score <= limit) return "; did you mean '" + best + "'?";
  std::string s = "; valid keys";
  s += section_key.empty() ? "" : " in '" + section_key + "'";
  s += ":";
  for (const FieldNode& c : section.children) s += " " + c.name;
  return s;
}

const FieldNode* find_child(const FieldNode& section, const std::string& name) {
  for (const FieldNode& c : section.children)
    if (c.name == name) return &c;
  return nullptr;
}

// ---- YAML load ---------------------------------------------------------------------------------

struct LoadCtx {
  const FieldNode* root;
  std::string source;
};

std::string where(const LoadCtx& ctx, const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  if (m.line < 0) return ctx.source;
  return ctx.source + ":" + std::to_string(m.line + 1);
}

std::string describe_node(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
      return "null (empty value)";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar:
      return "'" + n.Scalar() + "'";
    default:
      return "nothing";
  }
}

void load_section(const FieldNode& section, const YAML::Node& n, const std::string& prefix,
                  const LoadCtx& ctx);

// A list of sections replaces the list: element i is a default element with the keys given.
void load_struct_list(const FieldNode& f, const YAML::Node& n, const std::string& key,
                      const LoadCtx& ctx) {
  if (n.IsNull()) return;  // "functions:" with nothing under it keeps the defaults
  if (!n.IsSequence()) {
    POPO_FAIL(where(ctx, n), ": key '", key, "': expected ", expected_text(f), ", got ",
              describe_node(n));
  }
  f.list_ops->resize(f.ptr, 0);
  f.list_ops->resize(f.ptr, n.size());
  for (size_t i = 0; i < n.size(); ++i) {
    const std::string ekey = key + "[" + std::to_string(i) + "]";
    if (!n[i].IsMap()) {
      POPO_FAIL(where(ctx, n[i]), ": key '", ekey, "': expected a mapping of keys, got ",
                describe_node(n[i]));
    }
    FieldNode element;
    f.list_ops->element(f.ptr, i, &element);
    load_section(element, n[i], ekey, ctx);
  }
}

void load_leaf(const FieldNode& f, const YAML::Node& n, const std::string& key,
               const LoadCtx& ctx) {
  auto fail = [&](const std::string& got) {
    POPO_FAIL(where(ctx, n), ": key '", key, "': expected ", expected_text(f), ", got ", got);
  };
  if (f.type == FieldType::kCommand) {
    std::vector<std::string> words;
    if (n.IsScalar()) {
      if (n.Scalar().empty()) {  // "" = no command
        ref<CommandLine>(f).words.clear();
        return;
      }
      try {
        words = split_command_words(n.Scalar());
      } catch (const Error& e) {
        POPO_FAIL(where(ctx, n), ": key '", key, "': ", e.what());
      }
    } else if (n.IsSequence()) {
      for (size_t i = 0; i < n.size(); ++i) {
        if (!n[i].IsScalar()) {
          POPO_FAIL(where(ctx, n[i]), ": key '", key, "[", i, "]': expected a word, got ",
                    describe_node(n[i]));
        }
        words.push_back(n[i].Scalar());
      }
    } else {
      fail(describe_node(n));
    }
    ref<CommandLine>(f).words = words;
    return;
  }
  if (f.type == FieldType::kStringList || f.type == FieldType::kInt64List) {
    if (!n.IsSequence()) fail(describe_node(n));
    std::vector<std::string> strings;
    std::vector<int64_t> ints;
    for (size_t i = 0; i < n.size(); ++i) {
      const YAML::Node& e = n[i];
      const std::string ekey = key + "[" + std::to_string(i) + "]";
      int64_t v = 0;
      if (!e.IsScalar() || (f.type == FieldType::kInt64List && !parse_int64(e.Scalar(), &v)))
        POPO_FAIL(where(ctx, e), ": key '", ekey, "': expected ",
                  f.type == FieldType::kInt64List ? "int64" : "string", ", got ", describe_node(e));
      strings.push_back(e.Scalar());
      ints.push_back(v);
    }
    if (f.type == FieldType::kStringList)
      ref<std::vector<std::string>>(f) = strings;
    else
      ref<std::vector<int64_t>>(f) = ints;
    return;
  }
  if (!n.IsScalar()) fail(describe_node(n));
  if (!set_scalar(f, n.Scalar())) fail("'" + n.Scalar() + "'");
}

void load_section(const FieldNode& section, const YAML::Node& n, const std::string& prefix,
                  const LoadCtx& ctx) {
  if (n.IsNull()) return;  // "trainer:" with nothing under it keeps the defaults
  if (!n.IsMap()) {
    POPO_FAIL(where(ctx, n), ": ", prefix.empty() ? "the top level" : "key '" + prefix + "'",
              ": expected a mapping of keys, got ", describe_node(n));
  }
  std::set<std::string> seen;
  for (const auto& kv : n) {
    POPO_CHECK(kv.first.IsScalar(), where(ctx, kv.first), ": keys must be plain names under '",
               prefix, "'");
    const std::string name = kv.first.Scalar();
    const std::string key = join_key(prefix, name);
    POPO_CHECK(seen.insert(name).second, where(ctx, kv.first), ": duplicate key '", key, "'");
    const FieldNode* f = find_child(section, name);
    if (!f) {
      POPO_FAIL(where(ctx, kv.first), ": unknown key '", key, "'",
                suggestion(*ctx.root, section, prefix, key));
    }
    if (f->type == FieldType::kStruct)
      load_section(*f, kv.second, key, ctx);
    else if (f->type == FieldType::kStructList)
      load_struct_list(*f, kv.second, key, ctx);
    else
      load_leaf(*f, kv.second, key, ctx);
  }
}

// ---- listing helpers ---------------------------------------------------------------------------

void flatten_into(const FieldNode& node, const std::string& prefix,
                  std::vector<std::pair<std::string, std::string>>* out) {
  for (const FieldNode& c : node.children) {
    const std::string key = join_key(prefix, c.name);
    if (c.type == FieldType::kStruct) {
      flatten_into(c, key, out);
    } else if (c.type == FieldType::kStructList) {
      const size_t n = c.list_ops->size(c.ptr);
      if (n == 0) out->emplace_back(key, "[]");  // an empty list is a value too
      for (size_t i = 0; i < n; ++i) {
        FieldNode element;
        c.list_ops->element(c.ptr, i, &element);
        flatten_into(element, key + "[" + std::to_string(i) + "]", out);
      }
    } else {
      out->emplace_back(key, value_text(c, /*yaml=*/false));
    }
  }
}

std::string one_line(const std::string& s) {
  std::string out = s;
  std::replace(out.begin(), out.end(), '\n', ' ');
  return out;
}

void dump_into(const FieldNode& node, int indent, std::string* out) {
  const std::string pad(indent, ' ');
  for (const FieldNode& c : node.children) {
    if (c.type == FieldType::kStructList) {
      const size_t n = c.list_ops->size(c.ptr);
      *out += pad + c.name + ":" + (n == 0 ? " []" : "");
      if (!c.doc.empty()) *out += "  # " + one_line(c.doc);
      *out += "\n";
      for (size_t i = 0; i < n; ++i) {
        // Each element as a block mapping under "- ": its first line carries the dash.
        FieldNode element;
        c.list_ops->element(c.ptr, i, &element);
        const size_t at = out->size();
        dump_into(element, indent + 4, out);
        if (out->size() > at) (*out)[at + static_cast<size_t>(indent) + 2] = '-';
      }
      continue;
    }
    if (c.type == FieldType::kStruct) {
      *out += pad + c.name + ":";
      if (!c.doc.empty()) *out += "  # " + one_line(c.doc);
      *out += "\n";
      if (c.children.empty()) {
        out->resize(out->size() - 1);
        *out += " {}\n";
      }
      dump_into(c, indent + 2, out);
    } else {
      *out += pad + c.name + ": " + value_text(c, /*yaml=*/true);
      if (!c.doc.empty()) *out += "  # " + one_line(c.doc);
      *out += "\n";
    }
  }
}

struct HelpRow {
  std::string key, type, value, doc;
  bool is_section;
};

void help_rows(const FieldNode& node, const std::string& prefix, std::vector<HelpRow>* out) {
  for (const FieldNode& c : node.children) {
    const std::string key = join_key(prefix, c.name);
    if (c.type == FieldType::kStruct) {
      out->push_back({key, "section", "", one_line(c.doc), true});
      help_rows(c, key, out);
    } else if (c.type == FieldType::kStructList) {
      // One header row, then an element's keys with a default element's values.
      const size_t n = c.list_ops->size(c.ptr);
      out->push_back({key + "[]", "list", "", one_line(c.doc) + "; default: " +
                                                   std::to_string(n) + (n == 1 ? " entry" : " entries") +
                                                   ", see --print-config",
                      true});
      FieldNode proto;
      c.list_ops->prototype(&proto);
      help_rows(proto, key + "[]", out);
    } else {
      std::string v =
          c.type == FieldType::kString ? quote(ref<std::string>(c)) : value_text(c, /*yaml=*/false);
      out->push_back({key, type_name(c.type), v, one_line(c.doc), false});
    }
  }
}

YAML::Node parse_yaml(const std::string& text, const std::string& source) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    POPO_FAIL(source, ":", e.mark.line + 1, ":", e.mark.column + 1, ": YAML syntax error: ", e.msg);
  }
}

}  // namespace

void load_yaml_text(const FieldNode& root, const std::string& text, const std::string& source) {
  LoadCtx ctx{&root, source};
  load_section(root, parse_yaml(text, source), "", ctx);
}

void load_yaml_file_tree(const FieldNode& root, const std::string& path) {
  constexpr int kMaxDepth = 8;
  // The chain path, base of path, base of that, ...; loaded from the last one back.
  std::vector<std::pair<std::string, YAML::Node>> chain;
  std::string cur = path;
  while (true) {
    for (const auto& c : chain)
      POPO_CHECK(c.first != cur, path, ": the base chain of config files loops back to ", cur);
    POPO_CHECK(static_cast<int>(chain.size()) < kMaxDepth, path, ": more than ", kMaxDepth,
               " config files chained by 'base:'");
    YAML::Node doc = parse_yaml(read_config_file(cur), cur);
    std::string base;
    if (doc.IsMap() && doc["base"]) {
      const YAML::Node b = doc["base"];
      POPO_CHECK(b.IsScalar() && !b.Scalar().empty(), cur, ":", b.Mark().line + 1,
                 ": key 'base': expected the path of a config file, got ", describe_node(b));
      base = b.Scalar();
      doc.remove("base");
    }
    chain.emplace_back(cur, doc);
    if (base.empty()) break;
    const size_t slash = cur.find_last_of('/');
    cur = (base[0] == '/' || slash == std::string::npos) ? base : cur.substr(0, slash + 1) + base;
    POPO_CHECK(path_exists(cur), chain.back().first, ": base config file ", cur, " not found");
  }
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    LoadCtx ctx{&root, it->first};
    load_section(root, it->second, "", ctx);
  }
}

void apply_override_text(const FieldNode& root, const std::string& kv, const std::string& source) {
  const size_t eq = kv.find('=');
  POPO_CHECK(eq != std::string::npos, source, ": override '", kv,
             "' must have the form key=value, e.g. trainer.lr=1e-6");
  const std::string key = trim(kv.substr(0, eq));
  const std::string raw = kv.substr(eq + 1);
  POPO_CHECK(!key.empty(), source, ": override '", kv, "' has an empty key");

  const FieldNode* node = &root;
  std::string walked;
  std::vector<std::unique_ptr<FieldNode>> elements;  // list elements walked through (name[i])
  size_t start = 0;
  for (;;) {
    const size_t dot = key.find('.', start);
    std::string part =
        key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    POPO_CHECK(node->type == FieldType::kStruct, source, ": key '", key, "': '", walked,
               "' is a value, not a section");
    // "functions[1]": element 1 of a list of sections.
    int64_t index = -1;
    const size_t bracket = part.find('[');
    if (bracket != std::string::npos) {
      const std::string digits = part.substr(bracket + 1, part.size() - bracket - 2);
      POPO_CHECK(part.back() == ']' && parse_int64(digits, &index) && index >= 0, source,
                 ": key '", key, "': expected name[index] with a non-negative index, got '", part,
                 "'");
      part = part.substr(0, bracket);
    }
    const FieldNode* next = find_child(*node, part);
    if (!next) {
      POPO_FAIL(source, ": unknown key '", key, "'", suggestion(root, *node, walked, key));
    }
    walked = join_key(walked, part);
    node = next;
    if (index >= 0) {
      POPO_CHECK(node->type == FieldType::kStructList, source, ": key '", key, "': '", walked,
                 "' is not a list of sections, so it takes no [index]");
      const size_t n = node->list_ops->size(node->ptr);
      POPO_CHECK(static_cast<size_t>(index) < n, source, ": key '", key, "': '", walked, "' has ",
                 n, n == 1 ? " entry" : " entries", " (indices 0..", static_cast<int64_t>(n) - 1,
                 "); set the whole list to add one, e.g. ", walked, "=[{...}, {...}]");
      elements.push_back(std::make_unique<FieldNode>());
      node->list_ops->element(node->ptr, static_cast<size_t>(index), elements.back().get());
      walked += "[" + std::to_string(index) + "]";
      node = elements.back().get();  // a section
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  const FieldNode& f = *node;
  if (f.type == FieldType::kStruct) {
    std::string keys;
    for (const FieldNode& c : f.children) keys += " " + join_key(walked, c.name);
    POPO_FAIL(source, ": key '", key, "' is a section, not a value; set one of its keys:", keys);
  }
  auto fail = [&](const std::string& got) {
    POPO_FAIL(source, ": key '", key, "': expected ", expected_text(f), ", got ", got,
              " (from '", kv, "')");
  };
  if (f.type == FieldType::kStringList || f.type == FieldType::kInt64List ||
      f.type == FieldType::kStructList || f.type == FieldType::kCommand) {
    // YAML flow syntax; a command also takes a bare command line (split as a shell does).
    const bool bare_command =
        f.type == FieldType::kCommand && (trim(raw).empty() || trim(raw)[0] != '[');
    YAML::Node n;
    try {
      n = bare_command ? YAML::Node(raw) : YAML::Load(raw);
    } catch (const YAML::Exception&) {
      fail("'" + raw + "' (not YAML flow syntax)");
    }
    if (!bare_command && !n.IsSequence()) fail("'" + raw + "'");
    LoadCtx ctx{&root, source};
    if (f.type == FieldType::kStructList) {
      load_struct_list(f, n, key, ctx);  // its errors name the element and key
      return;
    }
    try {
      load_leaf(f, n, key, ctx);
    } catch (const Error&) {
      if (f.type == FieldType::kCommand) throw;
      fail("'" + raw + "'");
    }
    return;
  }
  const std::string text = f.type == FieldType::kString ? raw : trim(raw);
  if (!set_scalar(f, text)) fail("'" + raw + "'");
}

std::string dump_yaml_tree(const FieldNode& root) {
  std::string out;
  dump_into(root, 0, &out);
  return out;
}

std::vector<std::pair<std::string, std::string>> flatten_tree(const FieldNode& root) {
  std::vector<std::pair<std::string, std::string>> out;
  flatten_into(root, "", &out);
  return out;
}

std::string describe_tree(const FieldNode& root) {
  std::vector<HelpRow> rows;
  help_rows(root, "", &rows);
  size_t wk = 3, wt = 4, wv = 7;
  for (const HelpRow& r : rows) {
    if (r.is_section) continue;
    wk = std::max(wk, r.key.size());
    wt = std::max(wt, r.type.size());
    wv = std::max(wv, r.value.size());
  }
  auto padded = [](const std::string& s, size_t w) {
    return s + std::string(w - std::min(w, s.size()), ' ');
  };
  std::string out =
      padded("key", wk) + "  " + padded("type", wt) + "  " + padded("default", wv) + "  doc\n";
  for (const HelpRow& r : rows) {
    if (r.is_section) {
      out += r.key + ":" + (r.doc.empty() ? "" : "  (" + r.doc + ")") + "\n";
    } else {
      out +=
          padded(r.key, wk) + "  " + padded(r.type, wt) + "  " + padded(r.value, wv) + "  " + r.doc;
      while (!out.empty() && out.back() == ' ') out.pop_back();
      out += "\n";
    }
  }
  return out;
}

std::string format_table(const std::vector<std::pair<std::string, std::string>>& rows) {
  size_t w = 0;
  for (const auto& r : rows) w = std::max(w, r.first.size());
  std::string out;
  for (const auto& r : rows)
    out += r.first + std::string(w - r.first.size(), ' ') + " | " + r.second + "\n";
  return out;
}

}  // namespace config_detail
}  // namespace popo
