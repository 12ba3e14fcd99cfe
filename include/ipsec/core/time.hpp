// SPDX-License-Identifier: Apache-2.0
// Time as the host gives it. The library never reads a clock: every function
// that needs "now" takes a Timestamp (monotonic nanoseconds from an origin of
// the host's choosing) and every interval is a Duration.
#pragma once

#include <chrono>
#include <cstdint>

namespace ipsec {

using Duration = std::chrono::nanoseconds;

// Timestamp: a point on the host's monotonic clock. Only differences and
// order are meaningful; the origin is the host's.
class Timestamp {
 public:
  constexpr Timestamp() noexcept = default;
  constexpr explicit Timestamp(Duration since_origin) noexcept : since_origin_(since_origin) {}

  [[nodiscard]] static constexpr Timestamp from_nanoseconds(int64_t ns) noexcept {
    return Timestamp(Duration(ns));
  }
  [[nodiscard]] constexpr Duration since_origin() const noexcept { return since_origin_; }
  [[nodiscard]] constexpr int64_t nanoseconds() const noexcept { return since_origin_.count(); }

  friend constexpr Timestamp operator+(Timestamp t, Duration d) noexcept {
    return Timestamp(t.since_origin_ + d);
  }
  friend constexpr Timestamp operator-(Timestamp t, Duration d) noexcept {
    return Timestamp(t.since_origin_ - d);
  }
  friend constexpr Duration operator-(Timestamp a, Timestamp b) noexcept {
    return a.since_origin_ - b.since_origin_;
  }
  friend constexpr auto operator<=>(Timestamp, Timestamp) noexcept = default;

 private:
  Duration since_origin_{0};
};

}  // namespace ipsec
