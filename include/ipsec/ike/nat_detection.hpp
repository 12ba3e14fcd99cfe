// SPDX-License-Identifier: Apache-2.0
// NAT detection (RFC 7296 2.23) and NAT-keepalive timing (RFC 3948 4).
//
// In IKE_SA_INIT each side sends NAT_DETECTION_SOURCE_IP (a hash of the
// address and port it sends from; one per address it may send from) and
// NAT_DETECTION_DESTINATION_IP (a hash of the address and port it sends to):
//   HASH = SHA-1(SPIi | SPIr | IP address | port)
// A receiver that cannot reproduce a source hash from the datagram's source
// knows the peer is behind a NAT; one whose own address does not give the
// destination hash knows it is itself behind one. Either way IKE moves to
// port 4500 and the child SAs use UDP encapsulation; the side behind the
// NAT sends keepalives to hold the mapping open.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <span>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/bytes/endian.hpp"
#include "ipsec/core/ip.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/core/secret.hpp"
#include "ipsec/core/time.hpp"
#include "ipsec/crypto/hash.hpp"

namespace ipsec::ike {

inline constexpr size_t kNatDetectionHashSize = 20;  // SHA-1
// RFC 3948 4: keepalives every 20 seconds unless configured otherwise.
inline constexpr Duration kDefaultKeepaliveInterval = std::chrono::seconds(20);

struct Endpoint {
  IpAddress address;
  uint16_t port = 0;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

using NatDetectionHash = std::array<uint8_t, kNatDetectionHashSize>;

// nat_detection_hash: SHA-1(SPIi | SPIr | address | port), the notification
// data of NAT_DETECTION_SOURCE_IP / _DESTINATION_IP (RFC 7296 2.23; in
// IKE_SA_INIT the request carries SPIr = 0). Addresses are 4 or 16 octets,
// the port in network order.
[[nodiscard]] inline Result<NatDetectionHash> nat_detection_hash(uint64_t spi_i, uint64_t spi_r,
                                                                 const Endpoint& endpoint) noexcept {
  std::array<uint8_t, 16> spis{};
  store_be64(std::span<uint8_t, 16>(spis).first<8>(), spi_i);
  store_be64(std::span<uint8_t, 16>(spis).last<8>(), spi_r);
  std::array<uint8_t, 2> port{};
  store_be16(port, endpoint.port);
  const ByteView parts[] = {spis, endpoint.address.bytes(), port};
  NatDetectionHash out{};
  IPSEC_TRY(crypto::hash(crypto::HashId::sha1, parts, out));
  return out;
}

// What NAT detection found, and what the IKE engine does about it.
struct NatDetection {
  bool supported = false;         // the peer sent both kinds of NAT-D notifications
  bool local_behind_nat = false;  // our address as the peer saw it is not ours
  bool peer_behind_nat = false;   // the datagram's source is not one the peer announced
  Duration keepalive_interval = kDefaultKeepaliveInterval;

  [[nodiscard]] bool nat_detected() const noexcept { return local_behind_nat || peer_behind_nat; }
  // RFC 7296 2.23: with a NAT in the path, IKE continues on port 4500 and
  // ESP is UDP-encapsulated (RFC 3948).
  [[nodiscard]] bool use_port_4500() const noexcept { return nat_detected(); }
  [[nodiscard]] bool udp_encapsulation() const noexcept { return nat_detected(); }
  // RFC 3948 4: the side behind the NAT keeps its mapping alive.
  [[nodiscard]] bool send_keepalives() const noexcept { return local_behind_nat; }
};

// evaluate_nat_detection: compare the peer's NAT-D notifications with the
// endpoints of the datagram that carried them. source_hashes: the data of
// every NAT_DETECTION_SOURCE_IP notification (the peer may send several);
// destination_hash: the data of NAT_DETECTION_DESTINATION_IP (empty when
// absent). received_from / received_on: the datagram's source and
// destination as the host's socket saw them. Without both notifications the
// peer does not support NAT traversal (supported = false, nothing detected).
// Errors: invalid_length (notification data that is not 20 octets).
[[nodiscard]] inline Result<NatDetection> evaluate_nat_detection(
    uint64_t spi_i, uint64_t spi_r, std::span<const ByteView> source_hashes, ByteView destination_hash,
    const Endpoint& received_from, const Endpoint& received_on,
    Duration keepalive_interval = kDefaultKeepaliveInterval) noexcept {
  NatDetection r;
  r.keepalive_interval = keepalive_interval;
  if (source_hashes.empty() || destination_hash.empty()) return r;
  if (destination_hash.size() != kNatDetectionHashSize)
    return Status(Errc::invalid_length, 0, "NAT_DETECTION_DESTINATION_IP");
  for (const ByteView& h : source_hashes) {
    if (h.size() != kNatDetectionHashSize) return Status(Errc::invalid_length, 0, "NAT_DETECTION_SOURCE_IP");
  }
  r.supported = true;
  auto peer = nat_detection_hash(spi_i, spi_r, received_from);
  if (!peer) return peer.status();
  auto local = nat_detection_hash(spi_i, spi_r, received_on);
  if (!local) return local.status();
  bool source_matched = false;
  for (const ByteView& h : source_hashes) source_matched = source_matched || equal_bytes(h, *peer);
  r.peer_behind_nat = !source_matched;
  r.local_behind_nat = !equal_bytes(destination_hash, *local);
  return r;
}

// next_keepalive: when the next NAT-keepalive is due, given when anything
// was last sent to the peer on the 4500 mapping (any IKE or ESP packet
// refreshes it, RFC 3948 4). A keepalive that is overdue is due `now`. The
// host arms its timer for this time and, when it fires, sends
// wire::nat_keepalive() if nothing else went out meanwhile.
[[nodiscard]] constexpr Timestamp next_keepalive(Timestamp last_sent, Timestamp now,
                                                 Duration interval = kDefaultKeepaliveInterval) noexcept {
  const Timestamp due = last_sent + interval;
  return due < now ? now : due;
}

// keepalive_due: whether a NAT-keepalive should be sent at `now`.
[[nodiscard]] constexpr bool keepalive_due(Timestamp last_sent, Timestamp now,
                                           Duration interval = kDefaultKeepaliveInterval) noexcept {
  return now - last_sent >= interval;
}

}  // namespace ipsec::ike
