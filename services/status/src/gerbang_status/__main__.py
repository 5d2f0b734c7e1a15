"""`python -m gerbang_status api|worker`."""

from gerbang_status.main import main

main()
