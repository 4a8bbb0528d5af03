// thread_pool.cc — persistent worker threads: poll briefly, then sleep, between jobs.
//
// One job at a time (submit_mutex_). A job is `ntasks` independent tasks claimed through an
// atomic counter, so uneven tasks balance themselves. The caller claims tasks too and then
// waits until every worker that joined the job has left it: after run() returns no worker
// still touches the job's function or counter (they live on the caller's stack).
#include "merclip/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MERCLIP_CPU_RELAX() _mm_pause()
#else
#define MERCLIP_CPU_RELAX() ((void)0)
#endif

#include "merclip/error.h"

namespace merclip {

namespace {

using Clock = std::chrono::steady_clock;

thread_local bool t_inside_pool_task = false;

int int_from_env(const char* name, int lo, int hi, int fallback) {
  const char* env = std::getenv(name);
  if (env == nullptr || *env == '\0') return fallback;
  char* end = nullptr;
  const long v = std::strtol(env, &end, 10);
  // An invalid value falls back to the default rather than failing the whole addon load.
  if (end == env || *end != '\0' || v < lo || v > hi) return fallback;
  return static_cast<int>(v);
}

int default_threads() {
  const unsigned hc = std::thread::hardware_concurrency();
  const int cores = hc == 0 ? 1 : static_cast<int>(std::min(hc, 1024u));
  return int_from_env("MERCLIP_NUM_THREADS", 1, 1024, cores);
}

// Polls `ready` for up to `us` microseconds; true as soon as it holds.
template <class Pred>
bool spin_until(Pred ready, int us) {
  if (us <= 0) return ready();
  const auto deadline = Clock::now() + std::chrono::microseconds(us);
  for (int i = 0;; ++i) {
    if (ready()) return true;
    MERCLIP_CPU_RELAX();
    if ((i & 63) == 63 && Clock::now() >= deadline) return ready();
  }
}

// Runs the job's tasks on this thread until none are left; records the first exception.
void drain(const std::function<void(int64_t)>& fn, std::atomic<int64_t>& next, int64_t ntasks,
           std::exception_ptr& error, std::mutex& mutex) {
  const bool was_inside = t_inside_pool_task;
  t_inside_pool_task = true;
  for (;;) {
    const int64_t t = next.fetch_add(1, std::memory_order_relaxed);
    if (t >= ntasks) break;
    try {
      fn(t);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex);
      if (!error) error = std::current_exception();
      next.store(ntasks, std::memory_order_relaxed);  // stop handing out tasks
    }
  }
  t_inside_pool_task = was_inside;
}

}  // namespace

ThreadPool::ThreadPool(int num_threads) {
  spin_us_ = int_from_env("MERCLIP_SPIN_US", 0, 100000, 200);
  const int workers = std::max(1, num_threads) - 1;
  workers_.reserve(static_cast<size_t>(workers));
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    generation_.fetch_add(1);
  }
  wake_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

ThreadPool& ThreadPool::global() {
  // Intentionally leaked: worker threads must not be joined from static destructors at process
  // exit (Node may unload the addon while libuv threads still run).
  static ThreadPool* pool = new ThreadPool(default_threads());
  return *pool;
}

int ThreadPool::active_threads() const {
  const int limit = __atomic_load_n(&active_limit_, __ATOMIC_RELAXED);
  return limit <= 0 ? size() : std::min(limit, size());
}

void ThreadPool::set_active_threads(int n) {
  __atomic_store_n(&active_limit_, n <= 0 ? 0 : std::min(n, size()), __ATOMIC_RELAXED);
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    // Poll for the next job for a short while, then sleep until one is posted.
    spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; }, spin_us_);
    const std::function<void(int64_t)>* fn;
    std::atomic<int64_t>* next;
    int64_t ntasks;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_cv_.wait(lock, [&] { return stop_ || generation_.load() != seen; });
      if (stop_) return;
      seen = generation_.load();
      // Only the first job_threads_ workers join, and only while the job is open.
      if (job_ == nullptr || index >= job_threads_) continue;
      fn = job_;
      next = next_task_;
      ntasks = job_tasks_;
      running_.fetch_add(1);
    }
    drain(*fn, *next, ntasks, error_, mutex_);
    if (running_.fetch_sub(1) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);  // pairs with the caller's predicate check
      done_cv_.notify_all();
    }
  }
}

void ThreadPool::run(int64_t ntasks, const std::function<void(int64_t task)>& fn) {
  if (ntasks <= 0) return;
  const int threads = static_cast<int>(std::min<int64_t>(active_threads(), ntasks));
  if (threads <= 1 || workers_.empty() || t_inside_pool_task) {
    // Serial: one thread, a single task, or a nested call from inside a task.
    for (int64_t t = 0; t < ntasks; ++t) fn(t);
    return;
  }
  std::lock_guard<std::mutex> submit(submit_mutex_);
  std::atomic<int64_t> next{0};
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    job_tasks_ = ntasks;
    job_threads_ = threads - 1;
    next_task_ = &next;
    error_ = nullptr;
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_cv_.notify_all();
  drain(fn, next, ntasks, error_, mutex_);
  {
    // Close the job so late wakers do not join, then wait for those that did.
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = nullptr;
  }
  if (!spin_until([&] { return running_.load(std::memory_order_acquire) == 0; }, spin_us_)) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_cv_.wait(lock, [&] { return running_.load() == 0; });
  }
  std::exception_ptr error;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    next_task_ = nullptr;
    error = error_;
    error_ = nullptr;
  }
  if (error) std::rethrow_exception(error);
}

void ThreadPool::parallel_for(int64_t begin, int64_t end, int64_t grain,
                              const std::function<void(int64_t lo, int64_t hi)>& fn) {
  if (end <= begin) return;
  const int64_t n = end - begin;
  grain = std::max<int64_t>(grain, 1);
  // floor(n / grain) chunks keeps every chunk at least `grain` long (as the header promises).
  const int64_t chunks = std::min<int64_t>(active_threads(), std::max<int64_t>(1, n / grain));
  if (chunks <= 1 || t_inside_pool_task) {
    fn(begin, end);
    return;
  }
  run(chunks, [&](int64_t t) {
    const int64_t lo = begin + n * t / chunks;
    const int64_t hi = begin + n * (t + 1) / chunks;
    if (lo < hi) fn(lo, hi);
  });
}

}  // namespace merclip
