// SPDX-License-Identifier: Apache-2.0
// ike_peer: the IKEv2 engine (ipsec/ike/engine.hpp) against a real peer, on
// the public API only. A Linux host program: UDP sockets on ports 500 and
// 4500 of one local address (IPv4 or IPv6), a ppoll loop, CLOCK_MONOTONIC
// as the engine's Timestamp, SystemRng and DefaultProvider. It sets up one
// IKE SA and its child SA (as initiator with --initiate, else as responder)
// and prints the engine's log lines and one line per event. There is no
// general ESP datapath here (no TUN device): child SAs are printed (their
// keys are not) and ESP datagrams arriving on port 4500 are ignored, unless
// --esp-echo: then the child SAs are created as esp::InboundSa/OutboundSa
// with the engine's keys, and ICMP echo requests that arrive through them
// are answered through them (class EspEcho), so that a ping from the peer's
// side proves both directions' KEYMAT (RFC 7296 2.17), SPIs and framing.
// Several child SAs may be up at once (the old and the new one during a
// rekey); replies go out through the newest SA that replaced the one the
// request came through, and a child SA is forgotten on child_sa_delete.
//
// The life of the tunnel (RFC 7296 1.3, 1.4, 2.4, 2.8): --child-rekey and
// --child-life set the child SA's soft (rekey) and hard lifetimes,
// --ike-rekey the IKE SA's rekey time, --dpd the liveness checks with
// --retransmit-* to give up on a dead peer quickly; --close-child-after and
// --close-after delete the child SA or the IKE SA from our side. SIGUSR1
// prints a status line (IKE SAs, child SAs, --esp-echo's SAs).
//
//   ike_peer --local 10.0.0.1 --remote 10.0.0.2 --initiate --psk secret
//            --id fqdn:a.example.test --remote-id fqdn:b.example.test
//            --local-ts 10.1.1.0/24 --remote-ts 10.1.2.0/24 [--exit-when-up | --esp-echo]
//
// tests/interop/ike_strongswan.sh runs it against strongSwan's charon.
#include <ipsec/ipsec.hpp>

#include "common/host.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using namespace ipsec;
using namespace host;

namespace {

constexpr uint16_t kIkePort = 500;
constexpr uint16_t kNattPort = 4500;
constexpr Duration kGrace = std::chrono::seconds(1);      // --exit-when-up: let the peer finish
constexpr Duration kCloseWait = std::chrono::seconds(2);  // SIGINT/SIGTERM: wait for the Delete's answer

constexpr const char* kUsage =
    "usage: ike_peer --local ADDR --id ID --remote-id PATTERN\n"
    "                (--psk SECRET | --cert FILE --key FILE [--cert-chain FILE]... --ca FILE...)\n"
    "                [--remote ADDR] [--initiate] [options]\n"
    "  --name NAME          connection name (default ike-peer)\n"
    "  --local ADDR         bind UDP 500 and 4500 on this IPv4 or IPv6 address\n"
    "  --remote ADDR        the peer (required with --initiate; omitted: any peer, responder only)\n"
    "  --id ID              our identity: fqdn:NAME, email:A@B, ip:ADDR, keyid:HEX or bare text\n"
    "  --remote-id PATTERN  the peer's identity pattern (PAD entry), e.g. fqdn:sw.example.test\n"
    "  --psk SECRET         pre-shared key authentication, both ways\n"
    "  --cert FILE --key FILE  our certificate and private key (DER or PEM): signatures\n"
    "  --cert-chain FILE    an intermediate certificate sent after ours (repeatable)\n"
    "  --ca FILE            a trust anchor for the peer's certificate (repeatable)\n"
    "  --ike PROPOSALS      IKE proposals (default aes256gcm16-prfsha256-x25519)\n"
    "  --esp PROPOSALS      ESP proposals (default aes256gcm16)\n"
    "  --local-ts PREFIX    our traffic selector (repeatable; default: the local address)\n"
    "  --remote-ts PREFIX   the peer's traffic selector (repeatable; default: the remote address)\n"
    "  --transport          transport mode (default tunnel)\n"
    "  --initiate           initiate the IKE SA (default: respond only)\n"
    "  --exit-when-up       exit 0 once the child SA is up (after a 1 s grace period)\n"
    "  --esp-echo           answer IPv4 ICMP echo requests to our traffic selector that arrive\n"
    "                       through the child SA (tunnel mode, ESP in UDP on port 4500)\n"
    "  --timeout SECONDS    exit 1 if the child SA is not up by then\n"
    "  --child-rekey SECONDS   rekey the child SA after this long (soft lifetime)\n"
    "  --child-life SECONDS    delete the child SA after this long unless rekeyed (hard lifetime)\n"
    "  --ike-rekey SECONDS     rekey the IKE SA after this long (CREATE_CHILD_SA, RFC 7296 2.18)\n"
    "  --rekey-jitter FRACTION rekey up to this fraction earlier, at random (default 0.1)\n"
    "  --dpd SECONDS        check the peer's liveness after this long without a message from it\n"
    "  --dpd-action ACTION  clear (default), hold or restart when the peer is dead\n"
    "  --retransmit-timeout SECONDS  first retransmission after this long (default 4)\n"
    "  --retransmit-base FACTOR      each next one this much later (default 1.8)\n"
    "  --retransmit-tries N          give up after N retransmissions (default 5)\n"
    "  --collide WHAT       when the peer's CREATE_CHILD_SA request arrives, first start our own\n"
    "                       rekey of the newest child SA (child) or of the IKE SA (ike): a rekey\n"
    "                       collision; child-late, ike-late: our request leaves only after our\n"
    "                       answer to the peer's (so the peer may complete its rekey first)\n"
    "  --close-child-after SECONDS   delete the newest child SA this long after the first came up\n"
    "  --close-after SECONDS         delete the IKE SA this long after the first child SA came up,\n"
    "                                then exit 0 once it is gone\n"
    "  --verbose            engine log level debug, and every datagram\n"
    "On SIGINT/SIGTERM the IKE SAs are deleted (up to 2 s) before exiting; SIGUSR1 prints a\n"
    "status line (IKE SAs, child SAs and, with --esp-echo, the SA pairs it holds).\n";

// --collide: what to rekey when the peer's CREATE_CHILD_SA request arrives.
enum class Collide : uint8_t { off, child, ike };

struct Options {
  std::string name = "ike-peer";
  std::string local, remote, id, remote_id, psk, cert, key;
  std::vector<std::string> chain, cas, local_ts, remote_ts;
  std::string ike = "aes256gcm16-prfsha256-x25519";
  std::string esp = "aes256gcm16";
  bool transport = false, initiate = false, exit_when_up = false, esp_echo = false, verbose = false;
  double timeout = 0;  // seconds; 0: none
  std::string timeout_text;
  // The life of the tunnel; seconds, 0: off.
  double child_rekey = 0, child_life = 0, ike_rekey = 0, dpd = 0, close_child_after = 0, close_after = 0;
  double rekey_jitter = 0.1;
  Collide collide = Collide::off;
  bool collide_late = false;  // --collide child-late / ike-late
  ike::DpdAction dpd_action = ike::DpdAction::clear;
  ike::RetransmitPolicy retransmit;
};

volatile sig_atomic_t g_stop = 0, g_status = 0;
void on_signal(int) { g_stop = 1; }
void on_status_signal(int) { g_status = 1; }

// ---- --esp-echo ----------------------------------------------------------------------------

// Echo: the ICMP echo request that make_echo_reply answered.
struct Echo {
  IpAddress source, destination;  // of the request
  uint16_t id = 0, sequence = 0;
};

// make_echo_reply: turn the IPv4 packet in `packet` (exactly one packet, as
// esp::open_esp leaves it), if it is an unfragmented ICMP echo request with
// valid checksums, into its echo reply in place (RFC 792: addresses swapped,
// type 0, same identifier, sequence number and data; both checksums
// recomputed). nullopt, leaving the packet as it was, for anything else.
std::optional<Echo> make_echo_reply(MutableByteView packet) {
  constexpr uint8_t kEchoRequest = 8, kEchoReply = 0;
  auto ip = wire::Ipv4Header::parse(packet);
  if (!ip || ip->protocol != wire::IpProtocol::icmp || ip->is_fragment() || !ip->checksum_valid())
    return std::nullopt;
  ByteReader r(ip->payload);
  uint8_t type = 0, code = 0;
  uint16_t checksum = 0;
  Echo e{ip->source, ip->destination};
  if (!r.read_u8(&type) || !r.read_u8(&code) || !r.read_u16(&checksum) || !r.read_u16(&e.id) ||
      !r.read_u16(&e.sequence) || type != kEchoRequest || code != 0 ||
      wire::internet_checksum(ip->payload) != 0) {
    return std::nullopt;
  }
  const MutableByteView header = packet.first(ip->header_length);
  const MutableByteView icmp = packet.subspan(ip->header_length, ip->payload.size());
  std::copy_n(e.destination.bytes().begin(), 4, header.subspan(12, 4).begin());
  std::copy_n(e.source.bytes().begin(), 4, header.subspan(16, 4).begin());
  header[8] = 64;  // TTL
  store_be16(header.subspan<10, 2>(), 0);
  store_be16(header.subspan<10, 2>(), wire::internet_checksum(header));
  icmp[0] = kEchoReply;
  store_be16(icmp.subspan<2, 2>(), 0);
  store_be16(icmp.subspan<2, 2>(), wire::internet_checksum(icmp));
  return e;
}

// EspEcho: the child SAs the engine installs, as esp::InboundSa/OutboundSa
// built from ChildSa::inbound_config()/outbound_config() (the engine's
// KEYMAT), and an ICMP echo responder behind them. An ESP datagram from
// port 4500 is opened with its inbound SA; an echo request to our traffic
// selector from the peer's is answered in place and sealed with the
// outbound SA of the newest child SA that replaced the one it came through
// (ChildSa::rekeys links a rekeyed SA to its predecessor; the peer may
// still send through the old one until it is deleted), or of the same
// child SA if none did; the UDP payload (from SealInfo::esp_offset:
// seal also writes the outer IP and UDP headers, which the socket makes
// itself) goes to the peer's tunnel endpoint. One line per datagram.
class EspEcho {
 public:
  EspEcho(crypto::Provider& provider, int fd) : provider_(provider), fd_(fd) {}

  // install: one direction of a child_sa_install event.
  void install(const ike::ChildSa& c, sa::Direction d) {
    Child& child = find_or_add(c.inbound_spi);
    child.rekeys = c.rekeys;
    if (d == sa::Direction::inbound) {
      auto in = esp::InboundSa::create(c.inbound_config(), provider_);
      if (!in) return say("esp-echo: ", "cannot create the inbound SA: " + why(in.status()));
      child.in = std::move(*in);
      for (const ike::TsRange& t : c.local_ts) child.local.push_back(t.addresses);
      for (const ike::TsRange& t : c.remote_ts) child.remote.push_back(t.addresses);
    } else {
      auto out = esp::OutboundSa::create(c.outbound_config(), provider_);
      if (!out) return say("esp-echo: ", "cannot create the outbound SA: " + why(out.status()));
      child.out = std::move(*out);
      child.installed = ++installs_;
    }
  }
  // remove: a child_sa_delete event.
  void remove(const ike::ChildSa& c) {
    std::erase_if(children_, [&](const Child& x) { return x.inbound_spi == c.inbound_spi; });
  }

  // receive: one ESP datagram in pb (the UDP payload, SPI first) with
  // limits::kEspMaxHeadroom octets of headroom and kEspMaxTailroom of
  // tailroom, for the reply that replaces it.
  void receive(PacketBuffer& pb) {
    ByteReader r(pb.data());
    uint32_t spi = 0, seq = 0;
    if (!r.read_u32(&spi) || !r.read_u32(&seq)) return;  // classify_udp4500 let no such datagram through
    std::string line = "ESP in: spi=" + hex(spi) + ", seq=" + std::to_string(seq);
    const auto child = std::find_if(children_.begin(), children_.end(),
                                    [&](const Child& x) { return x.inbound_spi == spi && x.in; });
    if (child == children_.end()) {
      ++stats_.dropped;
      return say("", line + ": unknown SPI, dropped");
    }
    if (auto opened = esp::open_esp(*child->in, pb); !opened) {
      const bool crypto =
          opened.status() == Errc::integrity_check_failed || opened.status() == Errc::bad_padding;
      ++(crypto ? stats_.decrypt_failures : stats_.dropped);
      return say("", line + ": " + (crypto ? "decrypt failure " : "dropped ") + why(opened.status()) +
                         " (decrypt failures: " + std::to_string(stats_.decrypt_failures) + ")");
    }
    ++stats_.decrypted;
    const std::optional<Echo> echo = make_echo_reply(pb.data());
    const auto inside = [](const std::vector<sa::AddressRange>& ts, const IpAddress& a) {
      return std::any_of(ts.begin(), ts.end(), [&](const sa::AddressRange& t) { return t.contains(a); });
    };
    if (!echo || !inside(child->local, echo->destination) || !inside(child->remote, echo->source)) {
      ++stats_.dropped;
      return say("", line + ", " + std::to_string(pb.size()) +
                         " octets: not an ICMP echo request between the traffic selectors, dropped");
    }
    line += ", ICMP echo " + str(echo->source.to_text().view()) + " -> " +
            str(echo->destination.to_text().view()) + " id=" + std::to_string(echo->id) +
            " seq=" + std::to_string(echo->sequence);
    const Child& newest = newest_successor(*child);
    if (!newest.out || !newest.out->config().udp) {
      return say("", line + "; no reply: " + (newest.out ? "no UDP encapsulation" : "no outbound SA"));
    }
    auto sealed = esp::seal(*newest.out, pb);
    if (!sealed) return say("", line + "; no reply: seal: " + why(sealed.status()));
    const esp::SaConfig& out = newest.out->config();
    const ike::Endpoint to{out.tunnel->remote, out.udp->remote_port};
    if (!send_to(fd_, to, ByteView(pb.data()).subspan(sealed->esp_offset)))
      return say("", line + "; reply not sent: " + endpoint_text(to) + ": " + std::strerror(errno));
    ++stats_.replies;
    say("", line + "; reply sent (spi=" + hex(out.spi) + ", seq=" + std::to_string(sealed->sequence) + ")");
  }

  std::string summary() const {
    return "esp-echo: " + std::to_string(stats_.decrypted) + " decrypted, " + std::to_string(stats_.replies) +
           " replies, " + std::to_string(stats_.decrypt_failures) + " decrypt failures, " +
           std::to_string(stats_.dropped) + " dropped";
  }
  // pairs: the child SAs held, e.g. "1 SA pair(s): 0x0000c1a2_i 0xc8d1e2f3_o".
  std::string pairs() const {
    std::string s = std::to_string(children_.size()) + " SA pair(s):";
    for (const Child& c : children_)
      s += " " + hex(c.inbound_spi) + "_i " + (c.out ? hex(c.out->config().spi) : std::string("none")) + "_o";
    return s;
  }

 private:
  struct Child {
    uint32_t inbound_spi = 0;
    uint32_t rekeys = 0;     // ChildSa::rekeys: the inbound SPI of the SA this one replaces
    uint64_t installed = 0;  // when its outbound SA was installed (an install counter), 0: not yet
    std::unique_ptr<esp::InboundSa> in;
    std::unique_ptr<esp::OutboundSa> out;
    std::vector<sa::AddressRange> local, remote;  // the traffic selectors
  };
  Child& find_or_add(uint32_t inbound_spi) {
    for (Child& c : children_) {
      if (c.inbound_spi == inbound_spi) return c;
    }
    children_.push_back(Child{inbound_spi, 0, 0, nullptr, nullptr, {}, {}});
    return children_.back();
  }
  // newest_successor: follow the rekeys links from `c` to the newest child
  // SA with an outbound SA that replaced it (after a rekey collision two SAs
  // replace one: the later installed wins); `c` itself when there is none.
  const Child& newest_successor(const Child& c) const {
    const Child* at = &c;
    for (size_t hops = 0; hops < children_.size(); ++hops) {
      const Child* next = nullptr;
      for (const Child& x : children_) {
        if (x.rekeys == at->inbound_spi && x.out && (next == nullptr || x.installed > next->installed))
          next = &x;
      }
      if (next == nullptr) break;
      at = next;
    }
    return *at;
  }

  crypto::Provider& provider_;
  int fd_;
  std::vector<Child> children_;
  uint64_t installs_ = 0;
  struct {
    uint64_t decrypted = 0, replies = 0, decrypt_failures = 0, dropped = 0;
  } stats_;
};

// Host: the engine's Sink and LogSink. It sends on the socket of the
// datagram's local port and records what the main loop acts on; it never
// calls the engine.
class Host final : public ike::Sink, public ike::LogSink {
 public:
  int fd500 = -1, fd4500 = -1;
  bool verbose = false;
  std::vector<uint64_t> up;           // established IKE SAs (close them on exit)
  std::vector<uint64_t> down;         // IKE SAs gone since the loop last looked
  std::vector<uint32_t> children;     // inbound SPIs of the child SAs up, oldest first
  std::optional<uint64_t> initiated;  // our IKE SA (--initiate), followed through rekeys
  bool child_up = false, child_failed = false;
  EspEcho* echo = nullptr;  // --esp-echo
  // --collide *-late: datagrams held back while `hold`, sent by release().
  bool hold = false;
  std::vector<std::pair<ike::Path, std::vector<uint8_t>>> held;
  void release() {
    hold = false;
    for (const auto& [path, bytes] : held) send({path, bytes});
    if (!held.empty()) say("", "--collide: our held-back request sent now");
    held.clear();
  }

  void send(const ike::OutDatagram& d) override {
    if (hold) {  // --collide *-late
      held.push_back({d.path, std::vector<uint8_t>(d.bytes.begin(), d.bytes.end())});
      return;
    }
    if (!send_to(d.path.local.port == kNattPort ? fd4500 : fd500, d.path.remote, d.bytes)) {
      say("send failed: ", endpoint_text(d.path.remote) + ": " + std::strerror(errno));
    } else if (verbose) {
      say("", "sent " + std::to_string(d.bytes.size()) + " bytes " + endpoint_text(d.path.local) + " -> " +
                  endpoint_text(d.path.remote));
    }
  }

  void log(ike::LogLevel level, std::string_view line) override { say_log(level, line); }

  void on_event(const ike::Event& e) override {
    say_event(e);
    switch (e.kind) {
      case ike::EventKind::ike_sa_up: up.push_back(e.ike_sa); break;
      case ike::EventKind::child_sa_install:  // into the SAD, if there were one
        if (echo != nullptr) echo->install(*e.child, e.direction);
        break;
      case ike::EventKind::child_sa_up:
        children.push_back(e.child->inbound_spi);
        child_up = true;
        break;
      case ike::EventKind::ike_sa_down:
        std::erase(up, e.ike_sa);
        down.push_back(e.ike_sa);
        break;
      case ike::EventKind::child_sa_delete:
        if (e.child != nullptr) std::erase(children, e.child->inbound_spi);
        if (echo != nullptr && e.child != nullptr) echo->remove(*e.child);
        break;
      case ike::EventKind::child_sa_failed:
      case ike::EventKind::proposal_mismatch: child_failed = true; break;
      case ike::EventKind::ike_sa_rekeyed:
        std::replace(up.begin(), up.end(), e.previous_ike_sa, e.ike_sa);
        if (initiated == e.previous_ike_sa) initiated = e.ike_sa;
        break;
      case ike::EventKind::authentication_failed:
      case ike::EventKind::ike_sa_keys:
      case ike::EventKind::peer_address_changed: break;
    }
  }
};

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i], value;
    const size_t eq = flag.find('=');
    const bool has_eq = eq != std::string::npos;
    if (has_eq) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
    }
    auto arg = [&]() -> std::string {
      if (has_eq) return value;
      if (i + 1 >= argc) die(flag + " needs a value (see --help)");
      return argv[++i];
    };
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    auto text = [&](std::string_view name, std::string& field) {
      return flag == name && (field = arg(), true);
    };
    auto list = [&](std::string_view name, std::vector<std::string>& field) {
      return flag == name && (field.push_back(arg()), true);
    };
    auto on = [&](std::string_view name, bool& field) { return flag == name && (field = true); };
    if (text("--name", o.name) || text("--local", o.local) || text("--remote", o.remote) ||
        text("--id", o.id) || text("--remote-id", o.remote_id) || text("--psk", o.psk) ||
        text("--cert", o.cert) || text("--key", o.key) || text("--ike", o.ike) || text("--esp", o.esp) ||
        list("--cert-chain", o.chain) || list("--ca", o.cas) || list("--local-ts", o.local_ts) ||
        list("--remote-ts", o.remote_ts) || on("--transport", o.transport) || on("--initiate", o.initiate) ||
        on("--exit-when-up", o.exit_when_up) || on("--esp-echo", o.esp_echo) || on("--verbose", o.verbose)) {
      continue;
    }
    // number: a flag's value as a number of at least `min` (> min when strict).
    std::string v;  // number's text
    auto number = [&](double min, bool strict) {
      v = arg();
      char* end = nullptr;
      const double x = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != '\0' || !(strict ? x > min : x >= min)) {
        char bound[32];
        std::snprintf(bound, sizeof bound, "%g", min);
        die(flag + " wants a number " + (strict ? "above " : "of at least ") + bound + ", not '" + v + "'");
      }
      return x;
    };
    if (flag == "--timeout") {
      o.timeout = number(0, true);
      o.timeout_text = v;
    } else if (flag == "--child-rekey") {
      o.child_rekey = number(0, true);
    } else if (flag == "--child-life") {
      o.child_life = number(0, true);
    } else if (flag == "--ike-rekey") {
      o.ike_rekey = number(0, true);
    } else if (flag == "--rekey-jitter") {
      o.rekey_jitter = number(0, false);
      if (o.rekey_jitter >= 1) die("--rekey-jitter wants a fraction below 1");
    } else if (flag == "--dpd") {
      o.dpd = number(0, true);
    } else if (flag == "--dpd-action") {
      v = arg();
      if (v == "clear") {
        o.dpd_action = ike::DpdAction::clear;
      } else if (v == "hold") {
        o.dpd_action = ike::DpdAction::hold;
      } else if (v == "restart") {
        o.dpd_action = ike::DpdAction::restart;
      } else {
        die("--dpd-action wants clear, hold or restart");
      }
    } else if (flag == "--retransmit-timeout") {
      o.retransmit.initial = seconds(number(0, true));
    } else if (flag == "--retransmit-base") {
      o.retransmit.base = number(1, false);
    } else if (flag == "--retransmit-tries") {
      const double n = number(0, false);
      if (n > 1000 || n != static_cast<double>(static_cast<uint32_t>(n)))
        die("--retransmit-tries wants a whole number up to 1000");
      o.retransmit.tries = static_cast<uint32_t>(n);
    } else if (flag == "--collide") {
      v = arg();
      o.collide_late = v.ends_with("-late");
      if (o.collide_late) v.resize(v.size() - 5);
      if (v == "child") {
        o.collide = Collide::child;
      } else if (v == "ike") {
        o.collide = Collide::ike;
      } else {
        die("--collide wants child, ike, child-late or ike-late");
      }
    } else if (flag == "--close-child-after") {
      o.close_child_after = number(0, true);
    } else if (flag == "--close-after") {
      o.close_after = number(0, true);
    } else {
      die("unknown option " + flag + " (see --help)");
    }
  }
  if (o.local.empty() || o.id.empty() || o.remote_id.empty())
    die("--local, --id and --remote-id are required");
  if (o.psk.empty() == o.cert.empty()) die("give either --psk or --cert/--key/--ca");
  if (!o.cert.empty() && (o.key.empty() || o.cas.empty())) die("--cert needs --key and at least one --ca");
  if (o.initiate && o.remote.empty()) die("--initiate needs --remote");
  if (o.esp_echo && o.transport) die("--esp-echo needs tunnel mode");
  if (o.child_life > 0 && o.child_rekey >= o.child_life) die("--child-rekey must be below --child-life");
  if (o.exit_when_up && (o.close_after > 0 || o.close_child_after > 0))
    die("--exit-when-up and --close-after/--close-child-after exclude each other");
  return o;
}

std::vector<ike::TsRange> parse_ts(const std::vector<std::string>& texts,
                                   const std::optional<IpAddress>& fallback, IpFamily family) {
  std::vector<ike::TsRange> out;
  out.reserve(texts.size());
  for (const std::string& t : texts)
    out.push_back({.addresses = sa::AddressRange::of(take(IpPrefix::parse(t), "traffic selector " + t))});
  if (out.empty())
    out.push_back(
        {.addresses = fallback ? sa::AddressRange::single(*fallback) : sa::AddressRange::any(family)});
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  output().program = "ike_peer";
  const Options opt = parse_options(argc, argv);
  output().name = opt.name;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  const IpAddress local = take(IpAddress::parse(opt.local), "--local");
  std::optional<IpAddress> remote;
  if (!opt.remote.empty()) remote = take(IpAddress::parse(opt.remote), "--remote");
  if (remote && remote->family() != local.family()) die("--local and --remote are of different families");

  // Credentials: these outlive the engine (it keeps pointers and spans).
  std::vector<crypto::Certificate> chain, anchors_storage;
  std::vector<ike::TrustAnchor> anchors;
  std::vector<uint32_t> anchor_ids;
  std::optional<crypto::PrivateKey> key;
  if (!opt.cert.empty()) {
    chain.push_back(load_certificate(opt.cert));
    for (const std::string& c : opt.chain) chain.push_back(load_certificate(c));
    key = take(crypto::PrivateKey::parse(read_file(opt.key)), "private key " + opt.key);
    for (const std::string& c : opt.cas) anchors_storage.push_back(load_certificate(c));
    for (size_t i = 0; i < anchors_storage.size(); ++i) {
      anchor_ids.push_back(static_cast<uint32_t>(i + 1));
      anchors.push_back({anchor_ids.back(), &anchors_storage[i]});
    }
  }

  // The connection and the PAD entry of its peer: children = local_ts x remote_ts.
  ike::Connection c;
  c.children.resize(1);
  c.name = opt.name;
  c.local_address = local;
  c.remote_address = remote;
  c.local_id = take(ike::Identity::parse(opt.id), "--id");
  c.local_auth = opt.psk.empty() ? ike::LocalAuth::signature : ike::LocalAuth::psk;
  c.peer = 1;
  c.ike_proposals = take(ike::parse_proposals(opt.ike, wire::ProtocolId::ike), "--ike");
  c.children[0].proposals = take(ike::parse_proposals(opt.esp, wire::ProtocolId::esp), "--esp");
  c.children[0].local_ts = parse_ts(opt.local_ts, local, local.family());
  c.children[0].remote_ts = parse_ts(opt.remote_ts, remote, local.family());
  c.children[0].mode = opt.transport ? esp::Mode::transport : esp::Mode::tunnel;
  c.children[0].lifetime.soft = seconds(opt.child_rekey);
  c.children[0].lifetime.hard = seconds(opt.child_life);
  c.children[0].rekey_jitter = opt.rekey_jitter;
  c.ike_lifetime.rekey = seconds(opt.ike_rekey);
  c.ike_lifetime.jitter = opt.rekey_jitter;
  c.dpd_delay = seconds(opt.dpd);
  c.dpd_action = opt.dpd_action;

  std::vector<sa::Selector> children;
  for (const ike::TsRange& l : c.children[0].local_ts) {
    for (const ike::TsRange& r : c.children[0].remote_ts) {
      if (l.addresses.family() != r.addresses.family()) continue;
      sa::Selector s;
      s.local = l.addresses;
      s.remote = r.addresses;
      children.push_back(s);
    }
  }
  sa::PadEntryConfig pc;
  pc.id = 1;
  if (opt.psk.empty()) {
    pc.auth = signature_methods();
    pc.trust_anchors = anchor_ids;
  } else {
    pc.auth = sa::AuthMethodSet().allow(wire::AuthMethod::shared_key_mic);
    pc.psk = as_bytes(opt.psk);
  }
  pc.id_must_match_certificate = true;
  pc.children = children;
  sa::Pad pad;
  auto entry =
      take(sa::PadEntry::make(take(sa::IdPattern::parse(opt.remote_id), "--remote-id"), pc), "PAD entry");
  if (const Status s = pad.add(std::move(entry)); !s.ok()) die("PAD: " + why(s));

  Host host;
  host.verbose = opt.verbose;
  ike::EngineConfig config;
  config.connections.push_back(std::move(c));
  config.pad = &pad;
  config.retransmit = opt.retransmit;
  config.credentials.private_key = key ? &*key : nullptr;
  config.credentials.local_chain = chain;
  config.credentials.trust_anchors = anchors;
  // Certificate validity needs the wall clock at Timestamp 0 (CLOCK_MONOTONIC's origin).
  config.unix_time_at_zero = unix_time_at_zero();
  config.log = &host;
  config.log_level = opt.verbose ? ike::LogLevel::debug : ike::LogLevel::info;
  crypto::DefaultProvider provider;
  crypto::SystemRng rng;
  std::unique_ptr<ike::IkeEngine> engine =
      take(ike::IkeEngine::create(std::move(config), provider, rng), "engine");

  host.fd500 = open_socket({local, kIkePort});
  host.fd4500 = open_socket({local, kNattPort});
  say("", "listening on " + endpoint_text({local, kIkePort}) + " and " + endpoint_text({local, kNattPort}));
  std::optional<EspEcho> echo;
  if (opt.esp_echo) host.echo = &echo.emplace(provider, host.fd4500);

  // SIGINT/SIGTERM are blocked except inside ppoll, so none is missed between checks.
  sigset_t block, unblocked;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGUSR1);
  sigprocmask(SIG_BLOCK, &block, &unblocked);
  struct sigaction sa_stop {};
  sa_stop.sa_handler = on_signal;
  sigaction(SIGINT, &sa_stop, nullptr);
  sigaction(SIGTERM, &sa_stop, nullptr);
  struct sigaction sa_status {};
  sa_status.sa_handler = on_status_signal;
  sigaction(SIGUSR1, &sa_status, nullptr);
  // status: the engine's SAs and --esp-echo's, for scripts (SIGUSR1, and before closing).
  auto status_line = [&] {
    std::string line = "status: " + std::to_string(engine->ike_sa_count()) + " IKE SA(s), " +
                       std::to_string(engine->established_count()) + " established, " +
                       std::to_string(engine->child_sa_count()) + " child SA(s)";
    line += "; IKE SAs up:" + hex_list(host.up) + "; child SAs up:" + hex_list(host.children);
    if (echo) line += "; esp-echo: " + echo->pairs();
    say("", line);
  };

  const Timestamp started = now();
  if (opt.initiate) {
    host.initiated = take(engine->initiate(opt.name, started, host), "initiate");
  }
  std::optional<Timestamp> deadline, exit_at, close_until, close_child_at, close_at;
  if (opt.timeout > 0) deadline = started + seconds(opt.timeout);
  // --collide: on a new CREATE_CHILD_SA request of the peer (its IKE
  // header is in the clear: exchange type 36, the Response flag clear),
  // start our own rekey of the newest child SA or of the IKE SA before the
  // engine reads that request, so that both requests cross (RFC 7296
  // 2.8.1, 2.8.2). Once per Message ID: not for retransmissions.
  std::optional<std::pair<uint64_t, uint32_t>> collided;  // the peer's SPIi and Message ID
  auto collide = [&](ByteView ike) {
    constexpr uint8_t kCreateChildSa = 36, kResponse = 0x20;
    if (ike.size() < wire::kIkeHeaderSize || ike[18] != kCreateChildSa || (ike[19] & kResponse) != 0) return;
    const std::pair<uint64_t, uint32_t> id{load_be64(ike.first<8>()), load_be32(ike.subspan<20, 4>())};
    if (collided == id || host.up.empty()) return;
    collided = id;
    const Timestamp t = now();
    host.hold = opt.collide_late;
    if (opt.collide == Collide::child && !host.children.empty()) {
      say("", "--collide: the peer's CREATE_CHILD_SA request arrives: rekeying the child SA " +
                  hex(host.children.back()) + " first");
      if (const Status s = engine->rekey_child(host.children.back(), t, host); !s.ok())
        say("rekey_child failed: ", why(s));
    } else if (opt.collide == Collide::ike) {
      say("", "--collide: the peer's CREATE_CHILD_SA request arrives: rekeying the IKE SA " +
                  hex(host.up.back()) + " first");
      if (const Status s = engine->rekey_ike(host.up.back(), t, host); !s.ok())
        say("rekey_ike failed: ", why(s));
    }
  };
  bool was_up = false;
  int status = -1;  // set: leave the loop (after closing on a signal)
  // Datagrams land behind ESP's headroom: --esp-echo turns one in place into its reply.
  constexpr size_t kHeadroom = limits::kEspMaxHeadroom, kMaxDatagram = 65535;
  std::vector<uint8_t> buf(kHeadroom + kMaxDatagram + limits::kEspMaxTailroom);
  uint64_t esp_ignored = 0;

  while (true) {
    Timestamp t = now();
    if (host.child_up && !was_up) {
      was_up = true;
      if (opt.exit_when_up) exit_at = t + kGrace;
      if (opt.close_child_after > 0) close_child_at = t + seconds(opt.close_child_after);
      if (opt.close_after > 0) close_at = t + seconds(opt.close_after);
    }
    if (g_status != 0) {
      g_status = 0;
      status_line();
    }
    if (close_child_at && t >= *close_child_at) {
      close_child_at.reset();
      if (host.children.empty()) {
        say("", "--close-child-after: no child SA to close");
      } else {
        say("", "--close-child-after: closing the child SA " + hex(host.children.back()));
        if (const Status s = engine->close_child(host.children.back(), t, host); !s.ok())
          say("close_child failed: ", why(s));
      }
    }
    const bool close_now = close_at && t >= *close_at;
    if ((g_stop != 0 || close_now) && !close_until) {
      status_line();
      say("", (g_stop != 0 ? "signal: closing " : "--close-after: closing ") +
                  std::to_string(host.up.size()) + " IKE SA(s)");
      close_at.reset();
      close_until = t + kCloseWait;
      for (uint64_t h : std::vector<uint64_t>(host.up)) {
        if (const Status s = engine->close(h, t, host); !s.ok()) say("close failed: ", why(s));
      }
    }
    if (close_until && (engine->ike_sa_count() == 0 || t >= *close_until)) {
      if (engine->ike_sa_count() != 0) say("", "giving up waiting for the peer's answer to the Delete");
      status = 0;
    } else if (!close_until && exit_at && t >= *exit_at) {
      say("", "child SA up: exiting (the IKE SA stays up at the peer)");
      status = 0;
    } else if (!close_until && deadline && !was_up && t >= *deadline) {
      say("", "timeout: the child SA is not up after " + opt.timeout_text + " s");
      status = 1;
    } else if (!close_until && host.initiated) {
      // Our initiated IKE SA failed or went away: nothing is left to wait for.
      const bool gone = std::find(host.down.begin(), host.down.end(), *host.initiated) != host.down.end();
      // (--dpd-action hold/restart: the engine carries on with the connection.)
      if ((gone && opt.dpd_action == ike::DpdAction::clear) ||
          (opt.exit_when_up && host.child_failed && !was_up)) {
        say("", gone ? "the IKE SA is gone: exiting" : "the child SA failed: exiting");
        status = was_up && !opt.exit_when_up ? 0 : 1;
      }
    }
    if (status >= 0) break;

    // Sleep until a datagram, a signal, the engine's timer or one of ours.
    std::optional<Timestamp> wake = engine->next_timeout();
    for (const auto& d : {deadline, exit_at, close_until, close_child_at, close_at}) {
      if (d && (!wake || *d < *wake)) wake = d;
    }
    timespec ts{};
    if (wake) {
      const int64_t ns = std::max<int64_t>(0, (*wake - t).count());
      ts.tv_sec = ns / 1'000'000'000;
      ts.tv_nsec = ns % 1'000'000'000;
    }
    pollfd fds[2] = {{host.fd500, POLLIN, 0}, {host.fd4500, POLLIN, 0}};
    if (ppoll(fds, 2, wake ? &ts : nullptr, &unblocked) < 0 && errno != EINTR)
      die("ppoll: " + str(strerror(errno)));

    for (const pollfd& p : fds) {
      if ((p.revents & POLLIN) == 0) continue;
      const uint16_t port = p.fd == host.fd4500 ? kNattPort : kIkePort;
      while (true) {
        sockaddr_storage from{};
        socklen_t from_len = sizeof from;
        const ssize_t n = recvfrom(p.fd, buf.data() + kHeadroom, kMaxDatagram, 0,
                                   reinterpret_cast<sockaddr*>(&from), &from_len);
        if (n < 0) break;  // EAGAIN: drained
        const auto peer = from_sockaddr(from);
        if (!peer) continue;
        const ike::Path path{{local, port}, *peer};
        const MutableByteView data = MutableByteView(buf).subspan(kHeadroom, static_cast<size_t>(n));
        if (port == kNattPort) {
          // RFC 3948: keepalives and ESP share port 4500 with IKE.
          auto kind = wire::classify_udp4500(data);
          if (!kind || kind->kind == wire::NattKind::keepalive) continue;
          if (kind->kind == wire::NattKind::esp && echo) {
            auto pb = PacketBuffer::over(buf, kHeadroom, static_cast<size_t>(n));
            if (pb) echo->receive(*pb);
            continue;
          }
          if (kind->kind == wire::NattKind::esp) {
            if (esp_ignored++ == 0)
              say("", "ESP datagram from " + endpoint_text(*peer) + " ignored (no datapath)");
            continue;
          }
        }
        if (opt.verbose)
          say("", "received " + std::to_string(n) + " bytes " + endpoint_text(*peer) + " -> " +
                      endpoint_text(path.local));
        if (opt.collide != Collide::off) collide(data.subspan(port == kNattPort ? 4 : 0));
        const bool release = host.hold;
        host.hold = false;  // our answer to the peer's request goes out at once
        engine->receive(now(), path, data, host);
        if (release) host.release();
      }
    }
    t = now();
    if (auto due = engine->next_timeout(); due && *due <= t) engine->on_timer(t, host);
  }
  const ike::EngineStats& st = engine->stats();
  say("", "exit " + std::to_string(status) + ": received " + std::to_string(st.received) + ", dropped " +
              std::to_string(st.dropped) + ", retransmitted " + std::to_string(st.retransmitted) +
              ", established " + std::to_string(st.established));
  if (echo) say("", echo->summary());
  close(host.fd500);
  close(host.fd4500);
  return status;
}
