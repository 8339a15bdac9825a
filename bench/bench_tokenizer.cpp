// Tokenizer throughput: encode and decode of a few MB of mixed text (MATH problems + code +
// Unicode) with the Qwen2.5 tokenizer.json. Prints one markdown table. Baseline: HF tokenizers
// through python3 when it is installed (timed in the same run); otherwise popo's own BPE with
// the word cache off (the naive per-word merge loop), so the table always has a baseline column.
//
// Usage: bench_tokenizer [tokenizer.json] [target_MB]
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/io.h"
#include "tokenizer/tokenizer.h"
#include "core/build_paths.h"

namespace {

// Timing is this thread's CPU time: the build machine is shared, so wall time would mostly
// measure the neighbours. (The python baseline, when present, reports its own process time.)
double cpu_now() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Returns the corpus: MATH problems followed by code and Unicode snippets, repeated to target.
std::string build_corpus(size_t target_bytes) {
  std::string problems;
  popo::for_each_jsonl(std::string(POPO_DATA_DIR) + "/math_train.jsonl",
                       [&](const nlohmann::json& row, int) {
                         problems += row.at("problem").get<std::string>();
                         problems += "\n\n";
                       });
  const std::string extra =
      "def f(x):\n    return x**2  # square\n\nfor i in range(10):\n    print(f(i))\n"
      "int main() { std::vector<int> v{1, 2, 3}; return v.size(); }\n"
      "中文数学题：求方程的解。日本語のテキスト 한국어 텍스트 Ελληνικά русский язык 😀🚀👍🏽\n"
      "café naïve résumé Ångström ∫_0^1 x^2 dx = 1/3, Σ_{k=1}^{n} k = n(n+1)/2\n";
  std::string corpus;
  int round = 0;
  while (corpus.size() < target_bytes) {
    corpus += problems;
    for (int k = 0; k < 200; ++k) corpus += extra + std::to_string(round * 200 + k) + "\n";
    ++round;
  }
  return corpus;
}

bool python_has_tokenizers() {
  return std::system("python3 -c 'import tokenizers' >/dev/null 2>&1") == 0;
}

struct Row {
  std::string name;
  double load_s = 0, enc_s = 0, dec_s = 0;
  size_t n_ids = 0;
  std::string note;
};

}  // namespace

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1]
                                    : std::string(POPO_FIXTURES_DIR) +
                                          "/tokenizers/qwen/tokenizer.json";
  const double target_mb = argc > 2 ? std::atof(argv[2]) : 4.0;
  const std::string corpus = build_corpus(static_cast<size_t>(target_mb * 1e6));
  const double mb = static_cast<double>(corpus.size()) / 1e6;

  double t0 = cpu_now();
  const popo::Tokenizer tok = popo::Tokenizer::from_file(path);
  const double load_s = cpu_now() - t0;

  Row popo_row{"popo (word cache)"};
  popo_row.load_s = load_s;
  t0 = cpu_now();
  const auto ids = tok.encode(corpus);
  popo_row.enc_s = cpu_now() - t0;
  popo_row.n_ids = ids.size();
  t0 = cpu_now();
  const std::string back = tok.decode(ids);
  popo_row.dec_s = cpu_now() - t0;
  if (back != corpus) popo_row.note = "decode(encode(x)) != x (NFC changed the text)";

  Row base;
  if (python_has_tokenizers()) {
    base.name = "HF tokenizers (python3)";
    const std::string tmp = "/tmp/popo_bench_tokenizer_corpus.txt";
    popo::write_file_atomic(tmp, corpus);
    const std::string cmd =
        "python3 -c \"import time,tokenizers as T;t0=time.process_time();tk=T.Tokenizer.from_file('" +
        path + "');l=time.process_time()-t0;s=open('" + tmp +
        "',encoding='utf-8').read();t0=time.process_time();e=tk.encode(s,add_special_tokens=False)."
        "ids;a=time.process_time()-t0;t0=time.process_time();tk.decode(e);b=time.process_time()-t0;"
        "print(l,a,b,len(e))\"";
    FILE* p = popen(cmd.c_str(), "r");
    if (p != nullptr && std::fscanf(p, "%lf %lf %lf %zu", &base.load_s, &base.enc_s, &base.dec_s,
                                    &base.n_ids) == 4) {
      base.note = base.n_ids == ids.size() ? "same id count" : "id count differs";
    } else {
      base.note = "python run failed";
    }
    if (p != nullptr) pclose(p);
  } else {
    base.name = "popo, no word cache (naive)";
    base.note = "HF tokenizers/transformers not installed for python3; naive baseline instead";
    base.load_s = load_s;
    t0 = cpu_now();
    const auto ids2 = tok.encode_uncached(corpus);
    base.enc_s = cpu_now() - t0;
    base.n_ids = ids2.size();
    if (ids2 != ids) base.note += "; ids differ!";
    t0 = cpu_now();
    (void)tok.decode(ids2);
    base.dec_s = cpu_now() - t0;
  }

  std::printf("Tokenizer throughput (CPU time, one thread), %s, corpus %.2f MB (%zu tokens)\n\n",
              path.c_str(), mb, ids.size());
  std::printf("| implementation | load s | encode MB/s | encode tokens/s | decode MB/s | "
              "decode tokens/s | note |\n|---|---|---|---|---|---|---|\n");
  for (const Row& r : {popo_row, base}) {
    std::printf("| %s | %.2f | %.2f | %.0f | %.1f | %.0f | %s |\n", r.name.c_str(), r.load_s,
                mb / r.enc_s, static_cast<double>(r.n_ids) / r.enc_s, mb / r.dec_s,
                static_cast<double>(r.n_ids) / r.dec_s, r.note.c_str());
  }
  return 0;
}
