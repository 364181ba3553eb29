//! Statistics over samples: the stats object, outliers, confidence intervals. Pure.
