// SPDX-License-Identifier: Apache-2.0
// PacketBuffer: a packet inside host memory, with room to grow at both ends.
//
// The host owns the storage (a ring slot, a TUN read buffer). The packet is
// the window [head, tail) of it; transforms such as ESP prepend headers into
// the headroom (push), append trailers into the tailroom (put), and strip
// them again (pull, trim), all in place, never copying or allocating.
//
//   storage: |<- headroom ->|<---- data ---->|<- tailroom ->|
//                           head             tail
#pragma once

#include <cstddef>
#include <cstdint>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/core/result.hpp"

namespace ipsec {

class PacketBuffer {
 public:
  PacketBuffer() noexcept = default;

  // over: a packet of `length` bytes at `offset` in `storage`. Returns
  // invalid_argument when that window does not lie inside the storage.
  [[nodiscard]] static Result<PacketBuffer> over(MutableByteView storage, size_t offset,
                                                 size_t length) noexcept {
    if (offset > storage.size() || length > storage.size() - offset) return Errc::invalid_argument;
    return PacketBuffer(storage, offset, offset + length);
  }

  [[nodiscard]] size_t size() const noexcept { return tail_ - head_; }
  [[nodiscard]] size_t headroom() const noexcept { return head_; }
  [[nodiscard]] size_t tailroom() const noexcept { return storage_.size() - tail_; }
  // offset: where the packet starts in the host's storage.
  [[nodiscard]] size_t offset() const noexcept { return head_; }
  [[nodiscard]] MutableByteView data() noexcept { return storage_.subspan(head_, size()); }
  [[nodiscard]] ByteView data() const noexcept { return storage_.subspan(head_, size()); }

  // push: grow the packet by n bytes at the front; returns the new bytes
  // (uninitialised: the caller writes the header). no_headroom otherwise.
  [[nodiscard]] Result<MutableByteView> push(size_t n) noexcept {
    if (n > headroom()) return Errc::no_headroom;
    head_ -= n;
    return storage_.subspan(head_, n);
  }
  // pull: remove n bytes from the front; returns them (still valid memory
  // until the host reuses the storage). truncated when the packet is shorter.
  [[nodiscard]] Result<MutableByteView> pull(size_t n) noexcept {
    if (n > size()) return Errc::truncated;
    head_ += n;
    return storage_.subspan(head_ - n, n);
  }
  // put: grow the packet by n bytes at the back; returns the new bytes.
  [[nodiscard]] Result<MutableByteView> put(size_t n) noexcept {
    if (n > tailroom()) return Errc::no_tailroom;
    tail_ += n;
    return storage_.subspan(tail_ - n, n);
  }
  // trim: remove n bytes from the back; returns them.
  [[nodiscard]] Result<MutableByteView> trim(size_t n) noexcept {
    if (n > size()) return Errc::truncated;
    tail_ -= n;
    return storage_.subspan(tail_, n);
  }

 private:
  PacketBuffer(MutableByteView storage, size_t head, size_t tail) noexcept
      : storage_(storage), head_(head), tail_(tail) {}

  MutableByteView storage_;
  size_t head_ = 0;
  size_t tail_ = 0;
};

}  // namespace ipsec
