// SPDX-License-Identifier: Apache-2.0
// IkeEngine: the IKEv2 protocol engine (RFC 7296), sans I/O. It establishes
// IKE SAs and their first child SA (IKE_SA_INIT, IKE_AUTH) as initiator and
// responder, for any number of peers, and keeps them alive: more child SAs
// and rekeys (CREATE_CHILD_SA), deletes and liveness checks (INFORMATIONAL),
// lifetimes, collisions, reauthentication, dead peer detection:
//
//   Initiator                         Responder
//   HDR, SAi1, KEi, Ni,
//     N(NAT_DETECTION_*), ...   -->
//                               <--   HDR, SAr1, KEr, Nr, [CERTREQ],
//                                       N(NAT_DETECTION_*), ...
//   HDR, SK {IDi, [CERT,] [CERTREQ,]
//     AUTH, SAi2, TSi, TSr}     -->
//                               <--   HDR, SK {IDr, [CERT,] AUTH, SAr2, TSi, TSr}
//
// The host feeds it datagrams (receive), timer expiries (on_timer), the
// SAD's lifetime events (on_sa_event) and requests (initiate, acquire,
// rekey_*, close_*); the engine answers through the Sink with
// datagrams to send and events (IKE SA up/down, child SAs to install in the
// SAD: inbound before the response that completes it leaves, outbound
// after). Time and randomness are parameters; the engine opens no socket
// and reads no clock. It is not thread-safe: one thread drives it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/core/time.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/rng.hpp"
#include "ipsec/ike/config.hpp"
#include "ipsec/ike/events.hpp"
#include "ipsec/sa/sad.hpp"

namespace ipsec::ike {

// What the engine did with received datagrams and timers (for tests,
// monitoring and the fuzzers' invariants).
struct EngineStats {
  uint64_t received = 0;
  uint64_t dropped = 0;  // unauthenticated garbage, unknown SPI, bad ICV, out of window
  uint64_t retransmitted = 0;
  uint64_t responses_resent = 0;  // cached responses to retransmitted requests
  uint64_t cookies_sent = 0;
  uint64_t invalid_ke_sent = 0;
  uint64_t established = 0;
  uint64_t child_rekeys = 0;         // child SAs rekeyed (as initiator or responder)
  uint64_t ike_rekeys = 0;           // IKE SAs rekeyed
  uint64_t collisions = 0;           // simultaneous rekeys resolved by the nonce rule (2.8.1, 2.8.2)
  uint64_t notifies_suppressed = 0;  // unauthenticated error answers over the rate limit
};

class IkeEngine {
 public:
  // create: validate the configuration (every connection needs IKE
  // proposals, a PAD entry that exists, credentials for signature
  // authentication). Errors: invalid_argument with the field
  // ("connection.ike_proposals", "connection.peer", "credentials.private_key",
  // "connection.local_address", "pad").
  [[nodiscard]] static Result<std::unique_ptr<IkeEngine>> create(EngineConfig config,
                                                                 crypto::Provider& provider,
                                                                 crypto::Rng& rng);
  ~IkeEngine();
  IkeEngine(const IkeEngine&) = delete;
  IkeEngine& operator=(const IkeEngine&) = delete;

  // initiate: start an IKE SA for the named connection (IKE_SA_INIT goes
  // out through `out`). Returns the IKE SA's handle. Errors: invalid_argument
  // (no such connection, or it has no addresses), the provider's.
  [[nodiscard]] Result<uint64_t> initiate(std::string_view connection, Timestamp now, Sink& out);
  // acquire: the datapath found no SA for `reqid` (sa::Datapath ACQUIRE):
  // initiate the connection whose child has that reqid unless an IKE SA for
  // it is already up or being set up. Errors: invalid_argument (no
  // connection with that reqid).
  [[nodiscard]] Status acquire(uint32_t reqid, Timestamp now, Sink& out);
  // receive: one UDP payload that arrived on `path` (with the non-ESP
  // marker when it came to or from port 4500). Decrypted in place. Bad
  // input is counted and dropped or answered with a notify; it never fails
  // the call.
  void receive(Timestamp now, const Path& path, MutableByteView datagram, Sink& out);
  // on_timer: retransmissions, half-open expiry. Spurious calls do nothing.
  void on_timer(Timestamp now, Sink& out);
  // next_timeout: when on_timer should run next (nullopt: nothing pending).
  [[nodiscard]] std::optional<Timestamp> next_timeout() const noexcept;
  // close: delete an IKE SA (INFORMATIONAL with Delete, RFC 7296 1.4.1) and
  // its child SAs. Errors: invalid_argument for an unknown handle.
  [[nodiscard]] Status close(uint64_t ike_sa, Timestamp now, Sink& out);

  // The life of an established IKE SA (RFC 7296 1.3, 1.4, 2.8). Each call
  // queues an exchange; it runs when the window allows (results come as
  // events). Errors: invalid_argument (unknown IKE SA or child SA, or the
  // IKE SA is not established).
  //
  // create_child: a further child SA of the connection's children[index].
  [[nodiscard]] Status create_child(uint64_t ike_sa, size_t index, Timestamp now, Sink& out);
  // rekey_child: the child SA whose inbound SPI is `inbound_spi`.
  [[nodiscard]] Status rekey_child(uint32_t inbound_spi, Timestamp now, Sink& out);
  // close_child: delete one child SA (INFORMATIONAL with Delete).
  [[nodiscard]] Status close_child(uint32_t inbound_spi, Timestamp now, Sink& out);
  // rekey_ike: new IKE SA keys (2.18); the children move to the new IKE SA.
  [[nodiscard]] Status rekey_ike(uint64_t ike_sa, Timestamp now, Sink& out);
  // reauthenticate: a new IKE SA with new IKE_SA_INIT/IKE_AUTH exchanges;
  // the old one is deleted once the new one and its children are up.
  [[nodiscard]] Status reauthenticate(uint64_t ike_sa, Timestamp now, Sink& out);
  // check_liveness: an empty INFORMATIONAL request now (dead peer detection).
  [[nodiscard]] Status check_liveness(uint64_t ike_sa, Timestamp now, Sink& out);
  // on_sa_event: the SAD reached a child SA's byte/packet or time limit
  // (sa::SaEvent from Sad::poll): rekey_needed rekeys the child SA,
  // expired deletes it (the SAD removed that direction already). Events for
  // SPIs the engine does not know are ignored.
  void on_sa_event(const sa::SaEvent& event, Timestamp now, Sink& out);

  [[nodiscard]] size_t ike_sa_count() const noexcept;
  [[nodiscard]] size_t established_count() const noexcept;
  [[nodiscard]] size_t half_open_count() const noexcept;
  // child_sa_count: installed child SAs (both directions) over all IKE SAs,
  // including replaced ones not yet deleted.
  [[nodiscard]] size_t child_sa_count() const noexcept;
  [[nodiscard]] const EngineStats& stats() const noexcept;

  struct Impl;

 private:
  explicit IkeEngine(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ipsec::ike
