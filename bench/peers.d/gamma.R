# gamma.R - one task of the gamma sweep in R, for bench/gamma.sh.
#
#   Rscript gamma.R ALPHA BETA N_SIM   one task: print its answer line, exit
#   Rscript gamma.R                    parade coprocess: read "ALPHA BETA N_SIM"
#                                      lines on stdin, answer one line each
#   Rscript gamma.R --grid FILE [N]    run the first N rows (default all) of a
#                                      grid CSV (alpha,beta,n_sim) in order,
#                                      one answer line each: R alone, no parade
#
# The task: 1000 draws of Gamma(shape ALPHA, scale BETA) with seed N_SIM, and
# the p-value of a Kolmogorov-Smirnov test against that distribution. The
# answer is one line: mean=... var=... ks_p=... (%.17g, so runs compare
# exactly).
task <- function(alpha, beta, n_sim) {
  set.seed(n_sim)
  x <- rgamma(1000, shape = alpha, scale = beta)
  p <- ks.test(x, "pgamma", shape = alpha, scale = beta)$p.value
  sprintf("mean=%.17g var=%.17g ks_p=%.17g", mean(x), var(x), p)
}

args <- commandArgs(trailingOnly = TRUE)
if (length(args) >= 2 && args[1] == "--grid") {
  g <- read.csv(args[2], colClasses = "character")
  n <- if (length(args) >= 3) as.integer(args[3]) else nrow(g)
  for (i in seq_len(n)) {
    a <- as.numeric(c(g$alpha[i], g$beta[i], g$n_sim[i]))
    cat(task(a[1], a[2], a[3]), "\n", sep = "")
  }
} else if (length(args) == 3) {
  a <- as.numeric(args)
  cat(task(a[1], a[2], a[3]), "\n", sep = "")
} else if (length(args) == 0) {
  # file("stdin"), not stdin(): under Rscript, stdin() is the script itself
  con <- file("stdin", open = "r")
  while (length(line <- readLines(con, n = 1)) > 0) {
    a <- as.numeric(strsplit(line, " ", fixed = TRUE)[[1]])
    cat(task(a[1], a[2], a[3]), "\n", sep = "")
    flush(stdout())
  }
} else {
  cat("usage: gamma.R ALPHA BETA N_SIM | gamma.R | gamma.R --grid FILE [N]\n",
      file = stderr())
  quit(status = 2)
}
