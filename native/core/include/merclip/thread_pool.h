// merclip/thread_pool.h — a small persistent thread pool.
//
// - Size: MERCLIP_NUM_THREADS if set (1 … 1024), otherwise std::thread::hardware_concurrency().
// - Between jobs a worker polls for new work for a short while (MERCLIP_SPIN_US, default
//   200 µs: back-to-back kernel phases then hand over in ~1 µs instead of a ~50 µs futex
//   wake-up on these VMs), then sleeps on a condition variable. Idle threads sleep.
// - run(ntasks, fn): calls fn(task) for every task in [0, ntasks), spread over at most
//   active_threads() threads (the calling thread takes part), and returns when all are done.
//   The first exception thrown by a task is re-thrown in the caller after the others finish.
// - Jobs from different caller threads (e.g. the JS thread and libuv workers) are serialised
//   by a mutex; a run() issued from inside a task executes inline on that thread (no deadlock).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace merclip {

class ThreadPool {
 public:
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // The process-wide pool, created on first use.
  static ThreadPool& global();

  // Threads the pool owns, counting the caller (>= 1).
  int size() const { return static_cast<int>(workers_.size()) + 1; }
  // Threads a job may use now: min(size(), the limit set by set_active_threads()).
  int active_threads() const;
  // Limits the threads later jobs use (1 … size(); 0 or less restores size()).
  void set_active_threads(int n);

  void run(int64_t ntasks, const std::function<void(int64_t task)>& fn);

  // Splits [begin, end) into at most active_threads() contiguous chunks of at least
  // `grain` items and calls fn(lo, hi) for each.
  void parallel_for(int64_t begin, int64_t end, int64_t grain,
                    const std::function<void(int64_t lo, int64_t hi)>& fn);

 private:
  void worker_loop(int index);
  void work_on_current_job();

  std::vector<std::thread> workers_;
  std::mutex submit_mutex_;  // one job at a time
  std::mutex mutex_;
  std::condition_variable wake_cv_;
  std::condition_variable done_cv_;
  bool stop_ = false;
  std::atomic<uint64_t> generation_{0};
  int spin_us_ = 200;
  int active_limit_ = 0;  // 0 = no limit

  // Current job (guarded by mutex_ for setup; tasks claimed with next_task_).
  const std::function<void(int64_t)>* job_ = nullptr;
  int64_t job_tasks_ = 0;
  int job_threads_ = 0;  // workers allowed to join this job
  std::atomic<int64_t>* next_task_ = nullptr;
  std::atomic<int> running_{0};
  std::exception_ptr error_;
};

// Convenience over the global pool.
inline void parallel_for(int64_t begin, int64_t end, int64_t grain,
                         const std::function<void(int64_t lo, int64_t hi)>& fn) {
  ThreadPool::global().parallel_for(begin, end, grain, fn);
}

}  // namespace merclip
