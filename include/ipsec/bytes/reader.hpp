// SPDX-License-Identifier: Apache-2.0
// ByteReader: the one way untrusted bytes are parsed.
//
// Every read is bounds-checked. A read that does not fit fails, leaves the
// reader where it was, and makes the reader *sticky*: every later read fails
// too, and status() keeps reporting the first failure with its absolute
// offset. A parser can therefore chain reads and check once, without ever
// forming `pos + n` itself. Sub-readers carry their absolute base offset, so
// an error deep inside a nested structure names the byte in the datagram.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/bytes/endian.hpp"
#include "ipsec/core/result.hpp"

namespace ipsec {

class ByteReader {
 public:
  ByteReader() noexcept = default;
  // base_offset: the absolute offset of data[0] in the outermost input, so
  // that errors report positions in the datagram the host received.
  explicit ByteReader(ByteView data, uint32_t base_offset = 0) noexcept
      : data_(data), base_offset_(base_offset) {}

  [[nodiscard]] size_t remaining() const noexcept { return data_.size() - pos_; }
  [[nodiscard]] bool empty() const noexcept { return remaining() == 0; }
  // position: bytes consumed, relative to this reader's start.
  [[nodiscard]] size_t position() const noexcept { return pos_; }
  // offset: absolute offset of the next byte in the outermost input.
  [[nodiscard]] uint32_t offset() const noexcept { return base_offset_ + static_cast<uint32_t>(pos_); }
  [[nodiscard]] bool failed() const noexcept { return !status_.ok(); }
  // status: ok, or the first failure (code, absolute offset, field).
  [[nodiscard]] Status status() const noexcept { return status_; }

  [[nodiscard]] bool read_u8(uint8_t* out) noexcept {
    ByteView b;
    if (!read_bytes(1, &b)) return false;
    *out = b[0];
    return true;
  }
  [[nodiscard]] bool read_u16(uint16_t* out) noexcept {
    ByteView b;
    if (!read_bytes(2, &b)) return false;
    *out = load_be16(b.first<2>());
    return true;
  }
  [[nodiscard]] bool read_u32(uint32_t* out) noexcept {
    ByteView b;
    if (!read_bytes(4, &b)) return false;
    *out = load_be32(b.first<4>());
    return true;
  }
  [[nodiscard]] bool read_u64(uint64_t* out) noexcept {
    ByteView b;
    if (!read_bytes(8, &b)) return false;
    *out = load_be64(b.first<8>());
    return true;
  }

  // read_bytes: a view of the next n bytes (zero-copy, valid as long as the
  // underlying input).
  [[nodiscard]] bool read_bytes(size_t n, ByteView* out) noexcept {
    if (!can_take(n)) return false;
    *out = data_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  // read_into: copy exactly out.size() bytes.
  [[nodiscard]] bool read_into(MutableByteView out) noexcept {
    ByteView src;
    if (!read_bytes(out.size(), &src)) return false;
    if (!src.empty()) std::memcpy(out.data(), src.data(), src.size());
    return true;
  }
  // read_u8_prefixed / read_u16_prefixed: a length octet (or two), then that
  // many bytes. On failure nothing is consumed, not even the length.
  [[nodiscard]] bool read_u8_prefixed(ByteView* out) noexcept {
    ByteReader probe = *this;
    uint8_t n = 0;
    if (!probe.read_u8(&n) || !probe.read_bytes(n, out)) return adopt_failure(probe);
    *this = probe;
    return true;
  }
  [[nodiscard]] bool read_u16_prefixed(ByteView* out) noexcept {
    ByteReader probe = *this;
    uint16_t n = 0;
    if (!probe.read_u16(&n) || !probe.read_bytes(n, out)) return adopt_failure(probe);
    *this = probe;
    return true;
  }
  // read_sub: a reader over the next n bytes; this reader moves past them.
  // Use it for every length-prefixed region, then sub.expect_end().
  [[nodiscard]] bool read_sub(size_t n, ByteReader* sub) noexcept {
    const uint32_t at = offset();
    ByteView region;
    if (!read_bytes(n, &region)) return false;
    *sub = ByteReader(region, at);
    return true;
  }
  // read_rest: everything that is left (possibly nothing).
  [[nodiscard]] bool read_rest(ByteView* out) noexcept { return read_bytes(remaining(), out); }
  [[nodiscard]] bool skip(size_t n) noexcept {
    ByteView ignored;
    return read_bytes(n, &ignored);
  }
  // peek_u8: the next byte without consuming it.
  [[nodiscard]] bool peek_u8(uint8_t* out) noexcept {
    if (!can_take(1)) return false;
    *out = data_[pos_];
    return true;
  }

  // expect_end: trailing_data (at the first extra byte) unless everything
  // was consumed; the current failure if already failed.
  [[nodiscard]] Status expect_end(const char* field = nullptr) noexcept {
    if (failed()) return status_;
    if (!empty()) status_ = Status(Errc::trailing_data, offset(), field);
    return status_;
  }
  // fail: record a semantic failure (a value the format forbids, say) at the
  // current offset; sticky like a bounds failure. Returns the Status to
  // return. An earlier failure is kept.
  Status fail(Errc code, const char* field = nullptr) noexcept {
    if (!failed()) status_ = Status(code, offset(), field);
    return status_;
  }
  // fail_at: like fail, at an absolute offset captured earlier (the start of
  // the field that turned out to be wrong).
  Status fail_at(Errc code, uint32_t absolute_offset, const char* field = nullptr) noexcept {
    if (!failed()) status_ = Status(code, absolute_offset, field);
    return status_;
  }

 private:
  [[nodiscard]] bool can_take(size_t n) noexcept {
    if (failed()) return false;
    if (n > remaining()) {
      status_ = Status(Errc::truncated, offset());
      return false;
    }
    return true;
  }
  // A compound read probed a copy; keep our position, take its failure.
  bool adopt_failure(const ByteReader& probe) noexcept {
    if (!failed()) status_ = probe.status_;
    return false;
  }

  ByteView data_;
  size_t pos_ = 0;
  uint32_t base_offset_ = 0;
  Status status_;
};

}  // namespace ipsec
