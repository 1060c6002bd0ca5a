/*
 * What one idle native thread costs: `pthread-cost K ROUNDTRIPS` creates K pthreads with the
 * default attributes (stack size from `ulimit -s`, touched lazily), each of which signals that it
 * ran and then blocks; then two extra threads ping-pong ROUNDTRIPS times. Prints one JSON line:
 *   bytesPerThread  VmRSS growth (/proc/self/status) over the K idle threads, divided by K
 *   createUs        mean wall time of pthread_create until the new thread has run (sequential)
 *   cpuUsPerWakeup  process CPU (getrusage user+sys, both sides) per wakeup; a round trip is two
 *                   wakeups, each a futex wait on one side and a futex wake on the other
 * Built and run by bench/threads/run.ts; exits non-zero with a message on stderr if a call fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static sem_t started;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t release_cv = PTHREAD_COND_INITIALIZER;
static int released = 0;
static sem_t ping, pong;
static long roundtrips;

static long vm_rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kib = -1;
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
  fclose(f);
  return kib;
}

static double now_us(clockid_t clock) {
  struct timespec t;
  clock_gettime(clock, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static double cpu_us(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
}

static void *idle_thread(void *arg) {
  (void)arg;
  sem_post(&started);
  pthread_mutex_lock(&lock);
  while (!released) pthread_cond_wait(&release_cv, &lock);
  pthread_mutex_unlock(&lock);
  return NULL;
}

static void *ponger(void *arg) {
  (void)arg;
  for (long i = 0; i < roundtrips; i++) {
    while (sem_wait(&ping) != 0 && errno == EINTR) {}
    sem_post(&pong);
  }
  return NULL;
}

static void fail(const char *what, int err) {
  fprintf(stderr, "pthread-cost: %s: %s\n", what, strerror(err));
  exit(1);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: pthread-cost K ROUNDTRIPS\n");
    return 2;
  }
  long k = atol(argv[1]);
  roundtrips = atol(argv[2]);
  if (k < 1 || roundtrips < 1) {
    fprintf(stderr, "pthread-cost: K and ROUNDTRIPS must be >= 1\n");
    return 2;
  }
  pthread_t *threads = calloc(k, sizeof *threads);
  if (!threads) fail("calloc", ENOMEM);
  sem_init(&started, 0, 0);

  long rss0 = vm_rss_kib();
  double create_us = 0;
  for (long i = 0; i < k; i++) {
    double t0 = now_us(CLOCK_MONOTONIC);
    int e = pthread_create(&threads[i], NULL, idle_thread, NULL);
    if (e) fail("pthread_create", e);
    while (sem_wait(&started) != 0 && errno == EINTR) {}
    create_us += now_us(CLOCK_MONOTONIC) - t0;
  }
  long rss1 = vm_rss_kib();

  /* wakeups, with the K idle threads still present (as in an FE full of peer threads) */
  sem_init(&ping, 0, 0);
  sem_init(&pong, 0, 0);
  pthread_t p;
  int e = pthread_create(&p, NULL, ponger, NULL);
  if (e) fail("pthread_create (ponger)", e);
  double c0 = cpu_us(), w0 = now_us(CLOCK_MONOTONIC);
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  for (long i = 0; i < roundtrips; i++) {
    sem_post(&ping);
    while (sem_wait(&pong) != 0 && errno == EINTR) {}
  }
  double c1 = cpu_us(), w1 = now_us(CLOCK_MONOTONIC);
  getrusage(RUSAGE_SELF, &r1);
  pthread_join(p, NULL);

  pthread_mutex_lock(&lock);
  released = 1;
  pthread_cond_broadcast(&release_cv);
  pthread_mutex_unlock(&lock);
  for (long i = 0; i < k; i++) pthread_join(threads[i], NULL);
  free(threads);

  printf("{\"runtime\":\"native\",\"k\":%ld,\"rssBeforeBytes\":%ld,\"rssAfterBytes\":%ld,"
         "\"bytesPerThread\":%.1f,\"createUs\":%.2f,\"roundtrips\":%ld,\"cpuUsPerWakeup\":%.3f,"
         "\"wallUsPerWakeup\":%.3f,\"voluntarySwitches\":%ld}\n",
         k, rss0 * 1024, rss1 * 1024, (rss1 - rss0) * 1024.0 / k, create_us / k, roundtrips,
         (c1 - c0) / (2.0 * roundtrips), (w1 - w0) / (2.0 * roundtrips), r1.ru_nvcsw - r0.ru_nvcsw);
  return 0;
}
