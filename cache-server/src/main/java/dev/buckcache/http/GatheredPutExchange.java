package dev.buckcache.http;

import dev.buckcache.storage.AcKey;
import dev.buckcache.storage.AcValues;
import dev.buckcache.storage.Provenance;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.LastHttpContent;
import java.util.Arrays;

/*
 * Design notes
 *
 * Memory. The announced Content-Length is claimed from the in-flight budget
 * (storage.max_inflight_bytes) when the head arrives: over the AC limit is 413, a claim that
 * does not fit is 503 with Retry-After, both before a byte of body is read (the connection then
 * closes, as the body was not read). The claim is what the body may come to hold; the buffer
 * itself starts small and doubles as bytes arrive, capped at the length, so a client that
 * announces much and sends little holds at most twice what it sent (and 8 KiB at first).
 *
 * The claim is returned exactly once (BodyClaim): when the put finishes, on a refusal of the
 * body (400), or on abort if no put is running. A running put keeps it until it is done, since
 * it still holds the bytes.
 */

/**
 * A PUT whose body is gathered whole (up to its target's limit) and stored in one step:
 * {@code PUT /ac/HASH}, whose ActionResults and other clients' values (ccache) are both kept (see
 * {@link AcValues}), and the other tools' artifacts ({@link ToolExchanges}).
 */
final class GatheredPutExchange extends Exchange {
  private static final int FIRST_BUFFER = 8 * 1024;
  private static final byte[] EMPTY = new byte[0];

  /** Where a gathered body goes, and what the client is told. */
  interface Target {
    /** What is stored, for the size-limit message ("action-cache values"). */
    String what();

    long limit();

    /** Bytes the value carries before the body; the target writes them in {@link #store}. */
    int headerBytes();

    /**
     * On the storage executor: stores the value (header, then body), recorded as written by
     * {@code writer}, and says the answer.
     */
    Answer store(byte[] value, Provenance writer);

    /** The status of a body over the limit: 413, unless the client cannot take that. */
    default HttpResponseStatus tooLarge() {
      return HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE;
    }
  }

  /** A complete answer to a PUT. */
  record Answer(HttpResponseStatus status, String contentType, String body) {
    static Answer text(HttpResponseStatus status, String text) {
      return new Answer(status, "text/plain; charset=utf-8", text + "\n");
    }
  }

  /** {@code PUT /[instance/]ac/HASH}. */
  static Target actionCache(HttpDeps deps, CachePath path) {
    var key = new AcKey(path.instance(), path.function(), path.hash());
    return new Target() {
      @Override
      public String what() {
        return "action-cache values";
      }

      @Override
      public long limit() {
        return deps.maxAcSize();
      }

      @Override
      public int headerBytes() {
        return 0;
      }

      @Override
      public Answer store(byte[] value, Provenance writer) {
        deps.results().put(key, AcValues.classify(value).writtenBy(writer));
        return Answer.text(HttpResponseStatus.OK, "stored");
      }
    };
  }

  private final Target target;
  private final int header;
  /** The announced length; -1 until the announcement is accepted (and after a refusal). */
  private long length = -1;
  private BodyClaim claim = BodyClaim.NONE;
  private byte[] body = EMPTY;
  private int received;
  private boolean storing;

  GatheredPutExchange(CacheHttpHandler handler, ChannelHandlerContext ctx, HttpRequest request,
      HttpDeps deps, Target target) {
    super(handler, ctx, request, deps);
    this.target = target;
    this.header = target.headerBytes();
  }

  @Override
  void begin() {
    long announced;
    try {
      if (PutCasExchange.Uploads.isZstd(request)) {
        respondText(HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE,
            "Content-Encoding zstd is supported for /cas/ only");
        return;
      }
      announced = PutCasExchange.Uploads.contentLength(request);
      PutCasExchange.Uploads.checkLimit(announced, target.limit(), target.what());
    } catch (PutCasExchange.Uploads.Rejected e) {
      var status = e.status.equals(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE) ? target.tooLarge() : e.status;
      respondText(status, e.getMessage());
      return;
    }
    var claimed = claimOrRefuse(header + announced);
    if (claimed == null) {
      return;
    }
    claim = claimed;
    length = announced;
    continueIfExpected();
    if (length == 0) {
      store();
    }
  }

  private boolean accepting() {
    return length >= 0 && !storing && !responded();
  }

  @Override
  void onContent(HttpContent content) {
    try {
      if (accepting()) {
        append(content.content());
      }
    } finally {
      content.release();
    }
    if (content instanceof LastHttpContent) {
      markRequestComplete();
      if (accepting() && length > 0) {
        store();
      }
    }
  }

  private void append(ByteBuf buf) {
    int n = (int) Math.min(buf.readableBytes(), length - received);
    int need = header + received + n;
    if (need > body.length) {
      long grown = Math.max(need, Math.max(FIRST_BUFFER, 2L * body.length));
      body = Arrays.copyOf(body, (int) Math.min(header + length, grown));
    }
    buf.readBytes(body, header + received, n);
    received += n;
  }

  /** Bytes of body buffer this exchange holds now (allocated, not just received). */
  long heldBytes() {
    return body.length;
  }

  private void store() {
    storing = true;
    if (received != length) {
      release();
      respondText(HttpResponseStatus.BAD_REQUEST,
          "body ended after " + received + " of " + length + " bytes");
      return;
    }
    // Exactly header + length bytes: the buffer never grows past them (and is empty if no body).
    var value = body.length == header + length ? body : Arrays.copyOf(body, (int) (header + length));
    body = EMPTY;
    var writer = writer();
    var stored = deps.executor().submit(() -> target.store(value, writer));
    var unused = stored.whenComplete((v, e) -> claim.release());
    onLoop(stored, (answer, e) -> {
      if (e != null) {
        respondError(e);
      } else {
        respond(full(answer.status(), answer.contentType(), answer.body()));
      }
    });
  }

  private void release() {
    body = EMPTY;
    claim.release();
  }

  @Override
  void abort() {
    if (!storing) {
      release();
    }
  }
}
