"""cypool's airspeed velocity (asv) benchmark suites; see the README's "Performance tracking"."""
