// Seeding and a small portable random generator: splitmix64 (seed expansion, stateless mixing)
// and xoshiro256** (Blackman & Vigna). Written out here rather than using <random> distributions,
// whose outputs differ between standard libraries: the same seed gives the same problems, prompts
// and shuffles on every machine. Not cryptographic.
#pragma once

#include <cstdint>
#include <string_view>

namespace popo {

// Returns the next splitmix64 output and advances state by the golden-ratio increment.
inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Returns the splitmix64 finalizer of x: a stateless bijective 64-bit mix.
inline uint64_t mix64(uint64_t x) {
  uint64_t s = x;
  return splitmix64(s);
}

// Returns the 64-bit FNV-1a hash of bytes (stable across platforms; used to name streams and to
// partition problems by their text).
constexpr uint64_t fnv1a64(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

// Returns a seed for item `index` of stream `stream` of a run: derive_seed(seed, kRollout, step).
// Different (stream, index) pairs give unrelated seeds; the map is fixed forever.
inline uint64_t derive_seed(uint64_t run_seed, uint64_t stream, uint64_t index) {
  uint64_t h = mix64(run_seed ^ 0x5851f42d4c957f2dULL);
  h = mix64(h ^ stream);
  return mix64(h ^ (index * 0xd1b54a32d192ed03ULL));
}

// Returns derive_seed with the stream named by a string, e.g. derive_seed(seed, "heldout", 0).
inline uint64_t derive_seed(uint64_t run_seed, std::string_view stream, uint64_t index) {
  return derive_seed(run_seed, fnv1a64(stream), index);
}

// xoshiro256** seeded through splitmix64. Copyable; the state is four words.
class Rng {
 public:
  explicit Rng(uint64_t seed = 0) {
    uint64_t sm = seed;
    for (uint64_t& w : s_) w = splitmix64(sm);
  }

  // Returns the next raw 64-bit output.
  uint64_t next_u64() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Returns a uniform integer in [0, n) without modulo bias (rejection); n must be > 0.
  uint64_t uniform_below(uint64_t n) {
    const uint64_t limit = (0 - n) % n;  // 2^64 mod n: values below it are rejected
    for (;;) {
      const uint64_t r = next_u64();
      if (r >= limit) return r % n;
    }
  }

  // Returns a uniform integer in [lo, hi] (both inclusive); requires lo <= hi.
  int64_t uniform_int(int64_t lo, int64_t hi) {
    const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
    if (span == UINT64_MAX) return static_cast<int64_t>(next_u64());
    return static_cast<int64_t>(static_cast<uint64_t>(lo) + uniform_below(span + 1));
  }

  // Returns a uniform double in [0, 1) with 53 random bits.
  double uniform_double() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

  // Returns true with probability p.
  bool bernoulli(double p) { return uniform_double() < p; }

  // Test access: sets the raw state (for reference vectors of the xoshiro paper).
  void set_state(uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
    s_[0] = a, s_[1] = b, s_[2] = c, s_[3] = d;
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace popo
