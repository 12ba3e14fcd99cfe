// SPDX-License-Identifier: Apache-2.0
// ByteWriter: building messages into caller-provided storage.
//
// A write that does not fit is not performed, and the writer becomes sticky:
// later writes are skipped but still counted, so needed() reports the size
// the whole message would have taken and the caller can retry with a larger
// buffer. Length fields are reserved first and back-patched once the body is
// known.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/bytes/endian.hpp"
#include "ipsec/core/result.hpp"

namespace ipsec {

class ByteWriter {
 public:
  // Slot: a reserved big-endian field of `width` bytes at `position`.
  struct Slot {
    size_t position = 0;
    size_t width = 0;
  };

  explicit ByteWriter(MutableByteView storage) noexcept : storage_(storage) {}

  // size: bytes written (== needed() while ok()).
  [[nodiscard]] size_t size() const noexcept { return overflowed_ ? storage_.size() : needed_; }
  // needed: bytes the writes so far require, including those that did not fit.
  [[nodiscard]] size_t needed() const noexcept { return needed_; }
  [[nodiscard]] size_t capacity() const noexcept { return storage_.size(); }
  [[nodiscard]] bool ok() const noexcept { return !overflowed_ && !bad_patch_; }
  // status: ok, buffer_too_small (offset = the capacity that ran out), or
  // invalid_length when a back-patched value did not fit its field.
  [[nodiscard]] Status status() const noexcept {
    if (bad_patch_) return Status(Errc::invalid_length, static_cast<uint32_t>(bad_patch_at_));
    if (overflowed_) return Status(Errc::buffer_too_small, static_cast<uint32_t>(storage_.size()));
    return Status::success();
  }
  // written: the bytes produced so far (only meaningful while ok()).
  [[nodiscard]] ByteView written() const noexcept { return storage_.first(size()); }

  void put_u8(uint8_t v) noexcept {
    if (auto b = claim(1); !b.empty()) b[0] = v;
  }
  void put_u16(uint16_t v) noexcept {
    if (auto b = claim(2); !b.empty()) store_be16(b.first<2>(), v);
  }
  void put_u32(uint32_t v) noexcept {
    if (auto b = claim(4); !b.empty()) store_be32(b.first<4>(), v);
  }
  void put_u64(uint64_t v) noexcept {
    if (auto b = claim(8); !b.empty()) store_be64(b.first<8>(), v);
  }
  void put_bytes(ByteView v) noexcept {
    if (auto b = claim(v.size()); !b.empty()) std::memcpy(b.data(), v.data(), v.size());
  }
  void put_zeros(size_t n) noexcept {
    if (auto b = claim(n); !b.empty()) std::memset(b.data(), 0, n);
  }
  // put_span: n bytes of storage for the caller to fill (an encryption
  // output, say); empty when they do not fit (then the writer has failed).
  [[nodiscard]] MutableByteView put_span(size_t n) noexcept { return claim(n); }

  // reserve_u8 / reserve_u16 / reserve_u32: a zeroed field to back-patch
  // later (an IKE payload's Next Payload octet, a length).
  [[nodiscard]] Slot reserve_u8() noexcept { return reserve(1); }
  [[nodiscard]] Slot reserve_u16() noexcept { return reserve(2); }
  [[nodiscard]] Slot reserve_u32() noexcept { return reserve(4); }
  // patch: write value into a reserved slot. A value too wide for the slot
  // fails the writer with invalid_length; a slot beyond the capacity (the
  // writer already overflowed) is ignored.
  void patch(Slot slot, uint64_t value) noexcept {
    if (slot.width < 8 && (value >> (8 * slot.width)) != 0) {
      if (!bad_patch_) bad_patch_at_ = slot.position;
      bad_patch_ = true;
      return;
    }
    if (slot.position + slot.width > storage_.size()) return;
    auto b = storage_.subspan(slot.position, slot.width);
    switch (slot.width) {
      case 1: b[0] = static_cast<uint8_t>(value); break;
      case 2: store_be16(b.first<2>(), static_cast<uint16_t>(value)); break;
      case 4: store_be32(b.first<4>(), static_cast<uint32_t>(value)); break;
      default: IPSEC_ASSERT(false);
    }
  }
  // patch_length_since: patch the slot with the number of bytes written from
  // `start` (a size() captured earlier) to now: the usual "length of this
  // structure including its header" field.
  void patch_length_since(Slot slot, size_t start) noexcept { patch(slot, needed_ - start); }

 private:
  MutableByteView claim(size_t n) noexcept {
    const size_t at = needed_;
    needed_ += n;
    if (overflowed_ || n > storage_.size() - at) {
      overflowed_ = true;
      return {};
    }
    return storage_.subspan(at, n);
  }
  Slot reserve(size_t width) noexcept {
    Slot s{needed_, width};
    put_zeros(width);
    return s;
  }

  MutableByteView storage_;
  size_t needed_ = 0;
  size_t bad_patch_at_ = 0;
  bool overflowed_ = false;
  bool bad_patch_ = false;
};

}  // namespace ipsec
