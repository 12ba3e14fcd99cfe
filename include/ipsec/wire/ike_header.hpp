// SPDX-License-Identifier: Apache-2.0
// The IKEv2 header (RFC 7296 section 3.1) and the generic payload header
// (3.2): the 28 and 4 octets in front of everything an IKE peer sends.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/bytes/reader.hpp"
#include "ipsec/bytes/writer.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/wire/ike_enums.hpp"

namespace ipsec::wire {

inline constexpr size_t kIkeHeaderSize = 28;
inline constexpr size_t kGenericPayloadHeaderSize = 4;
inline constexpr uint8_t kIkeMajorVersion = 2;

// Header flags (RFC 7296 3.1). The other bits are reserved: sent as zero,
// ignored on receipt (kept as received so a parsed header rebuilds exactly).
namespace ike_flag {
inline constexpr uint8_t kInitiator = 0x08;  // sent by the original initiator of the IKE SA
inline constexpr uint8_t kVersion = 0x10;    // "I could speak a higher major version"
inline constexpr uint8_t kResponse = 0x20;   // this message answers one with the same ID
}  // namespace ike_flag

// Critical bit of the generic payload header (RFC 7296 3.2).
inline constexpr uint8_t kCriticalBit = 0x80;

struct IkeHeader {
  uint64_t spi_i = 0;
  uint64_t spi_r = 0;
  PayloadType next_payload = PayloadType::none;
  uint8_t major_version = kIkeMajorVersion;
  uint8_t minor_version = 0;
  ExchangeType exchange = ExchangeType::ike_sa_init;
  uint8_t flags = 0;
  uint32_t message_id = 0;
  uint32_t length = 0;  // of the whole message, header included

  [[nodiscard]] constexpr bool initiator() const noexcept { return (flags & ike_flag::kInitiator) != 0; }
  [[nodiscard]] constexpr bool response() const noexcept { return (flags & ike_flag::kResponse) != 0; }
  [[nodiscard]] constexpr bool higher_version() const noexcept { return (flags & ike_flag::kVersion) != 0; }

  friend constexpr bool operator==(const IkeHeader&, const IkeHeader&) noexcept = default;
};

// parse_ike_header: the header at the start of `message`. It checks only
// what the header itself can tell, so that a host can demultiplex on SPIs
// and answer errors before parsing payloads:
//  - truncated: fewer than 28 octets;
//  - unsupported_version ("ike.version", offset 17): a major version other
//    than 2 (RFC 7296 2.5: higher majors get INVALID_MAJOR_VERSION; 1 is
//    IKEv1, which this library does not speak). Minor versions are ignored;
//  - invalid_value ("ike.spi_i", offset 0): a zero initiator SPI, which
//    RFC 7296 3.1 forbids in every message;
//  - invalid_length ("ike.length", offset 24): a length below 28.
// The length is not compared with the datagram here: parse_message does.
[[nodiscard]] inline Result<IkeHeader> parse_ike_header(ByteView message) noexcept {
  ByteReader r(message);
  IkeHeader h;
  uint8_t next = 0, version = 0, exchange = 0;
  if (!r.read_u64(&h.spi_i) || !r.read_u64(&h.spi_r) || !r.read_u8(&next) || !r.read_u8(&version) ||
      !r.read_u8(&exchange) || !r.read_u8(&h.flags) || !r.read_u32(&h.message_id) || !r.read_u32(&h.length)) {
    return r.status();
  }
  h.next_payload = static_cast<PayloadType>(next);
  h.major_version = static_cast<uint8_t>(version >> 4);
  h.minor_version = static_cast<uint8_t>(version & 0x0f);
  h.exchange = static_cast<ExchangeType>(exchange);
  if (h.major_version != kIkeMajorVersion) return Status(Errc::unsupported_version, 17, "ike.version");
  if (h.spi_i == 0) return Status(Errc::invalid_value, 0, "ike.spi_i");
  if (h.length < kIkeHeaderSize) return Status(Errc::invalid_length, 24, "ike.length");
  return h;
}

// IkeHeaderSlots: the header fields a builder fills in last.
struct IkeHeaderSlots {
  ByteWriter::Slot next_payload;
  ByteWriter::Slot length;
};

// write_ike_header: the 28 octets of `h`, with Next Payload and Length left
// as slots for the payload writer and the final length (h.next_payload and
// h.length are not written).
[[nodiscard]] inline IkeHeaderSlots write_ike_header(ByteWriter& w, const IkeHeader& h) noexcept {
  w.put_u64(h.spi_i);
  w.put_u64(h.spi_r);
  IkeHeaderSlots slots;
  slots.next_payload = w.reserve_u8();
  w.put_u8(static_cast<uint8_t>((h.major_version << 4) | (h.minor_version & 0x0f)));
  w.put_u8(static_cast<uint8_t>(h.exchange));
  w.put_u8(h.flags);
  w.put_u32(h.message_id);
  slots.length = w.reserve_u32();
  return slots;
}

}  // namespace ipsec::wire
