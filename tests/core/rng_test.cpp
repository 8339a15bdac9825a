#include "core/rng.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace popo {
namespace {

// Reference outputs: Vigna's splitmix64.c and xoshiro256starstar.c, recomputed with an independent
// Python transcription of those two C files.
TEST(Rng, Splitmix64MatchesReference) {
  uint64_t state = 0;
  EXPECT_EQ(splitmix64(state), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(splitmix64(state), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(splitmix64(state), 0x06c45d188009454fULL);
}

TEST(Rng, Xoshiro256StarStarMatchesReference) {
  Rng r;
  r.set_state(1, 2, 3, 4);
  const std::vector<uint64_t> want = {11520ULL, 0ULL, 1509978240ULL, 1215971899390074240ULL};
  for (uint64_t w : want) EXPECT_EQ(r.next_u64(), w);
  // Seeding goes through splitmix64: Rng(42) == state {sm(42), ...}.
  Rng s(42);
  EXPECT_EQ(s.next_u64(), 0x15780b2e0c2ec716ULL);
  EXPECT_EQ(s.next_u64(), 0x6104d9866d113a7eULL);
}

TEST(Rng, UniformIntStaysInRangeAndCoversIt) {
  Rng r(7);
  const struct { int64_t lo, hi; } cases[] = {{0, 0}, {-3, 3}, {10, 99}, {INT64_MIN, INT64_MAX}};
  for (const auto& c : cases) {
    std::set<int64_t> seen;
    for (int i = 0; i < 2000; ++i) {
      const int64_t v = r.uniform_int(c.lo, c.hi);
      EXPECT_GE(v, c.lo);
      EXPECT_LE(v, c.hi);
      seen.insert(v);
    }
    if (c.lo > -1000 && c.hi < 1000) {  // small ranges: every value occurs in 2000 draws
      EXPECT_EQ(seen.size(), static_cast<size_t>(c.hi - c.lo + 1));
    } else {
      EXPECT_EQ(seen.size(), 2000u);
    }
  }
  // Mean of uniform [0, 1): 0.5 with sd 0.29/sqrt(n).
  double sum = 0;
  for (int i = 0; i < 20000; ++i) {
    const double u = r.uniform_double();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / 20000, 0.5, 0.01);
}

TEST(Rng, DerivedSeedsDifferPerStreamAndIndex) {
  std::set<uint64_t> seeds;
  for (uint64_t run : {0, 1})
    for (const char* stream : {"rollout", "heldout", "shuffle"})
      for (uint64_t i = 0; i < 100; ++i) seeds.insert(derive_seed(run, stream, i));
  EXPECT_EQ(seeds.size(), 600u);
  EXPECT_EQ(derive_seed(3, "rollout", 5), derive_seed(3, fnv1a64("rollout"), 5));
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);   // FNV-1a offset basis
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);  // published FNV-1a 64 test vector
}

}  // namespace
}  // namespace popo
