"""dvtex.eval: the research wing (torch). Metrics (metrics.py), the digit judge (digits.py), training the
compared networks (runner.py), scoring (scoring.py), tables and contact sheets (reports.py), the three
evaluations (tasks.py) and dvtex-eval (cli.py)."""
