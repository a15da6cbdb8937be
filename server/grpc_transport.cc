// grpc_transport.cc — grpc++ server with one generic callback service: each call's request bytes go to
// the C handler, which finishes the call (now or later, from any thread) through rpc_call_finish.
#include "grpc_transport.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <grpc/grpc.h>
#include <grpcpp/alarm.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>

// ByteBuffer keeps the message's C buffer, which records how it came compressed, to itself and the
// friend this class is; grpc++ declares it (for its tests) and ships no definition, so the
// definition here is the only one.
namespace grpc::internal {
class GrpcByteBufferPeer {
  public:
    explicit GrpcByteBufferPeer(ByteBuffer *bb) : bb_(bb) {}
    grpc_byte_buffer *c_buffer() { return bb_->c_buffer(); }

  private:
    ByteBuffer *bb_;
};
} // namespace grpc::internal

// How long a call whose read failed waits before it is answered (see OnReadDone).
constexpr auto SETTLE = std::chrono::milliseconds(50);

// One call: a bidirectional generic stream from which we read exactly one message (every method we
// serve is unary) and to which we write at most one. Freed when grpc is done with it (OnDone) and
// every alarm it set has run.
struct rpc_call final : public grpc::ServerGenericBidiReactor {
    rpc_call(grpc::GenericCallbackServerContext *ctx, const rpc_transport_params &p, std::atomic<int> *live)
        : ctx_(ctx), handler_(p.handler), on_unread_(p.on_unread), hctx_(p.ctx), peer_(ctx->peer()),
          tag_(p.on_start(p.ctx)), start_(std::chrono::steady_clock::now()), live_(live)
    {
        live_->fetch_add(1);
        if (p.admit && p.admit(p.ctx, this, ctx->method().c_str()) != 0) {
            phase_.store(REFUSED); // answered: no read, no timer, nothing unread to report
            return;
        }
        // An open call costs memory (grpc's and ours) and, at shutdown, time: one that never sends
        // its message (headers only: a slowloris over HTTP/2) is ended at the read deadline.
        if (p.read_timeout_s > 0) {
            timeout_s_ = p.read_timeout_s;
            timer_armed_ = true;
            refs_.fetch_add(1, std::memory_order_relaxed);
            auto ms = std::chrono::milliseconds(static_cast<long long>(p.read_timeout_s * 1e3));
            read_timer_.Set(std::chrono::system_clock::now() + ms, [this](bool expired) {
                int waiting = WAITING;
                if (expired && phase_.compare_exchange_strong(waiting, TIMED_OUT)) {
                    char msg[120];
                    snprintf(msg, sizeof msg, "no request message within %g s of the call's start (--read-timeout-s)",
                             timeout_s_);
                    Finish(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, msg)); // the read then fails: ignored
                }
                Unref();
            });
        }
        StartRead(&req_); // last: OnReadDone reads timer_armed_
    }

    void OnReadDone(bool ok) override
    {
        int waiting = WAITING;
        if (!phase_.compare_exchange_strong(waiting, ok ? READ : UNREAD)) return; // timed out meanwhile
        if (timer_armed_) read_timer_.Cancel(); // its callback still runs (expired false) and unrefs
        if (!ok) {
            // No message: the client half-closed without one, or the call was cancelled (by the
            // client, or its deadline passed). The read can fail before grpc records the
            // cancellation, and answering first would record none, so the answer waits a moment;
            // OnDone then tells the two apart (IsCancelled) for the C side.
            refs_.fetch_add(1, std::memory_order_relaxed);
            settle_.Set(std::chrono::system_clock::now() + SETTLE, [this](bool) {
                Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request message received"));
                Unref();
            });
            return;
        }
        // A compressed message arrives as sent: grpc inflates none (GRPC_ARG_ENABLE_PER_MESSAGE_DECOMPRESSION
        // is off) and records its coding in the buffer.
        grpc_byte_buffer *raw = grpc::internal::GrpcByteBufferPeer(&req_).c_buffer();
        if (raw && raw->type == GRPC_BB_RAW) {
            grpc_compression_algorithm alg = raw->data.raw.compression;
            encoding_ = alg == GRPC_COMPRESS_GZIP      ? RPC_ENC_GZIP
                        : alg == GRPC_COMPRESS_DEFLATE ? RPC_ENC_DEFLATE
                                                       : RPC_ENC_IDENTITY;
        }
        // The message may arrive in several slices; the codec wants it contiguous.
        std::vector<grpc::Slice> slices;
        std::string flat;
        if (!req_.Dump(&slices).ok()) {
            handler_(hctx_, this, ctx_->method().c_str(), nullptr, 0);
            return;
        }
        const uint8_t *data = nullptr;
        size_t len = 0;
        if (slices.size() == 1) {
            data = slices[0].begin();
            len = slices[0].size();
        } else {
            try {
                flat.reserve(req_.Length());
                for (const grpc::Slice &s : slices) flat.append(reinterpret_cast<const char *>(s.begin()), s.size());
            } catch (const std::bad_alloc &) {
                handler_(hctx_, this, ctx_->method().c_str(), nullptr, 0);
                return;
            }
            data = reinterpret_cast<const uint8_t *>(flat.data());
            len = flat.size();
        }
        req_.Clear();
        handler_(hctx_, this, ctx_->method().c_str(), data ? data : reinterpret_cast<const uint8_t *>(""), len);
    }

    void Answer(int code, const char *message, const uint8_t *resp, size_t len)
    {
        if (code != RPC_OK) {
            Finish(grpc::Status(static_cast<grpc::StatusCode>(code), message ? message : ""));
            return;
        }
        grpc::Slice s(resp, len); // copied: the caller frees its buffer at once
        resp_ = grpc::ByteBuffer(&s, 1);
        StartWriteAndFinish(&resp_, grpc::WriteOptions(), grpc::Status::OK);
    }

    void OnDone() override
    {
        // Acquire what the thread that finished the call (a batcher worker, say) wrote before it.
        (void)finished_.load(std::memory_order_acquire);
        int phase = phase_.load();
        if (phase == UNREAD || phase == TIMED_OUT) {
            double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
            rpc_unread why = phase == TIMED_OUT    ? RPC_UNREAD_TIMEOUT
                             : ctx_->IsCancelled() ? RPC_UNREAD_CANCELLED
                                                   : RPC_UNREAD_NONE;
            on_unread_(hctx_, this, ctx_->method().c_str(), why, secs);
        }
        Unref();
    }

    void Unref()
    {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

    ~rpc_call() { live_->fetch_sub(1); }

    // Where the call is: waiting for its message, which went to the handler (READ), or never came
    // (UNREAD, TIMED_OUT: the transport answers and reports it), or was never asked for (REFUSED by
    // the admit hook, which answered). Read completion and timers race for it.
    enum { WAITING, READ, UNREAD, TIMED_OUT, REFUSED };

    grpc::GenericCallbackServerContext *ctx_;
    rpc_handler handler_;
    rpc_on_unread on_unread_;
    void *hctx_;
    std::string peer_;
    int tag_;
    std::chrono::steady_clock::time_point start_;
    std::atomic<int> *live_;   // the service's count of calls not yet freed
    std::atomic<int> phase_{WAITING};
    std::atomic<int> refs_{1}; // grpc's (dropped in OnDone), and one per alarm set and not yet run
    grpc::Alarm settle_, read_timer_;
    bool timer_armed_ = false;
    double timeout_s_ = 0;
    grpc::ByteBuffer req_, resp_;
    rpc_encoding encoding_ = RPC_ENC_IDENTITY; // the request message's, once read
    std::atomic<int> finished_{0};
};

namespace {

class Service final : public grpc::CallbackGenericService {
  public:
    explicit Service(const rpc_transport_params &p) : p_(p) {}
    grpc::ServerGenericBidiReactor *CreateReactor(grpc::GenericCallbackServerContext *ctx) override
    {
        return new rpc_call(ctx, p_, &live);
    }

    // Calls not yet freed: a call's alarms may still run after grpc is done with it (OnDone), so
    // rpc_transport_stop waits for this to reach 0 before the C side frees what they point to.
    std::atomic<int> live{0};

  private:
    rpc_transport_params p_;
};

} // namespace

struct rpc_transport {
    std::unique_ptr<Service> service;
    std::unique_ptr<grpc::Server> server;
    // Server::Shutdown blocks until every call is over, so it runs here, from the drain on.
    std::thread shutdown;
    std::mutex mu;
    std::condition_variable cv;
    bool shut_down = false;    // Shutdown has returned (under mu)
};

// Starts Server::Shutdown(now + grace_s) on t->shutdown, once: GOAWAY on every connection, the port
// closed, calls already begun go on; at the deadline grpc cancels those left. Throws std::system_error
// when no thread can be made.
static void start_shutdown(rpc_transport *t, double grace_s)
{
    if (t->shutdown.joinable()) return;
    auto deadline = std::chrono::system_clock::now() +
                    std::chrono::milliseconds(static_cast<long long>(grace_s > 0 ? grace_s * 1e3 : 0));
    t->shutdown = std::thread([t, deadline] {
        t->server->Shutdown(deadline);
        std::lock_guard<std::mutex> lock(t->mu);
        t->shut_down = true;
        t->cv.notify_all();
    });
}

extern "C" rpc_transport *rpc_transport_start(const rpc_transport_params *p, int *bound_port, char *err,
                                                size_t errlen)
{
    try {
        std::unique_ptr<rpc_transport> t(new rpc_transport);
        t->service.reset(new Service(*p));
        std::string host = p->host;
        if (host.find(':') != std::string::npos && host[0] != '[') host = "[" + host + "]"; // IPv6 literal
        std::string addr = host + ":" + std::to_string(p->port);
        std::shared_ptr<grpc::ServerCredentials> creds;
        if (p->tls_cert_pem) {
            grpc::SslServerCredentialsOptions opts;
            opts.pem_key_cert_pairs.push_back({p->tls_key_pem, p->tls_cert_pem});
            creds = grpc::SslServerCredentials(opts);
        } else {
            creds = grpc::InsecureServerCredentials();
        }
        grpc::ServerBuilder b;
        int port = 0;
        b.AddListeningPort(addr, creds, &port);
        b.RegisterCallbackGenericService(t->service.get());
        b.SetMaxReceiveMessageSize(p->max_recv > 0x7fffffff ? 0x7fffffff : static_cast<int>(p->max_recv));
        b.SetMaxSendMessageSize(-1);
        // Compressed requests (gzip, deflate) are taken but not inflated by grpc: grpc 1.51 inflates
        // a message whole, before any size limit or handler (or the API-key check) sees it, so a
        // 1 MB message could claim a gigabyte. With per-message decompression off the limit above
        // applies to the message as sent, and the handler inflates it with the bounds REST uses
        // (rpc_call_encoding says how it came). Responses go uncompressed (the default).
        b.AddChannelArgument(GRPC_ARG_ENABLE_PER_MESSAGE_DECOMPRESSION, 0);
        // Only the gRPC port: no SO_REUSEPORT, so a second server cannot share it by accident.
        b.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
        // grpc's default is no limit on a connection's open calls, each holding memory while its
        // message is awaited; the client is told the limit and queues beyond it.
        b.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, p->max_streams);
        if (p->idle_s > 0) { // as --conn-timeout-s closes idle HTTP connections
            b.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, static_cast<int>(p->idle_s * 1e3));
            // The idle limit starts once HTTP/2 is up; before it (TLS, the preface) grpc waits its
            // own 120 s: a client that connected and sent nothing held a descriptor that long.
            b.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, static_cast<int>(p->idle_s * 1e3));
        }
        t->server = b.BuildAndStart();
        if (!t->server || port == 0) {
            snprintf(err, errlen, "could not listen for gRPC on %s%s (port in use, no permission%s)", addr.c_str(),
                     p->tls_cert_pem ? " with TLS" : "", p->tls_cert_pem ? ", or a bad certificate/key" : "");
            if (t->server) t->server->Shutdown();
            return nullptr;
        }
        *bound_port = port;
        return t.release();
    } catch (const std::exception &e) {
        snprintf(err, errlen, "gRPC server: %s", e.what());
        return nullptr;
    }
}

extern "C" void rpc_transport_drain(rpc_transport *t, double grace_s)
{
    if (!t) return;
    try {
        start_shutdown(t, grace_s);
    } catch (const std::system_error &) {
        // no thread: rpc_transport_stop shuts down on its own
    }
}

extern "C" void rpc_transport_stop(rpc_transport *t, double grace_s)
{
    if (!t) return;
    auto grace = std::chrono::milliseconds(static_cast<long long>(grace_s > 0 ? grace_s * 1e3 : 0));
    try {
        start_shutdown(t, grace_s);
    } catch (const std::system_error &) {
    }
    if (t->shutdown.joinable()) {
        // A drain's deadline may be far off, and the calls it waits for may never end on their own
        // (a client that holds a call open without its message): grace_s from now, cancel them.
        std::unique_lock<std::mutex> lock(t->mu);
        if (!t->cv.wait_for(lock, grace, [t] { return t->shut_down; }))
            grpc_server_cancel_all_calls(t->server->c_server());
        lock.unlock();
        t->shutdown.join();
    } else {
        t->server->Shutdown(std::chrono::system_clock::now() + grace);
    }
    t->server->Wait();
    // Alarms of the last calls may still be running (each frees its call); wait for them, briefly.
    for (int i = 0; i < 1000 && t->service->live.load() > 0; i++)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    // Still some after 2 s: their calls point at the service's count, so it is left allocated (this
    // runs once, at exit) rather than freed under them.
    if (t->service->live.load() > 0) (void)t->service.release();
    t->server.reset();
    delete t;
}

extern "C" const char *rpc_call_metadata(const rpc_call *c, const char *key, size_t *len)
{
    const auto &md = c->ctx_->client_metadata();
    auto it = md.find(key);
    if (it == md.end()) return nullptr;
    *len = it->second.size();
    return it->second.data();
}

extern "C" double rpc_call_time_left(const rpc_call *c)
{
    auto d = c->ctx_->deadline();
    if (d == std::chrono::system_clock::time_point::max()) return HUGE_VAL;
    return std::chrono::duration<double>(d - std::chrono::system_clock::now()).count();
}

extern "C" rpc_encoding rpc_call_encoding(const rpc_call *c) { return c->encoding_; }

// grpc++ keeps a callback call's cancellation current: IsCancelled may be asked at any time.
extern "C" int rpc_call_cancelled(const rpc_call *c) { return c->ctx_->IsCancelled() ? 1 : 0; }

extern "C" int rpc_call_tag(const rpc_call *c) { return c->tag_; }

extern "C" const char *rpc_call_peer(const rpc_call *c) { return c->peer_.c_str(); }

extern "C" void rpc_call_finish(rpc_call *c, int code, const char *message, const uint8_t *resp, size_t len)
{
    c->finished_.store(1, std::memory_order_release);
    try {
        c->Answer(code, message, resp, len);
    } catch (const std::bad_alloc &) {
        c->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "out of memory for the response"));
    }
}
