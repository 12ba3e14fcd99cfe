// SPDX-License-Identifier: Apache-2.0
// The gateway's Linux plumbing outside the library: a TUN device (plain IP
// packets, no packet information header), its MTU and up state, routes
// through it (rtnetlink), and raw ESP sockets. Each call returns an error
// text (empty on success) instead of exiting, so the gateway can undo what
// it did before.
#pragma once

#include <ipsec/ipsec.hpp>

#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <span>
#include <string>

namespace gateway {

inline std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// open_tun: a new TUN device `name` (IFF_TUN | IFF_NO_PI), non-blocking;
// it disappears when the descriptor is closed. -1 and `error` on failure.
inline int open_tun(const std::string& name, std::string& error) {
  const int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    error = errno_text("open /dev/net/tun");
    return -1;
  }
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
    error = errno_text("TUNSETIFF " + name);
    close(fd);
    return -1;
  }
  return fd;
}

// kTunQueue: packets the kernel queues for us on the TUN device before it
// drops (its default, 500, overflows while the loop is busy sealing a
// burst, and each drop costs a TCP stream a retransmission).
inline constexpr int kTunQueue = 4096;

// link_up: set the device's MTU and queue length and bring it up.
inline std::string link_up(const std::string& name, uint32_t mtu) {
  const int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return errno_text("socket");
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  ifr.ifr_mtu = static_cast<int>(mtu);
  std::string error;
  if (ioctl(s, SIOCSIFMTU, &ifr) != 0) {
    error = errno_text("SIOCSIFMTU " + name);
  } else if (ifr.ifr_qlen = kTunQueue; ioctl(s, SIOCSIFTXQLEN, &ifr) != 0) {
    error = errno_text("SIOCSIFTXQLEN " + name);
  } else if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) {
    error = errno_text("SIOCGIFFLAGS " + name);
  } else {
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) error = errno_text("SIOCSIFFLAGS " + name);
  }
  close(s);
  return error;
}

// add_route: `prefix` via the device with index `ifindex` in the main table
// (RTM_NEWROUTE, replacing a route to the same prefix). The route goes
// away with the device.
inline std::string add_route(unsigned ifindex, const ipsec::IpPrefix& prefix) {
  const int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (s < 0) return errno_text("netlink socket");
  struct Request {
    nlmsghdr header;
    rtmsg route;
    alignas(NLMSG_ALIGNTO) unsigned char attributes[64];
  } request{};
  const bool v4 = prefix.address().is_v4();
  request.header.nlmsg_type = RTM_NEWROUTE;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
  request.header.nlmsg_seq = 1;
  request.route.rtm_family = static_cast<unsigned char>(v4 ? AF_INET : AF_INET6);
  request.route.rtm_dst_len = static_cast<unsigned char>(prefix.length());
  request.route.rtm_table = RT_TABLE_MAIN;
  request.route.rtm_protocol = RTPROT_STATIC;
  request.route.rtm_scope = RT_SCOPE_LINK;
  request.route.rtm_type = RTN_UNICAST;
  size_t used = 0;
  auto put = [&](unsigned short type, const void* data, size_t size) {
    rtattr attribute{};
    attribute.rta_type = type;
    attribute.rta_len = static_cast<unsigned short>(RTA_LENGTH(size));
    std::memcpy(request.attributes + used, &attribute, sizeof attribute);
    std::memcpy(request.attributes + used + RTA_LENGTH(0), data, size);
    used += RTA_SPACE(size);
  };
  put(RTA_DST, prefix.address().bytes().data(), prefix.address().size());
  const uint32_t oif = ifindex;
  put(RTA_OIF, &oif, sizeof oif);
  request.header.nlmsg_len = static_cast<uint32_t>(NLMSG_LENGTH(sizeof(rtmsg)) + used);

  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  std::string error;
  if (sendto(s, &request, request.header.nlmsg_len, 0, reinterpret_cast<const sockaddr*>(&kernel),
             sizeof kernel) < 0) {
    error = errno_text("RTM_NEWROUTE");
  } else {
    alignas(nlmsghdr) unsigned char reply[1024];
    const ssize_t n = recv(s, reply, sizeof reply, 0);
    nlmsghdr ack{};
    nlmsgerr result{};
    if (n < static_cast<ssize_t>(NLMSG_LENGTH(sizeof result))) {
      error = errno_text("RTM_NEWROUTE: no answer");
    } else {
      std::memcpy(&ack, reply, sizeof ack);
      std::memcpy(&result, reply + NLMSG_HDRLEN, sizeof result);
      if (ack.nlmsg_type == NLMSG_ERROR && result.error != 0) {
        errno = -result.error;
        error = errno_text("RTM_NEWROUTE");
      }
    }
  }
  close(s);
  return error;
}

// kSocketBuffer: receive and send buffers of the ESP-carrying sockets. The
// kernel's default (about 200 KiB) overflows under a TCP stream through the
// tunnel, and each overflow is a lost ESP packet.
inline constexpr int kSocketBuffer = 4 << 20;

// prepare_datapath_socket: large buffers (the FORCE variants as root, else
// up to the sysctl maximum) and SO_RXQ_OVFL, so that each recvmsg reports
// how many datagrams the socket has dropped so far.
inline void prepare_datapath_socket(int fd) {
  const int size = kSocketBuffer, one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  (void)setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
}

// kBurst: datagrams per sendmmsg/recvmmsg (one system call for a burst
// instead of one per packet).
inline constexpr size_t kBurst = 32;

// SendBatch: datagrams queued with their socket and destination, sent by
// flush() with one sendmmsg per run of datagrams for the same socket. The
// bytes are not copied: they must stay put until flush().
class SendBatch {
 public:
  [[nodiscard]] bool full() const noexcept { return count_ == kBurst; }
  void add(int fd, const sockaddr_storage& to, socklen_t to_size, std::span<const uint8_t> bytes) noexcept {
    to_[count_] = to;
    iov_[count_] = iovec{const_cast<uint8_t*>(bytes.data()), bytes.size()};  // sendmmsg does not write
    msgs_[count_] = mmsghdr{};
    msgs_[count_].msg_hdr.msg_name = &to_[count_];
    msgs_[count_].msg_hdr.msg_namelen = to_size;
    msgs_[count_].msg_hdr.msg_iov = &iov_[count_];
    msgs_[count_].msg_hdr.msg_iovlen = 1;
    fd_[count_] = fd;
    ++count_;
  }
  // flush: send what is queued; returns how many datagrams the kernel
  // refused (errno tells the last reason). A full socket buffer drops, as a
  // router's queue would.
  size_t flush() noexcept {
    size_t failed = 0;
    for (size_t i = 0; i < count_;) {
      size_t end = i;
      while (end < count_ && fd_[end] == fd_[i]) ++end;
      while (i < end) {
        const int sent = sendmmsg(fd_[i], &msgs_[i], static_cast<unsigned>(end - i), 0);
        if (sent <= 0) {  // the first of them failed: skip it, try the rest
          ++failed;
          ++i;
        } else {
          i += static_cast<size_t>(sent);
        }
      }
    }
    count_ = 0;
    return failed;
  }

 private:
  std::array<mmsghdr, kBurst> msgs_{};
  std::array<iovec, kBurst> iov_{};
  std::array<sockaddr_storage, kBurst> to_{};
  std::array<int, kBurst> fd_{};
  size_t count_ = 0;
};

// RecvBatch: up to kBurst datagrams with one recvmmsg, each into its own
// slot of `storage` (slot i at i * slot_size + offset, at most `capacity`
// octets), with the sender and the socket's drop count (SO_RXQ_OVFL).
class RecvBatch {
 public:
  // receive: how many datagrams arrived (0: none waiting, or an error).
  size_t receive(int fd, std::span<uint8_t> storage, size_t slot_size, size_t offset, size_t capacity,
                 uint32_t& drops) noexcept {
    const size_t slots = std::min(kBurst, storage.size() / slot_size);
    for (size_t i = 0; i < slots; ++i) {
      iov_[i] = iovec{storage.data() + i * slot_size + offset, capacity};
      msgs_[i] = mmsghdr{};
      msgs_[i].msg_hdr.msg_name = &from_[i];
      msgs_[i].msg_hdr.msg_namelen = sizeof from_[i];
      msgs_[i].msg_hdr.msg_iov = &iov_[i];
      msgs_[i].msg_hdr.msg_iovlen = 1;
      msgs_[i].msg_hdr.msg_control = control_[i].data();
      msgs_[i].msg_hdr.msg_controllen = control_[i].size();
    }
    const int n = recvmmsg(fd, msgs_.data(), static_cast<unsigned>(slots), MSG_DONTWAIT, nullptr);
    if (n <= 0) return 0;
    for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
      msghdr& m = msgs_[i].msg_hdr;
      for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL &&
            c->cmsg_len >= CMSG_LEN(sizeof(uint32_t)))
          std::memcpy(&drops, CMSG_DATA(c), sizeof drops);
      }
    }
    return static_cast<size_t>(n);
  }
  [[nodiscard]] size_t length(size_t i) const noexcept { return msgs_[i].msg_len; }
  [[nodiscard]] const sockaddr_storage& from(size_t i) const noexcept { return from_[i]; }

 private:
  std::array<mmsghdr, kBurst> msgs_{};
  std::array<iovec, kBurst> iov_{};
  std::array<sockaddr_storage, kBurst> from_{};
  std::array<std::array<unsigned char, CMSG_SPACE(sizeof(uint32_t))>, kBurst> control_{};
};

// open_esp_socket: a raw IP protocol 50 socket bound to `local`, for ESP
// without UDP encapsulation. IPv4 raw sockets deliver the IP header in
// front of ESP; IPv6 ones do not.
inline int open_esp_socket(const ipsec::IpAddress& local, std::string& error) {
  const int fd =
      socket(local.is_v4() ? AF_INET : AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ESP);
  if (fd < 0) {
    error = errno_text("raw ESP socket");
    return -1;
  }
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (local.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    std::memcpy(&sin->sin_addr, local.bytes().data(), 4);
    len = sizeof *sin;
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    std::memcpy(&sin6->sin6_addr, local.bytes().data(), 16);
    len = sizeof *sin6;
  }
  if (bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
    error = errno_text("bind raw ESP socket");
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace gateway
