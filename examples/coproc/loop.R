#!/usr/bin/env Rscript
# loop.R - a parade coprocess in R: one line "alpha beta n_sim" in, one
# line "mean=..." out: the mean of 1000 gamma draws (shape alpha, scale
# beta, seed n_sim), like examples/gamma. R starts once, not per task.
#   parade run --grid examples/gamma/grid.csv \
#     --handler coproc:'Rscript examples/coproc/loop.R' -- {alpha} {beta} {n_sim}
con <- file("stdin", open = "r")
while (length(line <- readLines(con, n = 1)) > 0) {
  a <- as.numeric(strsplit(line, " ", fixed = TRUE)[[1]])
  set.seed(a[3])
  x <- rgamma(1000, shape = a[1], scale = a[2])
  cat(sprintf("mean=%.17g\n", mean(x)))
  flush(stdout())
}
