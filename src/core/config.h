// Config field tables (gemma.cpp's ArgsBase::ForEach): each config struct lists its fields once in
// `template <class V> void visit_fields(V& v)` as v("key", member, "doc; default meaning, 0 =
// off"). That table drives YAML load (strict: unknown keys and wrong types are errors with a "did
// you mean"), dotted command-line overrides `trainer.lr=1e-6`, the --help listing, the startup
// table and the resolved-config dump. yaml-cpp stays inside config.cpp: the templates here only
// build a type-erased tree of field pointers. Supported field types: bool, int, int64_t, uint64_t,
// double, std::string, std::vector<std::string>, std::vector<int64_t>, enums (below), and nested
// structs with visit_fields.
//
// An enum field is an `enum class E : int` with consecutive values from 0 and a function
// `const std::vector<const char*>& enum_names(E)` in its namespace listing the spelling of each
// value in order; the config spells it by name (`popo.entropy_on: positives`) and an unknown
// name is an error that lists the names. A struct whose visit_fields calls another struct's
// visit_fields with the same visitor embeds that struct's fields in its own section (the
// trainer section embeds the optimizer's fields: `trainer.lr`, not `trainer.optim.lr`).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace popo {

// A command line as a config value: YAML gives it as one string, split into words as a POSIX
// shell splits them (quotes and backslashes, no expansion: core/command_line.h), or as a list of
// words taken as they are.
struct CommandLine {
  std::vector<std::string> words;
  bool operator==(const CommandLine& o) const { return words == o.words; }
};

namespace config_detail {

enum class FieldType {
  kBool,
  kInt,
  kInt64,
  kUInt64,
  kDouble,
  kString,
  kStringList,
  kInt64List,
  kEnum,
  kCommand,
  kStruct,
  kStructList
};

struct StructListOps;

// One field of a config: a leaf (ptr points at the member) or a section (children).
struct FieldNode {
  std::string name;
  std::string doc;
  FieldType type = FieldType::kStruct;
  void* ptr = nullptr;
  std::vector<FieldNode> children;
  const std::vector<const char*>* enum_names = nullptr;  // kEnum: the spelling of each value
  const StructListOps* list_ops = nullptr;               // kStructList: ptr is the std::vector
};

// The type-erased operations on a std::vector<S> of config structs.
struct StructListOps {
  size_t (*size)(const void* vec);
  void (*resize)(void* vec, size_t n);                      // new elements are default S
  void (*element)(void* vec, size_t i, FieldNode* out);      // out->children: element i's fields
  void (*prototype)(FieldNode* out);                          // a default S's fields (--help)
};

struct Collector;

template <class E, class = void>
struct is_config_enum : std::false_type {};
template <class E>
struct is_config_enum<E, std::enable_if_t<std::is_enum_v<E>,
                                          std::void_t<decltype(enum_names(std::declval<E>()))>>>
    : std::true_type {};

template <class T, class = void>
struct has_visit_fields : std::false_type {};
template <class T>
struct has_visit_fields<
    T, std::void_t<decltype(std::declval<T&>().visit_fields(std::declval<Collector&>()))>>
    : std::true_type {};

// The visitor handed to visit_fields: records each field's name, doc, type and address.
struct Collector {
  std::vector<FieldNode>* out;

  void operator()(const char* name, bool& x, const char* doc) {
    add(name, doc, FieldType::kBool, &x);
  }
  void operator()(const char* name, int& x, const char* doc) {
    add(name, doc, FieldType::kInt, &x);
  }
  void operator()(const char* name, int64_t& x, const char* doc) {
    add(name, doc, FieldType::kInt64, &x);
  }
  void operator()(const char* name, uint64_t& x, const char* doc) {
    add(name, doc, FieldType::kUInt64, &x);
  }
  void operator()(const char* name, double& x, const char* doc) {
    add(name, doc, FieldType::kDouble, &x);
  }
  void operator()(const char* name, std::string& x, const char* doc) {
    add(name, doc, FieldType::kString, &x);
  }
  void operator()(const char* name, std::vector<std::string>& x, const char* doc) {
    add(name, doc, FieldType::kStringList, &x);
  }
  void operator()(const char* name, std::vector<int64_t>& x, const char* doc) {
    add(name, doc, FieldType::kInt64List, &x);
  }
  void operator()(const char* name, CommandLine& x, const char* doc) {
    add(name, doc, FieldType::kCommand, &x);
  }
  template <class U, std::enable_if_t<has_visit_fields<U>::value, int> = 0>
  void operator()(const char* name, std::vector<U>& x, const char* doc);
  template <class U, std::enable_if_t<is_config_enum<U>::value, int> = 0>
  void operator()(const char* name, U& x, const char* doc) {
    static_assert(std::is_same_v<std::underlying_type_t<U>, int>,
                  "config enum fields must be `enum class E : int`");
    FieldNode node{name, doc, FieldType::kEnum, &x, {}};
    node.enum_names = &enum_names(x);
    push(std::move(node));
  }
  template <class U, std::enable_if_t<!is_config_enum<U>::value, int> = 0>
  void operator()(const char* name, U& section, const char* doc) {
    static_assert(has_visit_fields<U>::value,
                  "config field type not supported: use bool, int, int64_t, uint64_t, double, "
                  "std::string, std::vector<std::string>, std::vector<int64_t> or a struct with "
                  "visit_fields");
    FieldNode node{name, doc, FieldType::kStruct, nullptr, {}};
    Collector inner{&node.children};
    section.visit_fields(inner);
    push(std::move(node));
  }

 private:
  void add(const char* name, const char* doc, FieldType type, void* ptr) {
    push(FieldNode{name, doc, type, ptr, {}});
  }
  void push(FieldNode node);  // rejects duplicate and malformed names (a bug in a field table)
};

// Returns the field tree of cfg (root: a section named ""). The tree points into cfg.
template <class T>
FieldNode collect_fields(T& cfg) {
  static_assert(has_visit_fields<T>::value, "config type needs visit_fields");
  FieldNode root;
  Collector c{&root.children};
  cfg.visit_fields(c);
  return root;
}

template <class U>
const StructListOps& struct_list_ops() {
  static const StructListOps ops{
      [](const void* v) { return static_cast<const std::vector<U>*>(v)->size(); },
      [](void* v, size_t n) { static_cast<std::vector<U>*>(v)->resize(n); },
      [](void* v, size_t i, FieldNode* out) {
        out->children = collect_fields((*static_cast<std::vector<U>*>(v))[i]).children;
      },
      [](FieldNode* out) {
        static U proto;  // only read: the --help listing shows its defaults
        out->children = collect_fields(proto).children;
      }};
  return ops;
}

template <class U, std::enable_if_t<has_visit_fields<U>::value, int>>
void Collector::operator()(const char* name, std::vector<U>& x, const char* doc) {
  FieldNode node{name, doc, FieldType::kStructList, &x, {}};
  node.list_ops = &struct_list_ops<U>();
  push(std::move(node));
}

// Tree-level implementations (config.cpp).
void load_yaml_text(const FieldNode& root, const std::string& text, const std::string& source);
void load_yaml_file_tree(const FieldNode& root, const std::string& path);
void apply_override_text(const FieldNode& root, const std::string& dotted_key_eq_value,
                         const std::string& source);
std::string dump_yaml_tree(const FieldNode& root);
std::string describe_tree(const FieldNode& root);
std::vector<std::pair<std::string, std::string>> flatten_tree(const FieldNode& root);
std::string format_table(const std::vector<std::pair<std::string, std::string>>& rows);

}  // namespace config_detail

// Loads YAML text into cfg: keys present overwrite fields, absent keys keep their values. Unknown
// keys, duplicate keys and wrong types throw popo::Error naming `source`, the line, the full dotted
// key, the expected type and the value got, plus a "did you mean" for near-miss keys. On error
// cfg is left unchanged.
template <class T>
void load_yaml_string(const std::string& text, T& cfg, const std::string& source = "<string>") {
  T tmp = cfg;
  config_detail::load_yaml_text(config_detail::collect_fields(tmp), text, source);
  cfg = std::move(tmp);
}

// Loads the YAML file at path into cfg (as load_yaml_string, errors name the path). A top-level
// `base: other.yaml` (resolved relative to the file's folder) loads that file first, so a file
// can be a short overlay of another; bases may chain (at most 8 deep, no cycles).
template <class T>
void load_yaml_file(const std::string& path, T& cfg);

// Applies one command-line override "a.b.c=value" to cfg. Scalars take the text after '='
// verbatim (strings may contain '=' and spaces); lists take YAML flow syntax "[a, b]". Unknown
// keys, sections and bad values throw popo::Error mentioning "command line". On error cfg is
// unchanged.
template <class T>
void apply_override(T& cfg, const std::string& dotted_key_eq_value) {
  T tmp = cfg;
  config_detail::apply_override_text(config_detail::collect_fields(tmp), dotted_key_eq_value,
                                     "command line");
  cfg = std::move(tmp);
}

// Applies each override in order (later ones win).
template <class T>
void apply_overrides(T& cfg, const std::vector<std::string>& overrides) {
  for (const std::string& o : overrides) apply_override(cfg, o);
}

// Returns cfg as YAML (block style, one "# doc" comment per field); load_yaml_string of the result
// reproduces every value exactly (doubles are written with enough digits to round-trip).
template <class T>
std::string dump_yaml(const T& cfg) {
  // collect_fields needs a mutable reference; the dump only reads through it.
  return config_detail::dump_yaml_tree(config_detail::collect_fields(const_cast<T&>(cfg)));
}

// Returns the --help listing: one line per field "key  type  default  doc", sections as headers.
// Pass a default-constructed config so the defaults column shows the defaults.
template <class T>
std::string describe_fields(const T& cfg) {
  return config_detail::describe_tree(config_detail::collect_fields(const_cast<T&>(cfg)));
}

// Returns (dotted key, value text) for every leaf, in table order. Values use the same spelling as
// overrides accept: true/false, integers, shortest round-trip doubles, raw strings, "[a, b]".
template <class T>
std::vector<std::pair<std::string, std::string>> flatten(const T& cfg) {
  return config_detail::flatten_tree(config_detail::collect_fields(const_cast<T&>(cfg)));
}

// Returns the startup table: "key | value" lines with the key column aligned.
template <class T>
std::string config_table(const T& cfg) {
  return config_detail::format_table(flatten(cfg));
}

// The config read registry, for the test that every key of a run config acts: the code that acts
// on a value (not its validation) marks the value's dotted key, e.g.
// note_config_read("popo.momentum") where tau is taken from it. config_reads() returns every key
// marked since the last clear_config_reads(). Thread-safe; a set insert under a mutex.
void note_config_read(const char* key);
void note_config_read(std::initializer_list<const char*> keys);
// Marks prefix.k for every leaf key k of a section handed whole to the code that acts on all of it.
template <class T>
void note_config_section_read(const std::string& prefix, const T& section);
std::set<std::string> config_reads();
void clear_config_reads();

// Returns the config spelling of enum value e (e.g. "positives"), or "?" outside its table.
template <class E, std::enable_if_t<config_detail::is_config_enum<E>::value, int> = 0>
const char* enum_name(E e) {
  const auto& names = enum_names(e);
  const int i = static_cast<int>(e);
  return i >= 0 && i < static_cast<int>(names.size()) ? names[static_cast<size_t>(i)] : "?";
}
// Returns the enum value spelled `text`; throws popo::Error naming `what` (e.g. "algo.name"),
// the value got and the names accepted.
int parse_enum_index(const std::vector<const char*>& names, const std::string& text,
                     const std::string& what);
template <class E, std::enable_if_t<config_detail::is_config_enum<E>::value, int> = 0>
E parse_enum(const std::string& text, const std::string& what) {
  return static_cast<E>(parse_enum_index(enum_names(E{}), text, what));
}
// Returns "a | b | c": the names of an enum's values.
std::string join_enum_names(const std::vector<const char*>& names);

// Streams an enum value by its config spelling (log lines, error messages, test output).
template <class E, std::enable_if_t<config_detail::is_config_enum<E>::value, int> = 0>
std::ostream& operator<<(std::ostream& os, E e) {
  return os << enum_name(e);
}

// Returns the contents of the file at path (declared here to keep core/io.h out of this header).
std::string read_config_file(const std::string& path);

namespace config_detail {
void note_read(const std::string& key);
}  // namespace config_detail

template <class T>
void note_config_section_read(const std::string& prefix, const T& section) {
  for (const auto& kv : flatten(section)) config_detail::note_read(prefix + "." + kv.first);
}

template <class T>
void load_yaml_file(const std::string& path, T& cfg) {
  T tmp = cfg;
  config_detail::load_yaml_file_tree(config_detail::collect_fields(tmp), path);
  cfg = std::move(tmp);
}

}  // namespace popo
