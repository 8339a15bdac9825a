// Shell-style word splitting and quoting (core/command_line.h).
#include "core/command_line.h"

#include "core/error.h"
#include "core/strings.h"

namespace popo {

std::vector<std::string> split_command_words(const std::string& line) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;  // a word is open (even an empty one, after "" or '')
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == '\'') {
      const size_t end = line.find('\'', i + 1);
      POPO_CHECK(end != std::string::npos, "command line '", line,
                 "': unterminated single quote at character ", i + 1);
      cur += line.substr(i + 1, end - i - 1);
      in_word = true;
      i = end;
    } else if (c == '"') {
      size_t j = i + 1;
      for (; j < line.size() && line[j] != '"'; ++j) {
        if (line[j] == '\\' && j + 1 < line.size()) {
          const char n = line[j + 1];
          if (n == '"' || n == '\\' || n == '$' || n == '`') {
            cur += n;
            ++j;
            continue;
          }
          if (n == '\n') {  // a line continuation inside double quotes
            ++j;
            continue;
          }
        }
        cur += line[j];
      }
      POPO_CHECK(j < line.size(), "command line '", line,
                 "': unterminated double quote at character ", i + 1);
      in_word = true;
      i = j;
    } else if (c == '\\') {
      POPO_CHECK(i + 1 < line.size(), "command line '", line, "': ends with a lone backslash");
      if (line[i + 1] != '\n') {
        cur += line[i + 1];
        in_word = true;
      }
      ++i;
    } else if (is_space(c)) {
      if (in_word) words.push_back(cur);
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(cur);
  POPO_CHECK(!words.empty(), "command line '", line, "': no command in it");
  return words;
}

std::string join_command_words(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) {
    bool safe = !w.empty();
    for (char c : w) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      std::string("_-./=:,+@%").find(c) != std::string::npos;
      safe = safe && ok;
    }
    if (!out.empty()) out += ' ';
    if (safe) {
      out += w;
      continue;
    }
    out += '\'';
    for (char c : w) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    out += '\'';
  }
  return out;
}

}  // namespace popo
