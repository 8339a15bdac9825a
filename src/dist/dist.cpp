// Dist on torch's c10d: TCPStore rendezvous, ProcessGroupGloo (CPU) / ProcessGroupNCCL (CUDA),
// flat-bucket all-reduce and the hook-driven overlapped gradient reducer. See dist.h.
// libtorch 1.13: ProcessGroupGloo derives from c10d::ProcessGroup and its header is compiled
// only under USE_C10D_GLOO (Debian's flags do not define it, the gloo headers decide here).
// libtorch 2.x: the backends derive from c10d::Backend; the CUDA wheels have NCCL, no gloo headers.
#include "dist/dist.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

#ifdef POPO_HAVE_GLOO
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
// The wheels define USE_C10D_NCCL; nccl.h itself may sit outside torch's include folder (pip's
// nvidia-nccl package), so test for it too rather than fail to compile.
#if defined(USE_C10D_NCCL) && __has_include(<nccl.h>)
#define POPO_HAVE_NCCL 1
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>

#include "core/error.h"
#include "core/log.h"

namespace popo {

#if TORCH_VERSION_MAJOR >= 2
using CommGroup = c10d::Backend;  // 2.x: ProcessGroupGloo/NCCL are Backends
#else
using CommGroup = c10d::ProcessGroup;  // 1.13: they are ProcessGroups
#endif

namespace {

// Returns the integer in environment variable name, or fallback when unset/empty.
int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  errno = 0;
  long x = std::strtol(v, &end, 10);
  POPO_CHECK(errno == 0 && end != v && *end == '\0' && x >= INT32_MIN && x <= INT32_MAX,
             "environment variable ", name, "=\"", v, "\" is not an integer");
  return static_cast<int>(x);
}

std::string env_str(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return (v == nullptr || *v == '\0') ? fallback : std::string(v);
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

// The dtype a tensor travels in: Gloo in 1.13 has no bfloat16, and half sums lose precision.
c10::ScalarType wire_dtype(c10::ScalarType t, bool gloo) {
  if (gloo && (t == c10::kBFloat16 || t == c10::kHalf)) return c10::kFloat;
  return t;
}

// Groups tensor indices into buckets of one (dtype, device) each and at most max_bytes (a tensor
// larger than max_bytes gets a bucket of its own). Order inside a bucket follows `order`.
std::vector<std::vector<size_t>> make_buckets(const std::vector<at::Tensor>& ts,
                                              const std::vector<size_t>& order, double bucket_mb) {
  const double max_bytes = std::max(bucket_mb, 1e-6) * 1024.0 * 1024.0;
  std::vector<std::vector<size_t>> buckets;
  std::map<std::pair<int, std::string>, std::pair<size_t, double>> open;  // key -> (bucket, bytes)
  for (size_t i : order) {
    const at::Tensor& t = ts[i];
    auto key = std::make_pair(static_cast<int>(t.scalar_type()), t.device().str());
    double bytes = static_cast<double>(t.numel()) * static_cast<double>(t.element_size());
    auto it = open.find(key);
    if (it == open.end() || it->second.second + bytes > max_bytes) {
      buckets.push_back({});
      it = open.insert_or_assign(key, std::make_pair(buckets.size() - 1, 0.0)).first;
    }
    buckets[it->second.first].push_back(i);
    it->second.second += bytes;
  }
  return buckets;
}

}  // namespace

DistConfig dist_config_from_env() {
  DistConfig cfg;
  cfg.world_size = env_int("WORLD_SIZE", 1);
  POPO_CHECK(cfg.world_size >= 1, "environment variable WORLD_SIZE=", cfg.world_size,
             " must be >= 1");
  cfg.rank = env_int("RANK", 0);
  POPO_CHECK(cfg.rank >= 0 && cfg.rank < cfg.world_size, "environment variable RANK=", cfg.rank,
             " must be in [0, WORLD_SIZE=", cfg.world_size, ")");
  cfg.local_rank = env_int("LOCAL_RANK", cfg.rank);
  POPO_CHECK(cfg.local_rank >= 0 && cfg.local_rank <= cfg.rank, "environment variable LOCAL_RANK=",
             cfg.local_rank, " must be in [0, RANK=", cfg.rank, "]");
  cfg.master_addr = env_str("MASTER_ADDR", cfg.master_addr);
  cfg.master_port = env_int("MASTER_PORT", cfg.master_port);
  POPO_CHECK(cfg.master_port >= 1 && cfg.master_port <= 65535, "environment variable MASTER_PORT=",
             cfg.master_port, " must be in 1..65535");
  cfg.timeout_s = env_int("POPO_DIST_TIMEOUT", cfg.timeout_s);
  POPO_CHECK(cfg.timeout_s >= 1, "environment variable POPO_DIST_TIMEOUT=", cfg.timeout_s,
             " must be >= 1 (seconds)");
  cfg.backend = env_str("POPO_DIST_BACKEND", cfg.backend);
  POPO_CHECK(cfg.backend == "auto" || cfg.backend == "gloo" || cfg.backend == "nccl",
             "environment variable POPO_DIST_BACKEND=\"", cfg.backend,
             "\": expected auto, gloo or nccl");
  return cfg;
}

// ---- Dist::Impl ------------------------------------------------------------------------------

struct Dist::Impl {
  DistConfig cfg;
  c10::Device device{c10::kCPU};
  std::string backend = "none";
  c10::Device comm_device{c10::kCPU};  // where the flat buffers live
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<CommGroup> pg;
  std::mutex mu;           // guards broken
  std::string broken;      // first failure message; non-empty = unusable

  bool gloo() const { return backend == "gloo"; }
  std::chrono::milliseconds timeout() const { return std::chrono::milliseconds(1000LL * cfg.timeout_s); }

  void check_usable() {
    std::lock_guard<std::mutex> lock(mu);
    POPO_CHECK(broken.empty(), "dist: process group unusable after an earlier failure: ", broken);
  }

  // Returns the message for a failed collective `op`, naming the likely culprit.
  std::string failure_message(const std::string& op, const std::string& what) const {
    std::string who = cfg.world_size == 2
                          ? "rank " + std::to_string(1 - cfg.rank)
                          : std::string("a peer rank");
    return detail::str_cat("dist: ", op, " failed on rank ", cfg.rank, " of ", cfg.world_size,
                           ": ", who, " exited or did not answer within ", cfg.timeout_s,
                           " s (", backend, ": ", what,
                           "). Check the other ranks' output; the timeout is POPO_DIST_TIMEOUT.");
  }

  // Waits for work; converts failures and timeouts into popo::Error and marks the group broken.
  void wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& op) {
    std::string what;
    try {
      // Gloo fails the work itself after its own timeout; the extra margin lets that error
      // (which names the peer address) win over Work's generic "Operation timed out!".
      if (work->wait(timeout() + std::chrono::milliseconds(2000))) return;
      what = "wait returned false";
    } catch (const c10::Error& e) {
      what = e.what_without_backtrace();
    } catch (const std::exception& e) {
      what = e.what();
    }
    // Keep the first line only: gloo messages carry long paths and backtraces.
    if (auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
    std::string msg = failure_message(op, what);
    {
      std::lock_guard<std::mutex> lock(mu);
      if (broken.empty()) broken = msg;
    }
    POPO_FAIL(msg);
  }

  // Starts an all-reduce (sum) of one flat comm-device tensor.
  c10::intrusive_ptr<c10d::Work> start_allreduce(at::Tensor& flat) {
    std::vector<at::Tensor> v{flat};
    c10d::AllreduceOptions opts;
    opts.reduceOp = c10d::ReduceOp::SUM;
    opts.timeout = timeout();
    return pg->allreduce(v, opts);
  }

  // Returns the tensors at idx packed into one flat tensor on the comm device in the wire dtype.
  at::Tensor pack(const std::vector<at::Tensor>& ts, const std::vector<size_t>& idx) {
    std::vector<at::Tensor> parts;
    parts.reserve(idx.size());
    for (size_t i : idx) parts.push_back(ts[i].reshape({-1}));
    at::Tensor flat = parts.size() == 1 ? parts[0].clone() : torch::cat(parts);  // [sum numel]
    return flat.to(comm_device, wire_dtype(flat.scalar_type(), gloo()));
  }
  // Copies flat (from pack) back into the tensors at idx.
  static void unpack(const at::Tensor& flat, const std::vector<at::Tensor>& ts,
                     const std::vector<size_t>& idx) {
    int64_t off = 0;
    for (size_t i : idx) {
      const at::Tensor& t = ts[i];
      int64_t n = t.numel();
      const_cast<at::Tensor&>(t).copy_(flat.narrow(0, off, n).view(t.sizes()));
      off += n;
    }
  }

  // Bucketed in-place collective over ts: op is "all_reduce" (sum) or "broadcast" from root.
  void bucketed(const std::vector<at::Tensor>& ts, const std::string& op, int root,
                double bucket_mb, double scale) {
    check_usable();
    std::vector<size_t> order(ts.size());
    for (size_t i = 0; i < ts.size(); ++i) {
      TORCH_CHECK(ts[i].defined(), "dist: ", op, ": tensor ", i, " is undefined");
      order[i] = i;
    }
    // One bucket in flight at a time: a failed peer then costs one timeout, not one per bucket
    // (Gloo cannot cancel queued work); each bucket is already pipelined inside Gloo/NCCL.
    for (const auto& idx : make_buckets(ts, order, bucket_mb)) {
      // A lone contiguous tensor already in place travels as itself (no pack/unpack copies).
      const at::Tensor& t0 = ts[idx[0]];
      const bool in_place = idx.size() == 1 && t0.is_contiguous() &&
                            t0.device() == comm_device &&
                            t0.scalar_type() == wire_dtype(t0.scalar_type(), gloo());
      at::Tensor flat = in_place ? t0.view({-1}) : pack(ts, idx);  // [numel]
      c10::intrusive_ptr<c10d::Work> work;
      if (op == "broadcast") {
        std::vector<at::Tensor> v{flat};
        c10d::BroadcastOptions opts;
        opts.rootRank = root;
        opts.timeout = timeout();
        work = pg->broadcast(v, opts);
      } else {
        work = start_allreduce(flat);
      }
      wait(work, op);
      if (scale != 1.0) flat.mul_(scale);
      if (!in_place) unpack(flat, ts, idx);
    }
  }
};

Dist::Dist(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Dist::~Dist() = default;

std::shared_ptr<Dist> Dist::create(const DistConfig& cfg, c10::Device device) {
  POPO_CHECK(cfg.world_size >= 1 && cfg.rank >= 0 && cfg.rank < cfg.world_size,
             "dist: rank ", cfg.rank, " must be in [0, world_size=", cfg.world_size, ")");
  POPO_CHECK(cfg.timeout_s >= 1, "dist: timeout_s=", cfg.timeout_s, " must be >= 1");
  auto impl = std::make_unique<Impl>();
  impl->cfg = cfg;
  impl->device = device;
  if (cfg.world_size == 1) return std::shared_ptr<Dist>(new Dist(std::move(impl)));

  std::string backend = cfg.backend;
  if (backend == "auto") {
#ifdef POPO_HAVE_NCCL
    backend = device.is_cuda() ? "nccl" : "gloo";
#else
    backend = "gloo";
#endif
  }
  POPO_CHECK(backend == "gloo" || backend == "nccl", "dist: backend \"", cfg.backend,
             "\": expected auto, gloo or nccl");

  // Rendezvous: rank 0 hosts the store and waits for all ranks to connect.
  c10d::TCPStoreOptions sopts;
  sopts.port = static_cast<std::uint16_t>(cfg.master_port);
  sopts.isServer = cfg.rank == 0;
  sopts.numWorkers = static_cast<std::size_t>(cfg.world_size);
  // Not waiting here: 1.13's wait gives up silently after the timeout, and the group creation
  // below waits for every peer's address anyway (once, with a clear error).
  sopts.waitWorkers = false;
  sopts.timeout = impl->timeout();
  try {
    impl->store = c10::make_intrusive<c10d::TCPStore>(cfg.master_addr, sopts);
  } catch (const std::exception& e) {
    std::string what = e.what();
    if (auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
    POPO_FAIL("dist: rendezvous at ", cfg.master_addr, ":", cfg.master_port, " failed on rank ",
              cfg.rank, " of ", cfg.world_size, " (timeout ", cfg.timeout_s, " s): ", what,
              cfg.rank == 0 ? ". Is the port free and did all ranks start?"
                            : ". Is rank 0 running and MASTER_ADDR/MASTER_PORT right?");
  }

  if (backend == "gloo") {
#ifdef POPO_HAVE_GLOO
    auto opts = c10d::ProcessGroupGloo::Options::create(impl->timeout());
    const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
    if (ifname != nullptr && *ifname != '\0') {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    } else if (is_loopback(cfg.master_addr)) {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    try {
      impl->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(impl->store, cfg.rank,
                                                             cfg.world_size, opts);
    } catch (const std::exception& e) {
      std::string what = e.what();
      if (auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
      POPO_FAIL("dist: rendezvous failed on rank ", cfg.rank, " of ", cfg.world_size,
                " while creating the Gloo group (timeout ", cfg.timeout_s, " s): ", what,
                ". Did all ", cfg.world_size, " ranks start with the same MASTER_ADDR, "
                "MASTER_PORT and WORLD_SIZE?");
    }
    impl->comm_device = c10::Device(c10::kCPU);
#else
    POPO_FAIL("dist: backend gloo requested but this build has no Gloo (gloo headers were not "
              "found at configure time); use backend nccl on CUDA");
#endif
  } else {
#ifdef POPO_HAVE_NCCL
    POPO_CHECK(device.is_cuda(), "dist: backend nccl needs a CUDA device, got ", device.str());
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = impl->timeout();
    impl->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl->store, cfg.rank, cfg.world_size,
                                                           opts);
    impl->comm_device = device;
#else
    POPO_FAIL("dist: backend nccl requested but this build has no NCCL (needs a libtorch with "
              "USE_C10D_NCCL and nccl.h on the include path)");
#endif
  }
  impl->backend = backend;
  auto dist = std::shared_ptr<Dist>(new Dist(std::move(impl)));
  LOG_INFO("rank ", cfg.rank, "/", cfg.world_size, " joined (", backend, ", ", cfg.master_addr,
           ":", cfg.master_port, ")");
  return dist;
}

int Dist::rank() const { return impl_->cfg.rank; }
int Dist::world_size() const { return impl_->cfg.world_size; }
bool Dist::is_main() const { return impl_->cfg.rank == 0; }
std::string Dist::backend() const { return impl_->backend; }
c10::Device Dist::device() const { return impl_->device; }

void Dist::all_reduce_sum(std::vector<at::Tensor>& tensors) {
  if (world_size() == 1) return;
  impl_->bucketed(tensors, "all_reduce", /*root=*/0, /*bucket_mb=*/25.0, /*scale=*/1.0);
}

double Dist::all_reduce_sum(double x) {
  if (world_size() == 1) return x;
  std::vector<at::Tensor> v{torch::full({1}, x, torch::dtype(torch::kFloat64))};
  impl_->bucketed(v, "all_reduce", 0, 1.0, 1.0);
  return v[0].item<double>();
}

void Dist::broadcast(std::vector<at::Tensor>& tensors, int root) {
  if (world_size() == 1) return;
  POPO_CHECK(root >= 0 && root < world_size(), "dist: broadcast root ", root,
             " must be in [0, ", world_size(), ")");
  impl_->bucketed(tensors, "broadcast", root, 25.0, 1.0);
}

void Dist::barrier() {
  if (world_size() == 1) return;
  // An all-reduce of one number: works the same on Gloo and NCCL and goes through the same
  // timeout handling (NCCL's barrier() guesses a device from the rank).
  std::vector<at::Tensor> v{torch::zeros({1}, torch::dtype(torch::kFloat32).device(impl_->comm_device))};
  impl_->bucketed(v, "barrier", 0, 1.0, 1.0);
}

void Dist::all_gather(const at::Tensor& in, at::Tensor& out) {
  const int64_t n = in.numel(), w = world_size();
  TORCH_CHECK(out.numel() == w * n, "dist: all_gather: out has ", out.numel(), " elements, expected ", w, " x ", n);
  if (w == 1) {
    out.view({-1}).copy_(in.view({-1}));
    return;
  }
  impl_->check_usable();
  at::Tensor src = in.reshape({-1}).to(impl_->comm_device, wire_dtype(in.scalar_type(), impl_->gloo())).contiguous();
  std::vector<std::vector<at::Tensor>> outs(1);
  for (int64_t r = 0; r < w; ++r) outs[0].push_back(torch::empty_like(src));
  std::vector<at::Tensor> ins{src};
  c10d::AllgatherOptions opts;
  opts.timeout = impl_->timeout();
  impl_->wait(impl_->pg->allgather(outs, ins, opts), "all_gather");
  at::Tensor flat = out.view({-1});
  for (int64_t r = 0; r < w; ++r) flat.narrow(0, r * n, n).copy_(outs[0][size_t(r)]);
}

void Dist::reduce_scatter_sum(at::Tensor& in, at::Tensor& out) {
  const int64_t n = out.numel(), w = world_size();
  TORCH_CHECK(in.numel() == w * n, "dist: reduce_scatter_sum: in has ", in.numel(), " elements, expected ", w,
              " x ", n);
  if (w == 1) {
    out.view({-1}).copy_(in.view({-1}));
    return;
  }
  impl_->check_usable();
#ifdef POPO_HAVE_NCCL
  if (impl_->backend == "nccl") {
    at::Tensor src = in.reshape({-1}).to(impl_->comm_device).contiguous();
    std::vector<std::vector<at::Tensor>> chunks(1);
    for (int64_t r = 0; r < w; ++r) chunks[0].push_back(src.narrow(0, r * n, n));
    at::Tensor dst = torch::empty({n}, src.options());
    std::vector<at::Tensor> outs{dst};
    c10d::ReduceScatterOptions opts;
    opts.reduceOp = c10d::ReduceOp::SUM;
    opts.timeout = impl_->timeout();
    impl_->wait(impl_->pg->reduce_scatter(outs, chunks, opts), "reduce_scatter");
    out.view({-1}).copy_(dst);
    return;
  }
#endif
  std::vector<at::Tensor> v{in.view({-1})};
  impl_->bucketed(v, "reduce_scatter (all-reduce)", 0, 1e9, 1.0);
  out.view({-1}).copy_(in.view({-1}).narrow(0, int64_t(rank()) * n, n));
}

void Dist::all_reduce_gradients(const std::vector<at::Tensor>& params, bool average,
                                double bucket_mb) {
  if (world_size() == 1) return;
  std::vector<at::Tensor> grads;
  grads.reserve(params.size());
  for (const auto& p : params) {
    at::Tensor& g = const_cast<at::Tensor&>(p).mutable_grad();
    if (!g.defined()) g = torch::zeros_like(p);
    grads.push_back(g);
  }
  impl_->bucketed(grads, "all_reduce_gradients", 0, bucket_mb,
                  average ? 1.0 / world_size() : 1.0);
}

}  // namespace popo
