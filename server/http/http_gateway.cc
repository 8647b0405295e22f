#include "server/http/http_gateway.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/retry_advice.h"
#include "server/http/form_request.h"
#include "server/http/json_codec.h"
#include "server/http/playground_page.h"
#include "server/metrics/request_log.h"

namespace ovseg {
namespace {

constexpr char kJson[] = "application/json";

// A reply that is not the gRPC code's usual HTTP status (413, 415, 405).
struct HttpRefusal {
  int http_status;
  absl::Status status;
};

std::string RequestIdOf(const httplib::Request& req) {
  std::string id = req.get_header_value("X-Request-Id");
  const bool usable =
      !id.empty() && id.size() <= 128 &&
      std::all_of(id.begin(), id.end(), [](char c) { return absl::ascii_isgraph(c); });
  return usable ? id : NewRequestId();
}

absl::StatusOr<absl::Time> DeadlineOf(const httplib::Request& req, absl::Time arrival) {
  if (!req.has_header("X-Request-Timeout-Ms")) return absl::InfiniteFuture();
  const std::string text = req.get_header_value("X-Request-Timeout-Ms");
  int64_t ms = 0;
  if (!absl::SimpleAtoi(text, &ms) || ms < 0) {
    return absl::InvalidArgumentError(
        "header X-Request-Timeout-Ms: a whole number of milliseconds >= 0 expected");
  }
  return arrival + absl::Milliseconds(ms);
}

void WriteError(httplib::Response& res, const absl::Status& status, int http_status = 0) {
  res.status = http_status != 0 ? http_status : HttpStatusOf(status.code());
  if (const std::optional<absl::Duration> after = RetryAfterOf(status)) {
    const int64_t ms = absl::ToInt64Milliseconds(*after);
    res.set_header("Retry-After", absl::StrCat((ms + 999) / 1000));
    res.set_header("X-Retry-After-Ms", absl::StrCat(ms));
  }
  res.set_content(ErrorJson(status, res.status), kJson);
}

// 200 with the message as JSON, or the status's error.
void WriteReply(httplib::Response& res, const absl::Status& status,
                const google::protobuf::Message& message) {
  if (!status.ok()) {
    WriteError(res, status);
    return;
  }
  res.status = 200;
  res.set_content(ToJson(message), kJson);
}

// JSON, or no type, or the form-urlencoded type `curl -d` sends by default: a JSON body
// sent without -H "Content-Type: application/json" is still read as JSON.
bool IsJsonContentType(const httplib::Request& req) {
  const std::string type = absl::AsciiStrToLower(req.get_header_value("Content-Type"));
  return type.empty() || type.rfind("application/json", 0) == 0 ||
         type.rfind("application/x-www-form-urlencoded", 0) == 0;
}

HttpRefusal TooLarge(uint64_t max_bytes) {
  return HttpRefusal{413, absl::InvalidArgumentError(absl::StrCat(
                              "request body larger than ", max_bytes,
                              " bytes (limits.max_receive_message_bytes, plus base64's third)"))};
}

// Refused from its Content-Length, before anything is read, when that is over the limit.
std::optional<HttpRefusal> CheckContentLength(const httplib::Request& req, uint64_t max_bytes) {
  if (req.get_header_value_count("Content-Length") > 0 &&
      req.get_header_value<uint64_t>("Content-Length") > max_bytes) {
    return TooLarge(max_bytes);
  }
  return std::nullopt;
}

// The request body, refused with 413 when larger than `max_bytes` (a chunked body as it
// arrives).
std::optional<HttpRefusal> ReadBody(const httplib::Request& req,
                                    const httplib::ContentReader& reader, uint64_t max_bytes,
                                    std::string* body) {
  if (std::optional<HttpRefusal> r = CheckContentLength(req, max_bytes)) return r;
  bool over = false;
  const bool read = reader([&](const char* data, size_t size) {
    over = body->size() + size > max_bytes;
    if (!over) body->append(data, size);
    return !over;
  });
  if (over) return TooLarge(max_bytes);
  if (!read) return HttpRefusal{400, absl::InvalidArgumentError("request body: incomplete")};
  return std::nullopt;
}

// A multipart form's fields in the order sent, under the same limit.
std::optional<HttpRefusal> ReadForm(const httplib::Request& req,
                                    const httplib::ContentReader& reader, uint64_t max_bytes,
                                    std::vector<FormField>* fields) {
  if (std::optional<HttpRefusal> r = CheckContentLength(req, max_bytes)) return r;
  uint64_t total = 0;
  bool over = false;
  const bool read = reader(
      [&](const httplib::MultipartFormData& part) {
        fields->push_back(FormField{part.name, part.filename, ""});
        return true;
      },
      [&](const char* data, size_t size) {
        total += size;
        over = total > max_bytes;
        if (over || fields->empty()) return false;
        fields->back().content.append(data, size);
        return true;
      });
  if (over) return TooLarge(max_bytes);
  if (!read) return HttpRefusal{400, absl::InvalidArgumentError("multipart form: malformed")};
  return std::nullopt;
}

// A Segment request from the body as sent: a multipart form or JSON.
std::optional<HttpRefusal> ReadSegmentRequest(const httplib::Request& req,
                                              const httplib::ContentReader& reader,
                                              uint64_t max_bytes, v1::SegmentRequest* request) {
  if (req.is_multipart_form_data()) {
    std::vector<FormField> fields;
    if (std::optional<HttpRefusal> r = ReadForm(req, reader, max_bytes, &fields)) return r;
    absl::StatusOr<v1::SegmentRequest> parsed = SegmentRequestFromForm(fields);
    if (!parsed.ok()) return HttpRefusal{0, parsed.status()};
    *request = *std::move(parsed);
    return std::nullopt;
  }
  if (!IsJsonContentType(req)) {
    return HttpRefusal{415, absl::InvalidArgumentError(
                                "Content-Type: application/json or multipart/form-data expected")};
  }
  std::string body;
  if (std::optional<HttpRefusal> r = ReadBody(req, reader, max_bytes, &body)) return r;
  if (absl::Status s = ParseJsonMessage(body, request); !s.ok()) return HttpRefusal{0, s};
  return std::nullopt;
}

using Outcome = HttpGateway::Outcome;

Outcome Refuse(httplib::Response& res, const HttpRefusal& refusal) {
  WriteError(res, refusal.status, refusal.http_status);
  return {refusal.status, {}};
}

// One frontend call: its messages and how it ended. Shared between the handler and
// `done`: a Segment handler that stops waiting at the deadline returns while the work
// may still be running, and the work writes into these messages until it ends.
template <typename Request, typename Response>
struct HttpCall {
  Request request;
  Response response;
  std::atomic<bool> abandoned{false};  // the handler answered without waiting any longer
  absl::Notification done;
  absl::Status status;
  nlohmann::json fields;
};

template <typename Call>
CallDone Completer(const std::shared_ptr<Call>& call) {
  return [call](const absl::Status& status, nlohmann::json fields) {
    call->status = status;
    call->fields = std::move(fields);
    call->done.Notify();
  };
}

}  // namespace

HttpGateway::HttpGateway(SegmentationFrontend* frontend, const CallObservers& observers,
                         uint64_t max_body_bytes)
    : frontend_(frontend), observers_(observers), max_body_bytes_(max_body_bytes) {}

absl::StatusOr<std::unique_ptr<HttpGateway>> HttpGateway::Start(const HttpGatewayOptions& options,
                                                                SegmentationFrontend* frontend,
                                                                const CallObservers& observers) {
  const size_t colon = options.address.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(options.address.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("http_address \"", options.address, "\": host:port expected"));
  }
  std::string host = options.address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::unique_ptr<HttpGateway> gateway(
      new HttpGateway(frontend, observers, options.max_body_bytes));
  if (!options.tls.cert_file().empty()) {
    const v1::TlsConfig& tls = options.tls;
    gateway->server_ = std::make_unique<httplib::SSLServer>(
        tls.cert_file().c_str(), tls.key_file().c_str(),
        tls.require_client_cert() ? tls.client_ca_file().c_str() : nullptr);
  } else {
    gateway->server_ = std::make_unique<httplib::Server>();
  }
  if (!gateway->server_->is_valid()) {
    return absl::InvalidArgumentError(absl::StrCat("http_address ", options.address,
                                                   ": the TLS certificate or key does not load"));
  }
  const int threads = std::max(1, options.threads);
  gateway->server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  gateway->server_->set_payload_max_length(options.max_body_bytes);
  gateway->server_->set_keep_alive_timeout(30);
  gateway->server_->set_read_timeout(30);
  gateway->server_->set_write_timeout(30);
  gateway->AddRoutes();
  if (port == 0) {
    gateway->port_ = gateway->server_->bind_to_any_port(host);
  } else if (gateway->server_->bind_to_port(host, port)) {
    gateway->port_ = port;
  }
  if (gateway->port_ <= 0) {
    return absl::UnavailableError(absl::StrCat("http_address ", options.address,
                                               ": cannot listen (in use, or no such address)"));
  }
  gateway->listener_ =
      std::thread([server = gateway->server_.get()] { server->listen_after_bind(); });
  return gateway;
}

void HttpGateway::Serve(const char* method, const httplib::Request& req, httplib::Response& res,
                        const std::function<Outcome(const std::string&, absl::Time)>& handle) {
  const absl::Time arrival = absl::Now();
  const std::string request_id = RequestIdOf(req);
  res.set_header("X-Request-Id", request_id);
  Outcome outcome = handle(request_id, arrival);
  // While draining, the connection closes after this reply, so that keep-alive clients
  // reconnect (to another replica) for their next call: HTTP's GOAWAY.
  if (frontend_->Draining()) res.set_header("Connection", "close");
  RecordCall(observers_, Transport::kHttp, method, request_id, outcome.status,
             absl::ToDoubleSeconds(absl::Now() - arrival), std::move(outcome.fields));
}

void HttpGateway::AddRoutes() {
  httplib::Server& s = *server_;

  s.Post("/v1/segment", [this](const httplib::Request& req, httplib::Response& res,
                               const httplib::ContentReader& reader) {
    Serve("Segment", req, res, [&](const std::string& request_id, absl::Time arrival) {
      auto call = std::make_shared<HttpCall<v1::SegmentRequest, v1::SegmentResponse>>();
      if (std::optional<HttpRefusal> r =
              ReadSegmentRequest(req, reader, max_body_bytes_, &call->request)) {
        return Refuse(res, *r);
      }
      absl::StatusOr<absl::Time> deadline = DeadlineOf(req, arrival);
      if (!deadline.ok()) return Refuse(res, HttpRefusal{0, deadline.status()});
      CallInfo info;
      info.request_id = request_id;
      info.arrival = arrival;
      info.deadline = *deadline;
      // As gRPC does at a deadline: the client is answered DEADLINE_EXCEEDED at once, and
      // work not yet started for it is dropped (the batcher asks is_cancelled).
      info.is_cancelled = [call] { return call->abandoned.load(); };
      frontend_->Segment(&call->request, &call->response, info, Completer(call));
      Outcome outcome;
      if (call->done.WaitForNotificationWithDeadline(*deadline)) {
        outcome = {call->status, call->fields};
      } else {
        call->abandoned = true;
        outcome.status = absl::DeadlineExceededError(
            absl::StrCat("no reply within the deadline (X-Request-Timeout-Ms: ",
                         req.get_header_value("X-Request-Timeout-Ms"), ")"));
      }
      WriteReply(res, outcome.status, call->response);
      return outcome;
    });
  });

  s.Post("/v1/vocabularies", [this](const httplib::Request& req, httplib::Response& res,
                                    const httplib::ContentReader& reader) {
    Serve("RegisterVocabulary", req, res, [&](const std::string&, absl::Time) {
      auto call = std::make_shared<
          HttpCall<v1::RegisterVocabularyRequest, v1::RegisterVocabularyResponse>>();
      if (!IsJsonContentType(req)) {
        return Refuse(res, HttpRefusal{415, absl::InvalidArgumentError(
                                                "Content-Type: application/json expected")});
      }
      std::string body;
      if (std::optional<HttpRefusal> r = ReadBody(req, reader, max_body_bytes_, &body)) {
        return Refuse(res, *r);
      }
      if (absl::Status s = ParseJsonMessage(body, &call->request); !s.ok()) {
        return Refuse(res, HttpRefusal{0, s});
      }
      frontend_->RegisterVocabulary(&call->request, &call->response, Completer(call));
      call->done.WaitForNotification();
      WriteReply(res, call->status, call->response);
      return Outcome{call->status, call->fields};
    });
  });

  s.Get("/v1/model", [this](const httplib::Request& req, httplib::Response& res) {
    Serve("GetModelInfo", req, res, [&](const std::string&, absl::Time) {
      v1::GetModelInfoResponse response;
      frontend_->GetModelInfo(&response);
      WriteReply(res, absl::OkStatus(), response);
      return Outcome{};
    });
  });

  s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.status = 200;
    res.set_content(R"({"status":"SERVING"})", kJson);
  });
  s.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    if (absl::Status ready = frontend_->Readiness(); !ready.ok()) {
      WriteError(res, ready);
      return;
    }
    res.status = 200;
    res.set_content(R"({"status":"SERVING"})", kJson);
  });

  s.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.status = 200;
    // One self-contained page: nothing is fetched from elsewhere.
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                   "img-src 'self' data: blob:");
    res.set_content(std::string(PlaygroundPage()), "text/html; charset=utf-8");
  });

  // The API's routes with a method they do not take: 405, saying which they do.
  for (const char* path : {"/v1/segment", "/v1/vocabularies"}) {
    s.Get(path, [](const httplib::Request&, httplib::Response& res) {
      res.set_header("Allow", "POST");
      WriteError(res, absl::InvalidArgumentError("this route takes POST"), 405);
    });
  }
  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    const int http = res.status;
    if (http == 404) {
      WriteError(res,
                 absl::NotFoundError(absl::StrCat("no route ", req.method, " ", req.path,
                                                  " (see GET / and /v1/model)")),
                 404);
    } else if (http == 413) {
      WriteError(res, absl::InvalidArgumentError("request body too large"), 413);
    } else {
      WriteError(res, absl::InvalidArgumentError(absl::StrCat("HTTP ", http)), http);
    }
  });
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    WriteError(res, absl::InternalError("internal error"));
  });
}

void HttpGateway::Stop() {
  if (server_ != nullptr) server_->stop();
  if (listener_.joinable()) listener_.join();
}

HttpGateway::~HttpGateway() { Stop(); }

}  // namespace ovseg
