// SPDX-License-Identifier: Apache-2.0
#include "ipsec/bytes/packet_buffer.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstring>

using ipsec::Errc;
using ipsec::PacketBuffer;

TEST_CASE("PacketBuffer grows and shrinks in place at both ends") {
  std::array<uint8_t, 64> storage{};
  for (size_t i = 0; i < storage.size(); ++i) storage[i] = static_cast<uint8_t>(i);
  auto pb = PacketBuffer::over(storage, 16, 20);
  REQUIRE(pb);
  CHECK(pb->size() == 20);
  CHECK(pb->headroom() == 16);
  CHECK(pb->tailroom() == 28);
  CHECK(pb->data()[0] == 16);
  CHECK(pb->data().data() == storage.data() + 16);

  auto hdr = pb->push(8);  // e.g. ESP header
  REQUIRE(hdr);
  CHECK(hdr->data() == storage.data() + 8);
  CHECK(pb->size() == 28);
  CHECK(pb->headroom() == 8);

  auto trailer = pb->put(18);  // padding, pad length, next header, ICV
  REQUIRE(trailer);
  CHECK(trailer->data() == storage.data() + 36);
  CHECK(pb->tailroom() == 10);

  auto icv = pb->trim(16);
  REQUIRE(icv);
  CHECK(icv->data() == storage.data() + 38);
  auto removed = pb->pull(8);
  REQUIRE(removed);
  CHECK(removed->data() == storage.data() + 8);
  CHECK(pb->offset() == 16);
  CHECK(pb->size() == 22);
}

TEST_CASE("PacketBuffer refuses to leave its storage") {
  std::array<uint8_t, 32> storage{};
  auto pb = PacketBuffer::over(storage, 4, 8);
  REQUIRE(pb);
  CHECK(pb->push(5).error() == Errc::no_headroom);
  CHECK(pb->put(21).error() == Errc::no_tailroom);
  CHECK(pb->pull(9).error() == Errc::truncated);
  CHECK(pb->trim(9).error() == Errc::truncated);
  // Nothing moved after the refusals.
  CHECK(pb->offset() == 4);
  CHECK(pb->size() == 8);
  CHECK(pb->push(4));
  CHECK(pb->put(20));
  CHECK(pb->headroom() == 0);
  CHECK(pb->tailroom() == 0);
  CHECK(pb->size() == 32);

  CHECK(PacketBuffer::over(storage, 33, 0).error() == Errc::invalid_argument);
  CHECK(PacketBuffer::over(storage, 30, 3).error() == Errc::invalid_argument);
  CHECK(PacketBuffer::over(storage, 0, static_cast<size_t>(-1)).error() == Errc::invalid_argument);
  CHECK(PacketBuffer::over(storage, 32, 0));
}
