// SPDX-License-Identifier: Apache-2.0
// gateway: a Linux site-to-site IPsec gateway on the library's public API.
//
// The host side of everything the library leaves to its host:
//   - UDP sockets on ports 500 and 4500 of each local address (IKE, and
//     ESP in UDP behind a NAT, RFC 3948), and a raw IP protocol 50 socket
//     for ESP without encapsulation;
//   - a TUN device that carries the protected subnets' plaintext, with a
//     route through it for each remote subnet (rtnetlink);
//   - one epoll loop: TUN -> Datapath::outbound -> socket, socket ->
//     Datapath::inbound_esp -> TUN, datagrams to and from the IkeEngine,
//     and a timer from IkeEngine::next_timeout(), Datapath::next_deadline()
//     and the ACQUIRE queue;
//   - the engine's events: child SAs into and out of the SAD, packets held
//     during an ACQUIRE sent once their SA is up, key export for Wireshark.
// SIGINT/SIGTERM delete every IKE SA (up to 2 s for the answers) before
// exiting; SIGUSR1 prints a status line. The configuration file is
// described in the README ("The gateway example"); site-a.conf and
// site-b.conf beside this file are complete examples.
#include <ipsec/ipsec.hpp>

#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/host.hpp"
#include "gateway/gateway_config.hpp"
#include "gateway/key_export.hpp"
#include "gateway/linux_net.hpp"

using namespace ipsec;
using namespace host;

namespace {

constexpr uint16_t kIkePort = 500;
constexpr uint16_t kNattPort = 4500;
constexpr Duration kCloseWait = std::chrono::seconds(2);  // SIGINT/SIGTERM: wait for the Deletes' answers
constexpr size_t kHeadroom = limits::kEspMaxHeadroom;
constexpr size_t kMaxPacket = 65535;
constexpr size_t kSlot = kHeadroom + kMaxPacket + limits::kEspMaxTailroom;
// ACQUIRE: packets held while their SA is negotiated (sa/acquire_queue.hpp).
constexpr size_t kHeldPackets = 64;
constexpr Duration kHeldAge = std::chrono::seconds(5);

constexpr const char* kUsage =
    "usage: gateway --config FILE [--name NAME] [--verbose] [--check]\n"
    "  --config FILE  the configuration ([gateway] and [connection NAME] sections; see README)\n"
    "  --name NAME    prefix of the output lines (default gateway)\n"
    "  --verbose      engine log level debug\n"
    "  --check        check the configuration, print what it sets up, exit\n"
    "Needs root (TUN device, raw ESP socket, routes). SIGINT/SIGTERM delete the SAs and exit;\n"
    "SIGUSR1 prints a status line.\n";

struct Options {
  std::string config, name = "gateway";
  bool verbose = false, check = false;
};

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die(flag + " needs a value (see --help)");
      return argv[++i];
    };
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (flag == "--config") {
      o.config = value();
    } else if (flag == "--name") {
      o.name = value();
    } else if (flag == "--verbose") {
      o.verbose = true;
    } else if (flag == "--check") {
      o.check = true;
    } else {
      die("unknown option " + flag + " (see --help)");
    }
  }
  if (o.config.empty()) die("--config FILE is required (see --help)");
  return o;
}

// Sockets of one local address.
struct LocalSockets {
  IpAddress address;
  int udp500 = -1, udp4500 = -1, esp = -1;
  uint32_t udp4500_drops = 0, esp_drops = 0;  // datagrams the kernel dropped (buffer full)
};

// Counters of the host's side of the datapath.
struct Traffic {
  uint64_t packets = 0, bytes = 0;
  void add(size_t n) {
    ++packets;
    bytes += n;
  }
};

// Gateway: everything the loop owns. It is the engine's Sink and LogSink and
// the SAD's SaEventSink; it never calls the engine from inside a callback.
class Gateway final : public ike::Sink, public ike::LogSink, public sa::SaEventSink {
 public:
  explicit Gateway(const gateway::GatewayConfig& config) : config_(config) {}

  void setup(bool verbose) {
    load_credentials();
    auto dp = sa::Datapath::create(sa::DatapathConfig{});
    datapath_ = take(std::move(dp), "datapath");
    spis_ = std::make_unique<ike::SadSpiAllocator>(datapath_->sad(), rng_);
    held_ = take(sa::AcquireQueue::create(kHeldPackets, kMaxPacket, kHeldAge), "ACQUIRE queue");

    ike::EngineConfig ec;
    std::vector<sa::Policy> policies;
    for (size_t i = 0; i < config_.connections.size(); ++i) {
      const gateway::ConnectionConfig& cc = config_.connections[i];
      const uint32_t id = static_cast<uint32_t>(i + 1);  // PAD entry id and reqid
      ec.connections.push_back(connection(cc, id));
      add_pad_entry(cc, id);
      for (const IpPrefix& l : cc.local_ts) {
        for (const IpPrefix& r : cc.remote_ts) {
          if (l.family() != r.family()) continue;
          sa::Policy p;
          p.id = static_cast<uint32_t>(policies.size() + 1);
          p.selector.local = sa::AddressRange::of(l);
          p.selector.remote = sa::AddressRange::of(r);
          p.action = sa::PolicyAction::protect;
          p.reqid = id;
          policies.push_back(p);
        }
      }
      if (std::none_of(sockets_.begin(), sockets_.end(),
                       [&](const LocalSockets& s) { return s.address == cc.local; }))
        sockets_.push_back(LocalSockets{cc.local});
    }
    for (sa::Direction d : {sa::Direction::outbound, sa::Direction::inbound}) {
      if (const Status s = datapath_->set_policies(d, policies); !s.ok()) die("SPD: " + why(s));
    }
    ec.pad = &pad_;
    ec.spi_allocator = spis_.get();
    ec.retransmit = config_.retransmit;
    ec.credentials.private_key = key_ ? &*key_ : nullptr;
    ec.credentials.local_chain = chain_;
    ec.credentials.trust_anchors = anchors_;
    ec.credentials.rsa_pss = config_.rsa_pss;
    ec.unix_time_at_zero = unix_time_at_zero();
    ec.log = this;
    ec.log_level = verbose ? ike::LogLevel::debug : config_.log;
    ec.export_keys = !config_.key_export.empty();
    engine_ = take(ike::IkeEngine::create(std::move(ec), provider_, rng_), "engine");
  }

  // open: the key files, the TUN device, its routes and the sockets.
  void open() {
    if (!config_.key_export.empty()) {
      if (std::string e = keys_.open(config_.key_export); !e.empty()) die(e);
    }
    std::string error;
    tun_ = gateway::open_tun(config_.tun, error);
    if (tun_ < 0) die(error);
    if (error = gateway::link_up(config_.tun, config_.mtu); !error.empty()) die(error);
    const unsigned ifindex = if_nametoindex(config_.tun.c_str());
    if (ifindex == 0) die(gateway::errno_text("if_nametoindex " + config_.tun));
    if (config_.routes) {
      for (const gateway::ConnectionConfig& cc : config_.connections) {
        for (const IpPrefix& r : cc.remote_ts) {
          if (error = gateway::add_route(ifindex, r); !error.empty())
            die("route " + str(r.to_text().view()) + " dev " + config_.tun + ": " + error);
        }
      }
    }
    for (LocalSockets& s : sockets_) {
      s.udp500 = open_socket({s.address, kIkePort});
      s.udp4500 = open_socket({s.address, kNattPort});
      s.esp = gateway::open_esp_socket(s.address, error);
      if (s.esp < 0) die(error);
      gateway::prepare_datapath_socket(s.udp4500);
      gateway::prepare_datapath_socket(s.esp);
      say("", "listening on " + endpoint_text({s.address, kIkePort}) + " and " +
                  endpoint_text({s.address, kNattPort}) + "; tun " + config_.tun + " mtu " +
                  std::to_string(config_.mtu));
    }
  }

  int run();

  // ---- ike::Sink, ike::LogSink, sa::SaEventSink ----

  void send(const ike::OutDatagram& d) override {
    for (Keepalive& k : keepalives_) {  // any datagram on the mapping refreshes it
      if (k.path == d.path) k.last_sent = now();
    }
    const LocalSockets* s = sockets_of(d.path.local.address);
    const int fd = s == nullptr ? -1 : d.path.local.port == kNattPort ? s->udp4500 : s->udp500;
    if (fd < 0 || !send_to(fd, d.path.remote, d.bytes))
      say("send failed: ",
          endpoint_text(d.path.local) + " -> " + endpoint_text(d.path.remote) + ": " + std::strerror(errno));
  }

  void log(ike::LogLevel level, std::string_view line) override { say_log(level, line); }

  void on_event(const ike::Event& e) override {
    say_event(e);
    switch (e.kind) {
      case ike::EventKind::ike_sa_up:
        up_.push_back(e.ike_sa);
        // RFC 3948 4: the side behind a NAT keeps its mapping open.
        if (e.ike->nat.send_keepalives())
          keepalives_.push_back({e.ike_sa, e.ike->path, now(), e.ike->nat.keepalive_interval});
        break;
      case ike::EventKind::ike_sa_rekeyed:
        std::replace(up_.begin(), up_.end(), e.previous_ike_sa, e.ike_sa);
        for (Keepalive& k : keepalives_) {
          if (k.ike_sa == e.previous_ike_sa) k.ike_sa = e.ike_sa;
        }
        break;
      case ike::EventKind::ike_sa_down:
        std::erase(up_, e.ike_sa);
        std::erase_if(keepalives_, [&](const Keepalive& k) { return k.ike_sa == e.ike_sa; });
        rearm(e.connection);
        break;
      case ike::EventKind::child_sa_install: {
        const ike::ChildSa& c = *e.child;
        if (const Status s = ike::install_child(datapath_->sad(), provider_, c, e.direction, now()); !s.ok())
          say("SAD install failed: ", why(s));
        if (keys_.enabled()) {
          const bool in = e.direction == sa::Direction::inbound;
          keys_.esp(gateway::esp_sa_row(in ? c.remote_address : c.local_address,
                                        in ? c.local_address : c.remote_address,
                                        in ? c.inbound_spi : c.outbound_spi, c.encr,
                                        in ? c.inbound_encr_keymat : c.outbound_encr_keymat, c.integ,
                                        in ? c.inbound_integ_key : c.outbound_integ_key));
        }
        break;
      }
      case ike::EventKind::child_sa_up: release_held(e.child->reqid); break;
      case ike::EventKind::child_sa_delete:
        if (e.child != nullptr) ike::remove_child(datapath_->sad(), *e.child);
        break;
      case ike::EventKind::child_sa_failed:
      case ike::EventKind::proposal_mismatch:
      case ike::EventKind::authentication_failed: rearm(e.connection); break;
      case ike::EventKind::ike_sa_keys:
        if (keys_.enabled() && e.ike_keys != nullptr) keys_.ike(gateway::ikev2_row(*e.ike_keys));
        break;
      case ike::EventKind::peer_address_changed:
        for (Keepalive& k : keepalives_) {
          if (k.ike_sa == e.ike_sa) k.path = e.ike->path;
        }
        break;
    }
  }

  // SAD lifetimes: collected during Sad::poll (which must not be re-entered),
  // handed to the engine after it.
  void on_sa_event(const sa::SaEvent& event) override { sa_events_.push_back(event); }

 private:
  ike::Connection connection(const gateway::ConnectionConfig& cc, uint32_t id) {
    ike::Connection c;
    c.name = cc.name;
    c.local_address = cc.local;
    c.remote_address = cc.remote;
    c.local_id = take(gateway::identity_of(cc.local_id), cc.name + ": local_id");
    c.local_auth =
        cc.auth == gateway::ConnectionConfig::Auth::psk ? ike::LocalAuth::psk : ike::LocalAuth::signature;
    c.peer = id;
    c.ike_proposals =
        take(ike::parse_proposals(cc.proposals, wire::ProtocolId::ike), cc.name + ": proposals");
    c.ike_lifetime.rekey = cc.ike_rekey_time;
    c.ike_lifetime.reauth = cc.reauth_time;
    c.ike_lifetime.jitter = cc.rand_time;
    c.dpd_delay = cc.dpd_delay;
    c.dpd_action = cc.dpd_action;
    ike::ChildConfig child;
    child.proposals =
        take(ike::parse_proposals(cc.esp_proposals, wire::ProtocolId::esp), cc.name + ": esp_proposals");
    for (const IpPrefix& p : cc.local_ts) child.local_ts.push_back({.addresses = sa::AddressRange::of(p)});
    for (const IpPrefix& p : cc.remote_ts) child.remote_ts.push_back({.addresses = sa::AddressRange::of(p)});
    child.mode = esp::Mode::tunnel;
    child.reqid = id;
    child.lifetime.soft = cc.rekey_time;
    child.lifetime.hard = cc.life_time;
    child.rekey_jitter = cc.rand_time;
    child.limits = {cc.rekey_bytes, cc.life_bytes, cc.rekey_packets, cc.life_packets};
    c.children.push_back(std::move(child));
    return c;
  }

  void add_pad_entry(const gateway::ConnectionConfig& cc, uint32_t id) {
    sa::PadEntryConfig pc;
    pc.id = id;
    if (cc.auth == gateway::ConnectionConfig::Auth::pubkey) {
      pc.auth = signature_methods();
      pc.trust_anchors = anchor_ids_;
      pc.id_must_match_certificate = true;
    } else {
      pc.auth = sa::AuthMethodSet().allow(wire::AuthMethod::shared_key_mic);
      pc.psk = as_bytes(std::string_view(cc.psk));
    }
    std::vector<sa::Selector> children;
    for (const IpPrefix& l : cc.local_ts) {
      for (const IpPrefix& r : cc.remote_ts) {
        if (l.family() != r.family()) continue;
        sa::Selector sel;
        sel.local = sa::AddressRange::of(l);
        sel.remote = sa::AddressRange::of(r);
        children.push_back(sel);
      }
    }
    pc.children = children;
    auto entry =
        take(sa::PadEntry::make(take(gateway::id_pattern_of(cc.remote_id), cc.name + ": remote_id"), pc),
             cc.name + ": PAD entry");
    if (const Status s = pad_.add(std::move(entry)); !s.ok()) die(cc.name + ": PAD: " + why(s));
  }

  void load_credentials() {
    if (config_.cert.empty()) return;
    chain_.push_back(load_certificate(config_.cert));
    for (const std::string& c : config_.cert_chain) chain_.push_back(load_certificate(c));
    key_ = take(crypto::PrivateKey::parse(read_file(config_.key)), "private key " + config_.key);
    anchor_storage_.reserve(config_.ca.size());
    for (const std::string& c : config_.ca) anchor_storage_.push_back(load_certificate(c));
    for (size_t i = 0; i < anchor_storage_.size(); ++i) {
      anchor_ids_.push_back(static_cast<uint32_t>(i + 1));
      anchors_.push_back({anchor_ids_.back(), &anchor_storage_[i]});
    }
  }

  const LocalSockets* sockets_of(const IpAddress& a) const {
    for (const LocalSockets& s : sockets_) {
      if (s.address == a) return &s;
    }
    return nullptr;
  }

  // rearm: the next packet for the connection's reqid raises ACQUIRE again
  // (its negotiation failed or its SAs are gone).
  void rearm(std::string_view connection) {
    for (size_t i = 0; i < config_.connections.size(); ++i) {
      if (config_.connections[i].name == connection) datapath_->clear_acquire(static_cast<uint32_t>(i + 1));
    }
  }

  // start_action of the connection with this reqid.
  gateway::ConnectionConfig::StartAction start_action(uint32_t reqid) const {
    return reqid >= 1 && reqid <= config_.connections.size() ? config_.connections[reqid - 1].start_action
                                                             : gateway::ConnectionConfig::StartAction::none;
  }

  // outbound: a plaintext packet from the TUN device at pb.data().
  void outbound(PacketBuffer& pb, Timestamp t) {
    const size_t size = pb.size();
    sa::DatapathResult r;
    {
      auto rs = datapath_->enter(0);
      r = datapath_->outbound(rs, pb);
    }
    switch (r.verdict) {
      case sa::Verdict::send:
        tun_in_.add(size);
        transmit(pb, r);
        break;
      case sa::Verdict::acquire:
        // RFC 4301 5.1 step 3b: hold the packet; ask IKE for the SA
        // (trap connections only: the others set their SAs up by themselves).
        (void)held_->hold(r.reqid, pb.data(), t);
        if (r.first_acquire && start_action(r.reqid) == gateway::ConnectionConfig::StartAction::trap) {
          if (const Status s = engine_->acquire(r.reqid, t, *this); !s.ok()) {
            say("acquire failed: ", why(s));
            datapath_->clear_acquire(r.reqid);
          }
        }
        break;
      default: break;  // counted by the datapath (status line)
    }
  }

  // transmit: a sealed packet: pb holds outer IP [UDP] ESP; the socket of
  // its source address sends it from the ESP header (the kernel writes the
  // IP and UDP headers itself).
  void transmit(PacketBuffer& pb, const sa::DatapathResult& r) {
    const ByteView p = pb.data();
    const bool v4 = (p[0] >> 4) == 4;
    const size_t ip_size = v4 ? size_t{20} : size_t{40};  // the datapath writes no options
    auto src = IpAddress::from_bytes(v4 ? p.subspan(12, 4) : p.subspan(8, 16));
    auto dst = IpAddress::from_bytes(v4 ? p.subspan(16, 4) : p.subspan(24, 16));
    const LocalSockets* s = src ? sockets_of(*src) : nullptr;
    if (s == nullptr || !dst) {
      ++esp_send_failed_;
      return;
    }
    const bool udp = r.esp_offset >= 8 && r.esp_offset - 8 >= ip_size;
    const uint16_t port = udp ? load_be16(p.subspan(r.esp_offset - 6).first<2>()) : 0;
    sockaddr_storage to{};
    const socklen_t to_size = to_sockaddr({*dst, port}, &to);
    if (sends_.full()) flush();
    sends_.add(udp ? s->udp4500 : s->esp, to, to_size, p.subspan(r.esp_offset));
    esp_out_.add(p.size() - r.esp_offset);
  }

  // flush: the queued ESP packets go out.
  void flush() {
    const size_t failed = sends_.flush();
    if (failed != 0 && esp_send_failed_ == 0) say("ESP send failed: ", std::strerror(errno));
    esp_send_failed_ += failed;
  }

  MutableByteView slot_of(size_t i) { return MutableByteView(burst_).subspan(i * kSlot, kSlot); }

  // inbound: an ESP packet from a socket at pb.data().
  void inbound(PacketBuffer& pb, uint8_t ecn) {
    const size_t size = pb.size();
    sa::DatapathResult r;
    {
      auto rs = datapath_->enter(0);
      r = datapath_->inbound_esp(rs, pb, ecn);
    }
    if (r.verdict != sa::Verdict::deliver) return;  // counted by the datapath
    esp_in_.add(size);
    if (::write(tun_, pb.data().data(), pb.size()) < 0) {
      if (tun_write_failed_++ == 0) say("TUN write failed: ", std::strerror(errno));
      return;
    }
    tun_out_.add(pb.size());
  }

  // release_held: packets held during the ACQUIRE of reqid go out now.
  void release_held(uint32_t reqid) {
    const Timestamp t = now();
    held_->release(reqid, [&](ByteView packet) {
      auto pb = PacketBuffer::over(release_buf_, kHeadroom, packet.size());
      if (!pb) return;
      (void)copy_bytes(pb->data(), packet);
      outbound(*pb, t);
      flush();  // before release_buf_ takes the next packet
    });
  }

  void receive_udp(LocalSockets& s, int fd, uint16_t port);
  void receive_esp(LocalSockets& s);
  void read_tun();
  void timers();
  std::optional<Timestamp> next_keepalive() const;
  std::string status_line() const;

  const gateway::GatewayConfig& config_;
  crypto::DefaultProvider provider_;
  crypto::SystemRng rng_;
  std::vector<crypto::Certificate> chain_, anchor_storage_;
  std::vector<ike::TrustAnchor> anchors_;
  std::vector<uint32_t> anchor_ids_;
  std::optional<crypto::PrivateKey> key_;
  sa::Pad pad_;
  std::unique_ptr<sa::Datapath> datapath_;
  std::unique_ptr<ike::SadSpiAllocator> spis_;
  std::unique_ptr<ike::IkeEngine> engine_;
  std::optional<sa::AcquireQueue> held_;
  std::vector<sa::SaEvent> sa_events_;
  gateway::KeyExport keys_;
  std::vector<LocalSockets> sockets_;
  int tun_ = -1;
  std::vector<uint64_t> up_;  // established IKE SAs (closed on exit)
  // NAT-keepalives (RFC 3948 4) of the IKE SAs that found us behind a NAT:
  // one 0xFF octet on the 4500 mapping when no IKE message used it for an
  // interval (ESP the loop does not track: a keepalive is one octet).
  struct Keepalive {
    uint64_t ike_sa = 0;
    ike::Path path;
    Timestamp last_sent;
    Duration interval;
  };
  std::vector<Keepalive> keepalives_;
  // Packets land behind ESP's headroom, one per slot of a burst: ESP works
  // in place, and a burst leaves with one sendmmsg.
  std::vector<uint8_t> burst_ = std::vector<uint8_t>(gateway::kBurst * kSlot);
  std::vector<uint8_t> release_buf_ = std::vector<uint8_t>(kSlot);
  gateway::SendBatch sends_;
  gateway::RecvBatch recv_;
  Traffic tun_in_, tun_out_, esp_in_, esp_out_;
  uint64_t esp_send_failed_ = 0, tun_write_failed_ = 0;  // the first of each is logged
};

void Gateway::receive_udp(LocalSockets& s, int fd, uint16_t port) {
  uint32_t ignored = 0;
  for (int round = 0; round < 2; ++round) {  // bounded: the other descriptors wait meanwhile
    const size_t n = recv_.receive(fd, burst_, kSlot, kHeadroom, kMaxPacket,
                                   port == kNattPort ? s.udp4500_drops : ignored);
    for (size_t i = 0; i < n; ++i) {
      const auto peer = from_sockaddr(recv_.from(i));
      if (!peer) continue;
      const MutableByteView slot = slot_of(i);
      const MutableByteView data = slot.subspan(kHeadroom, recv_.length(i));
      if (port == kNattPort) {
        // RFC 3948 2.2: ESP, IKE behind the non-ESP marker, or a keepalive.
        auto kind = wire::classify_udp4500(data);
        if (!kind || kind->kind == wire::NattKind::keepalive) continue;
        if (kind->kind == wire::NattKind::esp) {
          auto pb = PacketBuffer::over(slot, kHeadroom, recv_.length(i));
          if (pb) inbound(*pb, 0);
          continue;
        }
      }
      engine_->receive(now(), ike::Path{{s.address, port}, *peer}, data, *this);
    }
    if (n < gateway::kBurst) return;
  }
}

void Gateway::receive_esp(LocalSockets& s) {
  for (int round = 0; round < 2; ++round) {
    const size_t n = recv_.receive(s.esp, burst_, kSlot, kHeadroom, kMaxPacket, s.esp_drops);
    for (size_t i = 0; i < n; ++i) {
      const MutableByteView slot = slot_of(i);
      const size_t length = recv_.length(i);
      size_t offset = 0;
      uint8_t ecn = 0;
      if (s.address.is_v4()) {
        // An IPv4 raw socket hands over the IP header too.
        const ByteView p = slot.subspan(kHeadroom, length);
        if (p.size() < 20) continue;
        offset = size_t{4} * (p[0] & 15u);
        ecn = p[1] & 3u;
        if (offset < 20 || offset > p.size()) continue;
      }
      auto pb = PacketBuffer::over(slot, kHeadroom + offset, length - offset);
      if (pb) inbound(*pb, ecn);
    }
    if (n < gateway::kBurst) return;
  }
}

void Gateway::read_tun() {
  // One burst per wake-up (the other descriptors and the timers wait
  // meanwhile): each packet in its own slot, sealed in place, then all of
  // them sent with one sendmmsg.
  const Timestamp t = now();
  for (size_t i = 0; i < gateway::kBurst; ++i) {
    const MutableByteView slot = slot_of(i);
    const ssize_t n = ::read(tun_, slot.data() + kHeadroom, kMaxPacket);
    if (n <= 0) break;
    auto pb = PacketBuffer::over(slot, kHeadroom, static_cast<size_t>(n));
    if (pb) outbound(*pb, t);
  }
  flush();
}

void Gateway::timers() {
  const Timestamp t = now();
  if (auto due = engine_->next_timeout(); due && *due <= t) engine_->on_timer(t, *this);
  if (auto due = datapath_->next_deadline(); due && *due <= t) {
    datapath_->poll(t, *this);
    std::vector<sa::SaEvent> events;
    events.swap(sa_events_);
    for (const sa::SaEvent& e : events) engine_->on_sa_event(e, t, *this);
  }
  if (held_->size() != 0) (void)held_->expire(t);
  for (Keepalive& k : keepalives_) {
    if (!ike::keepalive_due(k.last_sent, t, k.interval)) continue;
    k.last_sent = t;
    const LocalSockets* s = sockets_of(k.path.local.address);
    if (s != nullptr && !send_to(s->udp4500, k.path.remote, wire::nat_keepalive()))
      say("NAT-keepalive failed: ", std::strerror(errno));
  }
}

std::optional<Timestamp> Gateway::next_keepalive() const {
  std::optional<Timestamp> next;
  for (const Keepalive& k : keepalives_) {
    const Timestamp due = k.last_sent + k.interval;
    if (!next || due < *next) next = due;
  }
  return next;
}

std::string Gateway::status_line() const {
  static constexpr const char* kDropNames[sa::kDropReasons] = {
      "policy",   "no_sa",     "unknown_spi", "selector_mismatch", "unprotected",
      "replayed", "integrity", "lifetime",    "malformed"};
  const sa::DatapathSnapshot snap = datapath_->snapshot();
  uint64_t drops = 0;
  std::string reasons;
  for (size_t i = 0; i < sa::kDropReasons; ++i) {
    const uint64_t n = snap.inbound.drops[i] + snap.outbound.drops[i];
    drops += n;
    if (n != 0)
      reasons += (reasons.empty() ? " (" : ", ") + std::string(kDropNames[i]) + " " + std::to_string(n);
  }
  if (!reasons.empty()) reasons += ")";
  uint64_t socket_drops = 0;
  for (const LocalSockets& s : sockets_) socket_drops += uint64_t{s.udp4500_drops} + s.esp_drops;
  return "status: " + std::to_string(engine_->ike_sa_count()) + " IKE SA(s), " +
         std::to_string(engine_->established_count()) + " established, " +
         std::to_string(engine_->child_sa_count()) + " child SA(s); tun " + config_.tun + ": in " +
         std::to_string(tun_in_.packets) + " packets " + std::to_string(tun_in_.bytes) + " bytes, out " +
         std::to_string(tun_out_.packets) + " packets " + std::to_string(tun_out_.bytes) +
         " bytes; esp: in " + std::to_string(esp_in_.packets) + ", out " + std::to_string(esp_out_.packets) +
         ", drops " + std::to_string(drops) + reasons + ", socket drops " + std::to_string(socket_drops);
}

int Gateway::run() {
  // Signals arrive through a signalfd, in the loop like everything else.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  const int sigfd = signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (sigfd < 0 || ep < 0) die(gateway::errno_text("signalfd/epoll"));
  // epoll data: the descriptor; the loop finds what it is.
  auto watch = [&](int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die(gateway::errno_text("epoll_ctl"));
  };
  watch(sigfd);
  watch(tun_);
  for (const LocalSockets& s : sockets_) {
    watch(s.udp500);
    watch(s.udp4500);
    watch(s.esp);
  }

  for (const gateway::ConnectionConfig& cc : config_.connections) {
    if (cc.start_action != gateway::ConnectionConfig::StartAction::start) continue;
    if (auto h = engine_->initiate(cc.name, now(), *this); !h)
      say("initiate " + cc.name + " failed: ", why(h.status()));
  }

  std::optional<Timestamp> close_until;
  while (true) {
    const Timestamp t = now();
    if (close_until && (engine_->ike_sa_count() == 0 || t >= *close_until)) {
      if (engine_->ike_sa_count() != 0) say("", "giving up waiting for the peers' answers to the Deletes");
      break;
    }
    std::optional<Timestamp> wake = engine_->next_timeout();
    for (const auto& d :
         {datapath_->next_deadline(), close_until, next_keepalive(),
          held_->size() != 0 ? std::optional<Timestamp>(t + std::chrono::seconds(1)) : std::nullopt}) {
      if (d && (!wake || *d < *wake)) wake = d;
    }
    int timeout_ms = -1;
    if (wake)
      timeout_ms =
          static_cast<int>(std::clamp<int64_t>(((*wake - t).count() + 999'999) / 1'000'000, 0, 60'000));
    epoll_event events[16];
    const int n = epoll_wait(ep, events, 16, timeout_ms);
    if (n < 0 && errno != EINTR) die(gateway::errno_text("epoll_wait"));
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == sigfd) {
        signalfd_siginfo si{};
        while (::read(sigfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
          if (si.ssi_signo == SIGUSR1) {
            say("", status_line());
          } else if (!close_until) {
            say("", status_line());
            say("", "signal: closing " + std::to_string(up_.size()) + " IKE SA(s)");
            close_until = now() + kCloseWait;
            for (uint64_t h : std::vector<uint64_t>(up_)) {
              if (const Status s = engine_->close(h, now(), *this); !s.ok()) say("close failed: ", why(s));
            }
          }
        }
      } else if (fd == tun_) {
        read_tun();
      } else {
        for (LocalSockets& s : sockets_) {
          if (fd == s.udp500) receive_udp(s, fd, kIkePort);
          if (fd == s.udp4500) receive_udp(s, fd, kNattPort);
          if (fd == s.esp) receive_esp(s);
        }
      }
    }
    timers();
  }
  const ike::EngineStats& st = engine_->stats();
  say("", "exit 0: received " + std::to_string(st.received) + ", dropped " + std::to_string(st.dropped) +
              ", retransmitted " + std::to_string(st.retransmitted) + ", established " +
              std::to_string(st.established) + "; " + status_line());
  close(ep);
  close(sigfd);
  for (const LocalSockets& s : sockets_) {
    close(s.udp500);
    close(s.udp4500);
    close(s.esp);
  }
  close(tun_);  // the device and its routes go with it
  return 0;
}

std::string duration_text(Duration d) {
  char b[32];
  std::snprintf(b, sizeof b, "%gs", std::chrono::duration<double>(d).count());
  return b;
}

// check_summary: what --check prints for each connection.
void print_summary(const gateway::GatewayConfig& c) {
  std::printf("gateway: tun %s mtu %u, routes %s%s\n", c.tun.c_str(), c.mtu, c.routes ? "yes" : "no",
              c.key_export.empty() ? "" : (", key export to " + c.key_export).c_str());
  for (const gateway::ConnectionConfig& cc : c.connections) {
    std::string ts;
    for (const IpPrefix& p : cc.local_ts) ts += (ts.empty() ? "" : ",") + str(p.to_text().view());
    ts += " === ";
    for (size_t i = 0; i < cc.remote_ts.size(); ++i)
      ts += (i ? "," : "") + str(cc.remote_ts[i].to_text().view());
    std::printf("connection %s: %s -> %s, %s, %s ... %s, IKE %s, ESP %s, %s, start_action %s\n",
                cc.name.c_str(), str(cc.local.to_text().view()).c_str(),
                cc.remote ? str(cc.remote->to_text().view()).c_str() : "%any",
                cc.auth == gateway::ConnectionConfig::Auth::psk ? "psk" : "pubkey", cc.local_id.c_str(),
                cc.remote_id.c_str(), cc.proposals.c_str(), cc.esp_proposals.c_str(), ts.c_str(),
                cc.start_action == gateway::ConnectionConfig::StartAction::start  ? "start"
                : cc.start_action == gateway::ConnectionConfig::StartAction::trap ? "trap"
                                                                                  : "none");
    std::printf("  rekey %s, life %s, IKE rekey %s, reauth %s, dpd %s\n",
                duration_text(cc.rekey_time).c_str(), duration_text(cc.life_time).c_str(),
                duration_text(cc.ike_rekey_time).c_str(), duration_text(cc.reauth_time).c_str(),
                duration_text(cc.dpd_delay).c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  output().program = "gateway";
  const Options opt = parse_options(argc, argv);
  output().name = opt.name;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string error;
  const std::optional<gateway::GatewayConfig> config = gateway::load_config(opt.config, error);
  if (!config) {
    std::fprintf(stderr, "gateway: %s\n", error.c_str());
    return 1;
  }
  Gateway gw(*config);
  gw.setup(opt.verbose);  // every identity, proposal and credential checked
  if (opt.check) {
    print_summary(*config);
    return 0;
  }
  gw.open();
  return gw.run();
}
