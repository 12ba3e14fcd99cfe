// SPDX-License-Identifier: Apache-2.0
// UDP port 4500 (RFC 3948): classifying keepalives, IKE behind the non-ESP
// marker and ESP; framing IKE for port 4500.
#include "ipsec/wire/natt.hpp"

#include <doctest/doctest.h>

#include <string_view>

#include "test_util.hpp"

using ipsec::ByteView;
using ipsec::ByteWriter;
using ipsec::Errc;
using ipsec::MutableByteView;
using ipsec::Status;
using ipsec::test::Bytes;
using namespace ipsec::wire;

namespace {

// A stand-in IKE message: a 28-octet header (RFC 7296 3.1) and `extra` octets
// of body. Its content does not matter to the classifier, except that SPIi is
// non-zero as in any real message.
Bytes ike_message(size_t extra = 0) {
  Bytes m(kIkeHeaderSize + extra);
  for (size_t i = 0; i < m.size(); ++i) m[i] = static_cast<uint8_t>(0x11 + 3 * i);
  return m;
}

// An ESP packet of `size` octets: SPI 0x01020304, then counting octets.
Bytes esp_packet(size_t size) {
  Bytes p(size);
  for (size_t i = 0; i < size; ++i) p[i] = static_cast<uint8_t>(i + 1);
  return p;
}

// marker_then: the non-ESP marker followed by `body`.
Bytes marker_then(ByteView body) {
  Bytes p(kNonEspMarkerSize + body.size());
  REQUIRE(ipsec::copy_bytes(MutableByteView(p).subspan(kNonEspMarkerSize), body));
  return p;
}

void check_error(const ipsec::Result<NattPacket>& r, Errc code, uint32_t offset, std::string_view field) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.error() == code);
  CHECK(r.status().offset() == offset);
  CHECK(std::string_view(r.status().field()) == field);
}

}  // namespace

TEST_CASE("classify_udp4500: NAT-keepalive (RFC 3948 2.3)") {
  const Bytes keepalive{0xff};
  auto r = classify_udp4500(keepalive);
  REQUIRE(r);
  CHECK(r->kind == NattKind::keepalive);
  CHECK(r->message.empty());

  // The library's own keepalive is the one octet 0xFF, and classifies as one.
  const ByteView ours = nat_keepalive();
  REQUIRE(ours.size() == 1);
  CHECK(ours[0] == 0xff);
  CHECK(classify_udp4500(ours)->kind == NattKind::keepalive);

  // Any other single octet is not a keepalive, nor anything else.
  for (unsigned b = 0; b < 0xff; ++b) {
    INFO("octet " << b);
    const Bytes one{static_cast<uint8_t>(b)};
    check_error(classify_udp4500(one), Errc::invalid_value, 0, "nat-keepalive");
  }
}

TEST_CASE("classify_udp4500: empty, 2 and 3 octets are truncated") {
  check_error(classify_udp4500({}), Errc::truncated, 0, "udp-4500 payload");
  for (const Bytes& p : {Bytes{0xff, 0xff}, Bytes{0, 0}, Bytes{1, 2}, Bytes{0, 0, 0}, Bytes{0xff, 0, 1}}) {
    INFO("size " << p.size());
    check_error(classify_udp4500(p), Errc::truncated, 0, "spi");
  }
}

TEST_CASE("classify_udp4500: the non-ESP marker needs a whole IKE header behind it (RFC 3948 2.2)") {
  const Bytes ike = ike_message();
  for (size_t n = 0; n < kIkeHeaderSize; ++n) {
    INFO("marker + " << n << " octets");
    const Bytes p = marker_then(ByteView(ike).first(n));
    check_error(classify_udp4500(p), Errc::truncated, static_cast<uint32_t>(p.size()),
                "ike header after non-esp marker");
  }
  for (size_t extra : {size_t{0}, size_t{1}, size_t{100}}) {
    INFO("extra " << extra);
    const Bytes m = ike_message(extra);
    const Bytes p = marker_then(m);
    auto r = classify_udp4500(p);
    REQUIRE(r);
    CHECK(r->kind == NattKind::ike);
    CHECK(r->message_offset == kNonEspMarkerSize);
    // A view into the payload, just behind the marker, holding the message.
    CHECK(r->message.data() == p.data() + kNonEspMarkerSize);
    CHECK(Bytes(r->message.begin(), r->message.end()) == m);
  }
}

TEST_CASE("classify_udp4500: ESP needs SPI and sequence number (RFC 3948 2.1)") {
  for (size_t n = 4; n < kEspMinHeaderSize; ++n) {
    INFO("esp of " << n << " octets");
    const Bytes p = esp_packet(n);
    check_error(classify_udp4500(p), Errc::truncated, static_cast<uint32_t>(n), "esp header");
  }
  for (size_t n : {size_t{8}, size_t{9}, size_t{28}, size_t{1400}}) {
    INFO("esp of " << n << " octets");
    const Bytes p = esp_packet(n);
    auto r = classify_udp4500(p);
    REQUIRE(r);
    CHECK(r->kind == NattKind::esp);
    CHECK(r->message_offset == 0);
    CHECK(r->message.data() == p.data());  // the whole packet, SPI first, not copied
    CHECK(r->message.size() == n);
  }
  // Only the first four octets decide: an SPI with a zero high half, or
  // starting with 0xFF, is ESP.
  Bytes p = esp_packet(8);
  p[0] = 0;
  p[1] = 0;
  p[2] = 0;
  p[3] = 1;
  CHECK(classify_udp4500(p)->kind == NattKind::esp);
  p[0] = 0xff;
  CHECK(classify_udp4500(p)->kind == NattKind::esp);
}

TEST_CASE("frame_ike_udp4500 round-trips through classify_udp4500") {
  for (size_t extra : {size_t{0}, size_t{5}, size_t{300}}) {
    INFO("extra " << extra);
    const Bytes m = ike_message(extra);
    Bytes out(kNonEspMarkerSize + m.size());
    ByteWriter w(out);
    frame_ike_udp4500(w, m);
    REQUIRE(w.ok());
    CHECK(w.size() == out.size());
    CHECK(out[0] == 0);
    CHECK(out[1] == 0);
    CHECK(out[2] == 0);
    CHECK(out[3] == 0);
    auto r = classify_udp4500(w.written());
    REQUIRE(r);
    CHECK(r->kind == NattKind::ike);
    CHECK(Bytes(r->message.begin(), r->message.end()) == m);
  }
}

TEST_CASE("frame_ike_udp4500 reports the size it needs when the buffer is short") {
  const Bytes m = ike_message(10);
  const size_t need = kNonEspMarkerSize + m.size();
  for (size_t cap : {size_t{0}, size_t{3}, size_t{4}, need - 1}) {
    INFO("capacity " << cap);
    Bytes out(cap);
    ByteWriter w(out);
    frame_ike_udp4500(w, m);
    CHECK_FALSE(w.ok());
    CHECK(w.status() == Errc::buffer_too_small);
    CHECK(w.status().offset() == cap);
    CHECK(w.needed() == need);
  }
}

TEST_CASE("NattKind names") {
  CHECK(to_string(NattKind::keepalive) == "keepalive");
  CHECK(to_string(NattKind::ike) == "ike");
  CHECK(to_string(NattKind::esp) == "esp");
  CHECK(to_string(static_cast<NattKind>(9)) == "unknown");
  CHECK(kNattPort == 4500);
}
