// SPDX-License-Identifier: Apache-2.0
#include "ipsec/core/result.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <set>
#include <string>

using ipsec::Errc;
using ipsec::Result;
using ipsec::Status;

namespace {

Status step(bool fail) {
  if (fail) return Status(Errc::invalid_value, 7, "step");
  return Status::success();
}

Status two_steps(bool fail_second) {
  IPSEC_TRY(step(false));
  IPSEC_TRY(step(fail_second));
  return Errc::limit_exceeded;  // reached only when both succeeded
}

Result<std::unique_ptr<int>> make_int(int v) {
  if (v < 0) return Errc::invalid_argument;
  return std::make_unique<int>(v);
}

}  // namespace

TEST_CASE("Status carries code, offset and field") {
  const Status ok;
  CHECK(ok.ok());
  CHECK(ok.code() == Errc::ok);
  CHECK_FALSE(ok.has_offset());
  CHECK(std::string(ok.field()).empty());

  const Status s(Errc::truncated, 12, "proposal length");
  CHECK_FALSE(s.ok());
  CHECK(s == Errc::truncated);
  CHECK(s.offset() == 12);
  CHECK(s.has_offset());
  CHECK(std::string(s.field()) == "proposal length");
  CHECK(s.name() == "truncated");

  const Status renamed = Status(Errc::trailing_data, 3).with_field("transform");
  CHECK(renamed.offset() == 3);
  CHECK(std::string(renamed.field()) == "transform");
}

TEST_CASE("IPSEC_TRY returns the first failure") {
  CHECK(two_steps(true) == Errc::invalid_value);
  CHECK(two_steps(true).offset() == 7);
  CHECK(two_steps(false) == Errc::limit_exceeded);
}

TEST_CASE("Result holds a value or a status") {
  Result<int> v = 42;
  REQUIRE(v.ok());
  CHECK(static_cast<bool>(v));
  CHECK(*v == 42);
  CHECK(v.status().ok());

  Result<int> e = Errc::parse_error;
  CHECK_FALSE(e.ok());
  CHECK(e.error() == Errc::parse_error);

  Result<int> copy = v;
  CHECK(*copy == 42);
  copy = e;
  CHECK(copy.error() == Errc::parse_error);
}

TEST_CASE("Result supports move-only values") {
  auto r = make_int(5);
  REQUIRE(r);
  std::unique_ptr<int> p = std::move(r).value();
  CHECK(*p == 5);
  CHECK(make_int(-1).error() == Errc::invalid_argument);

  Result<std::unique_ptr<int>> moved = make_int(9);
  Result<std::unique_ptr<int>> target = Errc::truncated;
  target = std::move(moved);
  REQUIRE(target);
  CHECK(**target == 9);
}

TEST_CASE("Result destroys its value exactly once") {
  static int live = 0;
  struct Counted {
    Counted() { ++live; }
    Counted(const Counted&) { ++live; }
    Counted(Counted&&) noexcept { ++live; }
    ~Counted() { --live; }
  };
  {
    Result<Counted> a = Counted{};
    Result<Counted> b = a;
    Result<Counted> c = std::move(a);
    b = Errc::truncated;
    CHECK(live == 2);
  }
  CHECK(live == 0);
}

TEST_CASE("every error code has a distinct stable name") {
  std::set<std::string> names;
  int listed = 0;
  for (int v = 0; v < 1000; ++v) {
    const auto name = ipsec::to_string(static_cast<Errc>(v));
    if (name == "unknown") continue;
    ++listed;
    CHECK(names.insert(std::string(name)).second);
  }
  CHECK(listed == static_cast<int>(names.size()));
  CHECK(listed >= 28);
  CHECK(ipsec::to_string(Errc::integrity_check_failed) == "integrity_check_failed");
  CHECK(ipsec::to_string(static_cast<Errc>(999)) == "unknown");
}
