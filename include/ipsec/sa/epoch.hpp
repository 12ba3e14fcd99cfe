// SPDX-License-Identifier: Apache-2.0
// Epoch-based reclamation: how the datapath reads the SPD and the SAD with
// no lock while the control thread replaces them.
//
// Datapath workers (a fixed number, each with its own index) bracket their
// packet processing in a ReadSection. The control thread publishes a new
// object with an atomic store and retires the old one; retired objects are
// freed by reclaim() only once every worker that could still hold a pointer
// to them has left its section. Nothing blocks or sleeps: reclaim() frees
// what it can and is called again later (on the next update or timer).
//
// Readers: enter (one store and a fence), exit (one store). The writer is a
// single control thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <vector>

#include "ipsec/core/result.hpp"

namespace ipsec::sa {

class EpochDomain;

// ReadSection: proof, passed to datapath calls, that the caller's worker is
// inside a read section. Not copyable; ends when destroyed.
class ReadSection {
 public:
  ReadSection(const ReadSection&) = delete;
  ReadSection& operator=(const ReadSection&) = delete;
  ReadSection(ReadSection&& o) noexcept : slot_(o.slot_) { o.slot_ = nullptr; }
  ~ReadSection() {
    if (slot_ != nullptr) slot_->store(0, std::memory_order_release);
  }
  [[nodiscard]] size_t worker() const noexcept { return worker_; }

 private:
  friend class EpochDomain;
  ReadSection(std::atomic<uint64_t>* slot, size_t worker) noexcept : slot_(slot), worker_(worker) {}
  std::atomic<uint64_t>* slot_;
  size_t worker_ = 0;
};

class EpochDomain {
 public:
  // workers: how many datapath threads may read at once (each uses its own
  // index 0..workers-1).
  explicit EpochDomain(size_t workers) : workers_(workers == 0 ? 1 : workers), slots_(new Slot[workers_]) {}
  EpochDomain(const EpochDomain&) = delete;
  EpochDomain& operator=(const EpochDomain&) = delete;
  ~EpochDomain() {
    for (Retired& r : retired_) r.destroy(r.object);
  }

  [[nodiscard]] size_t workers() const noexcept { return workers_; }

  // enter: start worker's read section. A worker must not nest sections or
  // use an index another thread uses at the same time (a contract: index out
  // of range traps).
  [[nodiscard]] ReadSection enter(size_t worker) noexcept {
    IPSEC_ASSERT(worker < workers_);
    std::atomic<uint64_t>& slot = slots_[worker].epoch;
    slot.store(global_.load(std::memory_order_acquire), std::memory_order_relaxed);
    // Pairs with the fence in reclaim(): either the writer sees this slot,
    // or this worker sees everything the writer unpublished before it.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return ReadSection(&slot, worker);
  }

  // retire: free `object` once no reader can hold it (it must already be
  // unreachable for new readers). Control thread only.
  template <typename T>
  void retire(T* object) {
    if (object == nullptr) return;
    const uint64_t epoch = global_.fetch_add(1, std::memory_order_acq_rel);
    retired_.push_back(Retired{object, [](void* p) { delete static_cast<T*>(p); }, epoch});
  }

  // reclaim: free every retired object no reader can still see; returns how
  // many remain. Control thread only.
  size_t reclaim() noexcept {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    uint64_t oldest = global_.load(std::memory_order_acquire);
    for (size_t i = 0; i < workers_; ++i) {
      const uint64_t e = slots_[i].epoch.load(std::memory_order_acquire);
      if (e != 0 && e < oldest) oldest = e;
    }
    size_t kept = 0;
    for (size_t i = 0; i < retired_.size(); ++i) {
      if (retired_[i].epoch < oldest) {
        retired_[i].destroy(retired_[i].object);
      } else {
        retired_[kept++] = retired_[i];
      }
    }
    retired_.resize(kept);
    return kept;
  }
  [[nodiscard]] size_t pending() const noexcept { return retired_.size(); }

 private:
  struct alignas(64) Slot {
    std::atomic<uint64_t> epoch{0};  // 0: not reading
  };
  struct Retired {
    void* object;
    void (*destroy)(void*);
    uint64_t epoch;
  };

  size_t workers_;
  std::unique_ptr<Slot[]> slots_;
  std::atomic<uint64_t> global_{1};
  std::vector<Retired> retired_;
};

}  // namespace ipsec::sa
