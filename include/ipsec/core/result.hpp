// SPDX-License-Identifier: Apache-2.0
// Status (what failed and where) and Result<T> (a value or a Status).
// The library never throws: every fallible function returns one of these.
#pragma once

#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

#include "ipsec/core/errc.hpp"

// Contract violations by the *caller* (reading the value of a failed Result,
// say) stop the program; bad *input* never does, it yields a Status.
#define IPSEC_ASSERT(cond)         \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

namespace ipsec {

// Status: an error code, the byte offset where it was found (kNoOffset when
// the error has no position) and an optional field name (a string literal
// with static storage; never owned).
class [[nodiscard]] Status {
 public:
  static constexpr uint32_t kNoOffset = 0xffffffffu;

  constexpr Status() noexcept = default;
  // Implicit so that `return Errc::truncated;` reads naturally.
  constexpr Status(Errc code) noexcept : code_(code) {}  // NOLINT(google-explicit-constructor)
  constexpr Status(Errc code, uint32_t offset, const char* field = nullptr) noexcept
      : code_(code), offset_(offset), field_(field) {}

  [[nodiscard]] static constexpr Status success() noexcept { return Status(); }

  [[nodiscard]] constexpr bool ok() const noexcept { return code_ == Errc::ok; }
  [[nodiscard]] constexpr Errc code() const noexcept { return code_; }
  [[nodiscard]] constexpr uint32_t offset() const noexcept { return offset_; }
  [[nodiscard]] constexpr bool has_offset() const noexcept { return offset_ != kNoOffset; }
  // field: the name of the failing field, or "" when none was given.
  [[nodiscard]] constexpr const char* field() const noexcept { return field_ ? field_ : ""; }
  [[nodiscard]] constexpr std::string_view name() const noexcept { return to_string(code_); }

  // with_field: the same error, naming the field it was found in.
  [[nodiscard]] constexpr Status with_field(const char* field) const noexcept {
    return Status(code_, offset_, field);
  }

  friend constexpr bool operator==(const Status& s, Errc e) noexcept { return s.code_ == e; }

 private:
  Errc code_ = Errc::ok;
  uint32_t offset_ = kNoOffset;
  const char* field_ = nullptr;
};

// Result<T>: either a T or a non-ok Status. Move-only T (unique_ptr, owned
// buffers) is supported. Reading value() of a failed Result is a contract
// violation and traps.
template <typename T>
class [[nodiscard]] Result {
  static_assert(!std::is_reference_v<T>, "Result<T&> is not supported");

 public:
  using value_type = T;

  // Implicit from a value or an error, so `return value;` and
  // `return Errc::x;` both work.
  Result(const T& v) noexcept(std::is_nothrow_copy_constructible_v<T>)  // NOLINT
      : has_value_(true) {
    ::new (static_cast<void*>(&storage_.value)) T(v);
  }
  Result(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>)  // NOLINT
      : has_value_(true) {
    ::new (static_cast<void*>(&storage_.value)) T(std::move(v));
  }
  Result(Status s) noexcept : status_(s) {  // NOLINT
    IPSEC_ASSERT(!s.ok());
  }
  Result(Errc e) noexcept : Result(Status(e)) {}  // NOLINT

  Result(const Result& o) noexcept(std::is_nothrow_copy_constructible_v<T>)
      : status_(o.status_), has_value_(o.has_value_) {
    if (has_value_) ::new (static_cast<void*>(&storage_.value)) T(o.storage_.value);
  }
  Result(Result&& o) noexcept(std::is_nothrow_move_constructible_v<T>)
      : status_(o.status_), has_value_(o.has_value_) {
    if (has_value_) ::new (static_cast<void*>(&storage_.value)) T(std::move(o.storage_.value));
  }
  Result& operator=(const Result& o) {
    if (this != &o) {
      reset();
      status_ = o.status_;
      if (o.has_value_) ::new (static_cast<void*>(&storage_.value)) T(o.storage_.value);
      has_value_ = o.has_value_;
    }
    return *this;
  }
  Result& operator=(Result&& o) noexcept(std::is_nothrow_move_constructible_v<T>) {
    if (this != &o) {
      reset();
      status_ = o.status_;
      if (o.has_value_) ::new (static_cast<void*>(&storage_.value)) T(std::move(o.storage_.value));
      has_value_ = o.has_value_;
    }
    return *this;
  }
  ~Result() { reset(); }

  [[nodiscard]] bool ok() const noexcept { return has_value_; }
  explicit operator bool() const noexcept { return has_value_; }
  // status: Status::success() when a value is held.
  [[nodiscard]] Status status() const noexcept { return status_; }
  [[nodiscard]] Errc error() const noexcept { return status_.code(); }

  [[nodiscard]] T& value() & noexcept {
    IPSEC_ASSERT(has_value_);
    return storage_.value;
  }
  [[nodiscard]] const T& value() const& noexcept {
    IPSEC_ASSERT(has_value_);
    return storage_.value;
  }
  // On an rvalue Result the value is moved out, not referenced: a reference
  // into a temporary would dangle past the full expression (a range-for
  // over decode(...).value().items, say).
  [[nodiscard]] T value() && noexcept(std::is_nothrow_move_constructible_v<T>) {
    IPSEC_ASSERT(has_value_);
    return std::move(storage_.value);
  }
  T& operator*() & noexcept { return value(); }
  const T& operator*() const& noexcept { return value(); }
  T operator*() && noexcept(std::is_nothrow_move_constructible_v<T>) { return std::move(*this).value(); }
  T* operator->() noexcept { return &value(); }
  const T* operator->() const noexcept { return &value(); }

 private:
  void reset() noexcept {
    if (has_value_) storage_.value.~T();
    has_value_ = false;
  }
  union Storage {
    Storage() noexcept {}
    ~Storage() {}
    T value;
  } storage_;
  Status status_;
  bool has_value_ = false;
};

}  // namespace ipsec

// IPSEC_TRY(expr): evaluate a Status-returning expression and return its
// Status from the enclosing function when it is not ok.
#define IPSEC_TRY(expr)                                    \
  do {                                                     \
    ::ipsec::Status ipsec_try_status_ = (expr);            \
    if (!ipsec_try_status_.ok()) return ipsec_try_status_; \
  } while (0)
