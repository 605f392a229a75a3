"""Development only, never used by the product: the synthetic national data set for
load tests and the demo accounts of `make run`."""
