package dev.buckcache.storage.shared;

import dev.buckcache.digest.Digest;
import dev.buckcache.digest.DigestFunction;
import dev.buckcache.storage.AcEntry;
import dev.buckcache.storage.AcKey;
import dev.buckcache.storage.StorageException;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/*
 * Design notes
 *
 * The async durability mode's queue of uploads to the bucket: one small file per item in
 * <storage.dir>/s3-queue, named by a sequence number, written to a temporary name and renamed,
 * so an item is either wholly there or not at all. A CAS item names the blob (its bytes are in
 * the local store); an action-cache item carries its value, which is small. Items survive a
 * kill -9 (the files are the queue; no fsync, so a power loss may drop the newest), and a
 * restart resumes them in order.
 *
 * Order: CAS items go up in parallel; an action-cache item goes up only when every CAS item
 * queued before it is in the bucket. Clients upload outputs before the action result that names
 * them, so another node that sees the action result can find its outputs.
 *
 * Bounds: at most maxItems items and maxBytes of queued blob bytes; beyond that, writes are
 * refused (503 / UNAVAILABLE) until the queue drains. The byte bound keeps queued blobs well
 * inside the local disk's budget, where eviction (oldest first) does not reach them; a blob that
 * is evicted before it is uploaded anyway is dropped from the queue with a warning.
 */

/** A bounded, crash-safe queue of uploads to the shared store, drained by worker threads. */
final class UploadQueue implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(UploadQueue.class);
  private static final String SUFFIX = ".q";

  /** One queued upload. */
  sealed interface Item permits CasItem, AcItem {
    long seq();
  }

  record CasItem(long seq, Digest digest) implements Item {}

  record AcItem(long seq, AcKey key, AcEntry entry) implements Item {}

  /** Does one upload; throws Unavailable to have it retried, anything else to drop it. */
  interface Uploader {
    void upload(Item item);
  }

  private final Path dir;
  private final int maxItems;
  private final long maxBytes;
  private final Uploader uploader;
  private final SharedHealth health;
  private final Object lock = new Object();
  private final TreeMap<Long, CasItem> cas = new TreeMap<>();
  private final TreeMap<Long, AcItem> ac = new TreeMap<>();
  /** CAS items waiting or being uploaded: an AC item waits for all of these before it. */
  private final TreeSet<Long> casUnfinished = new TreeSet<>();
  private final ArrayList<Thread> workers = new ArrayList<>();
  private long nextSeq;
  private int items;
  private long bytes;
  private long dropped;
  private boolean closed;

  UploadQueue(Path dir, int maxItems, long maxBytes, int workerCount, Uploader uploader,
      SharedHealth health) {
    this.dir = dir;
    this.maxItems = maxItems;
    this.maxBytes = maxBytes;
    this.uploader = uploader;
    this.health = health;
    recover();
    for (int i = 0; i < workerCount; i++) {
      var t = new Thread(this::work, "buckcache-s3-upload-" + i);
      t.setDaemon(true);
      workers.add(t);
      t.start();
    }
  }

  /** Loads the items a previous run left, in order; removes half-written ones. */
  private void recover() {
    try {
      Files.createDirectories(dir);
      try (var files = Files.list(dir)) {
        for (var f : (Iterable<Path>) files::iterator) {
          var name = f.getFileName().toString();
          if (!name.endsWith(SUFFIX)) {
            Files.deleteIfExists(f); // a .tmp a crash left before its rename
            continue;
          }
          long seq = Long.parseLong(name.substring(0, name.length() - SUFFIX.length()), 16);
          try {
            add(read(seq, Files.readAllBytes(f)));
          } catch (IOException | RuntimeException e) {
            log.warn("shared store upload queue: unreadable item {} removed ({})", f, e.toString());
            Files.deleteIfExists(f);
          }
          nextSeq = Math.max(nextSeq, seq + 1);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the shared store upload queue " + dir, e);
    }
    if (items > 0) {
      log.info("shared store upload queue: {} uploads from before the restart resume", items);
    }
  }

  private void add(Item item) {
    if (item instanceof CasItem c) {
      cas.put(c.seq(), c);
      casUnfinished.add(c.seq());
      bytes += c.digest().size();
    } else {
      var a = (AcItem) item;
      ac.put(a.seq(), a);
    }
    items++;
  }

  void addCas(Digest digest) {
    enqueue(seq -> new CasItem(seq, digest), digest.size());
  }

  void addAc(AcKey key, AcEntry entry) {
    enqueue(seq -> new AcItem(seq, key, entry), 0);
  }

  private void enqueue(java.util.function.LongFunction<Item> make, long size) {
    synchronized (lock) {
      if (closed) {
        throw new StorageException.Failure("the shared store upload queue is closed", null);
      }
      if (items >= maxItems || (size > 0 && bytes + size > maxBytes && bytes > 0)) {
        throw new StorageException.Unavailable("shared store upload queue is full (" + items
            + " uploads, " + bytes + " bytes waiting; at most " + maxItems + " and " + maxBytes
            + "): the bucket is not keeping up or is down (" + health.status() + ")", null);
      }
      var item = make.apply(nextSeq++);
      var file = dir.resolve(name(item.seq()));
      var tmp = dir.resolve(name(item.seq()) + ".tmp");
      try {
        Files.write(tmp, encode(item));
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
      } catch (IOException e) {
        throw new StorageException.Failure("cannot write to the shared store upload queue "
            + dir + ": " + e.getMessage(), e);
      }
      add(item);
      lock.notifyAll();
    }
  }

  private static String name(long seq) {
    return String.format("%016x", seq) + SUFFIX;
  }

  private static byte[] encode(Item item) throws IOException {
    var buffer = new ByteArrayOutputStream();
    try (var out = new DataOutputStream(buffer)) {
      if (item instanceof CasItem c) {
        out.writeByte('C');
        out.writeUTF(c.digest().function().name());
        out.writeUTF(c.digest().hash());
        out.writeLong(c.digest().size());
      } else {
        var a = (AcItem) item;
        out.writeByte('A');
        out.writeUTF(a.key().function().name());
        out.writeUTF(a.key().hash());
        out.writeUTF(a.key().instance());
        out.writeByte(a.entry().kind() == AcEntry.Kind.RAW ? 'R' : 'A');
        out.writeInt(a.entry().value().length);
        out.write(a.entry().value());
        if (a.entry().writer() != null) { // older records end here: no writer
          var writer = a.entry().writer().encode();
          out.writeShort(writer.length);
          out.write(writer);
        }
      }
    }
    return buffer.toByteArray();
  }

  private static Item read(long seq, byte[] bytes) throws IOException {
    try (var in = new DataInputStream(new java.io.ByteArrayInputStream(bytes))) {
      int type = in.readByte();
      var function = DigestFunction.valueOf(in.readUTF());
      var hash = in.readUTF();
      if (type == 'C') {
        return new CasItem(seq, new Digest(function, hash, in.readLong()));
      }
      if (type != 'A') {
        throw new IOException("unknown item type " + type);
      }
      var instance = in.readUTF();
      var kind = in.readByte() == 'R' ? AcEntry.Kind.RAW : AcEntry.Kind.ACTION_RESULT;
      var value = new byte[in.readInt()];
      in.readFully(value);
      dev.buckcache.storage.Provenance writer = null;
      if (in.available() >= 2) {
        var encoded = new byte[in.readUnsignedShort()];
        in.readFully(encoded);
        writer = dev.buckcache.storage.Provenance.decode(encoded);
      }
      return new AcItem(seq, new AcKey(instance, function, hash), new AcEntry(kind, value, writer));
    }
  }

  /** The next item that may go up now, or null once closed. Blocks until there is one. */
  private Item take() throws InterruptedException {
    synchronized (lock) {
      while (!closed) {
        var firstCas = cas.firstEntry();
        var firstAc = ac.firstEntry();
        boolean acReady = firstAc != null
            && (casUnfinished.isEmpty() || casUnfinished.first() > firstAc.getKey());
        if (acReady && (firstCas == null || firstAc.getKey() < firstCas.getKey())) {
          return ac.pollFirstEntry().getValue();
        }
        if (firstCas != null) {
          return cas.pollFirstEntry().getValue();
        }
        if (acReady) {
          return ac.pollFirstEntry().getValue();
        }
        lock.wait(1000);
      }
      return null;
    }
  }

  private void work() {
    try {
      for (var item = take(); item != null; item = take()) {
        // While the bucket is down, one attempt a second (any worker's) is the probe.
        while (!health.tryNow()) {
          synchronized (lock) {
            if (closed) {
              return;
            }
          }
          TimeUnit.MILLISECONDS.sleep(100);
        }
        boolean done = true;
        try {
          uploader.upload(item);
          health.succeeded();
        } catch (StorageException.Unavailable e) {
          health.failed(e.getMessage());
          done = false;
        } catch (RuntimeException e) {
          log.warn("shared store upload queue: item {} dropped: {}", item, e.toString());
          synchronized (lock) {
            dropped++;
          }
        }
        finish(item, done);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void finish(Item item, boolean done) {
    synchronized (lock) {
      if (!done) {
        add(item); // back in line, in its place
        items--; // add counted it again
        if (item instanceof CasItem c) {
          bytes -= c.digest().size();
        }
        lock.notifyAll();
        return;
      }
      try {
        Files.deleteIfExists(dir.resolve(name(item.seq())));
      } catch (IOException e) {
        log.warn("shared store upload queue: cannot remove {}: {}", name(item.seq()), e.toString());
      }
      items--;
      if (item instanceof CasItem c) {
        casUnfinished.remove(c.seq());
        bytes -= c.digest().size();
      }
      lock.notifyAll();
    }
  }

  /** Uploads waiting or under way. */
  int size() {
    synchronized (lock) {
      return items;
    }
  }

  /** Blob bytes waiting or under way. */
  long bytes() {
    synchronized (lock) {
      return bytes;
    }
  }

  /** Items given up on (the blob left the local store before it could be uploaded). */
  long dropped() {
    synchronized (lock) {
      return dropped;
    }
  }

  /** Stops the workers; what is queued stays on disk for the next start. */
  @Override
  public void close() {
    synchronized (lock) {
      closed = true;
      lock.notifyAll();
    }
    for (var t : workers) {
      t.interrupt();
    }
    for (var t : workers) {
      try {
        t.join(TimeUnit.SECONDS.toMillis(5));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }
}
