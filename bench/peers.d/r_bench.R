# r_bench.R - R's parallel package (PSOCK cluster) for bench/peers.
#
#   Rscript r_bench.R rtt N [P]    1-worker cluster, N timed clusterCall()s;
#                                  P: none (default), same (master and
#                                  worker pinned to CPU 0) or split (master
#                                  on CPU 0, worker on CPU 1)
#   Rscript r_bench.R tput W N     makePSOCKcluster(W) (timed), then N trivial
#                                  tasks with clusterApplyLB and parLapply
#   Rscript r_bench.R limit W      try makePSOCKcluster(W), print the outcome
#
# Prints key=value lines on stdout; times in seconds or microseconds.
suppressMessages(library(parallel))
args <- commandArgs(trailingOnly = TRUE)
mode <- args[1]
now <- function() as.numeric(Sys.time())
pct <- function(x, p) { x <- sort(x); x[max(1L, ceiling(p * length(x)))] }

if (mode == "rtt") {
  n <- as.integer(args[2])
  place <- if (length(args) >= 3) args[3] else "none"
  cl <- makePSOCKcluster(1)
  if (place != "none") {
    # mcaffinity counts CPUs from 1
    mcaffinity(1)
    wcpu <- if (place == "split") 2L else 1L
    clusterCall(cl, function(c) invisible(parallel::mcaffinity(c)), wcpu)
  }
  f <- function() 1
  for (i in 1:100) clusterCall(cl, f)   # warm-up
  us <- numeric(n)
  for (i in seq_len(n)) {
    t <- now()
    clusterCall(cl, f)
    us[i] <- (now() - t) * 1e6
  }
  stopCluster(cl)
  cat(sprintf("rtt n=%d p50_us=%.0f p99_us=%.0f mean_us=%.1f\n",
              n, pct(us, 0.5), pct(us, 0.99), mean(us)))
} else if (mode == "tput") {
  w <- as.integer(args[2]); n <- as.integer(args[3])
  t <- now(); cl <- makePSOCKcluster(w); clusterCall(cl, function() 1)
  cat(sprintf("startup workers=%d s=%.3f\n", w, now() - t))
  f <- function(i) i
  t <- now(); r <- clusterApplyLB(cl, seq_len(n), f); s <- now() - t
  stopifnot(length(r) == n)
  cat(sprintf("applylb n=%d s=%.3f rate=%.0f\n", n, s, n / s))
  t <- now(); r <- parLapply(cl, seq_len(n), f); s <- now() - t
  stopifnot(length(r) == n)
  cat(sprintf("parlapply n=%d s=%.3f rate=%.0f\n", n, s, n / s))
  stopCluster(cl)
} else if (mode == "limit") {
  w <- as.integer(args[2])
  t <- now()
  r <- tryCatch(makePSOCKcluster(w), error = function(e) e)
  if (inherits(r, "error")) {
    cat(sprintf("limit workers=%d ok=0 s=%.3f error=%s\n", w, now() - t,
                gsub("[\r\n]+", " ", conditionMessage(r))))
  } else {
    cat(sprintf("limit workers=%d ok=1 s=%.3f\n", w, now() - t))
    stopCluster(r)
  }
} else {
  stop("usage: r_bench.R rtt N [none|same|split] | tput W N | limit W")
}
