# Reference values for tests/outcomes/test_competing.py: cmprsk::cuminc estimates, variances and Gray's test.
# Run from this folder: Rscript cuminc.R
library(cmprsk)
set.seed(4242)
series <- do.call(rbind, lapply(1:8, function(s) {
  n <- sample(15:60, 1)
  k <- if (s %% 2) 2 else 3
  g <- sample(letters[1:k], n, replace = TRUE)
  g[1:k] <- letters[1:k]
  status <- sample(0:2, n, replace = TRUE, prob = c(0.3, 0.45, 0.25))
  data.frame(series = s, time = ceiling(rexp(n, 1 / 60)), status = status, group = g)  # whole days: ties
}))
write.csv(series, "cuminc_input.csv", row.names = FALSE)
est <- list(); tst <- list()
for (d in split(series, series$series)) {
  fit <- cuminc(d$time, d$status, d$group, cencode = 0)
  times <- c(10, 30, 60, 120)
  tp <- timepoints(fit, times)
  for (name in rownames(tp$est)) {
    parts <- strsplit(name, " ")[[1]]
    est[[length(est) + 1]] <- data.frame(series = d$series[1], group = parts[1], cause = as.integer(parts[2]),
                                         time = times, est = tp$est[name, ], var = tp$var[name, ])
  }
  tests <- fit$Tests
  tst[[length(tst) + 1]] <- data.frame(series = d$series[1], cause = as.integer(rownames(tests)),
                                       stat = tests[, "stat"], p = tests[, "pv"], df = tests[, "df"])
}
write.csv(do.call(rbind, est), "cuminc_est_r.csv", row.names = FALSE)
write.csv(do.call(rbind, tst), "cuminc_test_r.csv", row.names = FALSE)
cat(R.version.string, "cmprsk", as.character(packageVersion("cmprsk")), "\n")
