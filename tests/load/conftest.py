"""tests/load/ holds scripts run by hand (a load-and-fault run takes minutes): pytest collects nothing."""

collect_ignore_glob = ["*.py"]
