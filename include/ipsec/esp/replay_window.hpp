// SPDX-License-Identifier: Apache-2.0
// ReplayWindow: the receiver's anti-replay state of one SA (RFC 4303 3.4.3,
// RFC 4302 3.4.3), with Extended Sequence Numbers (RFC 4304, RFC 4303
// appendix A2).
//
// The bitmap is a ring of 64-bit blocks, one more than the window needs, so
// that advancing the window clears whole blocks instead of shifting the
// bitmap (RFC 6479): a jump ahead costs at most one write per skipped block,
// a packet inside the window one load and one store.
//
// Usage on the packet path, in this order:
//   seq = w.infer(low)            // ESN: the implicit high-order bits
//   w.check(seq)                  // read-only: drop duplicates and old packets
//   ... verify the ICV ...
//   w.commit(seq)                 // only now does the window move
// One consumer at a time: check and commit bracket the ICV verification,
// which a concurrent packet must not interleave with.
#pragma once

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
  ReplayWindow() noexcept = default;
  ReplayWindow(ReplayWindow&&) noexcept = default;
  ReplayWindow& operator=(ReplayWindow&&) noexcept = default;

  // make: a window of `size` packets (0 disables anti-replay; the highest
  // sequence number is still tracked for ESN). invalid_argument above
  // limits::kMaxReplayWindow, out_of_memory.
  [[nodiscard]] static Result<ReplayWindow> make(uint32_t size, bool esn) noexcept {
    if (size > limits::kMaxReplayWindow) return Errc::invalid_argument;
    ReplayWindow w;
    w.size_ = size;
    w.esn_ = esn;
    if (size > 0) {
      // ceil(size / 64) blocks hold the window; one more lets the top block
      // fill while the oldest still holds its tail (RFC 6479 section 2).
      w.blocks_ = std::bit_ceil((size + 63u) / 64u + 1u);
      w.bitmap_.reset(new (std::nothrow) uint64_t[w.blocks_]());
      if (!w.bitmap_) return Errc::out_of_memory;
    }
    return w;
  }

  [[nodiscard]] uint32_t size() const noexcept { return size_; }
  [[nodiscard]] bool esn() const noexcept { return esn_; }
  // top: the highest sequence number received so far (0: none yet).
  [[nodiscard]] uint64_t top() const noexcept { return top_; }

  // infer: the full sequence number of a packet whose header carries `low`.
  // Without ESN that is `low`. With ESN the high-order half follows RFC 4303
  // appendix A2.2 from the window's top T = Th:Tl and size W (a disabled
  // window infers with W = 2^31: the nearest subspace). 0 when the packet
  // would lie before the first subspace (never valid, check() refuses it).
  [[nodiscard]] uint64_t infer(uint32_t low) const noexcept {
    if (!esn_) return low;
    const uint64_t w = size_ != 0 ? size_ : (uint64_t{1} << 31);
    const uint32_t th = static_cast<uint32_t>(top_ >> 32);
    const uint32_t tl = static_cast<uint32_t>(top_);
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
  // window; replayed otherwise (0 is never sent: RFC 4303 3.3.3). Read-only.
  [[nodiscard]] Status check(uint64_t seq) const noexcept {
    if (seq == 0) return Errc::replayed;
    if (size_ == 0 || seq > top_) return Status::success();
    if (top_ - seq >= size_) return Errc::replayed;
    return (block(seq) & bit(seq)) != 0 ? Status(Errc::replayed) : Status::success();
  }

  // commit: record seq as received; call only after check() passed and the
  // ICV verified (RFC 4303 3.4.3: the window is updated only then).
  void commit(uint64_t seq) noexcept {
    if (seq > top_) {
      if (size_ != 0) {
        const uint64_t from = top_ >> 6, to = seq >> 6;
        // Clear the blocks the window moves into (at most all of them).
        const uint64_t n = to - from < blocks_ ? to - from : blocks_;
        for (uint64_t k = 1; k <= n; ++k) bitmap_[(from + k) & (blocks_ - 1)] = 0;
      }
      top_ = seq;
    }
    if (size_ != 0) block(seq) |= bit(seq);
  }

 private:
  [[nodiscard]] uint64_t& block(uint64_t seq) const noexcept { return bitmap_[(seq >> 6) & (blocks_ - 1)]; }
  [[nodiscard]] static uint64_t bit(uint64_t seq) noexcept { return uint64_t{1} << (seq & 63); }

  std::unique_ptr<uint64_t[]> bitmap_;
  uint64_t top_ = 0;
  uint32_t size_ = 0;
  uint32_t blocks_ = 0;
  bool esn_ = false;
};

}  // namespace ipsec::esp
