// SPDX-License-Identifier: Apache-2.0
#include "ipsec/core/time.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using ipsec::Timestamp;

TEST_CASE("Timestamp arithmetic and order") {
  const Timestamp t0 = Timestamp::from_nanoseconds(1'000);
  const Timestamp t1 = t0 + 20s;
  CHECK(t1 - t0 == 20s);
  CHECK(t0 < t1);
  CHECK((t1 - 20s) == t0);
  CHECK(t1.nanoseconds() == 20'000'001'000);
  CHECK(Timestamp() < t0);
}
