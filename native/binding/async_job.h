// native/binding/async_job.h — run a validated job on the JS thread or on a libuv worker.
//
// A Job is a plain struct (sharp's "baton"): the entry function fills it on the JS thread from
// validated arguments; `execute()` runs the core kernel and never touches JS; `result(env)`
// builds the return value on the JS thread. The typed arrays the job reads are pinned
// (persistent references) until the promise settles. Core errors become JS errors with the
// same classes as the synchronous path.
#pragma once

#include <napi.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "args.h"
#include "merclip/error.h"

namespace merclip_binding {

template <class Job>
Napi::Value run_sync(Napi::Env env, const char* fn, Job& job) {
  try {
    job.execute();
  } catch (...) {
    rethrow_core_error(env, fn);
  }
  return job.result(env);
}

template <class Job>
class AsyncJob : public Napi::AsyncWorker {
 public:
  AsyncJob(Napi::Env env, const char* fn, Job job, const std::vector<Napi::Value>& pins)
      : Napi::AsyncWorker(env, fn), fn_(fn), job_(std::move(job)),
        deferred_(Napi::Promise::Deferred::New(env)) {
    for (const Napi::Value& v : pins) pins_.push_back(Napi::Persistent(v));
  }

  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      job_.execute();
    } catch (const merclip::Error& e) {
      range_ = e.code() == merclip::ErrorCode::invalid_argument;
      SetError(std::string(fn_) + ": " + e.what() +
               (range_ ? "" : std::string(" [") + merclip::error_code_name(e.code()) + "]"));
    } catch (const std::bad_alloc&) {
      SetError(std::string(fn_) + ": out of memory");
    } catch (const std::exception& e) {
      SetError(std::string(fn_) + ": " + e.what());
    } catch (...) {
      SetError(std::string(fn_) + ": unknown native error");
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(job_.result(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }

  void OnError(const Napi::Error& e) override {
    Napi::Env env = Env();
    const std::string msg = e.Message();
    deferred_.Reject(range_ ? Napi::RangeError::New(env, msg).Value()
                            : Napi::Error::New(env, msg).Value());
  }

 private:
  const char* fn_;
  Job job_;
  Napi::Promise::Deferred deferred_;
  std::vector<Napi::Reference<Napi::Value>> pins_;
  bool range_ = false;
};

// Queues `job` on the libuv pool and returns its promise.
template <class Job>
Napi::Value run_async(Napi::Env env, const char* fn, Job job, const std::vector<Napi::Value>& pins) {
  auto* worker = new AsyncJob<Job>(env, fn, std::move(job), pins);
  Napi::Promise promise = worker->promise();
  worker->Queue();  // the worker deletes itself after OnOK/OnError
  return promise;
}

// A promise already rejected with `error` (validation failures of async entry points).
inline Napi::Value rejected(Napi::Env env, const Napi::Error& error) {
  Napi::Promise::Deferred d = Napi::Promise::Deferred::New(env);
  d.Reject(error.Value());
  return d.Promise();
}

// A job given as a closure over validated pointers and sizes (the kernels other than GEMM).
// `scalar`, when set, is returned as a JS number (e.g. the cross-entropy loss).
struct OpJob {
  std::function<void()> run;
  std::shared_ptr<float> scalar;
  std::shared_ptr<double> scalar64;  // a double result (takes precedence)
  void execute() { run(); }
  Napi::Value result(Napi::Env env) {
    if (scalar64) return Napi::Number::New(env, *scalar64);
    return scalar ? Napi::Number::New(env, *scalar) : env.Undefined();
  }
};

// The entry point of every binding that has a sync and an async form. Parse validates every
// argument and fills the job. Sync: invalid arguments throw. Async: they reject the promise.
template <class Job, void (*Parse)(Args&, Job&)>
Napi::Value entry(const Napi::CallbackInfo& info, const char* name, bool async) {
  if (!async) {
    Args args(info, name);
    Job job;
    Parse(args, job);
    return run_sync(info.Env(), name, job);
  }
  try {
    Args args(info, name);
    Job job;
    Parse(args, job);
    return run_async(info.Env(), name, std::move(job), args.pins());
  } catch (const Napi::Error& e) {
    return rejected(info.Env(), e);
  }
}

// Registers NAME (sync) and NAME "Async" for one Job/Parse pair.
#define MERCLIP_REGISTER_SYNC_ASYNC(env, exports, NAME, Job, Parse)                          \
  do {                                                                                      \
    (exports).Set(NAME, Napi::Function::New(                                                \
                            (env),                                                          \
                            [](const Napi::CallbackInfo& i) {                               \
                              return ::merclip_binding::entry<Job, Parse>(i, NAME, false);  \
                            },                                                              \
                            NAME));                                                         \
    (exports).Set(NAME "Async",                                                             \
                  Napi::Function::New(                                                      \
                      (env),                                                                \
                      [](const Napi::CallbackInfo& i) {                                     \
                        return ::merclip_binding::entry<Job, Parse>(i, NAME "Async", true); \
                      },                                                                    \
                      NAME "Async"));                                                       \
  } while (0)

}  // namespace merclip_binding
