// SPDX-License-Identifier: Apache-2.0
// Key material: holders that zero themselves when dropped, and comparison in
// constant time. Every key, nonce-derived secret and shared secret the
// library keeps lives in one of these.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/core/result.hpp"

namespace ipsec {

// secure_zero: overwrite memory in a way the compiler may not elide
// (sodium_memzero).
void secure_zero(MutableByteView bytes) noexcept;

// ct_equal: true when a and b hold the same bytes. The time taken depends on
// the lengths only (which are public), never on the contents: use it for
// MACs, ICVs, AUTH payloads, cookies.
[[nodiscard]] bool ct_equal(ByteView a, ByteView b) noexcept;

// SecretBytes: an owned heap buffer of secret bytes, zeroed when dropped or
// moved from. Move-only; clone() copies explicitly.
class SecretBytes {
 public:
  SecretBytes() noexcept = default;
  SecretBytes(SecretBytes&& o) noexcept : data_(o.data_), size_(o.size_) {
    o.data_ = nullptr;
    o.size_ = 0;
  }
  SecretBytes& operator=(SecretBytes&& o) noexcept {
    if (this != &o) {
      release();
      data_ = o.data_;
      size_ = o.size_;
      o.data_ = nullptr;
      o.size_ = 0;
    }
    return *this;
  }
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes() { release(); }

  // allocate: n zero bytes.
  [[nodiscard]] static Result<SecretBytes> allocate(size_t n) noexcept {
    SecretBytes s;
    if (n == 0) return s;
    s.data_ = new (std::nothrow) uint8_t[n]();
    if (s.data_ == nullptr) return Errc::out_of_memory;
    s.size_ = n;
    return s;
  }
  [[nodiscard]] static Result<SecretBytes> copy_of(ByteView src) noexcept {
    auto s = allocate(src.size());
    if (s && !src.empty()) std::memcpy(s->data_, src.data(), src.size());
    return s;
  }
  [[nodiscard]] Result<SecretBytes> clone() const noexcept { return copy_of(view()); }

  [[nodiscard]] size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] ByteView view() const noexcept { return {data_, size_}; }
  [[nodiscard]] MutableByteView mutable_view() noexcept { return {data_, size_}; }

 private:
  void release() noexcept {
    if (data_ != nullptr) {
      secure_zero({data_, size_});
      delete[] data_;
    }
    data_ = nullptr;
    size_ = 0;
  }
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// FixedSecret<N>: up to N secret bytes stored inline (no allocation), zeroed
// when dropped. For per-packet or per-exchange secrets of bounded size.
template <size_t N>
class FixedSecret {
 public:
  FixedSecret() noexcept = default;
  FixedSecret(const FixedSecret&) noexcept = default;
  FixedSecret& operator=(const FixedSecret&) noexcept = default;
  ~FixedSecret() { secure_zero(bytes_); }

  // assign: copy src in; invalid_length when it exceeds the capacity.
  [[nodiscard]] Status assign(ByteView src) noexcept {
    if (src.size() > N) return Errc::invalid_length;
    if (!src.empty()) std::memcpy(bytes_.data(), src.data(), src.size());
    size_ = src.size();
    return Status::success();
  }
  // resize: set the length (new bytes are whatever was stored); for filling
  // through mutable_view(). invalid_length beyond the capacity.
  [[nodiscard]] Status resize(size_t n) noexcept {
    if (n > N) return Errc::invalid_length;
    size_ = n;
    return Status::success();
  }
  [[nodiscard]] static constexpr size_t capacity() noexcept { return N; }
  [[nodiscard]] size_t size() const noexcept { return size_; }
  [[nodiscard]] ByteView view() const noexcept { return ByteView(bytes_).first(size_); }
  [[nodiscard]] MutableByteView mutable_view() noexcept { return MutableByteView(bytes_).first(size_); }

 private:
  std::array<uint8_t, N> bytes_{};
  size_t size_ = 0;
};

}  // namespace ipsec
