"""The chaos soak (issue 24): the whole local stack under a Twitter-shaped load while faults
strike, judged against a naive model of what was acknowledged. `python -m bench.soak`."""
