# Reference values for tests/outcomes/test_comparisons.py: Cox (Efron ties) and log-rank from R survival.
# Run from this folder: Rscript cox.R   (writes the *_input.csv and *_r.csv files next to it)
library(survival)
flag_infinite <- function(expr) {
  inf <- FALSE
  value <- withCallingHandlers(expr, warning = function(w) {
    if (grepl("infinite|did not converge", conditionMessage(w))) inf <<- TRUE
    invokeRestart("muffleWarning")
  })
  list(value = value, infinite = inf)
}
coef_rows <- function(fit, conf, series, infinite) {
  sm <- summary(fit, conf.int = conf)
  cf <- sm$coefficients
  ci <- sm$conf.int
  data.frame(series = series, term = rownames(cf), coef = cf[, "coef"], se = cf[, "se(coef)"],
             hazard_ratio = ci[, 1], lower = ci[, 3], upper = ci[, 4], p = cf[, ncol(cf)],
             lr_chisq = sm$logtest[["test"]], lr_df = sm$logtest[["df"]], lr_p = sm$logtest[["pvalue"]],
             infinite = infinite, row.names = NULL)
}

# 1. two-group series (small, ties, some with monotone likelihood)
set.seed(20240611)
two <- do.call(rbind, lapply(1:40, function(s) {
  n <- sample(8:30, 1)
  g <- sample(0:1, n, replace = TRUE)
  if (length(unique(g)) < 2) g[1:2] <- c(0, 1)
  time <- round(rexp(n, 1 / (100 * ifelse(g == 1, 1.8, 1)))) + 1
  event <- as.integer(runif(n) < 0.7)
  if (s %% 10 == 0) event[g == 1] <- 0L                    # no events in one group: HR not estimable
  if (s %% 10 == 5) time[g == 1] <- rank(time[g == 1], ties.method = "first")  # group 1 leaves first
  if (s %% 10 == 5) time[g == 0] <- time[g == 0] + sum(g == 1)                  # monotone likelihood
  data.frame(series = s, time = time, event = event, group = g)
}))
write.csv(two, "cox_two_input.csv", row.names = FALSE)
out <- do.call(rbind, lapply(split(two, two$series), function(d) {
  f <- flag_infinite(coxph(Surv(time, event) ~ factor(group), data = d, ties = "efron"))
  coef_rows(f$value, 0.95, d$series[1], f$infinite)
}))
write.csv(out, "cox_two_r.csv", row.names = FALSE)

# 2. three-group series, some groups without events
set.seed(7031)
three <- do.call(rbind, lapply(1:15, function(s) {
  n <- sample(12:40, 1)
  g <- sample(c("a", "b", "c"), n, replace = TRUE)
  g[1:3] <- c("a", "b", "c")
  e <- as.integer(runif(n) < 0.6)
  if (s %% 5 == 0) e[g == "c"] <- 0L
  data.frame(series = s, time = round(rexp(n, 1 / (80 * ifelse(g == "b", 1.5, ifelse(g == "c", 0.7, 1))))) + 1,
             event = e, group = g)
}))
write.csv(three, "cox_three_input.csv", row.names = FALSE)
out <- do.call(rbind, lapply(split(three, three$series), function(d) {
  f <- flag_infinite(coxph(Surv(time, event) ~ factor(group), data = d, ties = "efron"))
  coef_rows(f$value, 0.90, d$series[1], f$infinite)
}))
write.csv(out, "cox_three_r.csv", row.names = FALSE)

# 3. counting-process (start, stop] series: a covariate that switches on at a stop date
set.seed(515)
tv <- do.call(rbind, lapply(1:15, function(s) {
  n <- sample(10:30, 1)
  end <- round(rexp(n, 1 / 400)) + 5
  stop_day <- ifelse(runif(n) < 0.5, round(runif(n) * end), NA)
  ev <- as.integer(runif(n) < 0.5)
  rows <- lapply(seq_len(n), function(i) {
    if (!is.na(stop_day[i]) && stop_day[i] > 0 && stop_day[i] < end[i]) {
      data.frame(id = i, start = c(0, stop_day[i]), stop = c(stop_day[i], end[i]), stopped = c(0, 1), event = c(0, ev[i]))
    } else {
      data.frame(id = i, start = 0, stop = end[i], stopped = as.integer(!is.na(stop_day[i]) && stop_day[i] <= 0), event = ev[i])
    }
  })
  cbind(series = s, do.call(rbind, rows))
}))
write.csv(tv, "cox_tv_input.csv", row.names = FALSE)
out <- do.call(rbind, lapply(split(tv, tv$series), function(d) {
  f <- flag_infinite(coxph(Surv(start, stop, event) ~ stopped, data = d, ties = "efron"))
  coef_rows(f$value, 0.95, d$series[1], f$infinite)
}))
write.csv(out, "cox_tv_r.csv", row.names = FALSE)

# 4. log-rank on the three-group series
out <- do.call(rbind, lapply(split(three, three$series), function(d) {
  s <- survdiff(Surv(time, event) ~ group, data = d)
  data.frame(series = d$series[1], chisq = s$chisq, df = sum(s$exp > 0) - 1, p = s$pvalue)
}))
write.csv(out, "logrank_three_r.csv", row.names = FALSE)
cat(R.version.string, "survival", as.character(packageVersion("survival")), "\n")
