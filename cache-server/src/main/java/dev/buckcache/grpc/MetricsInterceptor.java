package dev.buckcache.grpc;

import build.bazel.remote.execution.v2.BatchUpdateBlobsResponse;
import com.google.bytestream.QueryWriteStatusRequest;
import com.google.bytestream.ReadRequest;
import com.google.bytestream.WriteRequest;
import com.google.protobuf.Message;
import com.google.protobuf.MessageLite;
import dev.buckcache.insight.InvocationLog;
import dev.buckcache.metrics.AccessLog;
import dev.buckcache.metrics.CacheMetrics;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Records every call (method, outcome, duration, bytes) once, refused and cancelled calls
 * included, and writes its access-log line.
 *
 * <p>Design notes. Two interceptors share one {@link CallRecord} per call through the call's
 * Context. The {@link #outer} one wraps everything (the malformed-message guard and auth
 * included), so it sees every way a call ends: {@code close} with a status, or the client's
 * cancel ({@code onCancel}, e.g. Pants dropping a lookup its local run won); an AtomicBoolean
 * makes whichever comes first the only one counted. The {@link #inner} one sits next to the
 * service and sees parsed messages: it sums their serialized sizes (memoized by protobuf, so
 * free), reads the instance and hash from requests, and counts the items a BatchUpdateBlobs
 * answer rejected. A service therefore reports nothing itself. Tags come from the method
 * descriptor and the status code only, never from message content.
 */
final class MetricsInterceptor {
  private static final Context.Key<CallRecord> RECORD = Context.key("buckcache-call-record");

  private final CacheMetrics metrics;

  MetricsInterceptor(CacheMetrics metrics) {
    this.metrics = metrics;
  }

  /** What the inner interceptor learned about one call. */
  static final class CallRecord {
    final AtomicLong in = new AtomicLong();
    final AtomicLong out = new AtomicLong();
    volatile String instance = "";
    volatile String hash = "";
    volatile String subject;
    final java.util.concurrent.atomic.AtomicInteger rejected = new java.util.concurrent.atomic.AtomicInteger();
    final java.util.concurrent.atomic.AtomicInteger items = new java.util.concurrent.atomic.AtomicInteger();
    volatile Status.Code rejectedCode;
    volatile dev.buckcache.insight.RequestInfo info = dev.buckcache.insight.RequestInfo.NONE;
    /** Why a GetActionResult missed, as the service found it. */
    volatile dev.buckcache.storage.MissCause cause;
  }

  /** This call's record, or null when calls are not recorded (in-process tests). */
  static CallRecord current() {
    return RECORD.get();
  }

  /** Outermost: timing, status, cancellation, the metrics and the log line. */
  ServerInterceptor outer() {
    return new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
          ServerCallHandler<Q, R> next) {
        return outerCall(call, headers, next);
      }
    };
  }

  /** Innermost, after auth: bytes, instance, hash, subject and rejected batch items. */
  static ServerInterceptor inner() {
    return new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
          ServerCallHandler<Q, R> next) {
        var record = RECORD.get();
        return record == null ? next.startCall(call, headers) : innerCall(record, call, headers, next);
      }
    };
  }

  private <Q, R> ServerCall.Listener<Q> outerCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    long start = System.nanoTime();
    var record = new CallRecord();
    var done = new AtomicBoolean();
    var method = call.getMethodDescriptor().getBareMethodName();
    var kind = kindOf(call.getMethodDescriptor().getServiceName());
    Runnable cancelled = () -> {
      if (done.compareAndSet(false, true)) {
        finish(record, method, kind, Status.Code.CANCELLED, System.nanoTime() - start);
      }
    };
    var recorded = new ForwardingServerCall.SimpleForwardingServerCall<Q, R>(call) {
      @Override
      public void close(Status status, Metadata trailers) {
        if (done.compareAndSet(false, true)) {
          finish(record, method, kind, status.getCode(), System.nanoTime() - start);
        }
        super.close(status, trailers);
      }
    };
    var listener = Contexts.interceptCall(Context.current().withValue(RECORD, record), recorded,
        headers, next);
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
      @Override
      public void onCancel() {
        cancelled.run();
        super.onCancel();
      }
    };
  }

  private static <Q, R> ServerCall.Listener<Q> innerCall(CallRecord record, ServerCall<Q, R> call,
      Metadata headers, ServerCallHandler<Q, R> next) {
    var caller = Callers.CALLER.get();
    record.subject = caller == null ? null : caller.principal().subject();
    if (caller != null) {
      record.info = caller.info();
    }
    var measured = new ForwardingServerCall.SimpleForwardingServerCall<Q, R>(call) {
      @Override
      public void sendMessage(R message) {
        record.out.addAndGet(sizeOf(message));
        if (message instanceof BatchUpdateBlobsResponse response) {
          countRejected(record, response);
        }
        super.sendMessage(message);
      }
    };
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(
        next.startCall(measured, headers)) {
      private boolean described; // listener callbacks never run concurrently

      @Override
      public void onMessage(Q message) {
        record.in.addAndGet(sizeOf(message));
        if (!described) {
          described = true;
          describe(record, message);
        }
        super.onMessage(message);
      }
    };
  }

  private static long sizeOf(Object message) {
    return message instanceof MessageLite m ? m.getSerializedSize() : 0;
  }

  private static void countRejected(CallRecord record, BatchUpdateBlobsResponse response) {
    record.items.addAndGet(response.getResponsesCount());
    int rejected = 0;
    for (var r : response.getResponsesList()) {
      if (r.getStatus().getCode() != 0) {
        rejected++;
        record.rejectedCode = Status.fromCodeValue(r.getStatus().getCode()).getCode();
      }
    }
    record.rejected.addAndGet(rejected);
  }

  /** Instance and hash from the first request message (ByteStream: its resource name). */
  private static void describe(CallRecord record, Object message) {
    if (message instanceof ReadRequest r) {
      resource(record, r.getResourceName(), false);
    } else if (message instanceof WriteRequest w) {
      resource(record, w.getResourceName(), true);
    } else if (message instanceof QueryWriteStatusRequest q) {
      resource(record, q.getResourceName(), true);
    } else if (message instanceof Message m) {
      record.instance = stringField(m, "instance_name");
      var digest = m.getDescriptorForType().findFieldByName("action_digest");
      if (digest != null && m.getField(digest) instanceof build.bazel.remote.execution.v2.Digest d) {
        record.hash = d.getHash();
      }
    }
  }

  private static void resource(CallRecord record, String name, boolean upload) {
    try {
      var parsed = upload ? ResourceName.parseWrite(name) : ResourceName.parseRead(name);
      record.instance = parsed.instance();
      record.hash = parsed.hash();
    } catch (RuntimeException e) {
      record.hash = "";
    }
  }

  private static String stringField(Message m, String name) {
    var field = m.getDescriptorForType().findFieldByName(name);
    return field != null && m.getField(field) instanceof String s ? s : "";
  }

  private void finish(CallRecord record, String method, String kind, Status.Code code, long nanos) {
    var result = record.rejected.get() > 0 && code == Status.Code.OK
        ? resultOf(record.rejectedCode, method) : resultOf(code, method);
    long in = record.in.get();
    long out = record.out.get();
    metrics.request("grpc", kind, method, result, nanos, in, out);
    metrics.accessLog().request(new AccessLog.Entry("grpc", method, kind, record.instance,
        record.hash, code.name(), in, out, nanos, record.subject, record.rejected.get()));
    var insight = metrics.insight();
    if (insight != null) {
      insight.record(record.info, record.subject, new InvocationLog.Call(methodOf(method),
          outcomeOf(code), in, out, record.items.get(), record.rejected.get(), record.cause));
    }
  }

  private static InvocationLog.Method methodOf(String method) {
    return switch (method) {
      case "GetActionResult" -> InvocationLog.Method.GET_ACTION_RESULT;
      case "UpdateActionResult" -> InvocationLog.Method.UPDATE_ACTION_RESULT;
      case "BatchUpdateBlobs" -> InvocationLog.Method.BATCH_UPDATE;
      case "BatchReadBlobs" -> InvocationLog.Method.BATCH_READ;
      case "Read" -> InvocationLog.Method.READ;
      case "Write" -> InvocationLog.Method.WRITE;
      default -> InvocationLog.Method.OTHER;
    };
  }

  private static InvocationLog.Outcome outcomeOf(Status.Code code) {
    return switch (code) {
      case OK -> InvocationLog.Outcome.OK;
      case NOT_FOUND -> InvocationLog.Outcome.NOT_FOUND;
      case CANCELLED -> InvocationLog.Outcome.CANCELLED;
      case PERMISSION_DENIED, RESOURCE_EXHAUSTED, UNAUTHENTICATED -> InvocationLog.Outcome.REFUSED;
      default -> InvocationLog.Outcome.ERROR;
    };
  }

  static String kindOf(String service) {
    if (service == null) {
      return "other";
    }
    if (service.endsWith("ActionCache")) {
      return "ac";
    }
    return service.endsWith("ContentAddressableStorage") || service.endsWith("ByteStream") ? "cas" : "other";
  }

  static String resultOf(Status.Code code, String method) {
    return switch (code) {
      case OK -> method.equals("GetActionResult") || method.equals("Read") ? "hit" : "ok";
      case NOT_FOUND -> "miss";
      case CANCELLED -> "cancelled";
      case UNAUTHENTICATED -> "unauthenticated";
      case PERMISSION_DENIED -> "denied";
      case INVALID_ARGUMENT, OUT_OF_RANGE, FAILED_PRECONDITION -> "client_error";
      default -> "server_error";
    };
  }
}
