// SPDX-License-Identifier: Apache-2.0
// ReplayWindow: the receiver's anti-replay state of one SA (RFC 4303 3.4.3,
// RFC 4302 3.4.3), with Extended Sequence Numbers (RFC 4304, RFC 4303
// appendix A2), safe for several receivers of one SA at once (issue 11: RSS
// without SPI affinity), without locks and without allocating after make().
//
// Usage on the packet path, in this order, from any number of threads:
//   seq = w.infer(low)            // ESN: the implicit high-order bits
//   w.check(seq)                  // read-only: drop duplicates and old packets
//   ... verify the ICV ...
//   w.commit(seq)                 // only now does the window move; replayed
//                                 // when another receiver won the race
//
// Layout. Sequence numbers are grouped in blocks of 32 (block = seq >> 5).
// Each block lives in one of n slots (slot = block & (n - 1), n a power of
// two), an atomic 64-bit word: the block number truncated to 32 bits (its
// tag) in the high half, a bitmap of the block's received numbers in the low
// half. One word holds both, so a single CAS records a number and evicts the
// block that used the slot before (RFC 6479's ring of blocks, made atomic:
// the window never shifts a bitmap and never clears a run of blocks under a
// lock). A separate atomic top holds the highest number committed so far.
//
// Bound on n (W = size(), B(x) = x >> 5). n is the smallest power of two
// with 32 * n >= W + 31, so n <= 256 for the 4096 limit.
//  (a) A number s inside the window of a top T (T - W < s <= T) has
//      B(T) - B(s) <= (T - s + 31) / 32 <= (W + 30) / 32 < n: the n most
//      recent blocks cover the whole window, so at most one block that can
//      still matter maps to each slot.
//  (b) When a slot goes from block X - n (or older) to block X, the writer
//      has already raised top to T >= 32 * X (see "commit" below). The
//      largest number of block X - n is 32 * X - 32 * n + 31, and
//      T - (32 * X - 32 * n + 31) >= 32 * n - 31 >= W: every number of the
//      evicted block is left of the window, so eviction loses nothing.
//  (c) A slot holding a block newer than B(s) holds B(s) + k * n (k >= 1),
//      written after top reached 32 * (B(s) + n) > s + W - 1 by (b): s is
//      left of the window, so "newer" means replayed.
//
// Memory orders. The slot CAS is acq_rel and every write to a slot is an
// RMW, so a thread whose CAS reads a slot value synchronises with every
// earlier writer of that slot. Each writer raises top *before* its slot CAS
// (sequenced before the release), so after its own CAS a committer's load
// of top (relaxed suffices: coherence after happens-before) sees at least
// the top of every writer whose block it observed; commit uses this to
// refuse a number that fell left of the window meanwhile. check() and
// infer() use relaxed loads: check is advisory (a set bit or a newer block
// is a fact whenever it is seen; a stale "ok" is caught by commit), and the
// number infer() returns is judged by check and commit.
//
// Why at most one commit of a number succeeds: a slot's block only grows
// (a CAS replaces a block only by a newer one, and sets bits only within
// the same block), and a commit succeeds only by setting its number's bit
// while the slot holds its block. Once set, that bit stays until the slot
// moves to a newer block, after which the slot can never hold the number's
// block again.
//
// Tags are 32 bits; two blocks compare by the signed 32-bit difference of
// their tags, exact when they are less than 2^31 blocks (2^36 numbers)
// apart. Single-threaded, every input is exact: the committer that moves
// top into new blocks re-tags their slots judging old tags against the
// previous top (which all slots are within n blocks of), whatever the jump,
// so a slot is never more than n blocks behind top once commit returns.
// With concurrent receivers the differences stay small as long as top
// advances by less than 2^35 numbers while any one call is in flight,
// counting that call's own jump. infer() never jumps by 2^32 or more, so a
// violation takes a receiver stalled in one call while eight maximal jumps
// of authenticated packets get through; beyond that the window may wrongly
// accept or drop a number near the jump.
//
// Cost per packet: check is one load of top and one load of a slot; commit
// is one load of top, one CAS on top when it moves, one load and one CAS of
// the slot, one more load of top; a jump ahead re-tags the skipped slots (at
// most n CAS, as RFC 6479 clears at most the whole ring).
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

#include "ipsec/core/limits.hpp"
#include "ipsec/core/result.hpp"

namespace ipsec::esp {

class ReplayWindow {
 public:
  // Move-only. A moved-from window may only be destroyed or assigned to.
  ReplayWindow(ReplayWindow&&) noexcept = default;
  ReplayWindow& operator=(ReplayWindow&&) noexcept = default;
  ReplayWindow(const ReplayWindow&) = delete;
  ReplayWindow& operator=(const ReplayWindow&) = delete;
  ~ReplayWindow() = default;

  // make: a window of `size` packets (0 disables anti-replay; the highest
  // sequence number is still tracked for ESN). All the memory it will ever
  // use is allocated here. invalid_argument above limits::kMaxReplayWindow,
  // out_of_memory.
  [[nodiscard]] static Result<ReplayWindow> make(uint32_t size, bool esn) noexcept {
    if (size > limits::kMaxReplayWindow) return Errc::invalid_argument;
    ReplayWindow w;
    w.size_ = size;
    w.esn_ = esn;
    // Bound (b) above: 32 * n >= W + 31. W = 0 keeps no slots.
    const uint32_t slots = size == 0 ? 0 : std::bit_ceil((size + 31u + 31u) / kBlockNumbers);
    w.mask_ = slots == 0 ? 0 : slots - 1;
    w.lines_.reset(new (std::nothrow) Line[1 + (slots + kWordsPerLine - 1) / kWordsPerLine]);
    if (!w.lines_) return Errc::out_of_memory;
    w.top_word().store(0, std::memory_order_relaxed);
    // Top 0 is in block 0. Slot i starts as the latest block <= 0 that maps
    // to it, i - n (negative, modulo 2^32 as every tag), with no number
    // received: the state "every slot within n blocks of top" that commit
    // keeps.
    for (uint32_t i = 0; i < slots; ++i) {
      const uint32_t tag = i == 0 ? 0 : i - slots;
      w.slot_at(i).store(uint64_t{tag} << 32, std::memory_order_relaxed);
    }
    return w;
  }

  [[nodiscard]] uint32_t size() const noexcept { return size_; }
  [[nodiscard]] bool esn() const noexcept { return esn_; }
  // top: the highest sequence number committed so far (0: none yet).
  [[nodiscard]] uint64_t top() const noexcept { return top_word().load(std::memory_order_relaxed); }

  // infer: the full sequence number of a packet whose header carries `low`.
  // Without ESN that is `low`. With ESN the high-order half follows RFC 4303
  // appendix A2.2 from the window's top T = Th:Tl and size W (a disabled
  // window infers with W = 2^31: the nearest subspace). 0 when the packet
  // would lie before the first subspace (never valid, check() refuses it).
  // Reads top once; another receiver may move it right after, which check
  // and commit account for.
  [[nodiscard]] uint64_t infer(uint32_t low) const noexcept {
    if (!esn_) return low;
    const uint64_t top = this->top();
    const uint64_t w = size_ != 0 ? size_ : (uint64_t{1} << 31);
    const uint32_t th = static_cast<uint32_t>(top >> 32);
    const uint32_t tl = static_cast<uint32_t>(top);
    const uint32_t bl = static_cast<uint32_t>(tl - w + 1);  // modulo 2^32
    uint64_t high = th;
    if (uint64_t{tl} >= w - 1) {
      // Case A: the window lies within one subspace.
      if (low < bl) high = uint64_t{th} + 1;
    } else {
      // Case B: the window spans two subspaces; Seql >= Bl lies in the lower one.
      if (low >= bl) {
        if (th == 0) return 0;
        high = uint64_t{th} - 1;
      }
    }
    if (high > 0xffffffffu) return 0;  // past the 2^64 space: the sender must have rekeyed
    return (high << 32) | low;
  }

  // check: ok for a sequence number not yet received and not left of the
  // window; replayed otherwise (0 is never sent: RFC 4303 3.3.3). Read-only
  // and advisory under concurrency: commit() has the last word.
  [[nodiscard]] Status check(uint64_t seq) const noexcept {
    if (seq == 0) return Errc::replayed;
    if (size_ == 0) return Status::success();
    const uint64_t top = this->top();
    if (seq > top) return Status::success();
    if (top - seq >= size_) return Errc::replayed;
    const uint64_t v = slot(seq >> kBlockShift).load(std::memory_order_relaxed);
    const int32_t d = tag_diff(tag_of(v), static_cast<uint32_t>(seq >> kBlockShift));
    // d > 0: the slot moved to a newer block, so seq is left of the window
    // (bound (c)); d < 0: an older block, nothing of seq's block received.
    if (d > 0 || (d == 0 && (v & bit(seq)) != 0)) return Errc::replayed;
    return Status::success();
  }

  // commit: record seq as received; call only after the ICV verified (RFC
  // 4303 3.4.3: the window is updated only then), normally after check().
  // Returns replayed when seq is 0, was committed already (by another
  // receiver since check(), say), or lies left of the window before or
  // after recording it; success otherwise. Of several concurrent commits of
  // one number at most one succeeds, and exactly one while the number stays
  // inside the window. Lock-free: the only loops are CAS retries.
  [[nodiscard]] Status commit(uint64_t seq) noexcept {
    if (seq == 0) return Errc::replayed;
    std::atomic<uint64_t>& top = top_word();
    uint64_t t = top.load(std::memory_order_relaxed);
    if (seq <= t) {
      if (size_ != 0 && t - seq >= size_) return Errc::replayed;
    } else {
      // Raise top first (bound (b) needs it before any slot moves to the
      // new block). Relaxed: the slot CAS below releases it.
      while (t < seq) {
        if (top.compare_exchange_weak(t, seq, std::memory_order_relaxed, std::memory_order_relaxed)) {
          if (size_ != 0) retag(t, seq >> kBlockShift);
          break;
        }
      }
    }
    if (size_ == 0) return Status::success();  // anti-replay disabled: only top is kept

    const uint64_t block = seq >> kBlockShift;
    const uint32_t tag = static_cast<uint32_t>(block);
    std::atomic<uint64_t>& s = slot(block);
    uint64_t v = s.load(std::memory_order_relaxed);
    for (;;) {
      const int32_t d = tag_diff(tag_of(v), tag);
      if (d > 0) return Errc::replayed;  // left of the window: bound (c)
      uint64_t next = (uint64_t{tag} << 32) | bit(seq);
      if (d == 0) {
        if ((v & bit(seq)) != 0) return Errc::replayed;  // another receiver got it first
        next = v | bit(seq);
      }
      // d < 0: an older block, entirely left of the window (bound (b)): evict.
      if (s.compare_exchange_weak(v, next, std::memory_order_acq_rel, std::memory_order_relaxed)) break;
    }
    // Recorded. If top moved W or more past seq meanwhile (we synchronised
    // with every earlier writer of the slot, so we see at least their top),
    // the number fell out of the window while we were recording it.
    t = top.load(std::memory_order_relaxed);
    if (t - seq >= size_) return Errc::replayed;  // t >= seq: raised above
    return Status::success();
  }

 private:
  static constexpr unsigned kBlockShift = 5;  // 32 numbers a block: the low half of a slot
  static constexpr uint32_t kBlockNumbers = uint32_t{1} << kBlockShift;
  static constexpr uint32_t kWordsPerLine = 8;

  // Line: one cache line. Top has a line of its own; the slots follow.
  struct alignas(64) Line {
    std::atomic<uint64_t> word[kWordsPerLine];
  };

  ReplayWindow() noexcept = default;

  [[nodiscard]] std::atomic<uint64_t>& top_word() const noexcept { return lines_[0].word[0]; }
  [[nodiscard]] std::atomic<uint64_t>& slot_at(uint32_t i) const noexcept {
    return lines_[1 + i / kWordsPerLine].word[i % kWordsPerLine];
  }
  [[nodiscard]] std::atomic<uint64_t>& slot(uint64_t block) const noexcept {
    return slot_at(static_cast<uint32_t>(block) & mask_);
  }
  [[nodiscard]] static uint32_t tag_of(uint64_t v) noexcept { return static_cast<uint32_t>(v >> 32); }
  [[nodiscard]] static uint64_t bit(uint64_t seq) noexcept {
    return uint64_t{1} << (seq & (kBlockNumbers - 1));
  }
  // tag_diff: a - b for blocks less than 2^31 apart (modulo 2^32, C++20).
  [[nodiscard]] static int32_t tag_diff(uint32_t a, uint32_t b) noexcept {
    return static_cast<int32_t>(a - b);
  }

  // retag: after this thread moved top from `old_top` into block `to`, give
  // the slots of the blocks top skipped (B(old_top), to] an empty bitmap
  // (RFC 6479 clears the same blocks), so that no slot lags top by more
  // than n blocks. The next block after top's needs nothing: commit's own
  // CAS evicts its slot, which lags by at most n. A slot's old tag is
  // judged against old_top first: within n blocks behind it, the slot is
  // older than the target whatever the jump (exact for any jump); otherwise
  // another receiver wrote it, and the signed difference decides.
  void retag(uint64_t old_top, uint64_t to) noexcept {
    const uint64_t from = old_top >> kBlockShift;
    if (to - from < 2) return;
    const uint64_t n = uint64_t{mask_} + 1;
    const uint32_t old_tag = static_cast<uint32_t>(from);
    for (uint64_t x = to - from > n ? to - n + 1 : from + 1; x <= to; ++x) {
      const uint32_t tag = static_cast<uint32_t>(x);
      std::atomic<uint64_t>& s = slot(x);
      uint64_t v = s.load(std::memory_order_relaxed);
      for (;;) {
        const uint32_t have = tag_of(v);
        // Within n blocks behind old_top: older than x, even when the jump
        // is a multiple of 2^32 blocks and the tags are equal. Otherwise
        // another receiver wrote x itself (keep its bits) or a newer block.
        if (old_tag - have > mask_ && tag_diff(have, tag) >= 0) break;
        if (s.compare_exchange_weak(v, uint64_t{tag} << 32, std::memory_order_acq_rel,
                                    std::memory_order_relaxed))
          break;
      }
    }
  }

  std::unique_ptr<Line[]> lines_;
  uint32_t size_ = 0;
  uint32_t mask_ = 0;  // n - 1, n slots
  bool esn_ = false;
};

}  // namespace ipsec::esp
