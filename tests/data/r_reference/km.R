# Reference values for tests/outcomes/test_survival.py, test_rmst.py and test_comparisons.py on the NCCTG lung
# data (tests/data/lung/lung.csv) and small series. Run from this folder: Rscript km.R
library(survival)
lung <- read.csv("../lung/lung.csv")
lung$dead <- as.integer(lung$status == 2)
rows <- list()
add <- function(...) rows[[length(rows) + 1]] <<- data.frame(...)
# quartiles with CI for each transform and two confidence levels (R's midpoint rule is its default)
for (ct in c("log", "log-log", "plain")) for (cl in c(0.95, 0.90)) {
  for (sx in c(0, 1, 2)) {
    d <- if (sx == 0) lung else lung[lung$sex == sx, ]
    q <- quantile(survfit(Surv(time, dead) ~ 1, data = d, conf.type = ct, conf.int = cl), c(0.25, 0.5, 0.75))
    for (i in 1:3) add(what = "quantile", sex = sx, conf_type = ct, conf = cl, p = c(0.25, 0.5, 0.75)[i],
                       value = q$quantile[i], lower = q$lower[i], upper = q$upper[i])
  }
}
# restricted mean survival time: print(fit, rmean = tau) reports rmean and se(rmean)
for (tau in c(365, 730)) for (sx in c(0, 1, 2)) {
  d <- if (sx == 0) lung else lung[lung$sex == sx, ]
  tab <- summary(survfit(Surv(time, dead) ~ 1, data = d), rmean = tau)$table
  add(what = "rmst", sex = sx, conf_type = "", conf = 0.95, p = tau, value = tab[["rmean"]],
      lower = tab[["se(rmean)"]], upper = NA)
}
# median follow-up by reverse Kaplan-Meier (censorings are the events), R's midpoint rule
q <- quantile(survfit(Surv(time, 1 - dead) ~ 1, data = lung), 0.5)
add(what = "followup", sex = 0, conf_type = "log", conf = 0.95, p = 0.5, value = q$quantile, lower = q$lower, upper = q$upper)
out <- do.call(rbind, rows)
write.csv(out, "km_lung_r.csv", row.names = FALSE)

# Cox on lung: sex (two groups) at 95% and 90%, ph.ecog as a factor (four groups, one of them n = 1)
cx <- list()
for (cl in c(0.95, 0.90)) {
  for (fm in c("sex", "ecog")) {
    f <- if (fm == "sex") coxph(Surv(time, dead) ~ factor(sex), data = lung) else
      coxph(Surv(time, dead) ~ factor(ph.ecog), data = lung)
    sm <- summary(f, conf.int = cl)
    cx[[length(cx) + 1]] <- data.frame(model = fm, conf = cl, term = rownames(sm$coefficients),
      coef = sm$coefficients[, "coef"], se = sm$coefficients[, "se(coef)"], hazard_ratio = sm$conf.int[, 1],
      lower = sm$conf.int[, 3], upper = sm$conf.int[, 4], p = sm$coefficients[, "Pr(>|z|)"],
      lr_chisq = sm$logtest[["test"]], lr_df = sm$logtest[["df"]], lr_p = sm$logtest[["pvalue"]],
      n = f$n, events = f$nevent, row.names = NULL)
  }
}
write.csv(do.call(rbind, cx), "cox_lung_r.csv", row.names = FALSE)

# small series: RMST and quartiles, ties and a last event (curve to 0) included
set.seed(99)
small <- do.call(rbind, lapply(1:12, function(s) {
  n <- sample(5:25, 1)
  data.frame(series = s, time = round(rexp(n, 1 / 200)) + 1, event = as.integer(runif(n) < 0.65))
}))
write.csv(small, "km_small_input.csv", row.names = FALSE)
res <- do.call(rbind, lapply(split(small, small$series), function(d) {
  f <- survfit(Surv(time, event) ~ 1, data = d)
  q <- quantile(f, c(0.25, 0.5, 0.75))
  tau <- 300
  tab <- summary(f, rmean = tau)$table
  data.frame(series = d$series[1], q25 = q$quantile[1], q50 = q$quantile[2], q75 = q$quantile[3],
             q25_lower = q$lower[1], q50_lower = q$lower[2], q75_lower = q$lower[3],
             q25_upper = q$upper[1], q50_upper = q$upper[2], q75_upper = q$upper[3],
             rmst_300 = tab[["rmean"]], rmst_300_se = tab[["se(rmean)"]])
}))
write.csv(res, "km_small_r.csv", row.names = FALSE)
cat(R.version.string, "survival", as.character(packageVersion("survival")), "\n")
