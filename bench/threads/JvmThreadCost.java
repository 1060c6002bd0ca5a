/*
 * What one idle JVM platform thread costs: `java -cp DIR JvmThreadCost K ROUNDTRIPS` does what
 * pthread-cost.c does, in a JVM: K threads with the default stack size (-Xss, 1 MiB on Linux
 * x86-64, touched lazily) each signal that they ran and then block; then two threads ping-pong
 * ROUNDTRIPS times through java.util.concurrent.Semaphore (park/unpark, a futex underneath).
 * Prints one JSON line with the same fields:
 *   bytesPerThread  VmRSS growth (/proc/self/status) over the K idle threads, divided by K
 *   createUs        mean wall time of Thread.start() until the new thread has run (sequential)
 *   cpuUsPerWakeup  process CPU (OperatingSystemMXBean.getProcessCpuTime: every JVM thread,
 *                   JIT and GC included) per wakeup; a round trip is two wakeups
 * A warm-up round (threads and ping-pong, then System.gc()) runs first, so class loading and JIT
 * compilation of this code are not charged to the measured threads.
 */
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;

public class JvmThreadCost {
  static long vmRssBytes() throws Exception {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
    }
    throw new IllegalStateException("no VmRSS in /proc/self/status");
  }

  static long processCpuNs() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }

  /** Starts k idle threads one at a time; returns the mean µs from start() until each has run. */
  static double startIdle(Thread[] threads, CountDownLatch release) throws InterruptedException {
    Semaphore started = new Semaphore(0);
    long total = 0;
    for (int i = 0; i < threads.length; i++) {
      Thread t = new Thread(() -> {
        started.release();
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
      long t0 = System.nanoTime();
      t.start();
      started.acquire();
      total += System.nanoTime() - t0;
      threads[i] = t;
    }
    return total / 1e3 / threads.length;
  }

  /** Ping-pong between this thread and one other; returns {cpu µs, wall µs} per wakeup. */
  static double[] pingPong(long roundtrips) throws InterruptedException {
    Semaphore ping = new Semaphore(0), pong = new Semaphore(0);
    Thread other = new Thread(() -> {
      try {
        for (long i = 0; i < roundtrips; i++) {
          ping.acquire();
          pong.release();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    other.start();
    long c0 = processCpuNs(), w0 = System.nanoTime();
    for (long i = 0; i < roundtrips; i++) {
      ping.release();
      pong.acquire();
    }
    long c1 = processCpuNs(), w1 = System.nanoTime();
    other.join();
    return new double[] {(c1 - c0) / 1e3 / (2.0 * roundtrips), (w1 - w0) / 1e3 / (2.0 * roundtrips)};
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: JvmThreadCost K ROUNDTRIPS");
      System.exit(2);
    }
    int k = Integer.parseInt(args[0]);
    long roundtrips = Long.parseLong(args[1]);

    CountDownLatch warmRelease = new CountDownLatch(1);
    Thread[] warm = new Thread[50];
    startIdle(warm, warmRelease);
    pingPong(roundtrips);
    warmRelease.countDown();
    for (Thread t : warm) t.join();
    System.gc();
    Thread.sleep(200);

    CountDownLatch release = new CountDownLatch(1);
    Thread[] threads = new Thread[k];
    long rss0 = vmRssBytes();
    double createUs = startIdle(threads, release);
    long rss1 = vmRssBytes();
    double[] wake = pingPong(roundtrips);
    release.countDown();
    for (Thread t : threads) t.join();

    System.out.printf(java.util.Locale.ROOT,
        "{\"runtime\":\"jvm\",\"k\":%d,\"rssBeforeBytes\":%d,\"rssAfterBytes\":%d,\"bytesPerThread\":%.1f,"
            + "\"createUs\":%.2f,\"roundtrips\":%d,\"cpuUsPerWakeup\":%.3f,\"wallUsPerWakeup\":%.3f,"
            + "\"javaVersion\":\"%s\",\"vm\":\"%s\"}%n",
        k, rss0, rss1, (rss1 - rss0) / (double) k, createUs, roundtrips, wake[0], wake[1],
        System.getProperty("java.version"), System.getProperty("java.vm.name"));
  }
}
