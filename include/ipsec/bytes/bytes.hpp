// SPDX-License-Identifier: Apache-2.0
// Byte views (non-owning) and ByteBuffer (owning, heap, control plane only).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <string_view>

#include "ipsec/core/result.hpp"

namespace ipsec {

using ByteView = std::span<const uint8_t>;
using MutableByteView = std::span<uint8_t>;

// as_bytes: view the characters of a string as bytes (test vectors, PEM text).
[[nodiscard]] inline ByteView as_bytes(std::string_view s) noexcept {
  return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// equal_bytes: ordinary (variable-time) comparison, for public data only.
// Secrets use ct_equal (core/secret.hpp).
[[nodiscard]] inline bool equal_bytes(ByteView a, ByteView b) noexcept {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

// copy_bytes: copy src into the front of dst; false (nothing copied) when dst
// is shorter than src. Overlap is allowed.
[[nodiscard]] inline bool copy_bytes(MutableByteView dst, ByteView src) noexcept {
  if (dst.size() < src.size()) return false;
  if (!src.empty()) std::memmove(dst.data(), src.data(), src.size());
  return true;
}

// ByteBuffer: an owned, fixed-size heap array of bytes. Allocation failure is
// reported (Errc::out_of_memory), never thrown. Move-only; clone() copies.
// Not for secrets: use SecretBytes (core/secret.hpp), which zeroes on drop.
class ByteBuffer {
 public:
  ByteBuffer() noexcept = default;
  ByteBuffer(ByteBuffer&&) noexcept = default;
  ByteBuffer& operator=(ByteBuffer&&) noexcept = default;
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;

  // allocate: n zero bytes.
  [[nodiscard]] static Result<ByteBuffer> allocate(size_t n) noexcept {
    ByteBuffer b;
    if (n == 0) return b;
    b.data_.reset(new (std::nothrow) uint8_t[n]());
    if (!b.data_) return Errc::out_of_memory;
    b.size_ = n;
    return b;
  }
  // copy_of: a buffer holding a copy of src.
  [[nodiscard]] static Result<ByteBuffer> copy_of(ByteView src) noexcept {
    auto b = allocate(src.size());
    if (b && !src.empty()) std::memcpy(b->data_.get(), src.data(), src.size());
    return b;
  }
  [[nodiscard]] Result<ByteBuffer> clone() const noexcept { return copy_of(view()); }

  [[nodiscard]] size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] ByteView view() const noexcept { return {data_.get(), size_}; }
  [[nodiscard]] MutableByteView mutable_view() noexcept { return {data_.get(), size_}; }
  operator ByteView() const noexcept { return view(); }  // NOLINT(google-explicit-constructor)

 private:
  std::unique_ptr<uint8_t[]> data_;
  size_t size_ = 0;
};

}  // namespace ipsec
