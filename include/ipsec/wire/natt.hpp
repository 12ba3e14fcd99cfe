// SPDX-License-Identifier: Apache-2.0
// UDP port 4500 (RFC 3948): one socket carries IKE, ESP and NAT-keepalives.
// classify_udp4500 tells them apart; the framing helpers build what is sent.
//
//   NAT-keepalive  0xFF                                    (RFC 3948 2.3)
//   IKE            0x00000000 (non-ESP marker) | IKE header ...  (2.2)
//   ESP            SPI (non-zero) | sequence number | ...  (2.1)
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/bytes/reader.hpp"
#include "ipsec/bytes/writer.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/wire/ike_header.hpp"

namespace ipsec::wire {

inline constexpr uint16_t kNattPort = 4500;
inline constexpr uint8_t kNattKeepalive = 0xff;
inline constexpr size_t kNonEspMarkerSize = 4;
inline constexpr size_t kEspMinHeaderSize = 8;  // SPI, sequence number

enum class NattKind : uint8_t { keepalive, ike, esp };

[[nodiscard]] constexpr std::string_view to_string(NattKind k) noexcept {
  switch (k) {
    case NattKind::keepalive: return "keepalive";
    case NattKind::ike: return "ike";
    case NattKind::esp: return "esp";
  }
  return "unknown";
}

struct NattPacket {
  NattKind kind = NattKind::keepalive;
  // ike: the IKE message after the non-ESP marker; esp: the whole ESP
  // packet (SPI first); keepalive: empty. A view into the input.
  ByteView message;
  uint32_t message_offset = 0;  // where `message` starts in the payload
};

// classify_udp4500: what a UDP payload received on port 4500 holds.
// Errors (drop the datagram): truncated (empty; 2 or 3 octets; a non-ESP
// marker not followed by a whole IKE header; an ESP header cut short),
// invalid_value (a single octet other than 0xFF).
[[nodiscard]] inline Result<NattPacket> classify_udp4500(ByteView payload) noexcept {
  ByteReader r(payload);
  if (payload.size() == 1) {
    // RFC 3948 2.3: a one-octet payload is a keepalive, and it is 0xFF.
    if (payload[0] != kNattKeepalive) return Status(Errc::invalid_value, 0, "nat-keepalive");
    return NattPacket{NattKind::keepalive, {}, 1};
  }
  uint32_t first = 0;
  if (!r.read_u32(&first)) return r.status().with_field(payload.empty() ? "udp-4500 payload" : "spi");
  NattPacket p;
  if (first == 0) {
    // RFC 3948 2.2: the non-ESP marker; an IKE header must follow.
    p.kind = NattKind::ike;
    p.message_offset = kNonEspMarkerSize;
    if (!r.read_rest(&p.message)) return r.status();
    if (p.message.size() < kIkeHeaderSize) {
      return Status(Errc::truncated, static_cast<uint32_t>(payload.size()),
                    "ike header after non-esp marker");
    }
    return p;
  }
  if (payload.size() < kEspMinHeaderSize) {
    return Status(Errc::truncated, static_cast<uint32_t>(payload.size()), "esp header");
  }
  p.kind = NattKind::esp;
  p.message = payload;
  return p;
}

// nat_keepalive: the one-octet payload of a NAT-keepalive (RFC 3948 2.3).
[[nodiscard]] inline ByteView nat_keepalive() noexcept {
  static constexpr std::array<uint8_t, 1> kPayload{kNattKeepalive};
  return kPayload;
}

// frame_ike_udp4500: write an IKE message for port 4500: non-ESP marker,
// then the message (RFC 3948 2.2, RFC 7296 2.23). The writer reports
// buffer_too_small (and the size needed) when it does not fit.
inline void frame_ike_udp4500(ByteWriter& w, ByteView ike_message) noexcept {
  w.put_zeros(kNonEspMarkerSize);
  w.put_bytes(ike_message);
}

}  // namespace ipsec::wire
