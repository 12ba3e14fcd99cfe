// SPDX-License-Identifier: Apache-2.0
// Datapath security associations: the per-SA state ESP and AH need on the
// packet path, and nothing else (selectors, lifetimes by time and rekeying
// live in the SA database, sa/). The IKE engine fills an SaConfig from
// KEYMAT; tests and static-keying hosts fill it directly.
//
// OutboundSa may be used by several threads at once: the sequence number,
// the counters and the outer IPv4 identification are atomics, and the crypto
// transforms are safe for concurrent use (crypto/aead.hpp).
// InboundSa may be opened by several threads at once too: its counters are
// atomics and its anti-replay window is lock-free, checked before and
// committed after the ICV verification; of two workers that verify the same
// sequence number concurrently exactly one commits it, the other drops the
// packet as replayed (RFC 4303 3.4.3). Spreading inbound SAs over cores
// (RSS on the SPI) still scales better: a shared SA's counters and window
// bounce between the cores' caches.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/core/ip.hpp"
#include "ipsec/core/limits.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/crypto/aead.hpp"
#include "ipsec/crypto/cipher.hpp"
#include "ipsec/crypto/integrity.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/suites.hpp"
#include "ipsec/esp/replay_window.hpp"

namespace ipsec::esp {

enum class SecurityProtocol : uint8_t { esp = 50, ah = 51 };
enum class Mode : uint8_t { transport, tunnel };
// Outer IPv4 DF bit in tunnel mode (RFC 4301 8.1): copied from an inner
// IPv4 header (set for inner IPv6), or always set, or always clear.
enum class DfPolicy : uint8_t { copy, set, clear };

struct TunnelConfig {
  IpAddress local;         // outer source of outbound packets
  IpAddress remote;        // outer destination of outbound packets
  uint8_t hop_limit = 64;  // outer TTL / hop limit
  DfPolicy df = DfPolicy::copy;
  bool copy_dscp = true;  // outer DSCP from the inner packet; else 0
  // ECN always follows RFC 6040 normal mode: copied on encapsulation,
  // combined per section 4.2 on decapsulation.
};

// UDP encapsulation of ESP (RFC 3948): the ports of the outer UDP header.
struct UdpEncapsulation {
  uint16_t local_port = 4500;
  uint16_t remote_port = 4500;
  // Over IPv6 the UDP checksum is computed (RFC 8200 8.1); a host whose
  // tunnels qualify for RFC 6935/6936 zero-checksum UDP may opt out.
  bool zero_checksum_ipv6 = false;
};

// Byte and packet limits (RFC 4301 4.4.2.1). 0 means none. Crossing a soft
// limit is reported once (SealInfo/OpenInfo::soft_limit_reached) so the host
// rekeys; at a hard limit the SA refuses packets (lifetime_expired).
struct TrafficLimits {
  uint64_t soft_bytes = 0;
  uint64_t hard_bytes = 0;
  uint64_t soft_packets = 0;
  uint64_t hard_packets = 0;
};

struct SaConfig {
  uint32_t spi = 0;
  SecurityProtocol protocol = SecurityProtocol::esp;
  Mode mode = Mode::tunnel;
  // ESP encryption (AEAD, or a cipher used with `integ`). AH uses none.
  crypto::EncrId encr = crypto::EncrId::aes_gcm_16;
  uint16_t encr_key_bits = 256;  // the Key Length attribute; 0 without one
  ByteView encr_keymat;          // key || salt (or nonce), crypto/provider.hpp
  // Integrity: required with a non-AEAD cipher and with AH, none with an AEAD.
  crypto::IntegId integ = crypto::IntegId::none;
  ByteView integ_key;
  bool esn = false;  // Extended Sequence Numbers (RFC 4304)
  // Inbound: anti-replay window in packets, 0 to disable.
  uint32_t replay_window = limits::kDefaultReplayWindow;
  // Inbound ESN: after this many consecutive authentication failures, try
  // the next high-order halves (RFC 4303 A3); 0 disables.
  uint32_t esn_resync_threshold = 64;
  uint32_t esn_resync_attempts = 4;
  std::optional<TunnelConfig> tunnel;  // required in tunnel mode
  std::optional<UdpEncapsulation> udp;
  // Inbound transport mode over UDP through a NAT (RFC 3948 3.1.2): the
  // peer's original addresses (from NAT-OA), used to fix the inner TCP/UDP
  // checksums for the translated ones the packet arrives with.
  std::optional<IpAddress> nat_original_source;       // the peer's own address, pre-NAT
  std::optional<IpAddress> nat_original_destination;  // our address as the peer knows it
  TrafficLimits limits;
  // Outbound ESP tunnel mode: Traffic Flow Confidentiality padding (RFC 4303
  // 2.7) extends every inner packet shorter than this to this many octets.
  uint16_t tfc_pad_to = 0;
};

// Counters of one SA (a snapshot).
struct SaCounters {
  uint64_t packets = 0;  // protected (outbound) or accepted (inbound)
  uint64_t bytes = 0;    // inner packet octets
  uint64_t auth_failures = 0;
  uint64_t replay_drops = 0;
  uint64_t pad_errors = 0;
  uint64_t dummy_packets = 0;
  uint64_t malformed = 0;  // too short, wrong SPI, bad inner packet
};

namespace detail {
// The keyed transforms and the framing parameters derived from them.
struct Transforms {
  std::unique_ptr<crypto::Aead> aead;
  std::unique_ptr<crypto::Cipher> cipher;
  std::unique_ptr<crypto::Integrity> integ;
  crypto::EncrId encr = crypto::EncrId::null;
  bool gmac = false;    // RFC 4543: everything is AAD
  uint8_t iv_size = 0;  // on the wire
  uint8_t align = 4;    // ESP padding boundary: max(block, 4), a power of two
  uint8_t icv_size = 0;
};
[[nodiscard]] Result<Transforms> make_transforms(const SaConfig& config, crypto::Provider& provider) noexcept;
[[nodiscard]] Status check_config(const SaConfig& config) noexcept;

// limit_crossed: whether adding `add` to `before` crossed `limit` (0: none).
[[nodiscard]] inline bool limit_crossed(uint64_t before, uint64_t add, uint64_t limit) noexcept {
  return limit != 0 && before < limit && before + add >= limit;
}
[[nodiscard]] inline bool limit_reached(uint64_t value, uint64_t limit) noexcept {
  return limit != 0 && value >= limit;
}
}  // namespace detail

class OutboundSa {
 public:
  // create: key the transforms. Errors: invalid_argument (inconsistent
  // config: SPI 0, tunnel mode without endpoints, AEAD with integrity, ...), and
  // what the provider returns (unsupported_algorithm, invalid_key_length).
  [[nodiscard]] static Result<std::unique_ptr<OutboundSa>> create(const SaConfig& config,
                                                                  crypto::Provider& provider) noexcept;

  [[nodiscard]] const SaConfig& config() const noexcept { return config_; }
  [[nodiscard]] uint32_t spi() const noexcept { return config_.spi; }
  // last_sequence: the sequence number of the last packet sent (0: none).
  [[nodiscard]] uint64_t last_sequence() const noexcept {
    return std::min(seq_.load(std::memory_order_relaxed), max_sequence());
  }
  [[nodiscard]] SaCounters counters() const noexcept {
    SaCounters c;
    c.packets = packets_.load(std::memory_order_relaxed);
    c.bytes = bytes_.load(std::memory_order_relaxed);
    c.dummy_packets = dummies_.load(std::memory_order_relaxed);
    return c;
  }
  [[nodiscard]] const detail::Transforms& transforms() const noexcept { return t_; }

  // next_sequence: reserve the next sequence number. sequence_overflow when
  // the counter would wrap (2^32 - 1 without ESN, 2^64 - 1 with it: RFC 4303
  // 3.3.3, the SA must be rekeyed). For tests: set_sequence.
  [[nodiscard]] Result<uint64_t> next_sequence() noexcept {
    // One locked add, not a compare-exchange loop: past the maximum the
    // counter keeps counting refusals (2^64 of them would take centuries)
    // and last_sequence() clamps it.
    const uint64_t prev = seq_.fetch_add(1, std::memory_order_relaxed);
    if (prev >= max_sequence()) return Errc::sequence_overflow;
    return prev + 1;
  }
  void set_sequence(uint64_t last_sent) noexcept { seq_.store(last_sent, std::memory_order_relaxed); }
  // ip_id: the outer IPv4 identification of the packet with sequence number
  // seq: unique per SA over any 2^16 consecutive packets (RFC 6864 4.2 for
  // fragmentable datagrams) without a counter of its own: the first packet
  // carries the SPI's low 16 bits, or what set_ip_id_base (tests, before
  // the SA is shared) chose.
  [[nodiscard]] uint16_t ip_id(uint64_t seq) const noexcept {
    return static_cast<uint16_t>(ip_id_base_ + seq - 1);
  }
  void set_ip_id_base(uint16_t first) noexcept { ip_id_base_ = first; }
  // hard_limit_reached: the SA must not send any more.
  [[nodiscard]] bool hard_limit_reached() const noexcept {
    return detail::limit_reached(packets_.load(std::memory_order_relaxed), config_.limits.hard_packets) ||
           detail::limit_reached(bytes_.load(std::memory_order_relaxed), config_.limits.hard_bytes);
  }
  // account: count one packet of `bytes` inner octets; true when it crossed
  // a soft limit.
  [[nodiscard]] bool account(uint64_t bytes) noexcept {
    const uint64_t p = packets_.fetch_add(1, std::memory_order_relaxed);
    const uint64_t b = bytes_.fetch_add(bytes, std::memory_order_relaxed);
    return detail::limit_crossed(p, 1, config_.limits.soft_packets) ||
           detail::limit_crossed(b, bytes, config_.limits.soft_bytes);
  }
  void count_dummy() noexcept { dummies_.fetch_add(1, std::memory_order_relaxed); }

 private:
  OutboundSa(const SaConfig& config, detail::Transforms t) noexcept
      : config_(config), t_(std::move(t)), ip_id_base_(static_cast<uint16_t>(config.spi & 0xffffu)) {
    config_.encr_keymat = {};  // the keys live in the transforms only
    config_.integ_key = {};
  }
  [[nodiscard]] uint64_t max_sequence() const noexcept {
    return config_.esn ? ~uint64_t{0} : uint64_t{0xffffffffu};
  }

  SaConfig config_;
  detail::Transforms t_;
  std::atomic<uint64_t> seq_{0};
  uint16_t ip_id_base_;
  std::atomic<uint64_t> packets_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> dummies_{0};
};

class InboundSa {
 public:
  [[nodiscard]] static Result<std::unique_ptr<InboundSa>> create(const SaConfig& config,
                                                                 crypto::Provider& provider) noexcept;

  [[nodiscard]] const SaConfig& config() const noexcept { return config_; }
  [[nodiscard]] uint32_t spi() const noexcept { return config_.spi; }
  [[nodiscard]] SaCounters counters() const noexcept {
    SaCounters c;
    c.packets = packets_.load(std::memory_order_relaxed);
    c.bytes = bytes_.load(std::memory_order_relaxed);
    c.auth_failures = auth_failures_.load(std::memory_order_relaxed);
    c.replay_drops = replay_drops_.load(std::memory_order_relaxed);
    c.pad_errors = pad_errors_.load(std::memory_order_relaxed);
    c.dummy_packets = dummies_.load(std::memory_order_relaxed);
    c.malformed = malformed_.load(std::memory_order_relaxed);
    return c;
  }
  [[nodiscard]] const ReplayWindow& window() const noexcept { return window_; }
  [[nodiscard]] ReplayWindow& mutable_window() noexcept { return window_; }
  [[nodiscard]] const detail::Transforms& transforms() const noexcept { return t_; }
  [[nodiscard]] uint32_t consecutive_auth_failures() const noexcept {
    return consecutive_failures_.load(std::memory_order_relaxed);
  }

  [[nodiscard]] bool hard_limit_reached() const noexcept {
    return detail::limit_reached(packets_.load(std::memory_order_relaxed), config_.limits.hard_packets) ||
           detail::limit_reached(bytes_.load(std::memory_order_relaxed), config_.limits.hard_bytes);
  }
  // account: count one accepted packet of `bytes` inner octets; true when it
  // crossed a soft limit (exactly one of concurrent callers sees the crossing).
  [[nodiscard]] bool account(uint64_t bytes) noexcept {
    const uint64_t p = packets_.fetch_add(1, std::memory_order_relaxed);
    const uint64_t b = bytes_.fetch_add(bytes, std::memory_order_relaxed);
    return detail::limit_crossed(p, 1, config_.limits.soft_packets) ||
           detail::limit_crossed(b, bytes, config_.limits.soft_bytes);
  }
  void auth_failed() noexcept {
    auth_failures_.fetch_add(1, std::memory_order_relaxed);
    consecutive_failures_.fetch_add(1, std::memory_order_relaxed);
  }
  void auth_succeeded() noexcept {
    // Most packets authenticate: write the shared line only when there is a run to end.
    if (consecutive_failures_.load(std::memory_order_relaxed) != 0)
      consecutive_failures_.store(0, std::memory_order_relaxed);
  }
  void count_replay_drop() noexcept { replay_drops_.fetch_add(1, std::memory_order_relaxed); }
  void count_pad_error() noexcept { pad_errors_.fetch_add(1, std::memory_order_relaxed); }
  void count_dummy() noexcept { dummies_.fetch_add(1, std::memory_order_relaxed); }
  void count_malformed() noexcept { malformed_.fetch_add(1, std::memory_order_relaxed); }
  // resync_due: RFC 4303 A3.1, the consecutive failures reached the trigger.
  [[nodiscard]] bool resync_due() const noexcept {
    return config_.esn && config_.esn_resync_threshold != 0 &&
           consecutive_auth_failures() >= config_.esn_resync_threshold;
  }

 private:
  // ReplayWindow is move-only: taken by value and moved in.
  // cppcheck-suppress passedByValue
  InboundSa(const SaConfig& config, detail::Transforms t, ReplayWindow w) noexcept
      : config_(config), t_(std::move(t)), window_(std::move(w)) {
    config_.encr_keymat = {};
    config_.integ_key = {};
  }
  SaConfig config_;
  detail::Transforms t_;
  ReplayWindow window_;
  std::atomic<uint64_t> packets_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> auth_failures_{0};
  std::atomic<uint64_t> replay_drops_{0};
  std::atomic<uint64_t> pad_errors_{0};
  std::atomic<uint64_t> dummies_{0};
  std::atomic<uint64_t> malformed_{0};
  std::atomic<uint32_t> consecutive_failures_{0};
};

}  // namespace ipsec::esp
