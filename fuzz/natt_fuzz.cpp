// SPDX-License-Identifier: Apache-2.0
// Fuzz target: what a UDP port 4500 socket receives (RFC 3948). The input is
// one datagram's payload:
//  - classify_udp4500 never reads outside it, and what it returns holds:
//    the message view lies inside the input at message_offset; ike => the
//    four-octet non-ESP marker first and an IKE header's worth after it;
//    esp => a non-zero SPI and at least SPI and sequence number, the whole
//    payload; keepalive => the single octet 0xFF. Errors exactly where the
//    RFC says the datagram is no good.
//  - frame -> classify round trip: the input framed as an IKE message
//    (frame_ike_udp4500) classifies as that message when it holds an IKE
//    header, and the framing writes exactly marker + message or reports the
//    size it needs.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "ipsec/bytes/writer.hpp"
#include "ipsec/wire/natt.hpp"

using namespace ipsec;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

bool inside(ByteView part, ByteView whole) {
  if (part.empty()) return true;
  const auto* b = whole.data();
  return part.data() >= b && part.data() + part.size() <= b + whole.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView input(data, size);

  // 1. Classify the datagram.
  auto c = wire::classify_udp4500(input);
  const bool zero_marker = size >= 4 && data[0] == 0 && data[1] == 0 && data[2] == 0 && data[3] == 0;
  if (c) {
    require(inside(c->message, input));
    require(size_t{c->message_offset} + c->message.size() <= size);
    if (!c->message.empty()) require(c->message.data() == data + c->message_offset);
    switch (c->kind) {
      case wire::NattKind::keepalive:
        require(size == 1 && data[0] == wire::kNattKeepalive && c->message.empty());
        break;
      case wire::NattKind::ike:
        require(zero_marker && c->message_offset == wire::kNonEspMarkerSize);
        require(c->message.size() == size - wire::kNonEspMarkerSize &&
                c->message.size() >= wire::kIkeHeaderSize);
        break;
      case wire::NattKind::esp:
        require(size >= wire::kEspMinHeaderSize && !zero_marker);
        require(c->message_offset == 0 && c->message.size() == size);
        break;
    }
  } else {
    // Refused: exactly the datagrams RFC 3948 has no meaning for.
    const bool keepalive = size == 1 && data[0] == wire::kNattKeepalive;
    const bool ike = zero_marker && size >= wire::kNonEspMarkerSize + wire::kIkeHeaderSize;
    const bool esp = size >= wire::kEspMinHeaderSize && !zero_marker;
    require(!keepalive && !ike && !esp);
    require(c.status().code() == (size == 1 ? Errc::invalid_value : Errc::truncated));
  }

  // 2. Frame the input as an IKE message and classify it back.
  std::vector<uint8_t> framed(wire::kNonEspMarkerSize + size);
  ByteWriter w(framed);
  wire::frame_ike_udp4500(w, input);
  require(w.ok() && w.size() == framed.size());
  require(framed[0] == 0 && framed[1] == 0 && framed[2] == 0 && framed[3] == 0);
  require(size == 0 || std::memcmp(framed.data() + wire::kNonEspMarkerSize, data, size) == 0);
  auto back = wire::classify_udp4500(framed);
  if (size >= wire::kIkeHeaderSize) {
    require(back.ok() && back->kind == wire::NattKind::ike && back->message.size() == size);
    require(back->message.data() == framed.data() + wire::kNonEspMarkerSize);
  } else {
    require(!back.ok() && back.status().code() == Errc::truncated);
  }

  // A buffer one octet short: nothing written past it, the size needed reported.
  std::vector<uint8_t> small(framed.size() - 1);
  ByteWriter ws(small);
  wire::frame_ike_udp4500(ws, input);
  require(!ws.ok() && ws.status().code() == Errc::buffer_too_small && ws.needed() == framed.size());

  // The keepalive the library sends classifies as one.
  auto k = wire::classify_udp4500(wire::nat_keepalive());
  require(k.ok() && k->kind == wire::NattKind::keepalive);
  return 0;
}
