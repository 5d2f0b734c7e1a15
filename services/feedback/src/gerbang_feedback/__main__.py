"""`python -m gerbang_feedback worker|api`."""

from gerbang_feedback.main import main

main()
