// SPDX-License-Identifier: Apache-2.0
// ReplayWindow (esp/replay_window.hpp): the anti-replay rules of RFC 4303
// section 3.4.3 on the lock-free ring of tagged blocks, and the Extended
// Sequence Number inference of RFC 4303 appendix A2.2, checked at their
// edges, against a simple reference model, and with several receivers
// committing into one window at once (issue 11).
#include "ipsec/esp/replay_window.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <thread>
#include <vector>

using namespace ipsec;
using ipsec::esp::ReplayWindow;

namespace {

ReplayWindow make_window(uint32_t size, bool esn = false) {
  auto w = ReplayWindow::make(size, esn);
  REQUIRE(w.ok());
  return std::move(*w);
}

// accept: check, and on success commit, as the packet path does after a
// successful ICV verification.
bool accept(ReplayWindow& w, uint64_t seq) {
  if (!w.check(seq).ok()) return false;
  // Single-threaded, a number check() passed is always recorded.
  REQUIRE(w.commit(seq).ok());
  return true;
}

// ReferenceWindow: RFC 4303 3.4.3 written the obvious way: the set of every
// sequence number accepted so far and the highest one. A number is refused
// when it is 0, when it was accepted before, or when it lies W or more
// behind the highest (left of the window); anything else is accepted.
struct ReferenceWindow {
  uint64_t size = 0;
  uint64_t top = 0;
  std::set<uint64_t> seen;

  [[nodiscard]] bool check(uint64_t seq) const {
    if (seq == 0) return false;
    if (size == 0) return true;
    if (seq > top) return true;
    if (top - seq >= size) return false;
    return !seen.contains(seq);
  }
  void commit(uint64_t seq) {
    seen.insert(seq);
    if (seq > top) top = seq;
  }
};

// reference_infer: RFC 4303 A2.2 restated: the receiver assumes the packet's
// full sequence number lies in the 2^32 numbers starting at the bottom of
// the window, B = T - W + 1. The unique number congruent to `low` modulo
// 2^32 in [B, B + 2^32) is the answer; 0 when it would be 0 or negative
// (before the first subspace, impossible for a valid packet).
uint64_t reference_infer(uint64_t top, uint64_t w, uint32_t low) {
  constexpr uint64_t k32 = uint64_t{1} << 32;
  if (top + 1 < w) {
    // B = -d is negative: the range is [-d, 2^32 - d); a low of 2^32 - d or
    // more stands for the negative number low - 2^32.
    const uint64_t d = w - 1 - top;
    return low < k32 - d ? low : 0;
  }
  const uint64_t bottom = top - w + 1;
  uint64_t seq = (bottom & ~(k32 - 1)) | low;
  if (seq < bottom) {
    if ((bottom >> 32) == 0xffffffffu) return 0;  // past 2^64 - 1
    seq += k32;
  }
  return seq;
}

}  // namespace

TEST_CASE("ReplayWindow: sizes, the 4096 limit and sequence number 0") {
  for (uint32_t size : {0u, 1u, 32u, 64u, 100u, 1024u, 4096u}) {
    auto w = ReplayWindow::make(size, false);
    REQUIRE_MESSAGE(w.ok(), size);
    CHECK(w->size() == size);
    CHECK(w->top() == 0);
    // RFC 4303 3.3.3: the first packet carries 1; 0 is never sent.
    CHECK(w->check(0) == Errc::replayed);
    CHECK(w->check(1).ok());
  }
  CHECK(ReplayWindow::make(4097, false).error() == Errc::invalid_argument);
  CHECK(ReplayWindow::make(4097, true).error() == Errc::invalid_argument);
  CHECK(ReplayWindow::make(0xffffffffu, false).error() == Errc::invalid_argument);
}

TEST_CASE("ReplayWindow: duplicates, and the left edge (exactly W behind refused, W-1 accepted)") {
  for (uint32_t size : {1u, 32u, 64u, 100u, 1024u, 4096u}) {
    INFO("W = " << size);
    // A top far enough from 0 that the left edge is a real sequence number,
    // and not block aligned, so that the window straddles blocks.
    for (uint64_t top : {uint64_t{5000}, uint64_t{8191}, uint64_t{8192}, uint64_t{100003}}) {
      INFO("top = " << top);
      ReplayWindow w = make_window(size);
      REQUIRE(accept(w, top));
      CHECK(w.top() == top);
      // RFC 4303 3.4.3: a duplicate of the highest is refused.
      CHECK(w.check(top) == Errc::replayed);
      // The window holds top - W + 1 .. top.
      CHECK(w.check(top - size) == Errc::replayed);
      CHECK(w.check(top - size - 1) == Errc::replayed);
      CHECK(w.check(top - size + 1).ok() == (size != 1));  // W = 1: that is the top itself
      // Accept the left edge, then it is a duplicate.
      CHECK(accept(w, top - size + 1) == (size != 1));
      CHECK(w.check(top - size + 1) == Errc::replayed);
      // Everything else inside is still new, and each is accepted once.
      for (uint64_t s = top - size + 2; s < top; ++s) {
        REQUIRE(accept(w, s));
        REQUIRE(w.check(s) == Errc::replayed);
      }
      CHECK(w.top() == top);
      // One step ahead moves the left edge by one.
      REQUIRE(accept(w, top + 1));
      CHECK(w.check(top - size + 1) == Errc::replayed);  // now exactly W behind
      CHECK(w.check(top - size + 2) == Errc::replayed);  // inside, seen
    }
  }
}

TEST_CASE("ReplayWindow: packets within the window in any order are each accepted once") {
  for (uint32_t size : {32u, 64u, 100u, 1024u}) {
    INFO("W = " << size);
    ReplayWindow w = make_window(size);
    // Deliver 1 .. 3W in a scrambled order confined to the window: every
    // packet is at most W-1 behind the highest delivered so far.
    std::vector<uint64_t> order;
    for (uint64_t base = 1; base <= 3u * size; base += size / 2) {
      for (uint64_t k = size / 2; k-- > 0;) order.push_back(base + k);
    }
    for (uint64_t s : order) {
      INFO("seq " << s);
      CHECK(accept(w, s));
      CHECK(!accept(w, s));
    }
  }
}

TEST_CASE("ReplayWindow: far jumps ahead clear stale bits (RFC 6479 block ring)") {
  for (uint32_t size : {32u, 64u, 100u, 1024u, 4096u}) {
    INFO("W = " << size);
    ReplayWindow w = make_window(size);
    // Fill a whole window.
    for (uint64_t s = 1; s <= size; ++s) REQUIRE(accept(w, s));
    // Jump ahead by an exact multiple of the ring (the same bitmap
    // positions), by one window, and by huge distances: none of the old
    // bits may make a new number look like a duplicate.
    const uint64_t ring_multiples[] = {64, 128, 256, 4096, 8192, 65536, uint64_t{1} << 40};
    uint64_t top = size;
    for (uint64_t jump : ring_multiples) {
      INFO("jump " << jump);
      const uint64_t next = top + jump;
      // The numbers between the old top and the new one are new, though
      // each maps to the bit of a number accepted before (next - k and
      // next - k - jump share their position when jump is a multiple of
      // the ring); those at or below the old top were all accepted.
      REQUIRE(accept(w, next));
      for (uint64_t k = 1; k < size; ++k) {
        REQUIRE_MESSAGE(w.check(next - k).ok() == (k < jump), "next - " << k);
      }
      // And the new ones are accepted once.
      for (uint64_t k = 1; k < size && k < jump; ++k) REQUIRE(accept(w, next - k));
      for (uint64_t k = 0; k < size; ++k) REQUIRE(w.check(next - k) == Errc::replayed);
      top = next;
    }
  }
}

TEST_CASE("ReplayWindow: a jump of less than a window keeps the overlap and clears the rest") {
  ReplayWindow w = make_window(100);
  for (uint64_t s = 1; s <= 200; s += 2) REQUIRE(accept(w, s));  // odd numbers 1..199
  REQUIRE(accept(w, 260));                                       // window 161..260
  for (uint64_t s = 161; s < 260; ++s) {
    INFO(s);
    CHECK(w.check(s).ok() == (s % 2 == 0 || s > 199));
  }
  CHECK(w.check(160) == Errc::replayed);
}

TEST_CASE("ReplayWindow: size 0 disables anti-replay (duplicates accepted) but still tracks the top") {
  ReplayWindow w = make_window(0);
  CHECK(accept(w, 5));
  CHECK(accept(w, 5));
  CHECK(accept(w, 1));
  CHECK(accept(w, 1000000));
  CHECK(accept(w, 2));
  CHECK(w.top() == 1000000);
  CHECK(w.check(0) == Errc::replayed);
}

TEST_CASE("ReplayWindow ESN: inference in case A and case B (RFC 4303 A2.2)") {
  constexpr uint64_t k32 = uint64_t{1} << 32;
  const uint32_t size = 64;  // W
  SUBCASE("case A: Tl >= W - 1, the window within one subspace") {
    ReplayWindow w = make_window(size, true);
    const uint64_t top = 7 * k32 + 1000;  // Th = 7, Tl = 1000, Bl = 937
    REQUIRE(accept(w, top));
    CHECK(w.infer(1000) == top);
    CHECK(w.infer(937) == 7 * k32 + 937);    // Seql >= Bl: Seqh = Th
    CHECK(w.infer(5000) == 7 * k32 + 5000);  // ahead, same subspace
    CHECK(w.infer(936) == 8 * k32 + 936);    // Seql < Bl: Seqh = Th + 1
    CHECK(w.infer(0) == 8 * k32);            // the next subspace
    CHECK(w.infer(0xffffffffu) == 7 * k32 + 0xffffffffu);
    // Boundary of case A: Tl = W - 1, Bl = 0: everything is in subspace Th.
    ReplayWindow edge = make_window(size, true);
    REQUIRE(accept(edge, 3 * k32 + size - 1));
    CHECK(edge.infer(0) == 3 * k32);
    CHECK(edge.infer(0xffffffffu) == 3 * k32 + 0xffffffffu);
  }
  SUBCASE("case B: Tl < W - 1, the window spans two subspaces") {
    ReplayWindow w = make_window(size, true);
    const uint64_t top = 7 * k32 + 10;  // Th = 7, Tl = 10, Bl = 2^32 - 53
    REQUIRE(accept(w, top));
    const uint32_t bl = static_cast<uint32_t>(10 - size + 1);
    CHECK(bl == 0xffffffffu - 52);
    CHECK(w.infer(bl) == 6 * k32 + bl);  // Seql >= Bl: Seqh = Th - 1
    CHECK(w.infer(0xffffffffu) == 6 * k32 + 0xffffffffu);
    CHECK(w.infer(bl - 1) == 7 * k32 + bl - 1);  // Seql < Bl: Seqh = Th
    CHECK(w.infer(0) == 7 * k32);
    CHECK(w.infer(10) == top);
    CHECK(w.infer(11) == top + 1);
  }
  SUBCASE("case B with Th = 0: a number of the 'previous' subspace does not exist") {
    ReplayWindow w = make_window(size, true);
    REQUIRE(accept(w, 10));  // Th = 0, Tl = 10
    const uint32_t bl = static_cast<uint32_t>(10 - size + 1);
    CHECK(w.infer(bl) == 0);
    CHECK(w.infer(0xffffffffu) == 0);
    CHECK(w.check(w.infer(0xffffffffu)) == Errc::replayed);
    CHECK(w.infer(bl - 1) == bl - 1);
    CHECK(w.infer(1) == 1);
    // The fresh window (T = 0) is case B with Th = 0 as well.
    ReplayWindow fresh = make_window(size, true);
    CHECK(fresh.infer(1) == 1);
    CHECK(fresh.infer(0xffffffffu) == 0);
    CHECK(fresh.infer(static_cast<uint32_t>(0 - size + 1)) == 0);
    CHECK(fresh.infer(static_cast<uint32_t>(0 - size)) == 0xffffffffu - size + 1);
  }
  SUBCASE("without ESN the low 32 bits are the sequence number") {
    ReplayWindow w = make_window(size, false);
    REQUIRE(accept(w, 0xfffffff0u));
    CHECK(w.infer(3) == 3);
    CHECK(w.check(3) == Errc::replayed);
  }
}

TEST_CASE("ReplayWindow ESN: Seql wrapping from 0xffffffff to 0 moves into the next subspace") {
  constexpr uint64_t k32 = uint64_t{1} << 32;
  for (uint32_t size : {32u, 64u, 100u, 4096u}) {
    INFO("W = " << size);
    ReplayWindow w = make_window(size, true);
    // Walk the last numbers of subspace 0 and on into subspace 1, one at a
    // time, by their low 32 bits as the packets carry them.
    for (uint64_t s = k32 - 2 * size; s < k32 + 2 * size; ++s) {
      const uint32_t low = static_cast<uint32_t>(s);
      REQUIRE(w.infer(low) == s);
      REQUIRE(accept(w, s));
    }
    // Late packets from the end of subspace 0, now behind a top in subspace 1.
    ReplayWindow late = make_window(size, true);
    REQUIRE(accept(late, k32 - 5));
    REQUIRE(accept(late, k32 + 2));  // low 2
    CHECK(late.infer(0xfffffffeu) == k32 - 2);
    CHECK(accept(late, late.infer(0xfffffffeu)));
    CHECK(late.infer(0xfffffffbu) == k32 - 5);
    CHECK(late.check(late.infer(0xfffffffbu)) == Errc::replayed);  // seen
    CHECK(accept(late, late.infer(0)));                            // 2^32 itself
    CHECK(late.top() == k32 + 2);
  }
}

TEST_CASE("ReplayWindow ESN: disabled window infers with W = 2^31 (nearest subspace)") {
  constexpr uint64_t k32 = uint64_t{1} << 32;
  ReplayWindow w = make_window(0, true);
  REQUIRE(accept(w, 5 * k32 + 0x80000000u));
  CHECK(w.infer(0x80000000u) == 5 * k32 + 0x80000000u);
  CHECK(w.infer(1) == 5 * k32 + 1);  // >= Bl = 1: same subspace
  CHECK(w.infer(0) == 6 * k32);      // < Bl: next
  CHECK(w.infer(0xffffffffu) == 5 * k32 + 0xffffffffu);
  CHECK(w.infer(1) == reference_infer(w.top(), k32 / 2, 1));
}

TEST_CASE("ReplayWindow ESN: the last subspace (Th = 2^32 - 1) never infers past 2^64 - 1") {
  const uint64_t top = ~uint64_t{0} - 10;
  ReplayWindow w = make_window(64, true);
  REQUIRE(accept(w, top));
  CHECK(w.infer(static_cast<uint32_t>(top + 5)) == top + 5);
  CHECK(w.infer(static_cast<uint32_t>(~uint64_t{0})) == ~uint64_t{0});
  CHECK(w.infer(3) == 0);  // would be subspace 2^32: the sender must have rekeyed
}

TEST_CASE("ReplayWindow: randomized cross-check against the reference model") {
  std::mt19937_64 rng(0x6479);
  for (uint32_t size : {0u, 1u, 32u, 63u, 64u, 65u, 100u, 128u, 1024u, 4096u}) {
    for (int run = 0; run < 20; ++run) {
      INFO("W = " << size << " run " << run);
      ReplayWindow w = make_window(size);
      ReferenceWindow ref{size, 0, {}};
      uint64_t cursor = 1;
      for (int i = 0; i < 3000; ++i) {
        // Mostly near the top (reordering, duplicates, the left edge),
        // sometimes a jump ahead of up to several rings, rarely far.
        uint64_t seq = 0;
        const unsigned kind = static_cast<unsigned>(rng() % 100);
        const uint64_t span = size == 0 ? 64 : size;
        if (kind < 50) {
          const uint64_t back = rng() % (span + 3);
          seq = cursor > back ? cursor - back : 0;
        } else if (kind < 85) {
          cursor += 1 + rng() % 3;
          seq = cursor;
        } else if (kind < 97) {
          cursor += rng() % (4 * span + 200);
          seq = cursor;
        } else {
          cursor += rng() % (uint64_t{1} << 33);
          seq = cursor;
        }
        const bool want = ref.check(seq);
        const bool got = w.check(seq).ok();
        REQUIRE_MESSAGE(got == want, "seq " << seq << " top " << ref.top);
        if (want) {
          REQUIRE(w.commit(seq).ok());
          ref.commit(seq);
        }
        REQUIRE(w.top() == ref.top);
      }
    }
  }
}

TEST_CASE("ReplayWindow ESN: randomized inference against the RFC 4303 A2.2 range rule") {
  std::mt19937_64 rng(0x4303);
  constexpr uint64_t k32 = uint64_t{1} << 32;
  for (uint32_t size : {1u, 32u, 64u, 100u, 4096u}) {
    INFO("W = " << size);
    for (int i = 0; i < 20000; ++i) {
      // Tops near subspace boundaries are the interesting ones.
      const uint64_t th = rng() % 4 == 0 ? 0 : rng() % 1000;
      uint32_t tl = static_cast<uint32_t>(rng());
      switch (rng() % 4) {
        case 0: tl = static_cast<uint32_t>(rng() % (2 * size + 2)); break;
        case 1: tl = static_cast<uint32_t>(0xffffffffu - rng() % (2 * size + 2)); break;
        default: break;
      }
      const uint64_t top = th * k32 + tl;
      if (top == 0) continue;
      uint32_t low = static_cast<uint32_t>(rng());
      switch (rng() % 3) {
        case 0: low = static_cast<uint32_t>(tl - rng() % (2 * size + 2)); break;
        case 1: low = static_cast<uint32_t>(tl + rng() % (2 * size + 2)); break;
        default: break;
      }
      ReplayWindow w = make_window(size, true);
      REQUIRE(w.commit(top).ok());
      REQUIRE_MESSAGE(w.infer(low) == reference_infer(top, size, low), "top " << top << " low " << low);
    }
  }
}

TEST_CASE("ReplayWindow ESN: randomized packet stream across subspaces against the reference model") {
  // Sequence numbers near 2^32 boundaries, delivered by their low 32 bits:
  // inference then the window must agree with the reference (inference by
  // the range rule, the set of accepted numbers).
  std::mt19937_64 rng(0xe5);
  constexpr uint64_t k32 = uint64_t{1} << 32;
  for (uint32_t size : {32u, 64u, 100u, 1024u}) {
    for (int run = 0; run < 10; ++run) {
      INFO("W = " << size << " run " << run);
      ReplayWindow w = make_window(size, true);
      ReferenceWindow ref{size, 0, {}};
      uint64_t cursor = (1 + static_cast<uint64_t>(run)) * k32 - 3 * size;
      for (int i = 0; i < 4000; ++i) {
        uint64_t seq = 0;
        if (rng() % 2 == 0) {
          seq = cursor - rng() % (size + 5);
        } else {
          cursor += 1 + rng() % 4;
          seq = cursor;
        }
        const uint32_t low = static_cast<uint32_t>(seq);
        const uint64_t inferred = w.infer(low);
        REQUIRE(inferred == reference_infer(ref.top, size, low));
        const bool want = inferred != 0 && ref.check(inferred);
        REQUIRE(w.check(inferred).ok() == want);
        if (want) {
          REQUIRE(w.commit(inferred).ok());
          ref.commit(inferred);
        }
      }
      CHECK(ref.top > (1 + static_cast<uint64_t>(run)) * k32);  // crossed a boundary
    }
  }
}

TEST_CASE("ReplayWindow: commit alone gives the reference verdict (with and without ESN, far jumps)") {
  // The datapath calls check() then commit(), but commit() must stand on its
  // own: another receiver may have moved the window in between. Single-
  // threaded, commit(seq).ok() is exactly the reference model's check(seq).
  // Far jumps include the distances where 32-bit block tags repeat (2^37
  // numbers and multiples) or change sign (2^36), and numbers near 2^32 and
  // near 2^64 for ESN.
  constexpr uint64_t k32 = uint64_t{1} << 32;
  const uint64_t far[] = {uint64_t{1} << 33, (uint64_t{1} << 36) - 32, uint64_t{1} << 36,
                          uint64_t{1} << 37, (uint64_t{1} << 37) + 31, 3 * (uint64_t{1} << 37),
                          uint64_t{1} << 41};
  std::mt19937_64 rng(0x11);
  for (const bool esn : {false, true}) {
    for (uint32_t size : {0u, 1u, 32u, 64u, 65u, 1024u, 4096u}) {
      for (int run = 0; run < 3; ++run) {
        INFO("ESN " << esn << " W = " << size << " run " << run);
        ReplayWindow w = make_window(size, esn);
        ReferenceWindow ref{size, 0, {}};
        const uint64_t infer_w = size != 0 ? size : k32 / 2;
        // ESN runs start just below a subspace boundary (run 2: near 2^64).
        uint64_t cursor = !esn       ? 1
                          : run == 2 ? ~uint64_t{0} - (uint64_t{1} << 40)
                                     : (2 + uint64_t(run)) * k32 - 100;
        const uint64_t span = size == 0 ? 64 : size;
        if (esn) {  // the receiver starts where the sender's numbers are
          REQUIRE(w.commit(cursor).ok());
          ref.commit(cursor);
        }
        for (int i = 0; i < 4000; ++i) {
          uint64_t seq = 0;
          const unsigned kind = static_cast<unsigned>(rng() % 100);
          if (kind < 45) {  // reordered, duplicate, at and beyond the left edge
            const uint64_t back = rng() % (span + 40);
            seq = cursor > back ? cursor - back : 0;
          } else if (kind < 80) {
            cursor += 1 + rng() % 3;
            seq = cursor;
          } else if (kind < 97) {
            cursor += rng() % (3 * span + 100);
            seq = cursor;
          } else {
            const uint64_t jump = far[rng() % std::size(far)];
            if (cursor > ~uint64_t{0} - jump - (uint64_t{1} << 36)) continue;  // stay inside 2^64
            cursor += jump;
            seq = cursor;
          }
          if (esn && kind < 97) {
            // Delivered by its low 32 bits, as the datapath sees it: the
            // number judged is the one inferred (RFC 4303 A2.2).
            const uint32_t low = static_cast<uint32_t>(seq);
            seq = w.infer(low);
            REQUIRE(seq == reference_infer(ref.top, infer_w, low));
          }
          const bool want = ref.check(seq);
          if (rng() % 2 == 0) REQUIRE_MESSAGE(w.check(seq).ok() == want, "seq " << seq << " top " << ref.top);
          REQUIRE_MESSAGE(w.commit(seq).ok() == want, "seq " << seq << " top " << ref.top);
          if (want) ref.commit(seq);
          REQUIRE(w.top() == ref.top);
          if (i % 256 == 0) {  // the whole window and a little beyond agree
            for (uint64_t k = 0; k < std::min<uint64_t>(span + 40, ref.top); ++k) {
              REQUIRE_MESSAGE(w.check(ref.top - k).ok() == ref.check(ref.top - k), "top - " << k);
            }
          }
        }
      }
    }
  }
}

TEST_CASE("ReplayWindow: jumps of exactly 2^37 (the 32-bit tag period) leave no stale bits") {
  // Block tags are the block number modulo 2^32: a jump of 2^37 numbers
  // lands every number on the slot and tag of one received before. The
  // committer that jumps re-tags the slots against the previous top, so
  // none of the old bits survive.
  for (uint32_t size : {1u, 32u, 64u, 1000u, 4096u}) {
    INFO("W = " << size);
    ReplayWindow w = make_window(size, true);
    for (uint64_t s = 1; s <= size; ++s) REQUIRE(accept(w, s));
    uint64_t top = size;
    for (int k = 1; k <= 5; ++k) {
      const uint64_t next = top + (uint64_t{1} << 37) * static_cast<uint64_t>(k);
      INFO("next " << next);
      REQUIRE(w.commit(next).ok());
      for (uint64_t j = 1; j < size; ++j) REQUIRE(w.check(next - j).ok());
      for (uint64_t j = 1; j < size; ++j) REQUIRE(w.commit(next - j).ok());
      for (uint64_t j = 0; j < size; ++j) REQUIRE(w.commit(next - j) == Errc::replayed);
      CHECK(w.check(next - size) == Errc::replayed);
      top = next;
    }
  }
}

namespace {

// SpinBarrier: the test threads start each round together (test code only;
// the window itself never waits).
class SpinBarrier {
 public:
  explicit SpinBarrier(unsigned n) : n_(n) {}
  void arrive_and_wait() {
    const unsigned gen = gen_.load(std::memory_order_acquire);
    if (count_.fetch_add(1, std::memory_order_acq_rel) + 1 == n_) {
      count_.store(0, std::memory_order_relaxed);
      gen_.fetch_add(1, std::memory_order_acq_rel);
      return;
    }
    while (gen_.load(std::memory_order_acquire) == gen) std::this_thread::yield();
  }

 private:
  const unsigned n_;
  std::atomic<unsigned> count_{0};
  std::atomic<unsigned> gen_{0};
};

std::unique_ptr<std::atomic<uint32_t>[]> make_counters(size_t n) {
  return std::unique_ptr<std::atomic<uint32_t>[]>(new std::atomic<uint32_t>[n]());
}

}  // namespace

TEST_CASE("ReplayWindow concurrent: every thread offers every number; each is accepted exactly once") {
  // 2..4 receivers of one SA, each with every packet of a round (a window's
  // worth) in its own shuffled order, as duplicated and reordered traffic
  // spread over queues would arrive. No number of a round can leave the
  // window during it (top <= the round's last number), so each must be
  // accepted by exactly one thread and refused by all the others, whether
  // the refusal comes from check() or, after a lost race, from commit().
  for (uint32_t size : {64u, 1024u}) {
    for (unsigned nthreads : {2u, 3u, 4u}) {
      INFO("W = " << size << " threads " << nthreads);
      ReplayWindow w = make_window(size);
      const uint64_t rounds = 200000 / size;
      const uint64_t n = rounds * size;
      auto accepted = make_counters(n + 1);
      std::atomic<uint64_t> lost_races{0};
      SpinBarrier barrier(nthreads);
      std::vector<std::thread> threads;
      for (unsigned t = 0; t < nthreads; ++t) {
        threads.emplace_back([&, t] {
          std::mt19937_64 rng(1000 + t);
          std::vector<uint64_t> order(size);
          for (uint64_t r = 0; r < rounds; ++r) {
            for (uint64_t k = 0; k < size; ++k) order[k] = r * size + k + 1;
            // Thread 0 and 1 share one order (the same number at the same
            // time, most contention); the others shuffle their own.
            std::mt19937_64 round_rng(t < 2 ? r : rng());
            std::shuffle(order.begin(), order.end(), round_rng);
            barrier.arrive_and_wait();
            for (uint64_t s : order) {
              // Odd threads commit without the pre-check: commit alone must
              // refuse duplicates.
              if (t % 2 == 0 && !w.check(s).ok()) continue;
              if (w.commit(s).ok()) {
                accepted[s].fetch_add(1, std::memory_order_relaxed);
              } else if (t % 2 == 0) {
                lost_races.fetch_add(1, std::memory_order_relaxed);
              }
            }
          }
        });
      }
      for (auto& th : threads) th.join();
      CHECK(w.top() == n);
      uint64_t not_once = 0;
      for (uint64_t s = 1; s <= n; ++s) {
        if (accepted[s].load() != 1) ++not_once;
        if (w.check(s).ok()) ++not_once;
      }
      CHECK(not_once == 0);
      MESSAGE("W = " << size << " threads " << nthreads << ": " << lost_races.load()
                     << " commits lost the race after a passed check");
    }
  }
}

TEST_CASE("ReplayWindow concurrent: interleaved shuffled ranges, never twice, the final window complete") {
  // No barrier: threads drift apart, so a slow thread offers numbers the
  // window has left. Only the properties that hold under any interleaving
  // are asserted: no number accepted twice, a successful commit has top at
  // or above it, every number of the final window accepted exactly once
  // (it was never left of the window, so its first commit must win), and
  // afterwards every offered number is a duplicate.
  for (uint32_t size : {64u, 1024u}) {
    for (unsigned nthreads : {2u, 4u}) {
      INFO("W = " << size << " threads " << nthreads);
      ReplayWindow w = make_window(size);
      const uint64_t n = 200000;
      const uint64_t chunk = size / 2;
      auto accepted = make_counters(n + 1);
      std::atomic<uint64_t> errors{0};
      std::vector<std::thread> threads;
      for (unsigned t = 0; t < nthreads; ++t) {
        threads.emplace_back([&, t] {
          std::mt19937_64 rng(77 + t);
          std::vector<uint64_t> order(n);
          for (uint64_t k = 0; k < n; ++k) order[k] = k + 1;
          for (uint64_t c = 0; c < n; c += chunk) {
            std::shuffle(order.begin() + static_cast<std::ptrdiff_t>(c),
                         order.begin() + static_cast<std::ptrdiff_t>(std::min(n, c + chunk)), rng);
          }
          for (uint64_t s : order) {
            if (!w.check(s).ok()) continue;
            if (!w.commit(s).ok()) continue;
            accepted[s].fetch_add(1, std::memory_order_relaxed);
            if (w.top() < s) errors.fetch_add(1, std::memory_order_relaxed);
          }
        });
      }
      for (auto& th : threads) th.join();
      CHECK(errors.load() == 0);
      REQUIRE(w.top() == n);
      uint64_t twice = 0, missing = 0, total = 0, open = 0;
      for (uint64_t s = 1; s <= n; ++s) {
        const uint32_t a = accepted[s].load();
        total += a;
        if (a > 1) ++twice;
        if (n - s < size && a != 1) ++missing;
        if (w.check(s).ok()) ++open;
      }
      CHECK(twice == 0);
      CHECK(missing == 0);
      CHECK(open == 0);
      CHECK(total >= size);
    }
  }
}

TEST_CASE("ReplayWindow concurrent: a fast-moving window with late and duplicate packets") {
  // Each thread owns a disjoint stream (the numbers congruent to its index
  // modulo the thread count) that jumps ahead often, holds some packets
  // back and delivers them late (some inside the window by then, some left
  // of it), and replays some it already had accepted. Asserted, as true
  // under any interleaving: a number already W or more behind the top seen
  // before the call is refused; a replay of an accepted number is refused;
  // no number is accepted twice; a number inside the final window that was
  // offered was accepted (it never left the window); afterwards every
  // offered number is refused.
  for (uint32_t size : {64u, 1024u}) {
    for (unsigned nthreads : {2u, 4u}) {
      INFO("W = " << size << " threads " << nthreads);
      struct Offer {
        uint64_t seq;
        bool replay;  // a copy of an earlier offer of this thread
      };
      // The streams are drawn before the threads start, so the counters
      // can be sized.
      std::vector<std::vector<Offer>> streams(nthreads);
      uint64_t max_seq = 0;
      for (unsigned t = 0; t < nthreads; ++t) {
        std::mt19937_64 rng(500 + t);
        std::vector<std::pair<size_t, uint64_t>> held;  // (due offer index, seq)
        uint64_t k = 0;
        std::vector<Offer>& out = streams[t];
        while (out.size() < 40000) {
          const unsigned kind = static_cast<unsigned>(rng() % 100);
          k += kind < 5 ? 1 + rng() % size : 1;  // jumps of up to W packets of this stream
          const uint64_t seq = t + 1 + nthreads * k;
          max_seq = std::max(max_seq, seq);
          if (kind >= 85 && kind < 95) {
            held.emplace_back(out.size() + rng() % (size / 4 + 8), seq);
          } else {
            out.push_back({seq, false});
          }
          if (kind >= 95 && out.size() > 1) {
            const Offer& old = out[out.size() - 1 - rng() % std::min<size_t>(out.size(), 50)];
            out.push_back({old.seq, true});
          }
          for (size_t h = 0; h < held.size();) {
            if (held[h].first <= out.size()) {
              out.push_back({held[h].second, false});
              held[h] = held.back();
              held.pop_back();
            } else {
              ++h;
            }
          }
        }
      }
      std::vector<uint8_t> offered(max_seq + 1);
      for (const auto& stream : streams) {
        for (const Offer& o : stream) offered[o.seq] = 1;
      }
      ReplayWindow w = make_window(size);
      auto accepted = make_counters(max_seq + 1);
      std::atomic<uint64_t> left_accepted{0}, replay_accepted{0};
      std::vector<std::thread> threads;
      for (unsigned t = 0; t < nthreads; ++t) {
        threads.emplace_back([&, t] {
          for (const Offer& o : streams[t]) {
            const uint64_t before = w.top();
            const bool ok = w.check(o.seq).ok() && w.commit(o.seq).ok();
            if (!ok) continue;
            if (accepted[o.seq].fetch_add(1, std::memory_order_relaxed) != 0 && o.replay) {
              replay_accepted.fetch_add(1, std::memory_order_relaxed);
            }
            if (before >= o.seq && before - o.seq >= size)
              left_accepted.fetch_add(1, std::memory_order_relaxed);
          }
        });
      }
      for (auto& th : threads) th.join();
      CHECK(left_accepted.load() == 0);
      CHECK(replay_accepted.load() == 0);
      const uint64_t top = w.top();
      uint64_t twice = 0, missing = 0, open = 0, total = 0;
      for (uint64_t s = 1; s <= max_seq; ++s) {
        const uint32_t a = accepted[s].load();
        total += a;
        if (a > 1) ++twice;
        if (offered[s] == 0) continue;
        if (top - s < size && a != 1) ++missing;
        if (w.check(s).ok()) ++open;
      }
      CHECK(twice == 0);
      CHECK(missing == 0);
      CHECK(open == 0);
      MESSAGE("W = " << size << " threads " << nthreads << ": accepted " << total << " of "
                     << nthreads * streams[0].size() << " offers, top " << top);
    }
  }
}
